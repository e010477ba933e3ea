"""Regenerate tests/data/store_v1.sqlite: a store made by presswatch before sources were plural.

The store must be written by THAT code (main at 07c99f4, schema m001..m006), not by today's, so
run this script with the old code first on the path:

    rm -rf /tmp/presswatch-v1 && mkdir /tmp/presswatch-v1
    git archive 07c99f4 crawler devsites | tar -x -C /tmp/presswatch-v1
    PYTHONPATH=/tmp/presswatch-v1 python tests/data/make_v1_store.py tests/data/store_v1.sqlite

What it holds (tests/test_source_identity.py relies on it): six releases of the mirror crawled
in Russian and English (the first crawl: alerts silenced), then four more in two crawls. Route
"newsroom" (immediate) gets their alerts at once from a local webhook (status 'sent'); route
"digest" (daily) holds them until its digest hour (status 'pending'). Every version is tagged
(matches) and folded for search. Everything happens on
127.0.0.1; nothing touches the network.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from crawler.cli import main
from devsites.mirror import Mirror, sample_releases


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _config(folder: Path, mirror: Mirror, hook_port: int) -> Path:
    path = folder / "presswatch.toml"
    path.write_text(
        "[source]\n"
        f"base_url = {json.dumps(mirror.base_url)}\n"
        'languages = ["ru", "en"]\nrequest_delay = 0\nobey_robots = false\nmax_attempts = 1\n'
        "[store]\npath = \"store.db\"\n"
        "[alerts]\nhorizon_days = 36500\n"
        "[[alerts.routes]]\nname = \"newsroom\"\n"
        f"urls = [\"json://127.0.0.1:{hook_port}/hook\"]\n"
        "[[alerts.routes]]\nname = \"digest\"\nmode = \"daily\"\n"
        f"urls = [\"json://127.0.0.1:{hook_port}/digest\"]\n",
        encoding="utf-8",
    )
    return path


def _run(*argv: str) -> None:
    code = main(list(argv))
    if code != 0:
        raise SystemExit(f"presswatch {' '.join(argv)} exited {code}")


def make(target: Path) -> None:
    releases = sample_releases(10)
    hook = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory() as tmp, Mirror(releases[:6]) as mirror:
            config = str(_config(Path(tmp), mirror, hook.server_address[1]))
            _run("crawl", "--config", config)  # the first crawl: silenced
            for release in releases[6:8]:
                mirror.publish(release)
            _run("crawl", "--config", config)
            _run("alerts", "deliver", "--config", config)  # sent
            for release in releases[8:]:
                mirror.publish(release)
            _run("crawl", "--config", config)  # pending
            store = Path(tmp) / "store.db"
            conn = sqlite3.connect(store)
            conn.execute("pragma wal_checkpoint(truncate)")
            conn.execute("pragma journal_mode = delete")
            conn.execute("pragma page_size = 1024")  # small tables: the fixture stays small
            conn.execute("vacuum")
            conn.close()
            target.write_bytes(store.read_bytes())
    finally:
        hook.shutdown()


if __name__ == "__main__":
    make(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("store_v1.sqlite")))
