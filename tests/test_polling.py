"""The adaptive poll (crawler/polling.py): one list a poll, the bound on a release out in one language
first, the interval plan from the publishing hours, the strategy a config gets, and robots.txt kept
in the store between processes. Against the local mirror, through the CLI or the public parts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from crawler import app, polling
from crawler.cli import main
from crawler.config import Config, ConfigError, ScheduleConfig, SourceConfig, StoreConfig, load_config
from crawler.fetch import Fetcher
from crawler.model import ParsedItem
from crawler.schedule import make_plan_trigger, schedule_interval, strategy_in_force
from crawler.sources import source_for
from crawler.store import Store
from devsites.mirror import Mirror, Release, Status, Version, sample_releases

LANGS = tuple(Config().source.languages)
RELEASES = sample_releases(12, first_id=9180)  # enough history (polling.MIN_HISTORY) for a lead language


@pytest.fixture
def mirror():
    with Mirror(RELEASES[:3], per_page=20) as running:  # small: the tests that use it crawl through the CLI
        yield running


def write_config(tmp_path, base_url: str, schedule: str = "") -> str:
    path = tmp_path / "presswatch.toml"
    path.write_text(
        f'[source]\nbase_url = "{base_url}"\nrequest_delay = 0.0\nbackoff_base = 0.01\nmax_attempts = 2\n'
        f'[store]\npath = "store.db"\n[schedule]\n{schedule}\n', encoding="utf-8")
    return str(path)


def list_requests(mirror: Mirror) -> list[str]:
    return [path for path in mirror.requests.paths() if "/lists/news" in path]


def adaptive_config(tmp_path, base_url: str, **schedule: object) -> Config:
    source = dataclasses.replace(SourceConfig(), base_url=base_url, request_delay=0.0, backoff_base=0.01)
    return Config(source=source, schedule=ScheduleConfig(strategy="adaptive", **schedule),
                  store=StoreConfig(path=str(tmp_path / "store.db")))


# --- which list, and the bound -------------------------------------------------------------------------
@pytest.mark.parametrize("languages", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("rotate_every", [2, 3, 4, 7])
def test_every_list_is_read_within_the_stated_bound_of_polls(languages, rotate_every):
    names = [f"l{number}" for number in range(languages)]
    for lead in [None, *names]:
        bound = polling.rotation_bound(languages, rotate_every, lead=lead is not None)
        read = [polling.list_for_poll(poll, names, lead, rotate_every) for poll in range(5 * bound + 7)]
        for start in range(len(read) - bound + 1):
            assert set(read[start:start + bound]) == set(names), (lead, start)
        if lead is not None and languages > 1:
            for start in range(len(read) - 1):  # the lead list: within 2 polls
                assert lead in read[start:start + 2]


def test_a_release_out_in_one_language_only_is_found_within_the_bound(tmp_path):
    with Mirror(RELEASES, per_page=20) as mirror:
        check_the_bound(tmp_path, mirror)


def check_the_bound(tmp_path, mirror: Mirror) -> None:
    config = adaptive_config(tmp_path, mirror.base_url)
    with Store.open(tmp_path / "store.db", write=True) as store, app.fetcher(config, store) as fetcher:
        crawler = app.build_crawler(config, store, fetcher)
        assert crawler.crawl().new == len(RELEASES) * len(LANGS)  # an empty store: every list
        lead = polling.lead_language(store, "president.uz", LANGS)
        assert lead == LANGS[0]  # all came out together: the tie goes to the first language
        bound = polling.rotation_bound(len(LANGS), config.schedule.rotate_every, lead=True)
        for number, lang in enumerate(reversed(LANGS)):  # the lead language last
            release_id = 20000 + number
            mirror.publish(Release(release_id, dt.date(2026, 6, 1), {lang: Version(f"only {lang}", ["text"])}))
            for poll in range(1, bound + 1):
                before = len(list_requests(mirror))
                summary = crawler.crawl()
                assert len(list_requests(mirror)) - before == 1, summary.line()  # one list a poll
                if store.item("president.uz", release_id, lang):
                    break
            assert store.item("president.uz", release_id, lang), f"{lang}: not found within {bound} polls"
            # the other languages were asked for and wait as pending translations
            assert {row["lang"] for row in store.pending() if row["id"] == release_id} == set(LANGS) - {lang}


def test_the_first_crawl_of_an_empty_store_reads_every_list_then_one_a_poll(tmp_path, mirror, capsys):
    config = write_config(tmp_path, mirror.base_url)
    assert main(["crawl", "--config", config]) == 0
    assert {path.split("/")[1] for path in list_requests(mirror)} == set(LANGS)
    mirror.requests.clear()
    assert main(["crawl", "--config", config]) == 0
    # a quiet poll from a fresh process: one conditional list request, robots.txt from the store
    assert [(entry.path, entry.status) for entry in mirror.requests] == [(f"/{LANGS[0]}/lists/news", 304)]


@pytest.mark.parametrize("schedule, strategy", [
    ("", "adaptive"),
    ("interval_minutes = 10.0", "fixed"),
    ('cron = "*/5 * * * *"', "fixed"),
    ('interval_minutes = 5.0\nstrategy = "adaptive"', "adaptive"),
    ('strategy = "fixed"', "fixed"),
])
def test_a_file_that_sets_interval_or_cron_keeps_the_fixed_schedule(tmp_path, mirror, schedule, strategy):
    config = write_config(tmp_path, mirror.base_url, schedule)
    assert strategy_in_force(load_config(config).schedule) == strategy
    assert main(["crawl", "--config", config]) == 0
    mirror.requests.clear()
    assert main(["crawl", "--config", config]) == 0
    assert len(list_requests(mirror)) == (1 if strategy == "adaptive" else len(LANGS))


def test_status_says_which_strategy_runs_and_its_budget(tmp_path, mirror, capsys):
    config = write_config(tmp_path, mirror.base_url, "budget_requests_per_hour = 12.0")
    assert main(["crawl", "--config", config]) == 0
    capsys.readouterr()
    main(["status", "--config", config])
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("schedule:"))
    assert line.startswith("schedule: adaptive: one list a poll") and "budget 12 list requests/hour" in line
    main(["status", "--format", "json", "--config", config])
    assert json.loads(capsys.readouterr().out)["schedule"] == line.removeprefix("schedule: ")
    fixed = write_config(tmp_path, mirror.base_url, "interval_minutes = 7.0")
    main(["status", "--config", fixed])
    assert "schedule: fixed: every list each run, every 7 min" in capsys.readouterr().out


@pytest.mark.parametrize("schedule, key", [
    ('strategy = "sometimes"', "schedule.strategy"),
    ("rotate_every = 1", "schedule.rotate_every"),
    ("floor_minutes = 40.0", "schedule.floor_minutes"),
    ("budget_requests_per_hour = 0", "schedule.budget_requests_per_hour"),
])
def test_bad_adaptive_settings_are_refused(tmp_path, schedule, key):
    with pytest.raises(ConfigError) as refused:
        load_config(write_config(tmp_path, "http://127.0.0.1:1", schedule))
    assert refused.value.key == key


# --- how long to wait ------------------------------------------------------------------------------
def store_release(store: Store, item_id: int, published: str, first_seen: dt.datetime) -> None:
    for lang in LANGS:
        item = ParsedItem(source="president.uz", id=item_id, lang=lang, url=f"/{lang}/{item_id}", title=f"t{item_id}", published=published,
                          paragraphs=["p"], images=[], links=[], path="selectors")
        with store.atomic():
            store.save_item(item, now=first_seen.astimezone(dt.timezone.utc).isoformat(timespec="seconds"))


def test_the_interval_follows_the_publishing_hours_within_the_budget(tmp_path):
    timezone = source_for(Config()).timezone
    now = dt.datetime(2026, 6, 20, 12, tzinfo=dt.timezone.utc)
    schedule = ScheduleConfig(strategy="adaptive", budget_requests_per_hour=12.0, floor_minutes=2.0,
                              ceiling_minutes=40.0)
    with Store.open(tmp_path / "store.db", write=True) as store:
        even = polling.interval_plan(store, "president.uz", schedule, timezone, now)
        assert set(even.minutes) == {5.0}  # no history: the budget spread evenly
        day = now.astimezone(timezone).replace(hour=10, minute=15)
        for number in range(14):  # releases found at 10:15 source time on 14 days
            moment = day - dt.timedelta(days=number)
            store_release(store, 100 + number, moment.date().isoformat(), moment)
        # a backfill: old releases stored at 03:00, which says nothing of when the source publishes
        night = now.astimezone(timezone).replace(hour=3)
        for number in range(30):
            store_release(store, 500 + number, "2020-01-01", night)
        plan = polling.interval_plan(store, "president.uz", schedule, timezone, now)
    assert plan.minutes[10] == min(plan.minutes) < 5.0 < plan.minutes[3] == max(plan.minutes)
    assert all(2.0 <= minutes <= 40.0 for minutes in plan.minutes)
    assert plan.polls_per_day() == pytest.approx(12.0 * 24, rel=1e-3)
    assert plan.seconds_at(day) == plan.minutes[10] * 60


def test_floor_and_ceiling_bound_every_wait():
    busy = [0] * 24
    busy[9] = 1000
    minutes = polling.hourly_minutes(busy, 30.0, floor=3.0, ceiling=20.0)
    assert minutes[9] == 3.0 and max(minutes) <= 20.0 and min(minutes) >= 3.0
    assert polling.hourly_minutes([0] * 24, 0.5, floor=1.0, ceiling=20.0) == (20.0,) * 24


def test_the_daemons_trigger_fires_after_the_planned_wait():
    start = dt.datetime(2026, 6, 1, 9, tzinfo=dt.timezone.utc)
    trigger = make_plan_trigger(lambda moment: 120.0 if moment.hour == 9 else 600.0, jitter_seconds=60.0)
    for _ in range(20):
        fire = trigger.get_next_fire_time(start, start)
        assert start + dt.timedelta(seconds=120) <= fire <= start + dt.timedelta(seconds=132)  # jitter <= wait/10
    later = start.replace(hour=11)
    assert trigger.get_next_fire_time(None, later) >= later + dt.timedelta(seconds=600)
    assert schedule_interval(ScheduleConfig(strategy="adaptive", budget_requests_per_hour=20.0)) == 180.0


# --- robots.txt kept in the store ------------------------------------------------------------------
def test_robots_txt_is_read_once_across_crawl_processes_and_again_after_a_day(tmp_path, mirror):
    config = write_config(tmp_path, mirror.base_url)
    for _ in range(3):
        assert main(["crawl", "--config", config]) == 0
    assert mirror.requests.count("/robots.txt") == 1
    loaded = app.load(config)
    day_later = dt.datetime.now().timestamp() + 24 * 3600 + 60
    with Store.open(tmp_path / "store.db", write=True) as store:
        with Fetcher(loaded.source, robots_cache=store, wall_clock=lambda: day_later) as fetcher:
            fetcher.get(f"/{LANGS[0]}/lists/news")
            fetcher.get(f"/{LANGS[1]}/lists/news")
        assert mirror.requests.count("/robots.txt") == 2  # older than 24 hours: read again, once
        assert store.cached_robots(f"http://127.0.0.1:{mirror.port}")[2] == day_later


def test_an_unavailable_robots_txt_is_kept_but_a_server_error_is_not(tmp_path, mirror):
    config = write_config(tmp_path, mirror.base_url)
    mirror.add_fault("/robots.txt", Status(503), times=2)  # max_attempts = 2: one run's worth
    assert main(["crawl", "--config", config]) == 1  # RFC 9309: unreachable robots.txt, nothing crawled
    assert mirror.requests.count("/lists/news") == 0
    with Store.open(tmp_path / "store.db") as store:
        assert store.cached_robots(f"http://127.0.0.1:{mirror.port}") is None
    mirror.clear_faults()
    mirror.add_fault("/robots.txt", Status(404))  # 4xx: no restrictions, and kept
    assert main(["crawl", "--config", config]) == 0
    assert main(["crawl", "--config", config]) == 0
    assert mirror.requests.count("/robots.txt") == 3  # two 503s, one 404; the third run asked nothing
    with Store.open(tmp_path / "store.db") as store:
        assert store.cached_robots(f"http://127.0.0.1:{mirror.port}")[:2] == (404, "")


def test_the_lead_is_the_language_most_often_out_when_a_release_is_found(tmp_path):
    found = dt.datetime(2026, 6, 1, 9, tzinfo=dt.timezone.utc)
    with Store.open(tmp_path / "store.db", write=True) as store:
        for number in range(polling.MIN_HISTORY - 1):  # too little history: no lead, plain rotation
            store_release(store, 100 + number, "2026-06-01", found + dt.timedelta(hours=number))
        assert polling.lead_language(store, "president.uz", LANGS) is None
        for number in range(20):  # LANGS[2] out first; the others stored on a retry an hour later
            moment = found + dt.timedelta(days=1, hours=number)
            for lang in LANGS:
                later = moment if lang == LANGS[2] else moment + dt.timedelta(hours=1)
                item = ParsedItem(source="president.uz", id=200 + number, lang=lang, url=f"/{lang}", title="t", published="2026-06-02",
                                  paragraphs=["p"])
                with store.atomic():
                    store.save_item(item, now=later.isoformat(timespec="seconds"))
        assert polling.lead_language(store, "president.uz", LANGS) == LANGS[2]
