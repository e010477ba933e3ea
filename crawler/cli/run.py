"""`presswatch run`: the daemon (crawler/daemon.py) as a command."""

from __future__ import annotations

import argparse
import contextlib
import signal
from collections.abc import Iterator
from typing import Any

from crawler import app
from crawler.cli.options import EXIT_CODES, EXIT_OK, common_options, load, warn_about
from crawler.daemon import Daemon
from crawler.lock import StoreLocked


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run", parents=[common_options()], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="the background service: crawl on a schedule until stopped",
        description="Crawl at start and then on the [schedule] of the config, until SIGTERM or SIGINT.\n"
        "SIGHUP reloads the config (a bad one is refused and the running one stays).\n"
        "One daemon per store. One log line per event on stderr (--log-format json: JSON lines).\n"
        "Service setup, logs and monitoring: docs/SERVICE.md.",
        epilog=EXIT_CODES + "  On SIGTERM/SIGINT the daemon exits 0 within schedule.stop_timeout_seconds.\n",
    )
    run.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    # Until the daemon installs its own handlers: a stop while starting exits 0, nothing half-done.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_while_starting)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the config is being read right now anyway
    config = load(args, routes=True)
    warn_about(config)
    # The store is checked (folder, kind, version, writable) before anything is made beside it:
    # a store that cannot be used exits 4, which the unit file does not restart.
    with _single_daemon(), app.writing(config) as store:
        return Daemon(config, store, reload=lambda: load(args, routes=True)).serve()


@contextlib.contextmanager
def _single_daemon() -> Iterator[None]:
    try:
        yield
    except StoreLocked as exc:
        raise StoreLocked(f"{exc}; not starting a second daemon") from None


def _exit_while_starting(signum: int, frame: Any) -> None:
    raise SystemExit(EXIT_OK)


