"""`presswatch run` as a real process against the mirror on 127.0.0.1: forked with the CLI already
imported (tests/forked_cli.py), so a test waits for the daemon's work, not for Python's start-up.

Each test writes a config whose base_url is the mirror's, with a 0.3 s schedule, and a store in
tmp_path; daemons are killed in teardown whatever happens. The mirror lives in this process, so a
test changes the site (publish, down, layout) while the daemon crawls it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from forked_cli import CliProcess

from devsites.mirror import Hang, Latency, Mirror, sample_releases

pytestmark = pytest.mark.slow

INTERVAL_MINUTES = 0.005  # 0.3 s
STOP_TIMEOUT = 3.0


def write_config(path: Path, mirror: Mirror, *, languages=("en",), **sections: dict) -> Path:
    """A daemon config for the mirror; `sections` override keys, e.g. health={"drift_runs": 2}."""
    values = {
        "source": {"base_url": mirror.base_url, "languages": list(languages), "request_delay": 0,
                   "max_attempts": 1, "connect_timeout": 2.0, "read_timeout": 20.0, "obey_robots": False},
        "store": {"path": "store.db"},
        "schedule": {"interval_minutes": INTERVAL_MINUTES, "jitter_seconds": 0,
                     "stop_timeout_seconds": STOP_TIMEOUT},
        "health": {"drift_runs": 2, "failing_runs": 2},
    }
    for name, overrides in sections.items():
        values[name] = {**values.get(name, {}), **overrides}
    assert values["source"]["base_url"].startswith("http://127.0.0.1:")  # never the real site
    lines = []
    for name, table in values.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Daemon:
    """One `presswatch run` process; its log (stderr) goes to a file the test can read."""

    def __init__(self, config: Path, log: Path, *args: str) -> None:
        self.log_path = log
        log.touch()
        env = {k: v for k, v in os.environ.items() if k != "PRESSWATCH_CONFIG"}
        self.proc = CliProcess(["run", "--config", str(config), *args], cwd=config.parent, env=env, stderr=log)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, timeout: float = STOP_TIMEOUT + 2) -> tuple[int, float]:
        """SIGTERM; returns the exit status and how long the exit took."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


@pytest.fixture
def start(tmp_path) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def start_daemon(config: Path, *args: str) -> Daemon:
        daemon = Daemon(config, tmp_path / f"daemon{len(started)}.log", *args)
        started.append(daemon)
        return daemon

    yield start_daemon
    for daemon in started:
        daemon.kill()


def wait_for(condition: Callable[[], object], timeout: float, what: str, daemon: Daemon | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if daemon is not None and not daemon.alive():
            pytest.fail(f"daemon exited ({daemon.proc.returncode}) waiting for {what}:\n{daemon.log()[-3000:]}")
        time.sleep(0.05)
    log = daemon.log()[-3000:] if daemon else ""
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n{log}")


def query(store: Path, sql: str, params=()) -> list[tuple]:
    if not store.exists():
        return []
    conn = sqlite3.connect(store, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def count(store: Path, sql: str, params=()) -> int:
    rows = query(store, sql, params)
    return rows[0][0] if rows else 0


def runs_finished(store: Path) -> int:
    return count(store, "select count(*) from crawl_runs where outcome != 'running'")


def status(config: Path) -> tuple[int, dict]:
    """`presswatch status --json` as its own process, beside the daemon (forked like it)."""
    out = config.parent / "status.json"
    out.unlink(missing_ok=True)
    code = CliProcess(["status", "--json", "--config", str(config)], cwd=config.parent, stdout=out).wait(timeout=30)
    return code, json.loads(out.read_text(encoding="utf-8"))


def integrity(store: Path) -> str:
    return query(store, "pragma integrity_check")[0][0]


def condition(report: dict, name: str) -> dict:
    return next(c for c in report["conditions"] if c["name"] == name)


# --- the tests ------------------------------------------------------------------------------------------------
def test_a_published_release_is_stored_within_one_interval_and_sigterm_exits_0(tmp_path, start):
    releases = sample_releases(7)
    with Mirror(releases[:6]) as mirror:
        config = write_config(tmp_path / "presswatch.toml", mirror)
        store = tmp_path / "store.db"
        daemon = start(config)
        wait_for(lambda: count(store, "select count(*) from items") == 6, 15, "the first crawl", daemon)

        published = time.monotonic()
        last_run = count(store, "select max(id) from crawl_runs")  # maybe still running
        mirror.publish(releases[6])
        wait_for(lambda: count(store, "select count(*) from items where id = ?", [releases[6].id]), 10,
                 "the new release", daemon)
        delay = time.monotonic() - published
        stored_by = "select min(id) from crawl_runs where id >= ? and new > 0 and outcome != 'running'"
        wait_for(lambda: count(store, stored_by, [last_run]), 10, "the run that stored it to end", daemon)
        # within one interval: by the run under way when it was published, or by the next one
        # (counted in runs, not seconds, so a busy machine does not fail it)
        assert count(store, stored_by, [last_run]) <= last_run + 1

        code, took = daemon.stop()
    assert code == 0
    assert took < STOP_TIMEOUT, took
    print(f"\nnew release stored {delay:.2f} s after publication; SIGTERM exit took {took:.2f} s")
    assert integrity(store) == "ok"
    assert count(store, "select count(*) from crawl_runs where outcome = 'running'") == 0
    assert query(store, "select state from heartbeat order by id desc limit 1") == [("stopped",)]
    log = daemon.log()
    assert "daemon started" in log and "crawl starting" in log and "stopping (SIGTERM)" in log
    assert "crawl run 1: ok; 6 new" in log
    assert "Traceback" not in log
    code, report = status(config)
    assert code == 0, report
    assert report["healthy"] and report["releases"] == 7 and report["consecutive_failures"] == 0
    assert report["daemon"]["status"] == "stopped"
    assert report["last_success_age_seconds"] < 30


def test_sigterm_in_the_middle_of_a_crawl_stops_between_releases(tmp_path, start):
    with Mirror(sample_releases(12)) as mirror:
        mirror.add_fault(lambda path: "/lists/view/" in path, Latency(0.3))
        config = write_config(tmp_path / "presswatch.toml", mirror)
        store = tmp_path / "store.db"
        daemon = start(config)
        wait_for(lambda: count(store, "select count(*) from items") >= 2, 15, "a crawl in progress", daemon)
        code, took = daemon.stop()
    assert code == 0
    assert took < STOP_TIMEOUT, took
    print(f"\nSIGTERM during a crawl: exit 0 after {took:.2f} s")
    assert integrity(store) == "ok"
    stored = count(store, "select count(*) from items")
    assert 2 <= stored < 12
    assert query(store, "select outcome, new from crawl_runs order by id desc limit 1") == [("interrupted", stored)]


def test_a_request_that_hangs_does_not_hold_the_stop_beyond_the_bound(tmp_path, start):
    with Mirror(sample_releases(4)) as mirror:
        mirror.add_fault(lambda path: "/lists/view/" in path, Hang(30))
        config = write_config(tmp_path / "presswatch.toml", mirror, schedule={"stop_timeout_seconds": 1.0})
        store = tmp_path / "store.db"
        daemon = start(config)
        wait_for(lambda: any("/lists/view/" in r.path for r in mirror.requests), 15, "a hanging request", daemon)
        code, took = daemon.stop()
    assert code == 0
    # A read waits in slices that interrupt() cuts short (crawler/fetch.py), so the hanging request
    # no longer holds the stop until the bound: the run ends cleanly and is recorded as interrupted.
    assert took < 2.5, took
    assert query(store, "select outcome from crawl_runs order by id desc limit 1") == [("interrupted",)]
    print(f"\nSIGTERM with a request hanging: exit 0 after {took:.2f} s (bound 1 s)")
    assert "did not end within" not in daemon.log()
    assert integrity(store) == "ok"


def test_kill_9_mid_crawl_then_restart_loses_nothing_and_stores_nothing_twice(tmp_path, start):
    releases = sample_releases(10)
    with Mirror(releases) as mirror:
        latency = mirror.add_fault(lambda path: "/lists/view/" in path, Latency(0.1))
        config = write_config(tmp_path / "presswatch.toml", mirror, languages=("en", "ru"))
        store = tmp_path / "store.db"
        first = start(config)
        wait_for(lambda: count(store, "select count(*) from items") >= 4, 15, "a crawl in progress", first)
        first.proc.kill()  # SIGKILL: no cleanup at all, the lock file and a 'running' run stay behind
        first.proc.wait(timeout=5)
        stored_before = count(store, "select count(*) from items")
        assert stored_before < 20
        mirror.remove_fault(latency)  # it only kept the first crawl going until the kill

        second = start(config)
        wait_for(lambda: count(store, "select count(*) from items") == 20, 20, "every release", second)
        code, _ = second.stop()
    assert code == 0
    assert integrity(store) == "ok"
    assert query(store, "select count(*), count(distinct id || '/' || lang) from items") == [(20, 20)]
    assert {row[0] for row in query(store, "select id from items")} == {r.id for r in releases}
    assert query(store, "select id, lang, field, start, topic, count(*) c from matches "
                        "group by id, lang, field, start, topic, term having c > 1") == []
    killed = query(store, "select outcome, message from crawl_runs order by id limit 1")
    assert killed == [("interrupted", "the process ended during the run")]
    assert "in use" not in second.log()  # the lock of the killed daemon was taken over


def test_a_second_daemon_on_the_same_store_is_refused_and_a_stale_lock_is_recovered(tmp_path, start):
    with Mirror(sample_releases(3)) as mirror:
        config = write_config(tmp_path / "presswatch.toml", mirror)
        store = tmp_path / "store.db"
        first = start(config)
        wait_for(lambda: runs_finished(store) >= 1, 15, "the first run", first)

        second = start(config)
        assert second.proc.wait(timeout=15) == 3
        message = second.log()
        assert f"is in use by presswatch (pid {first.pid})" in message
        assert "not starting a second daemon" in message
        assert message.count("\n") == 1  # one line, no traceback
        assert first.alive()

        first.proc.kill()
        first.proc.wait(timeout=5)
        third = start(config)
        runs = runs_finished(store)
        wait_for(lambda: runs_finished(store) > runs + 1, 15, "runs of the restarted daemon", third)
        code, _ = third.stop()
    assert code == 0
    assert "daemon started" in third.log()


def test_the_site_going_down_is_survived_reported_once_and_recovered_from(tmp_path, start):
    with Mirror(sample_releases(3)) as mirror:
        config = write_config(tmp_path / "presswatch.toml", mirror)
        store = tmp_path / "store.db"
        daemon = start(config)
        wait_for(lambda: runs_finished(store) >= 1, 15, "the first run", daemon)

        mirror.set_down(True)
        wait_for(lambda: count(store, "select count(*) from health_events where state = 'started'"), 15,
                 "runs failing to be reported", daemon)
        code, report = status(config)
        assert code == 1
        assert report["consecutive_failures"] >= 2
        assert condition(report, "runs_failing")["active"]
        assert "Connection refused" in condition(report, "runs_failing")["detail"]
        assert report["daemon"]["status"] == "running"

        mirror.set_down(False)
        back = time.monotonic()
        wait_for(lambda: count(store, "select count(*) from health_events where state = 'cleared'"), 20,
                 "runs failing to clear", daemon)
        recovery = time.monotonic() - back
        code, report = status(config)
        assert code == 0, report
        assert report["consecutive_failures"] == 0 and not condition(report, "runs_failing")["active"]
        assert daemon.alive()
        daemon.stop()
    print(f"\nsite back: daemon recovered after {recovery:.2f} s")
    events = query(store, "select condition, state from health_events order by id")
    assert events == [("runs_failing", "started"), ("runs_failing", "cleared")]
    log = daemon.log()
    failed_runs = count(store, "select count(*) from crawl_runs where outcome = 'failed'")
    assert failed_runs >= 2
    # one line per failed run: no retry, per-language or traceback lines
    assert log.count(": failed; ") == failed_runs
    assert "presswatch.fetch" not in log and "fetch error" not in log and "Traceback" not in log
    assert log.count("health: runs failing started") == 1 and log.count("health: runs failing cleared") == 1
    assert "backing off: next attempt not before" in log


def test_layout_drift_is_reported_once_and_cleared_once_in_json_log_lines(tmp_path, start):
    with Mirror(sample_releases(3)) as mirror:
        config = write_config(tmp_path / "presswatch.toml", mirror)
        store = tmp_path / "store.db"
        daemon = start(config, "--log-format", "json")
        wait_for(lambda: runs_finished(store) >= 1, 15, "the first run", daemon)

        mirror.set_layout("drifted")
        wait_for(lambda: count(store, "select count(*) from health_events"), 15, "drift to be reported", daemon)
        runs = runs_finished(store)
        wait_for(lambda: runs_finished(store) >= runs + 3, 15, "more drifted runs", daemon)
        code, report = status(config)
        assert code == 1
        assert condition(report, "layout_drift")["active"]
        assert "fallback" in condition(report, "layout_drift")["detail"]

        mirror.set_layout("default")
        wait_for(lambda: count(store, "select count(*) from health_events where state = 'cleared'"), 15,
                 "drift to clear", daemon)
        runs = runs_finished(store)
        wait_for(lambda: runs_finished(store) >= runs + 3, 15, "more runs", daemon)
        daemon.stop()
    assert query(store, "select condition, state from health_events order by id") == [
        ("layout_drift", "started"), ("layout_drift", "cleared")]
    lines = [json.loads(line) for line in daemon.log().splitlines()]  # every line is JSON
    health_lines = [(line["event"], line["condition"]) for line in lines if line.get("condition")]
    assert health_lines == [("health_started", "layout_drift"), ("health_cleared", "layout_drift")]
    run_ends = [line for line in lines if line.get("event") == "run_end"]
    assert run_ends and all(line["outcome"] == "ok" and line["run_id"] for line in run_ends)
    counts = ("new", "changed", "errors", "pending_translations", "pages_fetched", "requests")
    assert all(isinstance(line[name], int) for line in run_ends for name in counts)  # numbers, not text
    assert run_ends[0]["new"] == 3 and isinstance(run_ends[0]["seconds"], float)
    assert any(line["level"] == "warning" and "layout drift started" in line["message"] for line in lines)


def test_sighup_refuses_a_bad_config_and_applies_a_good_one(tmp_path, start):
    with Mirror(sample_releases(3)) as mirror:
        config = write_config(tmp_path / "presswatch.toml", mirror)
        store = tmp_path / "store.db"
        daemon = start(config)
        wait_for(lambda: runs_finished(store) >= 1, 15, "the first run", daemon)
        good = config.read_text()

        config.write_text(good.replace(f"interval_minutes = {INTERVAL_MINUTES}", "interval_minutes = -1"))
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "config reload refused" in daemon.log(), 10, "the refusal", daemon)
        assert "schedule.interval_minutes: must be greater than 0" in daemon.log()
        runs = runs_finished(store)
        wait_for(lambda: runs_finished(store) >= runs + 2, 10, "runs on the old config", daemon)

        write_config(config, mirror, languages=("en", "ru"))
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "config reloaded" in daemon.log(), 10, "the reload", daemon)
        wait_for(lambda: count(store, "select count(*) from items where lang = 'ru'") == 3, 10,
                 "releases in the newly configured language", daemon)
        code, _ = daemon.stop()
    assert code == 0
    assert "languages en,ru" in daemon.log()
