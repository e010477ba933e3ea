"""Benchmark of the web view's pages: server time per page on the bench store.

    python bench/bench_web.py [--versions 50000] [--repeats 20] [--keep PATH | --store PATH]

Builds the synthetic store of bench/bench_query.py (N language versions, N/4 releases in four
languages, topic matches) and gives 2% of the releases an edited Russian version (item_versions),
then requests each page through Datasette's in-process client, which runs everything `presswatch
serve` runs for a request (routing, parameter checks, queries, templates) but no socket: p50 and
p95 per page. The target of issue #14: home, search and release pages within 100 ms.
Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench.bench_query as bench_query  # noqa: E402
from bench.common import machine  # noqa: E402
from crawler.config import Config  # noqa: E402
from crawler.sources import source_for  # noqa: E402
from crawler.store import Store  # noqa: E402


def add_edits(path: Path, share: float, seed: int) -> int:
    """An earlier Russian text for `share` of the releases: the current body with words changed."""
    rng = random.Random(seed)
    with Store.open(path) as store, store.atomic():
        rows = store.db.execute("select id, title, body, published, first_seen from items where lang = 'ru'").fetchall()
        edited = [row for row in rows if rng.random() < share]
        for item_id, title, body, published, first_seen in edited:
            words = body.split(" ")
            for _ in range(5):
                words[rng.randrange(len(words))] = "прежде"
            store.db["item_versions"].insert({
                "source": bench_query.SOURCE.name, "id": item_id, "lang": "ru", "version": 1, "title": title + " (черновик)", "published": published,
                "body": " ".join(words), "paragraphs": "[]", "images": "[]", "links": "[]",
                "content_hash": f"old-{item_id}", "first_seen": first_seen, "replaced_at": first_seen,
            })
            store.db.execute("update items set version = 2 where id = ? and lang = 'ru'", [item_id])
    return len(edited)


def pages(path: Path, rng: random.Random) -> dict[str, list[str]]:
    with Store.open(path) as store:
        ids = [row[0] for row in store.db.execute("select distinct id from items")]
        edited = [row[0] for row in store.db.execute("select id from item_versions limit 50")]
    return {
        "home": ["/"],
        "home, page 20": ["/?page=20"],
        "home, topic + language": ["/?topic=kazakhstan&lang=ru"],
        "home, date range": ["/?since=2021-03-01&until=2021-06-30"],
        "search": ["/search?q=" + quote(text) for text in bench_query.QUERIES],
        "search, topic filter": ["/search?topic=border&q=" + quote(text) for text in bench_query.QUERIES[:3]],
        "release": [f"/release/{item_id}" for item_id in rng.sample(ids, 20)],
        "release, edited": [f"/release/{item_id}" for item_id in edited[:20]],
        "topic (chart)": ["/topic/kazakhstan", "/topic/water?by=week"],
        "health": ["/health"],
        "feed": ["/feeds/all.atom", "/feeds/border.atom?lang=uz"],
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def measure(path: Path, groups: dict[str, list[str]], repeats: int) -> dict[str, list[float]]:
    from crawler.web import make_datasette

    datasette = make_datasette(path, source_for(Config()))
    await datasette.invoke_startup()
    timings: dict[str, list[float]] = {}
    for name, urls in groups.items():
        for url in urls:  # warm: the page cache and the templates
            answer = await datasette.client.get(url)
            assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
        for _ in range(repeats):
            for url in urls:
                started = time.perf_counter()
                await datasette.client.get(url)
                timings.setdefault(name, []).append(time.perf_counter() - started)
    return timings


def search_directly(path: Path, repeats: int) -> list[float]:
    """The same searches as the search page, straight through crawler.search: the page's baseline."""
    from crawler.search import search

    languages = source_for(Config()).supported_languages
    timings = []
    with Store.open(path) as store:
        for _ in range(repeats):
            for text in bench_query.QUERIES:
                started = time.perf_counter()
                search(store, text, limit=20, marks=("\ue000", "\ue001"), languages=languages)
                timings.append(time.perf_counter() - started)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--keep", metavar="PATH", help="build the store at PATH and keep it")
    where.add_argument("--store", metavar="PATH", help="measure a store built before with --keep")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="presswatch-bench-web-") as tmp:
        path = Path(args.store or args.keep or Path(tmp) / "bench.db")
        if not args.store:
            print(f"building a store of {args.versions:,} language versions ...", flush=True)
            bench_query.build(path, args.versions, args.seed)
            print(f"edited: {add_edits(path, 0.02, args.seed)} releases have an earlier Russian text", flush=True)
        timings = asyncio.run(measure(path, pages(path, random.Random(args.seed)), args.repeats))
        direct = search_directly(path, args.repeats)
    print(f"\n{'page':28} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, values in timings.items():
        print(f"{name:28} {len(values):8d} {percentile(values, 0.5) * 1000:8.1f} "
              f"{percentile(values, 0.95) * 1000:8.1f} {max(values) * 1000:8.1f}")
    web = percentile(timings["search"], 0.5)
    print(f"{'(search without the web)':28} {len(direct):8d} {percentile(direct, 0.5) * 1000:8.1f} "
          f"{percentile(direct, 0.95) * 1000:8.1f} {max(direct) * 1000:8.1f}")
    print(f"\nthe search page takes {web / percentile(direct, 0.5):.2f}× `presswatch search`'s query "
          "(crawler.search.search, limit 20), measured side by side")
    print(f"all: p50 {statistics.median(sum(timings.values(), [])) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
