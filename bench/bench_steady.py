"""Steady state: what a poll costs when nothing is new, and whether memory stays flat over 1,000.

    python bench/bench_steady.py [--polls 1000] [--sample-every 100]

The mirror (`python -m devsites.mirror`, 24 sample releases plus the seed, four languages) runs in
its own process, so the CPU time measured is the crawler's alone. A first crawl stores everything;
then the crawler polls `--polls` times in this process, as the daemon does: one Fetcher kept
across runs, a new Crawler (with the tagging hook) per run, one store.

Printed: requests per poll (target: one conditional GET per configured list, answered 304, and
no release request), CPU and wall milliseconds per poll, and the resident memory (psutil RSS)
every `--sample-every` polls: first, last, max and the slope of a least-squares line, over all
samples and over the second half (after warm-up). Flat means the slope stays within noise.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import psutil
from common import MirrorProcess, machine  # noqa: E402  (bench/ is on sys.path when run as a script)

from crawler.app import build_crawler
from crawler.config import Config, ScheduleConfig, SourceConfig, StoreConfig
from crawler.fetch import Fetcher
from crawler.store import Store

# A poll whose memory grows by more than this per 100 polls after warm-up is a leak worth a look
# (1,000 polls add 1,000 crawl_runs rows; SQLite's page cache is bounded).
FLAT_KIB_PER_100 = 64.0


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of y over x."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--polls", type=int, default=1000)
    parser.add_argument("--sample-every", type=int, default=100)
    args = parser.parse_args()

    me = psutil.Process()
    mirror = MirrorProcess()
    folder = tempfile.TemporaryDirectory()
    try:
        source = SourceConfig(base_url=mirror.base_url, request_delay=0.0, backoff_base=0.01, read_timeout=10.0)
        # The fixed strategy's poll: every list (bench_polling.py compares it with the adaptive one).
        config = Config(source=source, store=StoreConfig(path=str(Path(folder.name) / "store.db")),
                        schedule=ScheduleConfig(strategy="fixed"))
        with Store.open(config.store.path) as store, Fetcher(config.source) as fetcher:
            first = build_crawler(config, store, fetcher).crawl()
            print(f"bench_steady: first crawl: {first.line()}")
            print(f"machine: {machine()}")

            requests_before = fetcher.requests_made
            cpu_before, wall_before = time.process_time(), time.perf_counter()
            samples: list[tuple[int, float]] = [(0, me.memory_info().rss / 1024)]
            release_pages = new = 0
            for poll in range(1, args.polls + 1):
                summary = build_crawler(config, store, fetcher).crawl()
                new += summary.new + summary.changed
                release_pages += summary.pages_fetched - len(config.source.languages)
                if summary.outcome != "ok":
                    raise SystemExit(f"poll {poll}: {summary.line()}")
                if poll % args.sample_every == 0:
                    samples.append((poll, me.memory_info().rss / 1024))
            cpu = time.process_time() - cpu_before
            wall = time.perf_counter() - wall_before
            requests = fetcher.requests_made - requests_before
    finally:
        mirror.close()
        folder.cleanup()

    polls = args.polls
    languages = len(config.source.languages)
    print()
    print(f"polls with nothing new:   {polls} ({new} new or changed versions found, expected 0)")
    print(f"requests per poll:        {requests / polls:.2f} (target {languages}: one conditional GET per list, "
          f"answered 304)")
    print(f"release pages per poll:   {release_pages / polls:.2f} (target 0)")
    print(f"CPU per poll:             {1000 * cpu / polls:.2f} ms   wall per poll: {1000 * wall / polls:.2f} ms")
    rss = [kib for _, kib in samples]
    half = [point for point in samples if point[0] >= polls // 2]
    whole_slope = 100 * slope(samples)
    late_slope = 100 * slope(half)
    print(f"RSS (KiB) every {args.sample_every} polls: " + " ".join(f"{kib:.0f}" for kib in rss))
    print(f"RSS first {rss[0] / 1024:.1f} MiB, last {rss[-1] / 1024:.1f} MiB, max {max(rss) / 1024:.1f} MiB; "
          f"slope {whole_slope:+.1f} KiB per 100 polls overall, {late_slope:+.1f} after warm-up")
    flat = late_slope <= FLAT_KIB_PER_100
    print(f"memory: {'flat' if flat else 'GROWING'} (threshold {FLAT_KIB_PER_100:.0f} KiB per 100 polls after warm-up)")
    ok = flat and new == 0 and release_pages == 0 and requests == languages * polls
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
