"""`presswatch crawl` and `presswatch backfill`: one pass over the source, then a summary."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crawler import app
from crawler.alerts import deliver_pending
from crawler.cli.options import (
    EXIT_CODES,
    add_format,
    common_options,
    id_range,
    iso_date,
    load,
    positive_int,
    warn_about,
)
from crawler.cli.runreport import announce, progress_bars, report, start_line
from crawler.config import Config, SourceEntry
from crawler.coverage import backfill_gaps, check_gaps_probeable
from crawler.health import report_transitions
from crawler.model import PresswatchError, RunOutcome, UsageError
from crawler.pipeline import Crawler


def register(sub: argparse._SubParsersAction) -> None:
    common = common_options()
    formatter = argparse.RawDescriptionHelpFormatter
    crawl = sub.add_parser("crawl", parents=[common], formatter_class=formatter, epilog=EXIT_CODES,
                           help="one pass: new releases from the list pages, then print a summary",
                           description="Read list page 1 of each language (and further pages while they hold "
                           "unseen releases), fetch every release not yet stored, store it, print a summary.")
    crawl.add_argument("--replay", metavar="CASSETTE",
                       help="answer requests from a recorded cassette instead of the network: "
                       "a file, or its name without .yaml (cassettes/crawl_twice)")
    crawl.add_argument("--source", metavar="NAME", default=argparse.SUPPRESS,
                       help="only this source (default: every source in turn)")
    add_format(crawl, ("text", "json"), "text", what="the summary on stdout")
    crawl.set_defaults(func=lambda a: run_pass(a, "crawl"))

    backfill = sub.add_parser("backfill", parents=[common], formatter_class=formatter, epilog=EXIT_CODES,
                              help="fetch older releases, by list pages, id range or date; resumable",
                              description="Fetch older releases. Stop it at any time: run it again with the "
                              "same arguments and it continues where it stopped, storing nothing twice.")
    how = backfill.add_mutually_exclusive_group(required=True)
    how.add_argument("--pages", type=positive_int, metavar="N", help="walk list pages 1..N of every language")
    how.add_argument("--ids", type=id_range, metavar="FIRST-LAST", help="fetch releases by id, e.g. 5700-5800")
    how.add_argument("--since", type=iso_date, metavar="YYYY-MM-DD", help="walk list pages back to this date")
    how.add_argument("--gaps", type=positive_int, nargs="?", const=0, metavar="N",
                     help="fetch the ids missing inside the stored id range (shown by `status`); "
                     "with N, only the newest N missing ids")
    backfill.add_argument("--max-pages", type=positive_int, default=2000, metavar="N",
                          help="with --since: list pages per language at most (default 2000)")
    backfill.add_argument("--refresh", action="store_true",
                          help="with --ids: fetch stored releases again, to catch edits (kept as versions)")
    backfill.add_argument("--replay", metavar="CASSETTE", help="answer requests from a recorded cassette")
    backfill.add_argument("--source", metavar="NAME", default=argparse.SUPPRESS,
                          help="only this source (default: every source in turn)")
    add_format(backfill, ("text", "json"), "text", what="the summary on stdout")
    backfill.set_defaults(func=lambda a: run_pass(a, "backfill"))


def replaying(path: str | None) -> contextlib.AbstractContextManager[Any]:
    """Serve requests from a recorded cassette instead of the network (vcrpy, record mode none)."""
    if not path:
        return contextlib.nullcontext()
    if not Path(path).is_file() and Path(path + ".yaml").is_file():
        path += ".yaml"  # "cassettes/crawl_twice" names cassettes/crawl_twice.yaml
    if not Path(path).is_file():
        folder = Path(path).parent
        known = sorted(str(c.with_suffix("")) for c in folder.glob("*.yaml")) if folder.is_dir() else []
        hint = f"; cassettes there: {', '.join(known)}" if known else ""
        raise UsageError(f"no cassette at {path}{hint}")
    import vcr  # only a replay needs it

    return vcr.VCR(record_mode="none", match_on=("method", "scheme", "host", "port", "path", "query")).use_cassette(
        path, allow_playback_repeats=False
    )


@contextlib.contextmanager
def stopped_by_signals(crawler: Crawler) -> Iterator[None]:
    """Ctrl-C or SIGTERM ends the run between two releases: it is recorded as interrupted and its
    summary printed. A second one acts at once (Ctrl-C raises, SIGTERM ends the process)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in wanted}

    def stop(signum: int, frame: object) -> None:
        for each, handler in previous.items():
            signal.signal(each, handler)
        crawler.stop(signal.Signals(signum).name)

    for signum in wanted:
        signal.signal(signum, stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_pass(args: argparse.Namespace, kind: str) -> int:
    """One pass over the source --source names; without it, over every source in turn (the worst
    exit code is the command's)."""
    config = load(args, routes=True)
    name = getattr(args, "source", None)
    if not args.replay:
        warn_about(config)
    chosen = app.sources(config, name)
    if kind == "backfill" and getattr(args, "gaps", None) is not None:
        for entry in chosen:  # before any run starts: a source whose gaps have no address is refused
            check_gaps_probeable(app.source(config, entry))
    if args.replay:
        return _replay(args, kind, config, chosen)
    codes = [_run_source(args, kind, config.for_source(entry), entry.name, whole=config) for entry in chosen]
    return next((code for code in codes if code), 0)


def _replay(args: argparse.Namespace, kind: str, config: Config, chosen: tuple[SourceEntry, ...]) -> int:
    """A pass over a recorded cassette: of one source (a cassette holds one site's answers)."""
    if len(chosen) > 1:
        raise UsageError(f"--replay replays one source's cassette: name it with --source "
                         f"({', '.join(entry.name for entry in chosen)})")
    entry = dataclasses.replace(chosen[0], request_delay=0.0)  # a cassette needs no politeness delay
    view = config.for_source(entry)
    return _run_source(args, kind, view, entry.name, whole=config)


def _run_source(args: argparse.Namespace, kind: str, config: Config, name: str, whole: Config | None = None) -> int:
    """One pass of one source; `config` as that source sees it, `whole` the config of every source
    (its health conditions are named with the source when there are several)."""
    with app.writing(config) as store, replaying(args.replay), app.fetcher(config, store) as fetcher:
        announce(args, start_line(args, config, kind))
        crawler = app.build_crawler(config, store, fetcher, progress=progress_bars(args))
        try:
            with stopped_by_signals(crawler):
                if kind == "crawl":
                    summary = crawler.crawl()
                elif args.gaps is not None:
                    summary = backfill_gaps(crawler, args.gaps or None)
                else:
                    summary = crawler.backfill(pages=args.pages, ids=args.ids, since=args.since,
                                               max_pages=args.max_pages, refresh=args.refresh)
            if kind == "crawl" and not args.replay and summary.outcome != RunOutcome.INTERRUPTED:
                # A crawl run from cron reports health and delivers alerts just as the daemon does.
                report_transitions(store, whole or config, source=name)
                deliver_pending(store, config)
        except Exception as exc:
            if type(exc).__name__ == "CannotOverwriteExistingCassetteException":
                raise PresswatchError(f"the cassette {args.replay} holds no response for a request the crawl made: "
                                      f"{str(exc).splitlines()[0]}") from None
            raise
    return report(args, summary)
