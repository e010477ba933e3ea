"""`presswatch reparse` and `import-warc`, and the archive's side of `export --format warc` and
`show --raw`: the pages the site answered, kept in the store (crawler.archive)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crawler import app, archive, warc
from crawler.cli.options import EXIT_OK, chosen_source, common_options, id_range, iso_date, load, positive_int
from crawler.cli.runreport import announce, progress_bars
from crawler.cli.terminal import printable
from crawler.config import Config
from crawler.export import output
from crawler.logs import say
from crawler.model import NotFound, UsageError
from crawler.progress import Progress
from crawler.reparse import ReparseResult, reparse
from crawler.sources.base import Source


def register(sub: argparse._SubParsersAction) -> None:
    common = common_options(source=True)
    formatter = argparse.RawDescriptionHelpFormatter
    command = sub.add_parser(
        "reparse", parents=[common], formatter_class=formatter,
        help="extract the archived release pages again with the current adapter and config (no network)",
        description="Parse again the latest archived page of every release version (or of those chosen)\n"
        "with the current adapter and [selectors]; store a new version only where the extraction\n"
        "changed, tag it, and print what changed. Never fetches, never sends alerts. Commits in\n"
        "batches, so an interrupted reparse keeps what it did.")
    command.add_argument("--ids", type=id_range, metavar="FIRST-LAST", help="only these release ids, e.g. 5700-5800")
    command.add_argument("--since", type=iso_date, metavar="YYYY-MM-DD",
                         help="only pages fetched on or after this date")
    command.add_argument("--jobs", type=positive_int, metavar="N",
                         help="parse in N processes (default: one a CPU, at most 4, from 2,000 pages on)")
    command.add_argument("-q", "--quiet", action="store_true", help="no progress bar (there is none without a terminal)")
    command.set_defaults(func=cmd_reparse)

    importer = sub.add_parser(
        "import-warc", parents=[common], formatter_class=formatter,
        help="feed the pages of WARC files (any archiving tool's) through the pipeline",
        description="Read the response records of WARC files (wget --warc-file, Heritrix, Browsertrix,\n"
        "warcio, `presswatch export --format warc`): list pages record what they list, release pages\n"
        "are parsed, stored, tagged and alerted about as fetched ones (the usual horizon rule).\n"
        "The pages are kept in the archive too. Pages of another site are counted and left out.\n"
        "Never touches the network.")
    importer.add_argument("files", nargs="+", metavar="FILE", help="WARC files (.warc or .warc.gz)")
    importer.set_defaults(func=cmd_import_warc)


def cmd_reparse(args: argparse.Namespace) -> int:
    config = load(args, secrets=False, routes=True)
    entries = app.sources(config, getattr(args, "source", None))
    with app.writing(config, must_exist=True) as store:
        for entry in entries:
            source = app.source(config, entry)
            if not args.quiet:
                announce(args, f"reparse: the archived release pages of {source.name}, with the current adapter "
                         "and config; no network, nothing is sent")
            view = config.for_source(entry)
            result = reparse(store, source, tagger=app.tagger_for(config, entry), hooks=app.reparse_hooks(view),
                             ids=args.ids, since=args.since.isoformat() if args.since else None,
                             progress=not args.quiet and progress_bars(args), jobs=args.jobs)
            print_reparse(result, source.name if len(entries) > 1 else None)
    return EXIT_OK


def _short(value: Any, width: int = 70) -> str:
    text = printable(str(value))
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def describe_change(change: Any) -> str:
    where = f"{change.item_id}/{change.lang} {change.field}"
    if change.field != "paragraphs":
        return f"{where}: {_short(change.before)} -> {_short(change.after)}"
    before, after = list(change.before), list(change.after)
    index = next((i for i, (b, a) in enumerate(zip(before, after)) if b != a), min(len(before), len(after)))
    first = lambda items: items[index] if index < len(items) else "(none)"  # noqa: E731
    return (f"{where}: {len(before)} -> {len(after)} paragraphs; paragraph {index + 1}: "
            f"{_short(first(before))} -> {_short(first(after))}")


def print_reparse(result: ReparseResult, source: str | None = None) -> None:
    fields = ", ".join(f"{name} {count}" for name, count in result.fields.most_common()) or "none"
    of = f" of {source}" if source else ""
    print(f"reparsed {result.pages} archived release pages{of}: {result.changed} versions changed "
          f"(fields: {fields}), {result.new} new, {result.unchanged} unchanged, {result.failed} not parsed"
          + (f", {result.redirected} redirected elsewhere" if result.redirected else ""))
    for change in result.examples:
        print("  " + describe_change(change))
    for failure in result.failures:
        print("  not parsed: " + printable(failure))


def cmd_import_warc(args: argparse.Namespace) -> int:
    config = load(args, routes=True)
    entries = app.sources(config, getattr(args, "source", None))
    with app.writing(config) as store:
        imported = []
        for entry in entries:  # each source takes its own pages of the files
            source = app.source(config, entry)
            loaded = warc.load(store, source, args.files, keep=config.archive.keep)
            fetcher = warc.ArchiveFetcher(store, source, loaded)
            crawler = app.build_crawler(config, store, fetcher, source=entry, keep_pages=False,
                                        progress=progress_bars(args))
            done = warc.replay(store, source, crawler, fetcher)
            if config.archive.keep == "none":
                archive.forget(store, loaded.row_ids)
            imported.append((source, loaded, done))
    for source, loaded, done in imported:
        _print_import(source, loaded, done, of_no_source=_of_no_source(imported) if len(imported) > 1 else None)
    return EXIT_OK


def _of_no_source(imported: list[tuple[Source, Any, Any]]) -> int:
    """Responses of the files on a host none of the sources is on (each source counts the others'
    pages as another site's)."""
    return imported[0][1].of_none({warc.site_of(source) for source, _, _ in imported})


def _print_import(source: Source, loaded: Any, done: Any, *, of_no_source: int | None) -> None:
    new = sum(run.new for run in done.runs)
    changed = sum(run.changed for run in done.runs)
    errors = sum(run.errors for run in done.runs)
    releases = sum(len(ids) for ids in loaded.releases.values())
    print(f"imported {loaded.files} WARC file{'s' if loaded.files != 1 else ''} ({loaded.records} responses): "
          f"{done.list_pages} list pages ({done.listed} releases listed), {releases} release pages: "
          f"{new} new, {changed} changed, {errors} errors; left out: "
          f"{loaded.other_site if of_no_source is None else of_no_source} of other sites, "
          f"{loaded.other_pages} other pages of {source.name}"
          + (f", {loaded.not_pages} records that are no page (revisit, metadata, ...)" if loaded.not_pages else ""))
    for run in done.runs:
        if run.outcome in ("failed", "interrupted"):
            print(f"  stopped: {run.message}")


def _archived_source(store: Any, item_id: int) -> str | None:
    """The source whose archived page `show ID --raw` means when no source stored the release (a
    page kept that never parsed into a version); two is a usage error asking for --source."""
    holders = archive.sources_of(store, item_id)
    if len(holders) > 1:
        raise UsageError(f"release {item_id} has archived pages in {len(holders)} sources ({', '.join(holders)}): "
                         f"choose one with --source, e.g. --source {holders[0]}")
    return holders[0] if holders else None


def export_warc(args: argparse.Namespace, config: Config) -> int:
    """`export --format warc`: the archive (of the source --source names, else of every source) as
    one gzipped WARC file."""
    if any(getattr(args, name, None) for name in ("topic", "lang", "since", "until")):
        raise UsageError("--format warc writes every archived page: --topic, --lang, --since and --until do not apply")
    if args.output in (None, "-") and sys.stdout.isatty():
        raise UsageError("--format warc writes a binary file: give -o FILE.warc.gz")
    with app.open_store(config, must_exist=True) as store:
        source = chosen_source(args, store, config)
        total = archive.response_count(store, source)
        progress = Progress("export", total=total) if sys.stderr.isatty() else None
        name = Path(args.output).name if args.output not in (None, "-") else "presswatch.warc.gz"
        with output(args.output, overwrite=args.force, binary=True) as out:
            count = warc.write_warc(store, out, filename=name, source=source, progress=progress)
        if progress is not None:
            progress.close()
    if args.output not in (None, "-"):
        say(f"exported {count} archived page{'s' if count != 1 else ''} to {args.output}", event="exported")
    return EXIT_OK


def show_raw(args: argparse.Namespace, config: Config, name: str | None) -> int:
    """`show ID --raw`: the latest archived page of a version of source `name` (None: the one
    source with a page of that id kept, else the first configured), to -o FILE or standard output."""
    with app.open_store(config, must_exist=True) as store:
        name = name or _archived_source(store, args.id)
        source = app.source_book(config).get(name) if name else app.source(config)
        languages = [args.lang] if args.lang else list(source.supported_languages) or store.languages(source.name)
        page = next((found for lang in languages
                     if (found := archive.latest_page(store, source.name, args.id, lang)) is not None), None)
    if page is None:
        where = f" in {args.lang}" if args.lang else ""
        raise NotFound(f"no archived page of release {args.id}{where}")
    if args.output:
        with output(args.output, overwrite=True, binary=True) as out:
            out.write(page.body)
        say(f"saved the page of {page.item_id}/{page.lang} fetched {page.fetched_at} ({len(page.body)} bytes) "
            f"to {args.output}", event="saved")
    elif sys.stdout.isatty():
        print(printable(page.text))  # a terminal gets no control characters from the site
    else:
        sys.stdout.buffer.write(page.body)
        sys.stdout.buffer.flush()
    return EXIT_OK
