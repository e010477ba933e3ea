"""Record the cassettes the tests replay.

    python cassettes/record.py            # every scenario, from the local mirror (what is committed)
    python cassettes/record.py --live     # the live-site scenarios, against https://president.uz

Each scenario runs the real crawler (real httpx client, real pipeline) while vcrpy records, so a
cassette holds exactly the requests presswatch makes. Recorded from the mirror, the mirror's
address is then rewritten to https://president.uz, so the cassettes read as the site would answer.
See cassettes/README.md for what that means and what it does not.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import vcr

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from crawler.config import Config, load_config  # noqa: E402
from crawler.fetch import Fetcher  # noqa: E402
from devsites.mirror import Charset, Mirror, Release, Status, sample_releases, seed_release  # noqa: E402
from crawler.pipeline import Crawler  # noqa: E402
from crawler.store import Store  # noqa: E402

SITE = "https://president.uz"
PER_PAGE = 5


def december_2022() -> list[Release]:
    """Eight releases in four languages around the seed release 5782 (22.12.2022): two list pages."""
    releases = [r for r in sample_releases(7, first_id=5772, first_date=dt.date(2022, 12, 16)) if r.id < 5782]
    return releases + [seed_release()]


def crawl(config: Config, store: Store, times: int = 1) -> None:
    with Fetcher(config.source) as fetcher:
        for _ in range(times):
            Crawler(config, store, fetcher).crawl()


# --- scenarios: each gets a mirror, a config pointing at it and a fresh store --------------------
def crawl_twice(mirror: Mirror, config: Config, store: Store) -> None:
    """First run: lists 1 and 2 in four languages, 32 release pages. Second run: nothing new."""
    crawl(config, store, times=2)


def edit_later(mirror: Mirror, config: Config, store: Store) -> None:
    """Release 5780 is edited in Russian between two runs (new headline and a corrected paragraph)."""
    crawl(config, store)
    ru = next(r for r in december_2022() if r.id == 5780).versions["ru"]
    mirror.edit(5780, "ru", title=ru.title + " (обновлено)", paragraphs=[ru.paragraphs[0] + " Уточнение."] + ru.paragraphs[1:])
    crawl(config, store)


def translation_late(mirror: Mirror, config: Config, store: Store) -> None:
    """5781 has no Latin-Uzbek version on the first run (404); it is published before the second."""
    late = next(r for r in december_2022() if r.id == 5781)
    mirror.remove(5781, "oz")
    crawl(config, store)
    mirror.publish(Release(5781, late.date, {"oz": late.versions["oz"]}))
    crawl(config, store)


def retry_after_429(mirror: Mirror, config: Config, store: Store) -> None:
    """The first list page answers 429 with Retry-After: 1, then the page."""
    mirror.add_fault("/uz/lists/news", Status(429, {"Retry-After": "1"}), times=1)
    crawl(config, store)


def server_error_then_success(mirror: Mirror, config: Config, store: Store) -> None:
    """A release page answers 500 twice, then the page."""
    mirror.add_fault("/en/lists/view/5782", Status(500), times=2)
    crawl(config, store)


def layout_drift(mirror: Mirror, config: Config, store: Store) -> None:
    """The site changed its markup: the configured selectors find nothing, the structure still does."""
    mirror.set_layout("drifted")
    crawl(config, store)


def legacy_encoding(mirror: Mirror, config: Config, store: Store) -> None:
    """Russian pages in windows-1251 (declared), in windows-1251 declared as UTF-8, and KOI8-R by meta tag."""
    mirror.add_fault("/ru/lists/view/5782", Charset("header", "windows-1251"))
    mirror.add_fault("/ru/lists/view/5781", Charset("wrong-header", "windows-1251"))
    mirror.add_fault("/ru/lists/view/5780", Charset("meta", "koi8-r"))
    crawl(config, store)


SCENARIOS: dict[str, Callable[[Mirror, Config, Store], None]] = {
    "crawl_twice": crawl_twice,
    "edit_later": edit_later,
    "translation_late": translation_late,
    "retry_after_429": retry_after_429,
    "server_error_then_success": server_error_then_success,
    "layout_drift": layout_drift,
    "legacy_encoding": legacy_encoding,
}


def replay_config(base_url: str) -> Config:
    """The settings the tests replay with: no politeness delay, quick backoff, late translations
    retried on the next run, every list read each run (the cassettes were recorded so)."""
    config = load_config()
    source = dataclasses.replace(
        config.source, base_url=base_url, request_delay=0.0, backoff_base=0.01, pending_retry_minutes=0.0
    )
    return dataclasses.replace(config, source=source, schedule=dataclasses.replace(config.schedule, strategy="fixed"))


def record_from_mirror(name: str, scenario, target: Path) -> None:
    with Mirror(december_2022(), per_page=PER_PAGE) as mirror, tempfile.TemporaryDirectory() as tmp:
        config = replay_config(mirror.base_url)
        store = Store.open(Path(tmp) / "store.db")
        target.unlink(missing_ok=True)
        with vcr.VCR(record_mode="all").use_cassette(str(target)):
            scenario(mirror, config, store)
        store.close()
        local = mirror.base_url
    text = target.read_text(encoding="utf-8")
    host = local.split("://", 1)[1]
    text = text.replace(local, SITE).replace(host, "president.uz")
    target.write_text(text, encoding="utf-8")
    print(f"recorded {target.relative_to(HERE.parent)} ({text.count('- request:')} requests)")


def record_live(target_dir: Path) -> None:
    """Against the real site, politely: a crawl of two list pages, and release 5782 in four languages."""
    target_dir.mkdir(parents=True, exist_ok=True)
    config = load_config()
    config = dataclasses.replace(config, source=dataclasses.replace(config.source, max_list_pages=2))
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in (
            ("crawl_twice", lambda c: (c.crawl(), c.crawl())),
            ("release_5782", lambda c: c.backfill(ids=(5782, 5782))),
        ):
            target = target_dir / f"{name}.yaml"
            target.unlink(missing_ok=True)
            store = Store.open(Path(tmp) / f"{name}.db")
            with vcr.VCR(record_mode="all").use_cassette(str(target)), Fetcher(config.source) as fetcher:
                summary = run(Crawler(config, store, fetcher))
            print(f"recorded {target}: {summary if isinstance(summary, str) else ''}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--live", action="store_true", help="record against the live site into cassettes/live/")
    parser.add_argument("scenarios", nargs="*", help=f"only these ({', '.join(SCENARIOS)})")
    args = parser.parse_args()
    if args.live:
        record_live(HERE / "live")
        return 0
    for name in args.scenarios or SCENARIOS:
        if name not in SCENARIOS:
            parser.error(f"unknown scenario {name!r}")
        record_from_mirror(name, SCENARIOS[name], HERE / f"{name}.yaml")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
