"""Health conditions, their transitions, status and the daemon's schedule arithmetic, in-process.

The daemon itself, as a process against the mirror, is tested in tests/test_daemon.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import pytest

from crawler import health
from crawler.config import Config, HealthConfig, ScheduleConfig
from crawler.daemon import backoff_delay
from crawler.schedule import _cron_weekdays, make_trigger, schedule_interval
from crawler.status import collect_status
from crawler.store import Store

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 5, 14, 12, 0, tzinfo=UTC)


def config(**health_values) -> Config:
    return dataclasses.replace(Config(), health=HealthConfig(**{"drift_runs": 2, "failing_runs": 2, **health_values}))


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "s.db") as opened:
        yield opened


def run(store: Store, outcome: str = "ok", list_path: str | None = "selectors", list_items: int = 12,
        message: str | None = None, started: str = "2026-05-14T11:00:00+00:00") -> None:
    store.db["crawl_runs"].insert({"source": "president.uz", "kind": "crawl", "started": started, "finished": started,
                                   "outcome": outcome, "list_path": list_path, "list_items": list_items,
                                   "message": message})


def active(store: Store, cfg: Config, now: dt.datetime = NOW) -> set[str]:
    return {c.name for c in health.evaluate(store, cfg, now) if c.active}


def add_item(store: Store, item_id: int, first_seen: str) -> None:
    store.db["items"].insert({"source": "president.uz", "id": item_id, "lang": "en",
                              "url": f"/en/lists/view/{item_id}", "title": "t", "body": "b", "content_hash": str(item_id), "first_seen": first_seen,
                              "last_seen": first_seen})


# --- conditions ---------------------------------------------------------------------------------------
def test_drift_counts_fallback_and_empty_lists_and_carries_through_304_runs(store):
    cfg = config()
    add_item(store, 9200, NOW.isoformat())
    run(store)
    run(store, list_path="fallback")
    assert "layout_drift" not in active(store, cfg)
    # The drifted page is not modified any more: lists answer 304, nothing is parsed.
    run(store, list_path=None, list_items=0)
    assert "layout_drift" in active(store, cfg)
    # A failed run says nothing about the layout: the condition holds.
    run(store, outcome="failed", list_path=None, list_items=0)
    assert "layout_drift" in active(store, cfg)
    run(store, list_path="selectors", list_items=12)
    assert "layout_drift" not in active(store, cfg)
    run(store, list_path="empty", list_items=0)
    run(store, list_path="selectors", list_items=0)  # selectors matched, but nothing in them
    assert "layout_drift" in active(store, cfg)


def test_304_runs_after_a_clean_parse_are_not_drift(store):
    run(store)
    for _ in range(5):
        run(store, list_path=None, list_items=0)
    add_item(store, 9200, NOW.isoformat())
    assert active(store, config()) == set()


def test_runs_failing_counts_failures_since_the_last_success_ignoring_interrupted(store):
    cfg = config(failing_runs=3)
    add_item(store, 9200, NOW.isoformat())
    run(store)
    run(store, outcome="failed", list_path=None, message="GET /en/lists/news: transport failure")
    run(store, outcome="interrupted", list_path=None)
    run(store, outcome="failed", list_path=None)
    assert health.consecutive_failures(store) == 2
    assert "runs_failing" not in active(store, cfg)
    run(store, outcome="failed", list_path=None, message="GET /en/lists/news: DNS failure")
    conditions = {c.name: c for c in health.evaluate(store, cfg, NOW)}
    assert conditions["runs_failing"].active
    assert "3 crawl runs in a row failed; last: GET /en/lists/news: DNS failure" in conditions["runs_failing"].detail
    run(store, outcome="partial")
    assert health.consecutive_failures(store) == 0


def test_source_silent_after_silent_hours_without_a_new_release(store):
    cfg = config(silent_hours=72)
    run(store, started="2026-05-01T00:00:00+00:00")
    add_item(store, 9200, "2026-05-10T12:00:00+00:00")
    add_item(store, 9100, "2026-05-14T11:00:00+00:00")  # an older id backfilled late is not news
    assert "source_silent" not in active(store, cfg, dt.datetime(2026, 5, 13, 11, 0, tzinfo=UTC))
    assert "source_silent" in active(store, cfg, NOW)
    detail = next(c.detail for c in health.evaluate(store, cfg, NOW) if c.name == "source_silent")
    assert "newest release 9200" in detail and "4.0 days" in detail


def test_source_silent_with_an_empty_store_counts_from_the_first_run(store):
    cfg = config(silent_hours=1)
    assert "source_silent" not in active(store, cfg)  # no run yet: nothing expected
    run(store, started="2026-05-14T10:30:00+00:00")
    assert "source_silent" in active(store, cfg)


def test_each_condition_is_recorded_once_when_it_starts_and_once_when_it_clears(store):
    cfg = config()
    add_item(store, 9200, NOW.isoformat())
    run(store)
    assert health.record_transitions(store, cfg, NOW) == []
    run(store, outcome="failed", list_path=None, message="down")
    run(store, outcome="failed", list_path=None, message="down")
    events = health.record_transitions(store, cfg, NOW)
    assert [(e.condition, e.state) for e in events] == [("runs_failing", "started")]
    assert events[0].line().startswith("health: runs failing started: 2 crawl runs in a row failed")
    for _ in range(3):
        run(store, outcome="failed", list_path=None, message="down")
        assert health.record_transitions(store, cfg, NOW) == []
    run(store)
    assert [(e.condition, e.state) for e in health.record_transitions(store, cfg, NOW)] == [("runs_failing", "cleared")]
    assert health.record_transitions(store, cfg, NOW) == []
    rows = store.db.execute("select condition, state from health_events order by id").fetchall()
    assert rows == [("runs_failing", "started"), ("runs_failing", "cleared")]


# --- status ---------------------------------------------------------------------------------------------
def test_status_reports_age_failures_conditions_and_is_unhealthy_while_one_is_active(store):
    cfg = config()
    add_item(store, 9200, NOW.isoformat())
    run(store, started="2026-05-14T11:59:00+00:00")
    report = collect_status(store, cfg, NOW)
    assert report["healthy"] and report["problems"] == []
    assert report["last_success_age_seconds"] == 60.0
    assert report["releases"] == 1 and report["consecutive_failures"] == 0
    assert [c["name"] for c in report["conditions"]] == list(health.CONDITIONS)
    run(store, outcome="failed", list_path=None, message="down")
    run(store, outcome="failed", list_path=None, message="down")
    health.record_transitions(store, cfg, NOW)
    report = collect_status(store, cfg, NOW)
    assert not report["healthy"]
    assert report["consecutive_failures"] == 2
    failing = next(c for c in report["conditions"] if c["name"] == "runs_failing")
    assert failing["active"] and failing["since"] == NOW.isoformat(timespec="seconds")
    assert report["health_events"][0]["state"] == "started"


def test_status_sees_a_daemon_that_died_without_a_clean_stop(store):
    cfg = config()
    add_item(store, 9200, dt.datetime.now(UTC).isoformat(timespec="seconds"))
    run(store)
    beat_id = health.start_heartbeat(store)
    assert collect_status(store, cfg)["daemon"]["status"] == "running"
    # A pid that cannot exist (above pid_max): the process is gone, the heartbeat says "idle".
    store.db.execute("update heartbeat set pid = ? where id = ?", [2**22 + 1, beat_id])
    store.db.conn.commit()
    report = collect_status(store, cfg)
    assert report["daemon"]["status"] == "dead" and not report["healthy"]
    health.beat(store, beat_id, "stopped")
    report = collect_status(store, cfg)
    assert report["daemon"]["status"] == "stopped" and report["healthy"]


def test_heartbeat_rows_are_pruned(store):
    ids = [health.start_heartbeat(store) for _ in range(30)]
    assert store.db["heartbeat"].count == 20
    assert health.last_heartbeat(store)["id"] == ids[-1]
    assert health.last_heartbeat(store)["pid"] == os.getpid()


# --- schedule arithmetic ------------------------------------------------------------------------------------
def test_backoff_doubles_from_the_failing_threshold_and_is_capped_at_an_hour():
    interval = 600.0
    assert [backoff_delay(n, 3, interval) for n in range(0, 3)] == [0.0, 0.0, 0.0]
    assert [backoff_delay(n, 3, interval) for n in range(3, 7)] == [1200.0, 2400.0, 3600.0, 3600.0]
    assert backoff_delay(1000, 3, interval) == 3600.0
    # A schedule sparser than the cap is never made denser by backing off.
    assert backoff_delay(5, 3, 86400.0) == 86400.0


def test_crontab_weekdays_count_sunday_as_0_like_cron():
    assert _cron_weekdays("0") == "sun"
    assert _cron_weekdays("7") == "sun"
    assert _cron_weekdays("1-5") == "mon,tue,wed,thu,fri"
    assert _cron_weekdays("0-6") == "sun,mon,tue,wed,thu,fri,sat"
    assert _cron_weekdays("*/3") == "sun,wed,sat"
    assert _cron_weekdays("*") == "*"
    assert _cron_weekdays("mon-fri") == "mon-fri"
    trigger = make_trigger(ScheduleConfig(cron="30 9 * * 0", jitter_seconds=0))
    fire = trigger.get_next_fire_time(None, dt.datetime(2026, 5, 14, tzinfo=UTC))  # a Thursday
    assert fire.weekday() == 6 and (fire.hour, fire.minute) == (9, 30)


def test_schedule_interval_for_interval_and_cron():
    assert schedule_interval(ScheduleConfig(interval_minutes=10, strategy="fixed")) == 600
    assert schedule_interval(ScheduleConfig(cron="*/15 * * * *")) == 900


def test_transitions_are_logged_once_and_sent_to_the_ops_route(store, caplog):
    cfg = config()
    add_item(store, 9200, NOW.isoformat())
    sent = []
    run(store, outcome="failed", list_path=None, message="down")
    run(store, outcome="failed", list_path=None, message="down")
    with caplog.at_level("INFO", logger="presswatch.health"):
        health.report_transitions(store, cfg, lambda *args: sent.append(args), NOW)
        health.report_transitions(store, cfg, lambda *args: sent.append(args), NOW)
    assert len(sent) == 1
    _store, _config, subject, body, key = sent[0]
    assert subject == "presswatch: runs failing started"
    assert "2 crawl runs in a row failed" in body and key.startswith("health:runs_failing:")
    assert [r.message for r in caplog.records if "health:" in r.message] == [sent[0][3].splitlines()[0]]


def test_transitions_reach_the_alert_outbox_when_alerts_are_built(store):
    from crawler import alerts
    from crawler.config import AlertsConfig, RouteConfig

    cfg = dataclasses.replace(config(), alerts=AlertsConfig(
        routes=(RouteConfig(name="ops", urls=("json://127.0.0.1:9/hook",), ops=True),)))
    add_item(store, 9200, NOW.isoformat())
    run(store, outcome="failed", list_path=None, message="down")
    run(store, outcome="failed", list_path=None, message="down")
    health.report_transitions(store, cfg, now=NOW)
    run(store)
    health.report_transitions(store, cfg, now=NOW)
    rows = store.db.execute("select kind, route, subject from outbox order by id").fetchall()
    assert rows == [("ops", "ops", "presswatch: runs failing started"), ("ops", "ops", "presswatch: runs failing cleared")]
    assert alerts.notify_ops  # the API the daemon calls
