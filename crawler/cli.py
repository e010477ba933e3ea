"""The `presswatch` command. Each feature module contributes its subcommands through register()."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from crawler import __version__
from crawler.config import Config, ConfigError, load_config
from crawler.lock import StoreLock, StoreLocked
from crawler.logs import setup_logging

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3

EXIT_CODES = """\
exit codes:
  0  success (a crawl with some failed pages still succeeds; see its summary)
  1  the run failed: site unreachable, refused (403/429) or the store unusable
  2  bad usage or configuration (the message names the file, the key and the problem)
  3  another presswatch process is writing to the same store
"""


class CliError(Exception):
    """A failure to report in one line; `code` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand accepts, before or after its name."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="config file (default: $PRESSWATCH_CONFIG, else the embedded default)")
    parent.add_argument("--store", metavar="PATH", default=argparse.SUPPRESS,
                        help="the SQLite store, overriding store.path from the config")
    parent.add_argument("--log-format", choices=("text", "json"), default=argparse.SUPPRESS,
                        help="log lines as readable text (default) or JSON lines")
    parent.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log every stored release and retry")
    return parent


def load(args: argparse.Namespace) -> Config:
    config = load_config(getattr(args, "config", None))
    store = getattr(args, "store", None)
    if store:
        config = dataclasses.replace(config, store=dataclasses.replace(config.store, path=store), origin=config.origin)
    return config


def store_path(config: Config, args: argparse.Namespace | None = None) -> Path:
    if args is not None and getattr(args, "store", None):
        return Path(args.store)
    return config.resolve(config.store.path)


def open_store(config: Config, args: argparse.Namespace | None = None):
    from crawler.store import Store

    path = store_path(config, args)
    try:
        return Store.open(path)
    except Exception as exc:  # sqlite3.DatabaseError and OSError: both mean "cannot use this file"
        raise CliError(f"cannot open the store {path}: {exc}") from None


def open_existing_store(config: Config, args: argparse.Namespace | None = None):
    path = store_path(config, args)
    if not path.exists():
        raise CliError(f"no store at {path} yet: run `presswatch crawl` first (or pass --store PATH)")
    return open_store(config, args)


# --- crawl and backfill ------------------------------------------------------------------------
def release_hooks(config: Config) -> list[Callable]:
    """What runs inside the transaction that stores a release: topic tags, alert outbox."""
    from crawler.alerts import alerts_hook
    from crawler.query import search_hook
    from crawler.tagging import tag_hook

    # Order matters: alerts read the topic matches that tagging writes in the same transaction.
    return [search_hook, tag_hook(config), alerts_hook(config)]


def _replay(path: str | None):
    """Serve requests from a recorded cassette instead of the network (vcrpy, record mode none)."""
    import contextlib

    if not path:
        return contextlib.nullcontext()
    if not Path(path).is_file() and Path(path + ".yaml").is_file():
        path += ".yaml"  # "cassettes/crawl_twice" names cassettes/crawl_twice.yaml
    if not Path(path).is_file():
        folder = Path(path).parent
        known = sorted(str(c.with_suffix("")) for c in folder.glob("*.yaml")) if folder.is_dir() else []
        hint = f"; cassettes there: {', '.join(known)}" if known else ""
        raise CliError(f"no cassette at {path}{hint}", EXIT_USAGE)
    import vcr

    return vcr.VCR(record_mode="none", match_on=("method", "scheme", "host", "port", "path", "query")).use_cassette(
        path, allow_playback_repeats=False
    )


def run_pass(args: argparse.Namespace, kind: str) -> int:
    from crawler.fetch import Fetcher
    from crawler.pipeline import Crawler

    config = load(args)
    if args.replay:
        # A cassette needs no politeness delay.
        config = dataclasses.replace(
            config, source=dataclasses.replace(config.source, request_delay=0.0), origin=config.origin
        )
    path = store_path(config, args)
    try:
        lock = StoreLock(path).acquire()
    except StoreLocked as exc:
        raise CliError(str(exc), EXIT_LOCKED) from None
    try:
        with open_store(config, args) as store, _replay(args.replay), Fetcher(config.source) as fetcher:
            crawler = Crawler(config, store, fetcher, hooks=release_hooks(config), progress=kind == "backfill")
            try:
                if kind == "crawl":
                    summary = crawler.crawl()
                else:
                    summary = crawler.backfill(pages=args.pages, ids=args.ids, since=args.since,
                                               max_pages=args.max_pages, refresh=args.refresh)
                if kind == "crawl" and not args.replay:
                    # A crawl run from cron reports health and delivers alerts just as the daemon does.
                    from crawler.alerts import deliver_pending
                    from crawler.health import report_transitions

                    report_transitions(store, config)
                    deliver_pending(store, config)
            except Exception as exc:
                if type(exc).__name__ == "CannotOverwriteExistingCassetteException":
                    raise CliError(f"the cassette {args.replay} holds no response for a request the crawl made: "
                                   f"{str(exc).splitlines()[0]}") from None
                raise
    finally:
        lock.release()
    print(summary.line())
    return EXIT_FAILED if summary.outcome == "failed" else EXIT_OK


def _id_range(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected an id or a range like 5700-5800, got {text!r}")
    first = int(match.group(1))
    last = int(match.group(2) or first)
    if last < first:
        raise argparse.ArgumentTypeError(f"the range {text!r} ends before it starts")
    if last - first > 100_000:
        raise argparse.ArgumentTypeError("a range of more than 100,000 ids")
    return first, last


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


# --- show and status ----------------------------------------------------------------------------
def cmd_show(args: argparse.Namespace) -> int:
    config = load(args)
    with open_existing_store(config, args) as store:
        versions = store.release(args.id)
        if args.lang:
            versions = [v for v in versions if v["lang"] == args.lang]
        if not versions:
            where = f" in {args.lang}" if args.lang else ""
            raise CliError(f"release {args.id} is not in the store{where}")
        matches = _matches(store, args.id)
        for version in versions:
            version["topics"] = [m for m in matches if m["lang"] == version["lang"]]
            version["history"] = store.versions(version["id"], version["lang"])
    if args.json:
        print(json.dumps(versions if not args.lang else versions[0], ensure_ascii=False, indent=2))
        return EXIT_OK
    for index, version in enumerate(versions):
        if index:
            print("\n" + "=" * 72 + "\n")
        print(f"{version['id']}/{version['lang']}  {version['published'] or 'date unknown'}  {version['url']}")
        print()
        print(version["title"])
        print()
        print("\n\n".join(version["paragraphs"]))
        if version["images"]:
            print("\nimages: " + " ".join(version["images"]))
        if version["topics"]:
            print("\ntopics:")
            for match in version["topics"]:
                print(f"  {match['topic']}: {match['text']!r} ({match['term']}) in {match['field']} "
                      f"[{match['start']}:{match['end']}]")
        if version["history"]:
            print(f"\nedited: {len(version['history'])} earlier version(s) kept in item_versions")
    return EXIT_OK


def _matches(store, item_id: int) -> list[dict]:
    if not store.db["matches"].exists():
        return []
    return list(store.db["matches"].rows_where("id = ?", [item_id], order_by="lang, field, start"))


def cmd_status(args: argparse.Namespace) -> int:
    from crawler.status import collect_status, print_status

    config = load(args)
    with open_existing_store(config, args) as store:
        report = collect_status(store, config)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_status(report)
    return EXIT_OK if report.get("healthy", True) else EXIT_FAILED


def cmd_retag(args: argparse.Namespace) -> int:
    from crawler.tagging import load_topicset, retag

    config = load(args)
    topics = load_topicset(config)
    try:
        lock = StoreLock(store_path(config, args)).acquire()
    except StoreLocked as exc:
        raise CliError(str(exc), EXIT_LOCKED) from None
    try:
        with open_existing_store(config, args) as store:
            result = retag(store, topics, everything=args.all, progress=not args.quiet)
            per_topic = dict(store.db.execute("select topic, count(distinct id) from matches group by topic"))
    finally:
        lock.release()
    topics_line = ", ".join(f"{topic} {count}" for topic, count in sorted(per_topic.items())) or "none"
    print(f"retagged {result['versions']} language versions ({result['matches']} matches); "
          f"releases per topic: {topics_line}")
    return EXIT_OK


# --- the parser -----------------------------------------------------------------------------------
FEATURE_MODULES = (
    "crawler.topics.commands",
    "crawler.daemon",
    "crawler.alerts.commands",
    "crawler.query",
    "crawler.web",
)


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="presswatch",
        description="Monitor the press releases of the President of Uzbekistan (president.uz): crawl them "
        "in four languages into a SQLite store, tag topics, send alerts.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"presswatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    formatter = argparse.RawDescriptionHelpFormatter

    crawl = sub.add_parser("crawl", parents=[common], formatter_class=formatter, epilog=EXIT_CODES,
                           help="one pass: new releases from the list pages, then print a summary",
                           description="Read list page 1 of each language (and further pages while they hold "
                           "unseen releases), fetch every release not yet stored, store it, print a summary.")
    crawl.add_argument("--replay", metavar="CASSETTE",
                       help="answer requests from a recorded cassette instead of the network: "
                       "a file, or its name without .yaml (cassettes/crawl_twice)")
    crawl.set_defaults(func=lambda a: run_pass(a, "crawl"))

    backfill = sub.add_parser("backfill", parents=[common], formatter_class=formatter, epilog=EXIT_CODES,
                              help="fetch older releases, by list pages, id range or date; resumable",
                              description="Fetch older releases. Stop it at any time: run it again with the "
                              "same arguments and it continues where it stopped, storing nothing twice.")
    how = backfill.add_mutually_exclusive_group(required=True)
    how.add_argument("--pages", type=int, metavar="N", help="walk list pages 1..N of every language")
    how.add_argument("--ids", type=_id_range, metavar="FIRST-LAST", help="fetch releases by id, e.g. 5700-5800")
    how.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="walk list pages back to this date")
    backfill.add_argument("--max-pages", type=int, default=2000, metavar="N",
                          help="with --since: list pages per language at most (default 2000)")
    backfill.add_argument("--refresh", action="store_true",
                          help="with --ids: fetch stored releases again, to catch edits (kept as versions)")
    backfill.add_argument("--replay", metavar="CASSETTE", help="answer requests from a recorded cassette")
    backfill.set_defaults(func=lambda a: run_pass(a, "backfill"))

    show = sub.add_parser("show", parents=[common], help="print every stored language version of a release",
                          description="Print a release as clean paragraphs: each stored language version, "
                          "its date, address, images, topics and edit history.")
    show.add_argument("id", type=int, help="the release id (the number in /lists/view/ID)")
    show.add_argument("--lang", choices=("uz", "oz", "ru", "en"), help="only this language version")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=cmd_show)

    status = sub.add_parser("status", parents=[common], formatter_class=formatter,
                            help="counts, last run, last error and health",
                            description="Show what the store holds and how the last runs went. "
                            "Exit code 1 when unhealthy, so monitoring can call it.")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)

    retag = sub.add_parser("retag", parents=[common], help="tag the stored releases again after the topics changed",
                           description="Tag every language version whose tags came from other topic definitions "
                           "(all of them with --all). Idempotent: a second run finds nothing to do. Commits in "
                           "batches, so an interrupted retag keeps its progress. Never sends alerts.")
    retag.add_argument("--all", action="store_true", help="retag every version, not only the stale ones")
    retag.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    retag.set_defaults(func=cmd_retag)

    for name in FEATURE_MODULES:
        try:
            module = __import__(name, fromlist=["register"])
        except ImportError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that feature is not part of this build
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    # One-shot commands print their own summary; their log shows warnings unless -v asks for more.
    quiet_level = logging.INFO if args.command == "run" else logging.WARNING
    level = logging.DEBUG if getattr(args, "verbose", False) else quiet_level
    setup_logging(getattr(args, "log_format", "text"), level)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"presswatch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CliError as exc:
        print(f"presswatch: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("presswatch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
