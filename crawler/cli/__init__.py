"""The `presswatch` command: a leaf that nothing else imports.

Each module of this package registers its subcommands; library code raises domain errors
(crawler.model.PresswatchError, ConfigError) and `main` maps them to one line and an exit code.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from crawler import __version__
from crawler.cli import alerts, config, crawl, inspect, query, run, serve, topics
from crawler.cli.options import (
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_UNUSABLE,
    EXIT_USAGE,
    common_options,
)
from crawler.config import ConfigError
from crawler.logs import redact, setup_logging
from crawler.model import PresswatchError

COMMAND_MODULES = (crawl, inspect, topics, run, alerts, query, serve, config)
_EXIT_OF_KIND = {"usage": EXIT_USAGE, "locked": EXIT_LOCKED, "unusable": EXIT_UNUSABLE, "failed": EXIT_FAILED}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="presswatch",
        description="Monitor press releases (by default those of the President of Uzbekistan): crawl them "
        "in every language into a SQLite store, tag topics, send alerts.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common_options()],
    )
    parser.add_argument("--version", action="version", version=f"presswatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def exit_code(error: BaseException) -> int:
    if isinstance(error, ConfigError):
        return EXIT_USAGE
    return _EXIT_OF_KIND.get(getattr(error, "kind", "failed"), EXIT_FAILED)


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
    except (ConfigError, PresswatchError) as exc:
        print(f"presswatch: {redact(str(exc))}", file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt:
        print("presswatch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
