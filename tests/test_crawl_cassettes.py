"""The crawl pipeline replayed from the cassettes (cassettes/README.md says how they were made)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from cassettes.record import replay_config
from crawler.cli.crawl import replaying
from crawler.fetch import Fetcher
from crawler.pipeline import Crawler
from crawler.store import Store

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"
SEED = ROOT / "tests" / "data" / "seed_5782_uz.txt"
ALL_IDS = [5772, 5773, 5775, 5776, 5777, 5780, 5781, 5782]


class Replay:
    """A store, a fetcher and a crawler answering from one cassette."""

    def __init__(self, tmp_path: Path, cassette: str) -> None:
        self.config = replay_config("https://president.uz")
        self.store = Store.open(tmp_path / "store.db")
        self.context = replaying(str(CASSETTES / f"{cassette}.yaml"))
        self.cassette = self.context.__enter__()
        self.fetcher = Fetcher(self.config.source)

    def crawl(self):
        return Crawler(self.config, self.store, self.fetcher).crawl()

    def close(self) -> None:
        self.fetcher.close()
        self.context.__exit__(None, None, None)
        self.store.close()


@pytest.fixture
def replay(tmp_path):
    opened = []

    def open_cassette(name: str) -> Replay:
        opened.append(Replay(tmp_path, name))
        return opened[-1]

    yield open_cassette
    for item in opened:
        item.close()


def seed_expectation() -> tuple[str, list[str]]:
    """Headline and paragraphs as the seed reads: wrapped lines joined, doubled spaces single,
    the closing source line ("Манба" and the page's own address) left out."""
    blocks = [b for b in SEED.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    title = " ".join(blocks[0].split())
    body = [b for b in blocks[1:] if not b.strip().startswith("https://")]
    body[-1] = body[-1].rsplit("\n", 1)[0]  # " Манба" stands on the last paragraph's last line
    return title, [" ".join(re.sub(r"(?<=\w)-\n", "-", b).split()) for b in body]


def test_first_run_stores_every_release_in_four_languages(replay):
    run = replay("crawl_twice")
    summary = run.crawl()
    assert summary.outcome == "ok", summary.line()
    assert (summary.new, summary.changed, summary.errors) == (32, 0, 0)
    # robots.txt, list pages 1 and 2 in four languages, 32 release pages
    assert summary.requests == 1 + 8 + 32
    stored = run.store.db.execute("select id, count(*) from items group by id order by id").fetchall()
    assert stored == [(i, 4) for i in ALL_IDS]
    assert summary.list_path == "selectors"
    paths = {row[0] for row in run.store.db.execute("select distinct parse_path from items")}
    assert paths == {"selectors"}


def test_second_run_with_nothing_new_requests_no_release_page(replay):
    run = replay("crawl_twice")
    run.crawl()
    before = run.fetcher.requests_made
    summary = run.crawl()
    assert (summary.new, summary.changed, summary.unchanged, summary.errors) == (0, 0, 0, 0)
    assert run.fetcher.requests_made - before == 4  # one conditional GET per language, each 304
    assert summary.pages_fetched == 4
    assert run.cassette.play_count == len(run.cassette.data)


def test_release_5782_reads_exactly_as_the_seed(replay):
    run = replay("crawl_twice")
    run.crawl()
    item = run.store.item("president.uz", 5782, "uz")
    title, paragraphs = seed_expectation()
    assert item["title"] == title == "Ўзбекистон ва Қозоғистон ўртасидаги иттифоқчилик муносабатлари мустаҳкамланмоқда"
    assert len(item["paragraphs"]) == 33
    assert item["paragraphs"] == paragraphs
    assert item["paragraphs"][0] == (
        "Ўзбекистон ва Қозоғистон етакчилари оммавий ахборот воситалари вакиллари учун брифинг ўтказдилар."
    )
    assert "саъй-ҳаракатларни бирлаштиришини" in item["body"]
    assert item["published"] == "2022-12-22"
    assert item["url"] == "https://president.uz/uz/lists/view/5782"
    assert "Манба" not in item["body"] and "https://" not in item["body"]
    assert "  " not in item["body"] and "\n" not in "".join(item["paragraphs"])
    assert item["body"] == "\n\n".join(paragraphs)
    # quotes and dashes stay as published
    assert "“Орол дурдонаси”" in item["body"] and "–" in item["body"]


def test_an_edit_on_a_later_run_keeps_the_old_text(replay):
    run = replay("edit_later")
    run.crawl()
    original = run.store.item("president.uz", 5780, "ru")
    summary = run.crawl()
    assert (summary.new, summary.changed, summary.errors) == (0, 1, 0)
    edited = run.store.item("president.uz", 5780, "ru")
    assert edited["title"].endswith("(обновлено)")
    assert edited["paragraphs"][0].endswith("Уточнение.")
    assert edited["version"] == 2
    history = run.store.versions("president.uz", 5780, "ru")
    assert len(history) == 1
    assert history[0]["title"] == original["title"]
    assert history[0]["body"] == original["body"]
    # only the edited language version was fetched again
    assert run.store.item("president.uz", 5780, "en")["version"] == 1


def test_a_missing_translation_is_pending_then_fetched(replay):
    run = replay("translation_late")
    first = run.crawl()
    assert first.errors == 0 and first.new == 31
    assert [(p["id"], p["lang"], p["state"]) for p in run.store.pending()] == [(5781, "oz", "pending")]
    assert run.store.item("president.uz", 5781, "oz") is None
    second = run.crawl()
    assert (second.new, second.errors) == (1, 0)
    assert run.store.item("president.uz", 5781, "oz")["title"]
    assert run.store.pending() == []


def test_429_with_retry_after_is_waited_out(replay):
    run = replay("retry_after_429")
    started = time.monotonic()
    summary = run.crawl()
    assert time.monotonic() - started >= 1.0
    assert (summary.outcome, summary.new, summary.errors) == ("ok", 32, 0)
    assert run.fetcher.retries == 1


def test_500_then_success(replay):
    run = replay("server_error_then_success")
    summary = run.crawl()
    assert (summary.outcome, summary.new, summary.errors) == ("ok", 32, 0)
    assert run.fetcher.retries == 2
    assert run.store.item("president.uz", 5782, "en")["title"]


def test_layout_drift_falls_back_and_is_reported(replay):
    run = replay("layout_drift")
    summary = run.crawl()
    assert (summary.new, summary.errors) == (32, 0)
    assert summary.list_path == "fallback"
    assert "layout drift" in summary.line()
    row = run.store.last_runs(1)[0]
    assert row["list_path"] == "fallback" and row["list_items"] == 32
    assert {r[0] for r in run.store.db.execute("select distinct parse_path from items")} == {"fallback"}
    # the fallback still reads the same facts
    assert run.store.item("president.uz", 5782, "uz")["published"] == "2022-12-22"
    assert len(run.store.item("president.uz", 5782, "uz")["paragraphs"]) == 33
    assert {r[0] for r in run.store.db.execute("select list_date from listings where id = 5782")} == {"2022-12-22"}


def test_legacy_and_wrongly_declared_encodings(replay):
    from devsites.mirror import seed_release

    run = replay("legacy_encoding")
    summary = run.crawl()
    assert (summary.new, summary.errors) == (32, 0)
    assert run.store.item("president.uz", 5782, "ru")["title"] == seed_release().versions["ru"].title  # windows-1251, declared
    assert run.store.item("president.uz", 5780, "ru")["title"].isprintable()  # KOI8-R, declared only in <meta>
    assert "\ufffd" not in run.store.item("president.uz", 5780, "ru")["body"]
    wrongly_declared = run.store.item("president.uz", 5781, "ru")  # windows-1251 bytes, header says UTF-8
    assert wrongly_declared is not None
    assert "\ufffd" not in wrongly_declared["title"], wrongly_declared["title"]
