"""`presswatch run` under the adaptive strategy: a real daemon process polls one list a run, at the
waits of its plan (here shortened to a fraction of a second by floor and ceiling)."""

from __future__ import annotations

import pytest
from test_daemon import Daemon, count, runs_finished, wait_for, write_config

from crawler.config import Config
from devsites.mirror import Mirror, sample_releases

pytestmark = pytest.mark.slow

LANGS = list(Config().source.languages)


def test_the_daemon_polls_one_list_a_run_by_its_plan(tmp_path):
    with Mirror(sample_releases(6), per_page=20) as mirror:
        config = write_config(tmp_path / "presswatch.toml", mirror, languages=LANGS, schedule={
            "strategy": "adaptive", "floor_minutes": 0.005, "ceiling_minutes": 0.01,
            "budget_requests_per_hour": 100000, "jitter_seconds": 0, "stop_timeout_seconds": 3.0})
        store = tmp_path / "store.db"
        daemon = Daemon(config, tmp_path / "daemon.log")
        try:
            wait_for(lambda: runs_finished(store) >= 4, 60, "four runs", daemon)
            code, _ = daemon.stop()
        finally:
            daemon.kill()
        assert code == 0
        runs = runs_finished(store)
        polls = count(store, "select polls from poll_state")
        first_run_lists = {path.split("/")[1] for path in mirror.requests.paths() if "/lists/news" in path}
        assert first_run_lists == set(LANGS)  # the first run into the empty store reads every list
        page_ones = [entry for entry in mirror.requests if entry.path.endswith("/lists/news")]
        assert polls == runs - 1 and len(page_ones) == len(LANGS) + polls  # then one list a poll
        assert "adaptive: one list a poll" in daemon.log()
