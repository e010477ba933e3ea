"""`presswatch config`: check a config file, or print the complete default one."""

from __future__ import annotations

import argparse
import sys

from crawler.cli.options import EXIT_OK, common_options, load
from crawler.config import config_warnings, default_toml


def register(subparsers: argparse._SubParsersAction) -> None:
    config = subparsers.add_parser(
        "config", parents=[common_options(store=False)],
        help="check the config, or print the default one with every key explained",
        description="Without options: load the config (the embedded default, then --config or "
        "$PRESSWATCH_CONFIG), say where it came from, and print any warning. A config error is one "
        "line naming the file, the key and the problem, and exit code 2.")
    config.add_argument("--print-default", action="store_true",
                        help="print the default config, every key with its comment (a starting point "
                        "for a file of your own; config/default.toml is this output)")
    config.set_defaults(func=cmd_config)


def cmd_config(args: argparse.Namespace) -> int:
    if args.print_default:
        sys.stdout.write(default_toml())
        return EXIT_OK
    config = load(args, routes=True)
    print(f"config ok: {config.origin}")
    for warning in config_warnings(config):
        print(f"warning: {warning}")
    return EXIT_OK
