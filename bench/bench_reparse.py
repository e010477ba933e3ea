"""`reparse` of a 50,000-version store with archived pages, and what the archive costs in bytes.

    python bench/bench_reparse.py [--versions 50000] [--sample 400] [--keep PATH] [--profile] [--runs ...]

Builds a store as a crawl of the mirror would leave it: N/4 sample releases (devsites.mirror) in all
four languages, each page rendered with the site chrome and a sidebar of five other releases,
parsed by the adapter and stored, and its answer kept in the archive (zlib, each distinct body
once). Prints the store's size before and after the archive, bytes per page, then times
`crawler.reparse.reparse` (tagging and the search index hook included, as `presswatch reparse`
runs it) twice:

- nothing changed: every page parsed again and compared with the stored version (the usual run
  after a config change that touches few releases);
- everything changed: the stored versions are marked stale first (content_hash overwritten), so
  every version is stored anew, tagged and indexed ("hash": with the text it had, as a date-only
  fix; "text": the stored titles altered too, so every full-text entry is rewritten: storage at
  its most).

The target: under 30 s for 50,000 versions (1,700 versions/s or more), storage included; the
unchanged run is timed with one process parsing and with one a CPU (at most 4), as `reparse` does. Beside it,
on `--sample` of the same pages in one process: the adapter's parse, a lexbor extraction and a
BeautifulSoup + lxml rewrite (bench/bench_parse.py's implementations). Not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_parse  # noqa: E402
from common import machine  # noqa: E402

from crawler import archive  # noqa: E402
from crawler.config import Config, SelectorsConfig, SourceConfig  # noqa: E402
from crawler.reparse import reparse  # noqa: E402
from crawler.searchindex import search_hook  # noqa: E402
from crawler.sources.presidentuz import PresidentUz  # noqa: E402
from crawler.store import Store  # noqa: E402
from crawler.tagging import Tagger  # noqa: E402
from devsites.mirror import LANGS, render_item_page, sample_releases  # noqa: E402

BASE = "https://president.uz"
HEADERS = [("Content-Type", "text/html; charset=UTF-8"), ("Server", "nginx"), ("Content-Encoding", "gzip")]


def pages(versions: int) -> list[tuple[str, str, int, str]]:
    releases = sample_releases(max(versions // len(LANGS), 1))
    out = []
    for index, release in enumerate(releases):
        others = releases[max(0, index - 5): index]
        for lang in LANGS:
            out.append((render_item_page(release, lang, others=others), lang, release.id,
                        f"{BASE}/{lang}/lists/view/{release.id}"))
    return out[:versions]


def size_of(path: Path) -> int:
    return sum(os.path.getsize(p) for p in (path, Path(f"{path}-wal")) if p.exists())


def build(path: Path, rendered: list[tuple[str, str, int, str]]) -> dict[str, float]:
    source = PresidentUz(SourceConfig(), SelectorsConfig())
    figures: dict[str, float] = {}
    with Store.open(path) as store:
        started = time.perf_counter()
        for start in range(0, len(rendered), 2000):
            with store.atomic():
                for html, lang, _, url in rendered[start: start + 2000]:
                    # the pipeline names the version's source; the parser leaves it empty
                    item = dataclasses.replace(source.parse_item(html, lang, url), source=source.name)
                    store.save_item(item, now="2026-05-01T00:00:00+00:00")
        figures["store_items_s"] = time.perf_counter() - started
        store.db.execute("pragma wal_checkpoint(truncate)")
        figures["bytes_without_archive"] = size_of(path)
        started = time.perf_counter()
        for start in range(0, len(rendered), 2000):
            with store.atomic():
                for html, lang, item_id, url in rendered[start: start + 2000]:
                    archive.add_response(store, source=source.name, kind=archive.RELEASE, url=url, final_url=url,
                                         status=200, headers=HEADERS, body=html.encode("utf-8"),
                                         fetched_at="2026-05-01T00:00:00+00:00", item_id=item_id, lang=lang)
        figures["archive_s"] = time.perf_counter() - started
        store.db.execute("pragma wal_checkpoint(truncate)")
        figures["bytes_with_archive"] = size_of(path)
        figures.update(archive.stats(store))
    return figures


def timed_parse(rendered: list[tuple[str, str, int, str]]) -> tuple[float, float]:
    """The adapter alone over the same pages (no archive, no store): wall and CPU seconds."""
    source = PresidentUz(SourceConfig(), SelectorsConfig())
    wall, cpu = time.perf_counter(), time.process_time()
    for html, lang, _, url in rendered:
        source.parse_item(html, lang, url)
    return time.perf_counter() - wall, time.process_time() - cpu


# How the stored versions are made stale before a run ("" : not at all). "hash": the digest only,
# so every version is stored anew with the text it already had (as a date-only fix would be);
# "text": the stored title too (and its folded copy), so every full-text entry is rewritten as well.
STALE_SQL = {
    "": (),
    "hash": ("update items set content_hash = 'stale'",),
    "text": ("update items set content_hash = 'stale', title = title || ' (old)'",
             "update search_text set title = title || ' old'"),
}


def timed_reparse(path: Path, *, stale: str, profile: bool, jobs: int | None) -> tuple[float, float, object]:
    config = Config()
    source = PresidentUz(SourceConfig(), SelectorsConfig())
    with Store.open(path) as store:
        with store.atomic():
            for statement in STALE_SQL[stale]:
                store.db.execute(statement)
        tagger = Tagger.from_config(config)
        profiler = cProfile.Profile() if profile else None
        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        result = reparse(store, source, tagger=tagger, hooks=[search_hook], jobs=jobs)
        if profiler:
            profiler.disable()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        store.db.execute("pragma wal_checkpoint(truncate)")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return seconds, cpu, result


def side_by_side(sample: list[tuple[str, str, int, str]], rounds: int = 5) -> dict[str, float]:
    """pages/s of the adapter, a lexbor extraction and BeautifulSoup + lxml on the same pages; best round."""
    triples = [(html, lang, url) for html, lang, _, url in sample]
    bs4_lxml = bench_parse.Bs4Parser("lxml")
    contenders = {"presswatch": bench_parse.presswatch, "lexbor extraction": bench_parse.lexbor_extraction,
                  "BeautifulSoup + lxml": bs4_lxml}
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, parse in contenders.items():
            pages_of = triples if name != "BeautifulSoup + lxml" else triples[: max(len(triples) // 8, 20)]
            started = time.perf_counter()
            for page in pages_of:
                parse(page)
            rate = len(pages_of) / (time.perf_counter() - started)
            best[name] = max(best.get(name, 0.0), rate)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", type=int, default=50_000)
    parser.add_argument("--sample", type=int, default=400, help="pages for the side-by-side parse figures")
    parser.add_argument("--keep", metavar="PATH", help="build the store here and keep it")
    parser.add_argument("--profile", action="store_true", help="profile the reparse runs (slower)")
    parser.add_argument("--runs", default="unchanged1,unchanged,hash,text",
                        help="which reparse runs, in order: unchanged1 (one process), unchanged, hash, text")
    parser.add_argument("--no-side-by-side", action="store_true", help="skip the parser comparison at the end")
    args = parser.parse_args()
    print(machine())
    started = time.perf_counter()
    rendered = pages(args.versions)
    print(f"rendered {len(rendered)} release pages in {time.perf_counter() - started:.1f} s, "
          f"{sum(len(p[0].encode()) for p in rendered) / len(rendered) / 1024:.1f} KiB on average")
    folder = Path(args.keep).parent if args.keep else Path(tempfile.mkdtemp(prefix="bench-reparse-"))
    path = Path(args.keep) if args.keep else folder / "store.db"
    count = len(rendered)
    if path.exists():
        print(f"store: {path} kept from an earlier run (delete it to build and measure it again)")
    else:
        report_build(build(path, rendered), count)
    workers = min(os.cpu_count() or 1, 4)
    runs = {"unchanged1": ("", 1), "unchanged": ("", workers), "hash": ("hash", workers), "text": ("text", workers)}
    for name in args.runs.split(","):
        stale, jobs = runs[name]
        parse_wall, parse_cpu = timed_parse(rendered)
        seconds, cpu, result = timed_reparse(path, stale=stale, profile=args.profile, jobs=jobs)
        what = {"": "nothing changed", "hash": "everything changed (stored anew, same text)",
                "text": "everything changed (stored anew, title changed)"}[stale] + f", {jobs} process(es) parsing"
        target = 30 * count / 50_000
        verdict = "met" if seconds < target else f"MISSED by {seconds - target:.1f} s"
        print(f"reparse, {what}: {result.pages} pages in {seconds:.1f} s ({cpu:.1f} s CPU) = "
              f"{result.pages / seconds:,.0f} versions/s ({result.changed} changed, {result.unchanged} unchanged, "
              f"{result.failed} failed); target < {target:.0f} s: {verdict}")
        print(f"  just before it, the adapter alone over the same pages: {parse_wall:.1f} s ({parse_cpu:.1f} s CPU)"
              + ("" if jobs > 1 else f": parsing is {parse_cpu / cpu:.0%} of reparse's CPU time")
              + ("; CPU counts this process only, not its workers" if jobs > 1 else ""))
    if not args.no_side_by_side:
        report_side_by_side(side_by_side(rendered[: args.sample]))
    if not args.keep:
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()


def report_side_by_side(rates: dict[str, float]) -> None:
    ours = rates["presswatch"]
    for name, rate in rates.items():
        print(f"  {name:22s} {rate:8,.0f} pages/s  {1000 / rate:6.3f} ms/page  presswatch at {ours / rate:5.2f}×")


def report_build(figures: dict[str, float], count: int) -> None:
    added = figures["bytes_with_archive"] - figures["bytes_without_archive"]
    print(f"store: {figures['bytes_without_archive'] / 1e6:.1f} MB without the archive, "
          f"{figures['bytes_with_archive'] / 1e6:.1f} MB with it (+{added / 1e6:.1f} MB, {added / count:,.0f} bytes "
          f"a page); bodies {figures['body_bytes'] / 1e6:.1f} MB as received, {figures['stored_bytes'] / 1e6:.1f} MB "
          f"compressed ({figures['stored_bytes'] / figures['body_bytes']:.1%}, "
          f"{figures['stored_bytes'] / figures['bodies']:,.0f} bytes a page); "
          f"built in {figures['store_items_s']:.1f} s (items) + {figures['archive_s']:.1f} s (archive)")


if __name__ == "__main__":
    main()
