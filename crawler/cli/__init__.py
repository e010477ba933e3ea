"""The `presswatch` command: a leaf that nothing else imports.

Each module of this package registers its subcommands; library code raises domain errors
(crawler.model.PresswatchError, ConfigError) and `main` maps them to one line and an exit code.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import typing

from crawler import __version__
from crawler.cli import alerts, archive, config, crawl, inspect, latest, query, run, serve, sources, topics
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
from crawler.logs import say, setup_logging
from crawler.model import PresswatchError

COMMAND_MODULES = (crawl, inspect, archive, latest, topics, sources, run, alerts, query, serve, config)
_EXIT_OF_KIND = {"usage": EXIT_USAGE, "locked": EXIT_LOCKED, "unusable": EXIT_UNUSABLE, "failed": EXIT_FAILED}


class _Parser(argparse.ArgumentParser):
    """argparse, whose usage errors are one JSON line when the command line asks for JSON logs."""

    json_errors = False

    def error(self, message: str) -> typing.NoReturn:
        if not self.json_errors:
            super().error(message)
        setup_logging("json")
        say(f"{self.prog}: error: {message}", level=logging.ERROR, event="usage_error", exit_code=EXIT_USAGE)
        sys.exit(EXIT_USAGE)


def _asks_for_json_logs(argv: list[str]) -> bool:
    return "--log-format=json" in argv or any(a == "--log-format" and b == "json" for a, b in zip(argv, argv[1:]))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="presswatch",
        description="Monitor press releases (by default those of the President of Uzbekistan): crawl them "
        "in every language into a SQLite store, tag topics, send alerts.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common_options(source=True)],
    )
    parser.add_argument("--version", action="version", version=f"presswatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    _mark_source_takers(sub)
    return parser


def _mark_source_takers(sub: argparse._SubParsersAction) -> None:
    """Commands that offer --source say so in their defaults: --source given before a command
    that reads no source's releases is then refused rather than ignored."""
    for command in sub.choices.values():
        if any("--source" in action.option_strings for action in command._actions):
            command.set_defaults(takes_source=True)
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                _mark_source_takers(action)


def _check_source_option(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if getattr(args, "source", None) is not None and not getattr(args, "takes_source", False):
        parser.error(f"--source: `{args.command}` does not take --source (the commands that read the store "
                     "and crawl/backfill do)")


def exit_code(error: BaseException) -> int:
    if isinstance(error, ConfigError):
        return EXIT_USAGE
    return _EXIT_OF_KIND.get(getattr(error, "kind", "failed"), EXIT_FAILED)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    _Parser.json_errors = _asks_for_json_logs(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    _check_source_option(parser, args)
    # One-shot commands print their own summary; their log shows warnings unless -v asks for more.
    quiet_level = logging.INFO if args.command == "run" else logging.WARNING
    level = logging.DEBUG if getattr(args, "verbose", False) else quiet_level
    setup_logging(getattr(args, "log_format", "text"), level)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, PresswatchError) as exc:
        # Through the log's handler: a plain line, or with --log-format json a JSON one like all others.
        code = exit_code(exc)
        say(f"presswatch: {exc}", level=logging.ERROR, event="error", exit_code=code)
        return code
    except KeyboardInterrupt:
        say("presswatch: interrupted", level=logging.WARNING, event="interrupted", exit_code=EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
