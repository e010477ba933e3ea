"""Regenerate the screenshots the README and docs show, from a demo store built from the cassettes.

    python -m devsites.screenshots [--out docs/screenshots] [--keep-store PATH]

Builds a store by replaying cassettes/edit_later.yaml twice in one cassette session (its second run
edits release 5780 in Russian), serves it with `presswatch serve` on a free port of 127.0.0.1, and
photographs pages in headless Chromium (devsites/cdp.py): the home page, a release with its word
diff, a topic's chart, and the home page 375 px wide. Nothing touches the network.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CASSETTE = ROOT / "cassettes" / "edit_later.yaml"
SHOTS = [  # file, address, width, the whole page (else the first screen)
    ("home.png", "/", 1200, False),
    ("release-diff.png", "/release/5780?show=ru", 1200, True),
    ("topic-chart.png", "/topic/border?by=week", 1200, False),
    ("home-narrow.png", "/", 375, False),
]


def demo_store(path: Path) -> Path:
    """Two crawl runs of the edit_later cassette into a new store at `path`."""
    from cassettes.record import SITE, replay_config
    from crawler import app
    from crawler.cli.crawl import replaying
    from crawler.fetch import Fetcher

    # The settings the cassette was recorded with (cassettes/record.py): every list read each run,
    # so the second run sees the edited list and fetches 5780 again. The default strategy
    # ("adaptive", one list a poll) would read another list and store no edit.
    replay = replay_config(SITE)
    config = app.load(None, store=path, secrets=False)
    config = dataclasses.replace(config, source=replay.source, schedule=replay.schedule, origin=config.origin)
    import datetime as dt

    import crawler.clock

    # The store's timestamps (first seen, edited at) come from a fixed clock, so the screenshots
    # come out the same each time they are made.
    moment = [dt.datetime(2022, 12, 22, 9, 0, tzinfo=dt.timezone.utc)]
    real_clock, crawler.clock.utc_now = crawler.clock.utc_now, lambda: moment[0]
    try:
        with app.writing(config) as store, replaying(str(CASSETTE)), Fetcher(config.source) as fetcher:
            crawler_ = app.build_crawler(config, store, fetcher)
            crawler_.crawl()
            moment[0] += dt.timedelta(hours=3)
            crawler_.crawl()
    finally:
        crawler.clock.utc_now = real_clock
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(path: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PRESSWATCH_CONFIG"}
    process = subprocess.Popen([sys.executable, "-m", "crawler", "serve", "--store", str(path), "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):  # up to about 60 s, ended early by an answer or by the server's exit
        if process.poll() is not None:
            raise SystemExit(f"presswatch serve exited: {process.stderr.read().decode()[-1000:]}")
        try:
            if httpx.get(base + "/-/versions.json", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("presswatch serve did not answer")


def photograph(base: str, out: Path) -> list[Path]:
    from devsites.cdp import Browser

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with Browser() as browser:
        for name, address, width, whole in SHOTS:
            browser.viewport(width, 720, mobile=width < 600)
            browser.open(base + address)
            browser.screenshot(out / name, full_page=whole)
            written.append(out / name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--keep-store", type=Path, help="build the demo store here and keep it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = demo_store(args.keep_store or Path(folder) / "demo.db")
        process, base = serve(path)
        try:
            for shot in photograph(base, args.out):
                print(f"wrote {shot.relative_to(ROOT) if shot.is_relative_to(ROOT) else shot}")
        finally:
            process.terminate()
            process.wait(timeout=15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
