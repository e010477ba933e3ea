"""What `crawl`, `backfill` and `retag` tell the user around a pass: one start line (without a
terminal, where no progress bar is drawn), and at the end the reason of a failure in plain words,
the summary (a line, or one JSON object with --format json) and, when the site could not be
used, how to see presswatch work without it."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from crawler.cli.options import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from crawler.config import Config
from crawler.logs import json_logging, run_fields, say
from crawler.model import RunOutcome
from crawler.schedule import strategy_in_force

REPLAY_HINT = ("to see presswatch work without the site: "
               "presswatch crawl --replay cassettes/crawl_twice --store demo.db")


def progress_bars(args: argparse.Namespace) -> bool:
    """Bars only on a terminal, and not among JSON log lines."""
    return sys.stderr.isatty() and getattr(args, "log_format", "text") != "json"


def announce(args: argparse.Namespace, text: str) -> None:
    """The start line: said where no progress bar will show what is going on."""
    if not progress_bars(args):
        say(text, event="start")


def pace(config: Config, replay: str | None = None) -> str:
    """How fast requests go: "at 1 request/s" (robots.txt may ask for slower)."""
    if replay:
        return f"answered from the cassette {replay}"
    delay = config.source.request_delay
    if delay <= 0:
        return "without a pause between requests"
    if delay <= 1:
        return f"at {1 / delay:g} request{'s' if delay < 1 else ''}/s"
    return f"at 1 request every {delay:g} s"


def start_line(args: argparse.Namespace, config: Config, kind: str) -> str:
    languages = len(config.source.languages)
    of = f"{languages} language{'s' if languages != 1 else ''}"
    at = pace(config, getattr(args, "replay", None))
    if kind == "crawl":
        lists = (f"one list page of {of} (adaptive polling; every list into an empty store)"
                 if strategy_in_force(config.schedule) == "adaptive" and not getattr(args, "replay", None)
                 else f"list pages of {of}")
        return f"crawl: reading {lists}, then up to {config.source.max_releases_per_run} release pages {at}"
    if args.ids:
        first, last = args.ids
        again = ", stored ones again" if args.refresh else ""
        return (f"backfill: fetching releases {first} to {last} in {of} "
                f"(up to {(last - first + 1) * languages} release pages{again}) {at}")
    if getattr(args, "gaps", None) is not None:
        which = f"the newest {args.gaps} missing ids" if args.gaps else "every missing id"
        return f"backfill: probing {which} inside the stored range ({of}) {at}"
    if args.since:
        return (f"backfill: reading list pages of {of} back to {args.since} (at most {args.max_pages} each), "
                f"then every release not yet stored, {at}; run it again to resume")
    return (f"backfill: reading list pages 1 to {args.pages} of {of}, then every release not yet stored, "
            f"{at}; run it again to resume")


def summary_record(summary: Any) -> dict[str, Any]:
    """The machine summary (--format json): outcome, run id, counts as numbers, message, reason."""
    return {**run_fields(summary), "message": summary.message, "reason": getattr(summary, "reason", "")}


def report(args: argparse.Namespace, summary: Any) -> int:
    """Print the end of a pass; its exit code."""
    failed = summary.outcome == RunOutcome.FAILED
    reason = getattr(summary, "reason", "") if failed else ""
    if reason:  # what failed comes first, in plain words
        say(f"presswatch: {reason}", level=logging.ERROR, event="run_failed", reason=reason)
    if getattr(args, "format", "text") == "json":
        print(json.dumps(summary_record(summary), ensure_ascii=False))
    else:
        print(summary.line())
    sys.stdout.flush()  # before the hint, when both streams go to one file
    if json_logging():
        say(summary.line(), level=logging.WARNING if failed else logging.INFO, event="run_end", **run_fields(summary))
    if reason and not getattr(args, "replay", None):
        say(REPLAY_HINT, event="hint")
    if summary.outcome == RunOutcome.INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if failed else EXIT_OK
