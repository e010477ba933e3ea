"""One daemon, two sources, one store: the president.uz mirror (devsites/mirror.py) and a press site
unlike it (devsites/presssite.py, kind generic, configured by TOML alone). A fault on one (503s,
or a hang) leaves the other's releases stored and its health green. The two sites use the same
ids (9180...) on purpose: a release is (source, id), and neither source's releases hide the other's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_daemon import count, query, start, status, wait_for  # noqa: F401 - start is a fixture

from devsites.mirror import Hang, Mirror, Status, sample_releases
from devsites.presssite import PressSite, sample_articles

pytestmark = pytest.mark.slow

INTERVAL_MINUTES = 0.005  # 0.3 s
PRESS_PATTERN = r"/(?P<lang>[a-z]{2})/press/\d{4}/\d{2}/\d{2}/[a-z0-9-]+-(?P<id>\d+)"


def two_sources(path: Path, mirror: Mirror, site: PressSite, *, read_timeout: float = 20.0, press_extra: str = "") -> Path:
    fast = {"request_delay": 0, "max_attempts": 1, "connect_timeout": 2.0, "read_timeout": read_timeout,
            "obey_robots": False}
    lines = [
        "[[sources]]", 'name = "president.uz"', 'kind = "presidentuz"', f'base_url = "{mirror.base_url}"',
        'languages = ["en"]', *(f"{key} = {json.dumps(value)}" for key, value in fast.items()), "",
        "[[sources]]", 'name = "akorda"', 'kind = "generic"', f'base_url = "{site.base_url}"',
        'languages = ["kk", "ru", "en"]', *(f"{key} = {json.dumps(value)}" for key, value in fast.items()), press_extra, "",
        "[sources.generic]", 'timezone = "Asia/Almaty"', 'list_url = "/{lang}/press/page/{page}"',
        'first_page_url = "/{lang}/press"', f"release_pattern = '{PRESS_PATTERN}'", "shared_ids = false", "",
        "[store]", 'path = "store.db"', "",
        "[schedule]", f"interval_minutes = {INTERVAL_MINUTES}", "jitter_seconds = 0", "stop_timeout_seconds = 3.0", "",
        "[health]", "failing_runs = 2", "drift_runs = 2",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def press_site() -> PressSite:
    """The press site, its ids the same numbers as the mirror's."""
    return PressSite(sample_articles(first_id=9180))


def press_ids(site: PressSite) -> set[tuple[str, int, str]]:
    return {("akorda", article.id, article.lang) for article in site.articles}


def stored(store: Path) -> set[tuple[str, int, str]]:
    return set(query(store, "select source, id, lang from items"))


def failed_runs(store: Path) -> int:
    return count(store, "select count(*) from crawl_runs where outcome = 'failed'")


def run_with_a_failing_mirror(tmp_path: Path, start) -> tuple[int, dict, str, set[tuple[str, int, str]], set[tuple[str, int, str]]]:  # noqa: F811
    """The mirror answers 503 to everything; returns status's exit code and report, the log, what
    was stored and the press site's (id, lang)."""
    with Mirror(sample_releases(6)) as mirror, press_site() as site:
        mirror.add_fault(lambda path: True, Status(503))
        config = two_sources(tmp_path / "presswatch.toml", mirror, site)
        store = tmp_path / "store.db"
        daemon = start(config)
        wait_for(lambda: press_ids(site) <= stored(store), 30, "every press site release", daemon)
        wait_for(lambda: failed_runs(store) >= 2, 30, "two failed runs of the mirror", daemon)
        code, report = status(config)
        daemon.stop()
        return code, report, daemon.log(), stored(store), press_ids(site)


def test_a_source_answering_503_leaves_the_other_crawled(tmp_path, start):  # noqa: F811
    code, report, log, kept, press = run_with_a_failing_mirror(tmp_path, start)
    assert press <= kept and not {key for key in kept if key[0] == "president.uz"}  # nothing of the failing source
    assert "akorda: crawl run" in log and "president.uz: crawl run" in log and "Traceback" not in log
    by_source = {(c["source"], c["name"]): c for c in report["conditions"]}
    assert set(by_source) == {(source, name) for source in ("president.uz", "akorda")
                              for name in ("layout_drift", "source_silent", "runs_failing")}
    assert not by_source[("akorda", "layout_drift")]["active"]


def test_the_failing_source_is_unhealthy_and_the_other_green(tmp_path, start):  # noqa: F811
    code, report, log, kept, press = run_with_a_failing_mirror(tmp_path, start)
    by_source = {(c["source"], c["name"]): c for c in report["conditions"]}
    assert by_source[("president.uz", "runs_failing")]["active"]
    assert not any(by_source[("akorda", name)]["active"] for name in ("layout_drift", "source_silent", "runs_failing"))
    assert code == 1 and any(problem.startswith("runs failing (president.uz)") for problem in report["problems"])


def test_a_hanging_source_does_not_delay_the_other(tmp_path, start):  # noqa: F811
    with Mirror(sample_releases(6)) as mirror, press_site() as site:
        mirror.add_fault(lambda path: True, Hang(25))
        config = two_sources(tmp_path / "presswatch.toml", mirror, site, read_timeout=25.0)
        store = tmp_path / "store.db"
        daemon = start(config)
        # the press site is crawled while the mirror's first request still hangs
        wait_for(lambda: press_ids(site) <= stored(store), 20, "every press site release", daemon)
        wait_for(lambda: count(store, "select count(*) from crawl_runs where outcome = 'ok'") >= 2, 20,
                 "a second run of the press site", daemon)
        # the other source's runs do not take the hanging one for a run left by a dead process
        assert count(store, "select count(*) from crawl_runs where outcome = 'interrupted'") == 0
        assert count(store, "select count(*) from crawl_runs where outcome = 'running'") == 1
        assert len(mirror.requests) >= 1  # the mirror's run waits in its first request
        code, took = daemon.stop()
    assert code == 0


def test_a_source_with_its_own_interval_runs_on_it(tmp_path, start):  # noqa: F811
    with Mirror(sample_releases(3)) as mirror, press_site() as site:
        config = two_sources(tmp_path / "presswatch.toml", mirror, site, press_extra="interval_minutes = 60")
        daemon = start(config)
        wait_for(lambda: daemon.log().count("president.uz: crawl run") >= 4, 30, "four runs of the mirror", daemon)
        code, _ = daemon.stop()
    log = daemon.log()
    assert code == 0
    assert log.count("akorda: crawl run") == 1  # at start; the next one is an hour later


def test_a_source_added_by_a_reload_is_crawled_and_one_removed_stops(tmp_path, start):  # noqa: F811
    import signal

    with Mirror(sample_releases(3)) as mirror, press_site() as site:
        both = two_sources(tmp_path / "both.toml", mirror, site).read_text(encoding="utf-8")
        mirror_only = both[: both.index("[[sources]]", 1)] + both[both.index("[store]"):]
        config = tmp_path / "presswatch.toml"
        config.write_text(mirror_only, encoding="utf-8")
        store = tmp_path / "store.db"
        daemon = start(config)
        wait_for(lambda: count(store, "select count(*) from items") == 3, 20, "the mirror's releases", daemon)
        assert not site.requests
        config.write_text(both, encoding="utf-8")
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: press_ids(site) <= stored(store), 20, "the press site's releases after the reload", daemon)
        config.write_text(mirror_only, encoding="utf-8")
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: daemon.log().count("config reloaded") == 2, 20, "the second reload", daemon)
        seen = len(site.requests)
        before = daemon.log().count("crawl run")
        wait_for(lambda: daemon.log().count("crawl run") >= before + 4, 20, "more runs of the mirror", daemon)
        code, _ = daemon.stop()
    assert code == 0
    assert len(site.requests) <= seen + 3  # at most the run in hand at the reload finished


def test_a_source_whose_layout_drifted_is_reported_while_the_other_stays_green(tmp_path, start):  # noqa: F811
    """The mirror's list layout changed (the selectors find nothing, the structure fallback reads
    it): its drift is reported under its name; the press site's runs go on, green."""
    with Mirror(sample_releases(4)) as mirror, press_site() as site:
        mirror.set_layout("drifted")
        config = two_sources(tmp_path / "presswatch.toml", mirror, site)
        store = tmp_path / "store.db"
        daemon = start(config)
        wait_for(lambda: press_ids(site) <= stored(store), 30, "every press site release", daemon)
        wait_for(lambda: count(store, "select count(*) from health_events where condition = 'layout_drift:president.uz'"),
                 30, "the mirror's drift reported", daemon)
        akorda_runs = count(store, "select count(*) from crawl_runs where source = 'akorda' and outcome = 'ok'")
        wait_for(lambda: count(store, "select count(*) from crawl_runs where source = 'akorda' and outcome = 'ok'")
                 >= akorda_runs + 2, 30, "more runs of the press site", daemon)
        code, report = status(config)
        daemon.stop()
    by_source = {(c["source"], c["name"]): c for c in report["conditions"]}
    assert by_source[("president.uz", "layout_drift")]["active"]
    assert not any(by_source[("akorda", name)]["active"] for name in ("layout_drift", "source_silent", "runs_failing"))
    assert code == 1 and any(problem.startswith("layout drift (president.uz)") for problem in report["problems"])
    assert {key for key in stored(store) if key[0] == "president.uz"}  # the fallback still read its releases
