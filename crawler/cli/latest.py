"""`presswatch latest`: the newest releases, one line each with their topics (the web view's home
page, for the terminal)."""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import shutil
import sys

from crawler import app
from crawler.cli.options import EXIT_OK, add_format, chosen_source, common_options, load, positive_int
from crawler.cli.terminal import printable
from crawler.config import Config
from crawler.export import write_rows
from crawler.filters import Filters, known_topics
from crawler.logs import say
from crawler.model import UsageError
from crawler.tagging import load_topicset
from crawler.webview.queries import View, newest

MAX_RELEASES = 10_000
COLUMNS = ("source", "id", "published", "lang", "title", "url", "topics", "languages")


def _check_topic(name: str, config: Config) -> None:
    """A topic the topics file does not define (a typo) is a usage error; one it defines that has
    tagged nothing yet is an empty answer."""
    topics = load_topicset(config)
    if name not in topics.names:
        close = difflib.get_close_matches(name, topics.names, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}? " if close else ""
        raise UsageError(f"--topic: {topics.source} defines no topic {name!r} ({hint}topics: {', '.join(topics.names)})")


def cmd_latest(args: argparse.Namespace) -> int:
    config = load(args, secrets=False)
    book = app.source_book(config)
    with app.open_store(config, must_exist=True) as store:
        only = chosen_source(args, store, config)
        known = book.languages(store.languages())  # every source's, configured or stored
        if args.lang and args.lang not in known:
            raise UsageError(f"--lang: no source has the language {args.lang!r} (languages: {', '.join(known)})")
        if args.topic and args.topic not in known_topics(store.db):
            _check_topic(args.topic, config)
            say(f"presswatch: no version is tagged with topic {args.topic!r}", level=logging.WARNING, event="warning")
        view = View(filters=Filters(topic=args.topic, lang=args.lang, source=only), show=args.lang)
        releases, _ = newest(store.db, book, view, min(args.n, MAX_RELEASES))
    several = len(book) > 1 or len({r["source"] for r in releases}) > 1
    rows = [{"source": r["source"], "id": r["id"], "published": r["published"], "lang": r["lang"], "title": r["title"], "url": r["url"],
             "topics": [badge.topic for badge in r["badges"]], "languages": r["languages"]} for r in releases]
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif args.format == "table":
        print_lines(rows, several)
    else:
        write_rows(iter(rows), sys.stdout, args.format, COLUMNS)
    return EXIT_OK


def print_lines(rows: list[dict], several: bool = False) -> None:
    """One line a release; with several sources, its source's name before its id."""
    if not rows:
        say("no releases match", event="no_results")
        return
    width = max(shutil.get_terminal_size((100, 24)).columns, 60)
    for row in rows:
        of = f"{row['source']} " if several else ""
        head = f"{row['published'] or '----------'}  {of}{row['id']}/{row['lang']}  "
        topics = f"  [{', '.join(row['topics'])}]" if row["topics"] else ""
        room = width - len(head) - len(topics)
        title = printable(row["title"] or "")
        title = title if len(title) <= room else title[: max(room - 1, 10)] + "…"
        print(head + title + topics)


def register(subparsers: argparse._SubParsersAction) -> None:
    latest = subparsers.add_parser(
        "latest", parents=[common_options(source=True)], help="the newest releases, one line each with their topics",
        description="The newest releases, newest first: date, id, headline (in --lang, else the first "
        "language stored) and topics.")
    latest.add_argument("--topic", metavar="NAME", help="only releases tagged with this topic")
    latest.add_argument("--lang", metavar="LANG",
                        help="only releases with a version in this language, whose headline is shown")
    latest.add_argument("-n", type=positive_int, default=20, metavar="N", help="how many releases (default 20)")
    add_format(latest, what="table (for reading) or json / jsonl / csv for scripts")
    latest.set_defaults(func=cmd_latest)
