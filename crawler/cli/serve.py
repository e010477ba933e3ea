"""`presswatch serve`: the store in Datasette, read-only, on 127.0.0.1 (needs presswatch[web])."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import socket
import sys

from crawler import app
from crawler.cli.options import EXIT_OK, chosen_source, common_options, load
from crawler.cli.query import catch_up_or_warn
from crawler.model import PresswatchError, UsageError

INSTALL_HINT = "Datasette is not installed: pip install 'presswatch[web]'"


def cmd_serve(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("datasette") is None or importlib.util.find_spec("uvicorn") is None:
        raise UsageError(INSTALL_HINT)
    config = load(args, secrets=False)
    path = app.store_path(config)
    with app.open_store(config, must_exist=True) as store:
        only = chosen_source(args, store, config)
        # Datasette only reads: fold whatever is queued so term search sees every version.
        catch_up_or_warn(store)
    _check_port(args.host, args.port)
    import uvicorn

    from crawler import web_limits
    from crawler.web import make_datasette  # Datasette is an optional dependency

    web_limits.limit_sqlite_heap()
    datasette = make_datasette(path, allow_sql=args.sql, host=args.host, config=config, only_source=only)
    asyncio.run(datasette.invoke_startup())
    print(f"presswatch: serving {path} read-only at http://{_url_host(args.host)}:{args.port}/ (Ctrl-C stops)",
          file=sys.stderr, flush=True)
    try:
        uvicorn.run(datasette.app(), host=args.host, port=args.port, log_level="warning", lifespan="on")
    except SystemExit as exc:  # uvicorn exits when it cannot bind the port
        raise PresswatchError(f"cannot serve on {args.host}:{args.port} (is the port in use?)") from exc
    return EXIT_OK


def _check_port(host: str, port: int) -> None:
    """Say plainly that the port is taken, before Datasette starts."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"cannot serve on {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise PresswatchError(f"cannot serve on {host}:{port}: {exc.strerror}") from None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"expected a port number 1-65535, got {text!r}")
    return int(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve", parents=[common_options(source=True)],
        help="browse and query the store in Datasette (read-only, needs presswatch[web])",
        description="Open the store in Datasette: the newest releases on the front page, every table "
        "with descriptions, full-text search, canned queries (latest releases per topic, a release in "
        "all its languages, releases mentioning a term in any script). Read-only. With --source NAME, "
        "the pages show that source's releases (the filter can still choose another).")
    serve.add_argument("--port", type=_port, default=8001, help="port (default 8001)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--sql", action="store_true",
                       help="allow arbitrary read-only SQL (Datasette's SQL box; off by default)")
    serve.set_defaults(func=cmd_serve)
