"""`presswatch search`, `export` and `feed`: reading the store from the terminal and from scripts."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import textwrap

from crawler import app
from crawler.cli.archive import export_warc
from crawler.cli.inspect import check_language
from crawler.cli.options import EXIT_OK, add_format, chosen_source, common_options, iso_date, load, positive_int
from crawler.cli.terminal import printable
from crawler.config import Config
from crawler.export import EXPORT_COLUMNS, count_rows, export_rows, output, write_rows
from crawler.feeds import build_feed, feed_entries
from crawler.filters import Filters, known_topics
from crawler.logs import say
from crawler.model import UsageError
from crawler.progress import Progress
from crawler.search import Hit, QueryError, search
from crawler.searchindex import catch_up
from crawler.sources import SourceBook
from crawler.store import Store


def catch_up_or_warn(store: Store) -> None:
    """Bring the search index up to date; a store we cannot write is searched as it is."""
    warning = catch_up(store, progress=sys.stderr.isatty())
    if warning:
        say(f"presswatch: warning: {warning}", level=logging.WARNING, event="warning")


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topic", metavar="NAME", help="only versions tagged with this topic (see matches.topic)")
    parser.add_argument("--lang", metavar="LANG", help="only this language (a language code of the source)")
    parser.add_argument("--since", type=iso_date, metavar="YYYY-MM-DD", help="published on or after this date")
    parser.add_argument("--until", type=iso_date, metavar="YYYY-MM-DD", help="published on or before this date")


def _check_lang(lang: str | None, store: Store, book: SourceBook, name: str | None) -> None:
    """--lang must be a language of the source --source names (configured: the languages it
    publishes in; else those stored of it) or, without --source, of some source."""
    if not lang:
        return
    if name is not None and book.is_configured(name):
        check_language(lang, book.get(name))
    elif name is not None and lang not in store.languages(name):
        raise UsageError(f"--lang: {name} has no version in {lang!r} "
                         f"(its languages: {', '.join(store.languages(name)) or 'none yet'})")
    elif name is None and lang not in book.languages(store.languages()):
        raise UsageError(f"--lang: no source has the language {lang!r} "
                         f"(languages: {', '.join(book.languages(store.languages()))})")


def _filters(args: argparse.Namespace, store: Store, book: SourceBook, config: Config) -> Filters:
    name = chosen_source(args, store, config)
    _check_lang(args.lang, store, book, name)
    db = store.db
    if args.since and args.until and args.since > args.until:
        raise UsageError(f"--since {args.since} is after --until {args.until}")
    if args.topic:
        topics = known_topics(db)
        if args.topic not in topics:
            known = ", ".join(topics) if topics else "none yet"
            say(f"presswatch: no version is tagged with topic {args.topic!r} (topics in the store: {known})",
                level=logging.WARNING, event="warning")
    return Filters(topic=args.topic, lang=args.lang, since=args.since and args.since.isoformat(),
                   until=args.until and args.until.isoformat(), source=name)


def searched_languages(store: Store, book: SourceBook, filters: Filters) -> tuple[str, ...]:
    """The languages searched, in display order: those of the source --source names (configured:
    its own, then any it stored), else every configured source's, then those only other stored
    sources hold (read from the key of items, an index: cheap)."""
    stored = store.languages(filters.source)
    if filters.source:
        configured = book.get(filters.source).supported_languages if book.is_configured(filters.source) else ()
        return tuple(dict.fromkeys([*configured, *stored]))
    return book.languages(stored)


def cmd_search(args: argparse.Namespace) -> int:
    config = load(args, secrets=False)
    book = app.source_book(config)
    text = " ".join(args.query)
    with app.open_store(config, must_exist=True) as store:
        filters = _filters(args, store, book, config)
        catch_up_or_warn(store)
        tty = args.format == "table" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        # On a terminal, private-use stand-ins become bold-underline once the page text is made printable.
        marks = _MARK_STAND_INS if tty else ("[", "]")
        try:
            hits = search(store, text, raw=args.raw, filters=filters, limit=args.limit, marks=marks,
                          languages=searched_languages(store, book, filters))
        except QueryError as exc:
            raise UsageError(str(exc)) from None
    if args.format == "table":
        _print_table(hits, args.limit)
    elif args.format == "json":
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
    else:
        columns = ("source", "id", "lang", "published", "title", "url", "score", "topics", "matched", "snippet")
        write_rows((h.to_dict() for h in hits), sys.stdout, args.format, columns)
    return EXIT_OK


_MARK_STAND_INS = ("\ue000", "\ue001")
_BOLD_MARKS = str.maketrans({"\ue000": "\x1b[1;4m", "\ue001": "\x1b[0m"})


def _bold_marks(line: str) -> str:
    return line.translate(_BOLD_MARKS)


def _print_table(hits: list[Hit], limit: int) -> None:
    if not hits:
        say("no releases match", event="no_results")
        return
    width = max(shutil.get_terminal_size((100, 24)).columns, 60)
    for hit in hits:
        head = f"{hit.source} {hit.id}/{hit.lang}  {hit.published or '----------'}  "
        topics = f"  [{', '.join(hit.topics)}]" if hit.topics else ""
        room = width - len(head) - len(topics)
        title = printable(hit.title)
        title = title if len(title) <= room else title[: max(room - 1, 10)] + "…"
        print(head + title + topics)
        indent = " " * 4
        for line in textwrap.wrap(printable(hit.snippet), width - len(indent)) or [""]:
            print(indent + _bold_marks(line))
        print(f"{indent}{printable(hit.url)}")
        print()
    more = " (--limit shows more)" if len(hits) == limit else ""
    print(f"{len(hits)} result{'s' if len(hits) != 1 else ''}{more}")


def cmd_export(args: argparse.Namespace) -> int:
    config = load(args, secrets=False)
    book = app.source_book(config)
    fmt = args.format or ("csv" if args.output and args.output.lower().endswith(".csv") else "jsonl")
    if fmt == "warc":
        return export_warc(args, config)
    with app.open_store(config, must_exist=True) as store:
        filters = _filters(args, store, book, config)
        progress = None
        if sys.stderr.isatty():
            progress = Progress("export", total=count_rows(store.db, filters))
        with output(args.output, overwrite=args.force) as out:
            count = write_rows(export_rows(store.db, filters, book.languages()), out, fmt,
                               EXPORT_COLUMNS, progress)
    if args.output not in (None, "-"):
        say(f"exported {count} language version{'s' if count != 1 else ''} to {args.output}", event="exported")
    return EXIT_OK


def cmd_feed(args: argparse.Namespace) -> int:
    config = load(args, secrets=False)
    book = app.source_book(config)
    with app.open_store(config, must_exist=True) as store:
        filters = _filters(args, store, book, config)
        for name in store.sources():  # a source no longer configured: its stored languages
            book.get(name, store.languages(name))
        entries = feed_entries(store.db, book, filters, args.limit)
    document = build_feed(entries, book, filters=filters)
    with output(args.output, overwrite=True, binary=True) as out:
        out.write(document)
    return EXIT_OK


SEARCH_EPILOG = """\
examples:
  presswatch search "Qozog'iston"              same hits as Қозоғистон or Qozogʻiston
  presswatch search 'чегара*' --lang uz        prefix: чегара, чегарада, chegaralari...
  presswatch search '"водные ресурсы"' --since 2025-01-01
  presswatch search --raw 'title:suv* NOT suvenir*'
  presswatch search border --topic border --format json
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    common = common_options(source=True)
    formatter = argparse.RawDescriptionHelpFormatter

    search_cmd = subparsers.add_parser(
        "search", parents=[common], formatter_class=formatter, epilog=SEARCH_EPILOG,
        help="full-text search of titles and bodies, any script, ranked, with snippets",
        description="Search the titles and bodies of the stored releases, best matches first.\n"
        "Uzbek is matched whatever the script or apostrophe (Қозоғистон = Qozog'iston = Qozogʻiston);\n"
        "a word ending in * is a prefix (чегара* finds inflected forms); \"quoted words\" are a phrase;\n"
        "every word must occur. Snippets mark the matched words.")
    search_cmd.add_argument("query", nargs="+", help="words to find (joined by spaces)")
    search_cmd.add_argument("--raw", action="store_true",
                            help="the query is FTS5 syntax (AND OR NOT NEAR, prefix*, ^, title: body:), words folded")
    _add_filters(search_cmd)
    search_cmd.add_argument("--limit", type=positive_int, default=20, metavar="N", help="at most N results (default 20)")
    add_format(search_cmd, what="table (for reading) or json / jsonl / csv for scripts")
    search_cmd.set_defaults(func=cmd_search)

    export = subparsers.add_parser(
        "export", parents=[common], formatter_class=formatter,
        help="write the store (or a filtered part) as JSON lines or CSV",
        description="Write one row per language version; the release id joins the versions of a release.\n"
        "Streams, so any size of store works in constant memory. An existing FILE is kept unless --force.")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE ('-' or none: standard output)")
    add_format(export, ("json", "jsonl", "csv", "warc"), None,
               what="jsonl (default), json or csv (the default when FILE ends in .csv); warc: the archived "
               "pages as a WARC file")
    export.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    _add_filters(export)
    export.set_defaults(func=cmd_export)

    feed = subparsers.add_parser(
        "feed", parents=[common], formatter_class=formatter,
        help="write an Atom feed of the newest releases (per topic and language if asked)",
        description="Write an Atom feed: one entry per language version, newest releases first, with the\n"
        "matched topic terms in the summary. Entry ids are stable, so a feed reader shows each version\n"
        "once. FILE is replaced atomically, so a cron job can regenerate it in place.")
    feed.add_argument("-o", "--output", metavar="FILE", help="write to FILE ('-' or none: standard output)")
    feed.add_argument("--topic", metavar="NAME", help="only versions tagged with this topic")
    feed.add_argument("--lang", metavar="LANG", help="only this language (a language code of the source)")
    feed.add_argument("--limit", type=positive_int, default=50, metavar="N", help="at most N entries (default 50)")
    feed.set_defaults(func=cmd_feed, since=None, until=None)
