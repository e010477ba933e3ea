"""The CLI's one vocabulary: options every command takes, argument types, output formats."""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import logging
import re

from crawler import app
from crawler.config import Config, config_warnings
from crawler.model import UsageError
from crawler.store import Store

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED, EXIT_UNUSABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

EXIT_CODES = """\
exit codes:
  0    success (a crawl with some failed pages still succeeds; see its summary)
  1    the run failed: site unreachable, refused (403/429), or the disk full
  2    bad usage or configuration (the message names the file, the key and the problem)
  3    another presswatch process is writing to the same store
  4    the store cannot be used: no such folder, not a presswatch store, written by a newer
       presswatch, or read-only (media, file or folder) for a command that writes
  130  interrupted (Ctrl-C or SIGTERM)
"""

FORMATS = ("table", "json", "jsonl", "csv")


def common_options(*, store: bool = True, source: bool = False) -> argparse.ArgumentParser:
    """Options every subcommand accepts, before or after its name (`store=False`: a command that
    never opens the store does not offer --store; `source=True`: a command that reads the store
    offers --source NAME, checked by `chosen_source`)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="config file (default: $PRESSWATCH_CONFIG, else the embedded default)")
    if store:
        parent.add_argument("--store", metavar="PATH", default=argparse.SUPPRESS,
                            help="the SQLite store, overriding store.path from the config")
    if store and source:
        parent.add_argument("--source", metavar="NAME", default=argparse.SUPPRESS,
                            help="only the releases of this source (its name, as `status` lists them)")
    parent.add_argument("--log-format", choices=("text", "json"), default=argparse.SUPPRESS,
                        help="log lines as readable text (default) or JSON lines")
    parent.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log every stored release and retry")
    return parent


def add_format(parser: argparse.ArgumentParser, choices: tuple[str, ...] = FORMATS, default: str | None = "table",
               what: str = "output") -> None:
    """--format (machine output as json, jsonl or csv) and --json, its documented alias."""
    parser.add_argument("--format", choices=choices, default=default,
                        help=f"{what}: {' / '.join(choices)}" + (f" (default {default})" if default else ""))
    if "json" in choices:
        parser.add_argument("--json", dest="format", action="store_const", const="json",
                            help="the same as --format json")


def load(args: argparse.Namespace, *, secrets: bool = True, routes: bool = False) -> Config:
    """The config the options name. Commands that send nothing pass `secrets=False`: they run
    without the alert routes' ${SECRET} variables; those that deliver refuse at start, naming them.
    Commands that tag or deliver pass `routes=True`: a route naming an unknown topic, or a URL of
    a scheme Apprise does not know, is refused at load (app.check_routes)."""
    loader = app.load_checked if routes else app.load
    return loader(getattr(args, "config", None), store=getattr(args, "store", None), secrets=secrets)


def chosen_source(args: argparse.Namespace, store: Store, config: Config) -> str | None:
    """The --source NAME given (None: every source), checked against the sources the store holds
    and those configured: an unknown name is a usage error naming them."""
    name = getattr(args, "source", None)
    if name is None:
        return None
    known = sorted({*store.sources(), *(entry.name for entry in app.sources(config))})
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}? " if close else ""
        raise UsageError(f"--source: no source named {name!r} in the store ({hint}sources: {', '.join(known)})")
    return name


def warn_about(config: Config) -> None:
    """Settings that are legal but probably not meant (no delay against a public site, ...)."""
    for warning in config_warnings(config):
        logging.getLogger("presswatch").warning("config: %s", warning)


def positive_int(text: str) -> int:
    """A whole number of 1 or more (counts, limits, pages): 0 and negatives are usage errors."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return value


def iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def id_range(text: str) -> tuple[int, int]:
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
