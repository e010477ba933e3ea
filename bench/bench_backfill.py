"""Backfill throughput end to end against the local mirror, and the network floor beside it.

    python bench/bench_backfill.py [--releases 100] [--rounds 3]

The mirror (`python -m devsites.mirror`, `--releases` sample releases plus the seed, in all four
languages, 12 per list page) runs in its own process, so its CPU is not the crawler's. No
politeness delay, no latency. Measured in one run, round by round:

- presswatch backfill: `Crawler.backfill(pages=N)` into a fresh store: list pages of every
  language, then every release page fetched, parsed, normalized and stored (FTS index included)
  in its own transaction with the hooks `presswatch backfill` runs (`crawler.app.build_crawler`:
  search index, topic tagging, alert outbox; the output names them).
- tagging only: the same with the topic-tagging hook alone (when crawler.topics is installed).
- no hooks: fetch, parse, normalize, store: what the hooks cost.
- httpx floor: the same release URLs fetched by a bare `httpx.Client` loop (keep-alive, body
  read, nothing else): what the network and the server allow at most.

Figures are release pages per second, best round of --rounds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from common import MirrorProcess, machine  # noqa: E402  (bench/ is on sys.path when run as a script)

from crawler.app import build_crawler
from crawler.config import Config, SourceConfig, StoreConfig
from crawler.fetch import Fetcher
from crawler.pipeline import Crawler
from crawler.store import Store
from crawler.tagging import Tagger

PER_PAGE = 12


def config_for(base_url: str, store: Path) -> Config:
    source = SourceConfig(base_url=base_url, request_delay=0.0, backoff_base=0.01, read_timeout=10.0)
    return Config(source=source, store=StoreConfig(path=str(store)))


HookSet = Callable[[Config, Store, Fetcher], Crawler]
VARIANTS: dict[str, HookSet] = {
    "presswatch backfill": build_crawler,
    "presswatch backfill, tagging only": lambda c, s, f: Crawler(c, s, f, tagger=Tagger.from_config(c)),
    "presswatch backfill, no hooks": lambda c, s, f: Crawler(c, s, f),
}


def hook_names(make: HookSet) -> str:
    config = config_for("http://127.0.0.1:9", Path("unused.db"))
    with Store.open(":memory:") as store:
        crawler = make(config, store, None)
        steps = (["tagging"] if crawler.tagger else []) + [
            getattr(hook, "__qualname__", type(hook).__name__).split(".<locals>")[0] for hook in crawler.hooks]
    return ", ".join(steps) or "none"


def presswatch_backfill(base_url: str, pages: int, hooks: HookSet) -> tuple[float, int, list[str]]:
    """(seconds, release pages stored, their URLs) of one backfill into a fresh store."""
    with tempfile.TemporaryDirectory() as folder:
        config = config_for(base_url, Path(folder) / "store.db")
        with Store.open(config.store.path) as store, Fetcher(config.source) as fetcher:
            crawler = hooks(config, store, fetcher)
            started = time.perf_counter()
            summary = crawler.backfill(pages=pages)
            elapsed = time.perf_counter() - started
            if summary.outcome != "ok":
                raise SystemExit(f"the backfill did not succeed: {summary.line()}")
            urls = [row[0] for row in store.db.execute("select url from items order by id, lang")]
    return elapsed, summary.new, urls


def httpx_floor(urls: list[str]) -> float:
    """Seconds to GET every URL in turn with one keep-alive client."""
    with httpx.Client(timeout=10.0) as client:
        started = time.perf_counter()
        for url in urls:
            response = client.get(url)
            response.read()
            if response.status_code != 200:
                raise SystemExit(f"floor: {url} answered {response.status_code}")
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--releases", type=int, default=100, help="sample releases on the mirror (plus the seed)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    pages = -(-(args.releases + 1) // PER_PAGE) + 1
    mirror = MirrorProcess("--releases", str(args.releases), "--per-page", str(PER_PAGE))
    try:
        best = {name: 0.0 for name in [*VARIANTS, "httpx floor"]}
        count = 0
        for _ in range(args.rounds):
            for name, hooks in VARIANTS.items():
                seconds, count, urls = presswatch_backfill(mirror.base_url, pages, hooks)
                best[name] = max(best[name], count / seconds)
            best["httpx floor"] = max(best["httpx floor"], len(urls) / httpx_floor(urls))
    finally:
        mirror.close()

    print(f"bench_backfill: {count} release pages ({args.releases + 1} releases x 4 languages, {pages} list pages "
          f"per language), mirror in its own process, no delay")
    print(f"machine: {machine()}")
    print(f"hooks of the first line (as `presswatch backfill`): {hook_names(build_crawler)}")
    print()
    ours = best["presswatch backfill"]
    print(f"{'':38} {'release pages/s':>16} {'ms/page':>9} {'vs floor':>9}")
    for name, rate in best.items():
        print(f"{name:38} {rate:16.0f} {1000 / rate:9.2f} {rate / best['httpx floor']:8.2f}x")
    print()
    print(f"presswatch backfills at {ours / best['httpx floor']:.2f} of the network floor "
          f"({1000 / ours - 1000 / best['httpx floor']:.2f} ms of its own work per release page)")


if __name__ == "__main__":
    main()
