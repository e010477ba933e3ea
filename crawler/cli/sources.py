"""`presswatch sources list | check`: the configured sources, and what presswatch reads on one.

`sources check NAME` fetches one list page and one release of a source (obeying its robots.txt and
delay) and prints what was extracted and which path found it, so a new source is tuned in minutes:
change the config, run it again.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from crawler import app
from crawler.cli.options import EXIT_FAILED, EXIT_OK, add_format, common_options, load
from crawler.cli.terminal import printable as safe
from crawler.config import Config, SourceEntry
from crawler.fetch import Fetcher, FetchError
from crawler.model import ListPage, ParseError, UsageError
from crawler.sources.base import Source
from crawler.tagging import load_topicset

_SHOWN_ENTRIES = 12
_SHOWN_PARAGRAPHS = 3
_PARAGRAPH_CHARS = 300


def register(subparsers: argparse._SubParsersAction) -> None:
    common = [common_options(store=False)]
    sources = subparsers.add_parser("sources", parents=common, help="list the configured sources, or try one")
    commands = sources.add_subparsers(dest="sources_command", metavar="{list,check}", required=True)
    listing = commands.add_parser("list", parents=common, help="name, kind, address, languages and topics of each source")
    add_format(listing, ("table", "json"), "table", what="the list")
    listing.set_defaults(func=list_command)
    check = commands.add_parser(
        "check", parents=common, help="fetch one list page and one release of a source; show what is extracted",
        description="Fetch one list page and one release of the source NAME (obeying its robots.txt and "
        "delay), print the entries (ids, titles, dates), the release (title, date, first paragraphs) and "
        "which path found each: the configured selectors, the page's structure, or the structure after the "
        "selectors found nothing (fallback). Exit 1 when nothing could be read.")
    check.add_argument("name", metavar="NAME", help="a source's name (see `presswatch sources list`)")
    check.add_argument("--lang", help="the language whose list page is read (default: the source's first)")
    check.add_argument("--page-url", metavar="URL", help="this list page instead of the language's first")
    check.add_argument("--release-url", metavar="URL", help="this release instead of the list's first entry")
    check.set_defaults(func=check_command)


def list_command(args: argparse.Namespace) -> int:
    config = load(args, secrets=False)
    topics = load_topicset(config)
    rows = [{"name": entry.name, "kind": entry.kind, "base_url": entry.base_url, "languages": list(entry.languages),
             "topics": list(topics.resolve(entry.topics or None)),
             "interval_minutes": entry.interval_minutes or config.schedule.interval_minutes}
            for entry in app.sources(config)]
    if args.format == "json":
        import json

        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    for row in rows:
        print(f"{row['name']}  {row['kind']}  {row['base_url']}  languages {','.join(row['languages'])}  "
              f"topics {','.join(row['topics']) or 'none'}")
    return EXIT_OK


def check_command(args: argparse.Namespace) -> int:
    config = load(args, secrets=False)
    entry = app.source_named(config, args.name)
    source = app.source(config, entry)
    lang = args.lang or entry.languages[0]
    if lang not in entry.languages:
        raise UsageError(f"--lang: {entry.name} has no language {lang!r} (its languages: {', '.join(entry.languages)})")
    with Fetcher(entry) as fetcher:
        listing = _check_list(fetcher, source, entry, lang, args.page_url)
        release_url = args.release_url or (listing.entries[0].url if listing and listing.entries else None)
        if release_url is None:
            print("release: none to read (the list gave no entry; pass --release-url URL)")
            return EXIT_FAILED
        read = _check_release(fetcher, source, config, entry, lang, release_url)
    return EXIT_OK if listing and listing.entries and read else EXIT_FAILED


def _check_list(fetcher: Fetcher, source: Source, entry: SourceEntry, lang: str, page_url: str | None) -> ListPage | None:
    url = page_url or source.list_url(lang, 1)
    page = _fetch(fetcher, url, "list page")
    if page is None:
        return None
    try:
        listing = source.parse_list(page.text, lang, page.url)
    except ParseError as exc:
        print(f"list page {url}: not read: {exc}")
        return None
    print(f"list page {safe(page.url)} ({lang}): {len(listing.entries)} entries, found by "
          f"{_list_path(listing.path, entry)}; a next page: {'yes' if listing.next_page else 'no'}")
    for item in listing.entries[:_SHOWN_ENTRIES]:
        print(f"  {item.id}  {item.list_date or 'no date':10}  {safe(item.title) or '(no title)'}")
        print(f"      {safe(item.url)}")
    if len(listing.entries) > _SHOWN_ENTRIES:
        print(f"  ... and {len(listing.entries) - _SHOWN_ENTRIES} more")
    return listing


def _check_release(fetcher: Fetcher, source: Source, config: Config, entry: SourceEntry, lang: str, url: str) -> bool:
    page = _fetch(fetcher, url, "release")
    if page is None:
        return False
    key = source.release_key(page.url)
    release_lang = key[1] if key and key[1] else lang
    try:
        item, paths = _traced(source, page.text, release_lang, page.url)
    except ParseError as exc:
        print(f"release {safe(url)}: not read: {exc}")
        return False
    print(f"release {safe(item.url)}: id {item.id}, language {item.lang}")
    print(f"  title ({paths['title']}): {safe(item.title)}")
    print(f"  date ({paths['date']}): {item.published or 'none found'}")
    print(f"  body ({paths['body']}): {_count(len(item.paragraphs), 'paragraph')}, {_count(len(item.images), 'image')}")
    for paragraph in item.paragraphs[:_SHOWN_PARAGRAPHS]:
        print(textwrap.indent(textwrap.fill(safe(textwrap.shorten(paragraph, _PARAGRAPH_CHARS)), 96), "    "))
    return True


def _traced(source: Source, html: str, lang: str, url: str) -> tuple[Any, dict[str, str]]:
    """The parsed release and the path of each field; an adapter without a trace reports its overall path."""
    trace = getattr(source, "trace_item", None)
    if trace is not None:
        return trace(html, lang, url)
    item = source.parse_item(html, lang, url)
    return item, dict.fromkeys(("title", "date", "body"), item.path)


def _fetch(fetcher: Fetcher, url: str, what: str) -> Any:
    try:
        page = fetcher.get(url)
    except FetchError as exc:
        print(f"{what} {safe(url)}: not fetched: {exc.reason}")
        return None
    if page.status != 200:
        print(f"{what} {safe(page.url)}: answered {page.status}")
        return None
    return page


def _list_path(path: str, entry: SourceEntry) -> str:
    configured = entry.generic.list_item if entry.kind == "generic" else entry.selectors.list_item
    if path == "selectors":
        return "the configured selectors" if configured else "the page's structure (links to release addresses)"
    if path == "fallback":
        return "the page's structure: the configured selectors found nothing (fallback)"
    return "nothing: no link to a release address"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
