"""Health per source: with several sources each has its own three conditions, named with it, from
its own runs and releases (crawl_runs.source, items.source); with one source the conditions keep
their plain names."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from crawler import health
from crawler.config import Config, HealthConfig, SourceEntry
from crawler.store import Store

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 5, 14, 12, 0, tzinfo=UTC)


def two_sources() -> Config:
    first = Config().sources[0]
    second = dataclasses.replace(first, name="akorda", base_url="https://www.akorda.kz")
    return dataclasses.replace(Config(), source_entries=(first, second),
                               health=HealthConfig(drift_runs=2, failing_runs=2, silent_hours=72))


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "s.db") as opened:
        yield opened


def crawl(store: Store, source: str, outcome: str, message: str = "") -> None:
    run_id = store.start_run("crawl", source)
    store.finish_run(run_id, outcome=outcome, list_path="selectors", list_items=10, message=message or None)


def active(store: Store, config: Config) -> set[str]:
    return {c.key for c in health.evaluate(store, config, NOW) if c.active}


def test_one_failing_source_does_not_make_the_other_unhealthy(store):
    config = two_sources()
    for _ in range(3):
        crawl(store, "akorda", "ok")
        crawl(store, "president.uz", "failed", "GET /: refused for now (403 Forbidden)")
    assert {row[0] for row in store.db.execute("select distinct source from crawl_runs")} == {"akorda", "president.uz"}
    failing = active(store, config)
    assert "runs_failing:president.uz" in failing and "runs_failing:akorda" not in failing
    events = health.record_transitions(store, config, NOW)
    assert [(e.condition, e.state) for e in events if e.condition.startswith("runs_failing")] == [
        ("runs_failing:president.uz", "started")]
    assert events[-1].line().startswith("health: runs failing (president.uz) started: 3 crawl runs in a row failed")
    crawl(store, "president.uz", "ok")
    assert [(e.condition, e.state) for e in health.record_transitions(store, config, NOW, source="president.uz")
            if e.condition.startswith("runs_failing")] == [("runs_failing:president.uz", "cleared")]


def test_a_silent_source_is_told_apart_by_its_own_releases(store):
    config = two_sources()
    crawl(store, "akorda", "ok")
    crawl(store, "president.uz", "ok")
    store.db["items"].insert({"id": 1, "lang": "en", "url": "/1", "title": "t", "body": "b", "content_hash": "1",
                              "first_seen": NOW.isoformat(), "last_seen": NOW.isoformat(), "source": "president.uz"})
    store.db["items"].insert({"id": 2, "lang": "kk", "url": "/2", "title": "t", "body": "b", "content_hash": "2",
                              "first_seen": "2026-05-01T00:00:00+00:00", "last_seen": NOW.isoformat(),
                              "source": "akorda"})
    assert active(store, config) == {"source_silent:akorda"}


def test_one_source_keeps_the_plain_names(store):
    config = dataclasses.replace(Config(), health=HealthConfig(failing_runs=2))
    for _ in range(2):
        crawl(store, "president.uz", "failed")
    assert "runs_failing" in active(store, config)
    assert all(c.source == "" and c.label == health.LABELS[c.name] for c in health.evaluate(store, config, NOW))


def test_each_source_in_the_config_has_its_conditions():
    config = two_sources()
    assert health.health_sources(config) == ["president.uz", "akorda"]
    assert isinstance(config.sources[1], SourceEntry)
    assert health.condition_label("layout_drift:akorda") == "layout drift (akorda)"
