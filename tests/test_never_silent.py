"""Ways presswatch could fail silently, each refused at start or repaired (issue: never silent)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import UNRESOLVABLE

from crawler.cli import main
from crawler.store import Store

ROUTE_WITH_SECRET = """
[[alerts.routes]]
name = "newsroom"
urls = ["json://127.0.0.1:9/${PW_NEVER_SET_TOKEN}"]
"""


@pytest.fixture
def config_with_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("PW_NEVER_SET_TOKEN", raising=False)
    monkeypatch.delenv("PRESSWATCH_CONFIG", raising=False)
    path = tmp_path / "presswatch.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "s.db"}"\n' + ROUTE_WITH_SECRET, encoding="utf-8")
    Store.open(tmp_path / "s.db").close()
    return path


@pytest.mark.parametrize("command", [
    ["status"], ["show", "5782"], ["search", "suv"], ["export"], ["feed"], ["alerts", "list"], ["alerts", "routes"],
])
def test_read_only_commands_run_without_the_alert_secrets(config_with_secret, capsys, command):
    code = main([*command, "--config", str(config_with_secret)])
    err = capsys.readouterr().err
    assert "PW_NEVER_SET_TOKEN" not in err
    assert code in (0, 1)  # status: 1 = unhealthy (a store that never crawled); show: 1 = not stored


@pytest.mark.parametrize("command", [["crawl"], ["backfill", "--pages", "1"], ["alerts", "deliver"],
                                     ["alerts", "test", "newsroom"], ["run"]])
def test_commands_that_deliver_refuse_at_start_naming_the_variable(config_with_secret, capsys, command):
    assert main([*command, "--config", str(config_with_secret)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "environment variable PW_NEVER_SET_TOKEN is not set" in err


@pytest.mark.parametrize("option", [["--pages", "0"], ["--pages", "-3"], ["--since", "2024-01-01", "--max-pages", "0"]])
def test_zero_or_negative_counts_are_usage_errors(tmp_path, capsys, option):
    with pytest.raises(SystemExit) as exit_:
        main(["backfill", *option, "--store", str(tmp_path / "s.db")])
    assert exit_.value.code == 2
    assert "expected a whole number of 1 or more" in capsys.readouterr().err
    assert not (tmp_path / "s.db").exists()


def test_a_failed_commit_rolls_the_transaction_back(tmp_path):
    """A deferred foreign key fails at COMMIT itself: the transaction must not stay open, or the next
    write would commit this one's half with its own."""
    with Store.open(tmp_path / "s.db") as store:
        with pytest.raises(sqlite3.IntegrityError):
            with store.atomic() as db:
                db.execute("PRAGMA defer_foreign_keys = ON")
                db.execute("insert into crawl_errors (run_id, url, kind, reason, at) values (999, 'u', 'k', 'r', 't')")
                db.execute("insert into http_cache (source, url, etag) values ('s', 'half', 'x')")
        assert not store.db.conn.in_transaction
        with store.atomic() as db:
            db.execute("insert into http_cache (source, url, etag) values ('s', 'next', 'y')")
        rows = [r[0] for r in store.db.execute("select url from http_cache order by url")]
    assert rows == ["next"]


def test_no_delay_and_the_default_contact_against_the_public_site_warn_at_start(tmp_path, capsys, monkeypatch,
                                                                               unresolvable_name):
    monkeypatch.delenv("PRESSWATCH_CONFIG", raising=False)
    config = tmp_path / "presswatch.toml"
    config.write_text(f'[source]\nrequest_delay = 0\nbase_url = "http://127.0.0.1:9"\nobey_robots = false\n'
                      f'max_attempts = 1\n[store]\npath = "{tmp_path / "s.db"}"\n', encoding="utf-8")
    main(["crawl", "--config", str(config)])
    err = capsys.readouterr().err
    assert "request_delay" not in err and "source.contact" not in err  # fine against this machine
    config.write_text(f'[source]\nrequest_delay = 0\nbase_url = "http://{UNRESOLVABLE}"\nobey_robots = false\n'
                      f'max_attempts = 1\n[store]\npath = "{tmp_path / "s.db"}"\n', encoding="utf-8")
    main(["crawl", "--config", str(config)])
    err = capsys.readouterr().err
    assert "request_delay" in err and "source.contact" in err


def test_a_backfill_refused_midway_says_how_many_pages_it_skipped(tmp_path, capsys, monkeypatch):
    from devsites.mirror import Mirror, Status, sample_releases

    monkeypatch.delenv("PRESSWATCH_CONFIG", raising=False)
    with Mirror(sample_releases(6)) as mirror:
        config = tmp_path / "presswatch.toml"
        config.write_text(f'[source]\nbase_url = "{mirror.base_url}"\nlanguages = ["en"]\nrequest_delay = 0\n'
                          f'obey_robots = false\nmax_attempts = 1\n[store]\npath = "{tmp_path / "s.db"}"\n',
                          encoding="utf-8")
        served = []

        def refuse_after_two(path: str) -> bool:
            if "/lists/view/" in path:
                served.append(path)
            return len(served) > 2

        mirror.add_fault(refuse_after_two, Status(403))
        first, last = 9200, 9219
        assert main(["backfill", "--ids", f"{first}-{last}", "--config", str(config)]) == 1
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "failed" in line and "0 errors" in line  # refused: no page failed, the run stopped
    assert "18 of 20 release pages skipped (not fetched: the run ended before them)" in line


def test_a_crawl_reads_past_a_full_page_of_news_when_the_pager_links_nothing(tmp_path, monkeypatch):
    from devsites.mirror import Mirror, sample_releases

    monkeypatch.delenv("PRESSWATCH_CONFIG", raising=False)
    with Mirror(sample_releases(30), pager="none") as mirror:
        config = tmp_path / "presswatch.toml"
        config.write_text(f'[source]\nbase_url = "{mirror.base_url}"\nlanguages = ["en"]\nrequest_delay = 0\n'
                          f'obey_robots = false\n[store]\npath = "{tmp_path / "s.db"}"\n', encoding="utf-8")
        assert main(["crawl", "--config", str(config)]) == 0
        with Store.open(tmp_path / "s.db") as store:
            assert store.db.execute("select count(*) from items").fetchone()[0] == 30
        # The next crawl finds page 1 all seen and stops there.
        before = len(mirror.requests.paths())
        assert main(["crawl", "--config", str(config)]) == 0
        assert mirror.requests.paths()[before:] == ["/en/lists/news"]
