"""The pipeline against a site that misbehaves in ordinary ways: redirects inside the site, a list
page that fails mid-walk, pagers that do not link onwards, a stop by signal, an interrupted refresh."""

from __future__ import annotations

import signal
import sqlite3
import time

import pytest
from forked_cli import CliProcess

from crawler.cli import main
from crawler.store import Store
from devsites.mirror import Latency, Mirror, Redirect, Reset, Status, sample_releases

RELEASES = sample_releases(40, first_id=9180)
IDS = sorted(r.id for r in RELEASES)


def write_config(tmp_path, base_url: str, languages=("ru", "en"), **source: object) -> str:
    path = tmp_path / "presswatch.toml"
    langs = ", ".join(f'"{lang}"' for lang in languages)
    extra = "".join(f"{key} = {value}\n" for key, value in source.items())
    path.write_text(
        f'[source]\nbase_url = "{base_url}"\nrequest_delay = 0.0\nbackoff_base = 0.01\nlanguages = [{langs}]\n'
        f'{extra}[store]\npath = "store.db"\n',
        encoding="utf-8",
    )
    return str(path)


def rows(tmp_path, sql: str, params=()) -> list[tuple]:
    with Store.open(tmp_path / "store.db") as store:
        return [tuple(r) for r in store.db.execute(sql, params)]


def stored(tmp_path) -> list[tuple[int, str]]:
    return rows(tmp_path, "select id, lang from items order by id, lang")


def requested_ids(mirror: Mirror, lang: str) -> list[int]:
    return [int(p.rsplit("/", 1)[1]) for p in mirror.requests.paths(f"/{lang}/lists/view/")]


# --- 1. a redirect inside the site --------------------------------------------------------------


def test_redirect_to_another_language_is_a_missing_translation_not_a_version(tmp_path):
    target = IDS[-1]
    with Mirror(RELEASES[-3:], per_page=5) as mirror:
        mirror.remove(target, "ru")
        mirror.add_fault(f"/ru/lists/view/{target}", Redirect(f"/en/lists/view/{target}"))
        config = write_config(tmp_path, mirror.base_url)
        assert main(["crawl", "--config", config]) == 0
        assert (target, "ru") not in stored(tmp_path)
        assert rows(tmp_path, "select state from pending_translations where id = ? and lang = 'ru'",
                    [target]) == [("pending",)]
        english = rows(tmp_path, "select title from items where id = ? and lang = 'en'", [target])
        assert english == [(mirror.release(target).versions["en"].title,)]
        # Not fetched again on every run: retried like any missing translation.
        mirror.requests.clear()
        assert main(["crawl", "--config", config]) == 0
        assert target not in requested_ids(mirror, "ru")


def test_refresh_through_a_redirect_keeps_the_stored_text(tmp_path):
    target = IDS[-1]
    with Mirror(RELEASES[-3:], per_page=5) as mirror:
        config = write_config(tmp_path, mirror.base_url)
        assert main(["backfill", "--ids", f"{target}-{target}", "--config", config]) == 0
        russian = rows(tmp_path, "select title, body from items where id = ? and lang = 'ru'", [target])
        mirror.add_fault(f"/ru/lists/view/{target}", Redirect(f"/en/lists/view/{target}"))
        assert main(["backfill", "--ids", f"{target}-{target}", "--refresh", "--config", config]) == 0
        assert rows(tmp_path, "select title, body from items where id = ? and lang = 'ru'", [target]) == russian
        assert rows(tmp_path, "select count(*) from item_versions") == [(0,)]


def test_redirect_to_another_id_is_recorded_and_not_fetched_again(tmp_path):
    alias, real = IDS[-1] + 1, IDS[-1]
    with Mirror(RELEASES[-3:], per_page=5) as mirror:
        mirror.add_fault(f"/ru/lists/view/{alias}", Redirect(f"/ru/lists/view/{real}"))
        config = write_config(tmp_path, mirror.base_url, languages=("ru",))
        assert main(["backfill", "--ids", f"{alias}-{alias}", "--config", config]) == 0
        assert stored(tmp_path) == []  # neither the alias nor, through it, the release it points to
        assert rows(tmp_path, "select id, lang, state, url from pending_translations") == [
            (alias, "ru", "redirect", mirror.url(f"/ru/lists/view/{real}"))
        ]
        mirror.requests.clear()
        assert main(["backfill", "--ids", f"{alias}-{alias}", "--config", config]) == 0
        assert requested_ids(mirror, "ru") == []


# --- 2. a list page that fails mid-walk ----------------------------------------------------------


@pytest.mark.parametrize("fault", [Status(503), Reset()], ids=["503", "reset"])
def test_a_failed_second_list_page_is_read_by_the_next_crawl(tmp_path, fault):
    with Mirror(RELEASES[-10:], per_page=5) as mirror:
        config = write_config(tmp_path, mirror.base_url, languages=("en",), max_attempts=1)
        rule = mirror.add_fault("/en/lists/news?page=2", fault)
        assert main(["crawl", "--config", config]) == 1  # the only language's lists failed
        mirror.remove_fault(rule)
        mirror.requests.clear()
        assert main(["crawl", "--config", config]) == 0
        assert "/en/lists/news?page=2" in mirror.requests.paths("/en/lists/news")
        assert stored(tmp_path) == [(i, "en") for i in IDS[-10:]]


# --- 3. backfill --refresh resumes, and an unchanged page writes nothing -----------------------


def test_refresh_resumes_after_a_failed_run(tmp_path, capsys):
    ids = IDS[:12]
    with Mirror(RELEASES[:12], per_page=5) as mirror:
        config = write_config(tmp_path, mirror.base_url, languages=("en",), max_attempts=1)
        span = f"{ids[0]}-{ids[-1]}"
        assert main(["backfill", "--ids", span, "--config", config]) == 0
        broken_from = ids[6]
        rule = mirror.add_fault(lambda p: "/lists/view/" in p and int(p.rsplit("/", 1)[1]) >= broken_from,
                                Status(503))
        assert main(["backfill", "--ids", span, "--refresh", "--config", config]) == 1
        mirror.remove_fault(rule)
        mirror.requests.clear()
        assert main(["backfill", "--ids", span, "--refresh", "--config", config]) == 0
        assert requested_ids(mirror, "en") == ids[6:]
        # Completed: the same command later is a new refresh of the whole range.
        mirror.requests.clear()
        assert main(["backfill", "--ids", span, "--refresh", "--config", config]) == 0
        assert requested_ids(mirror, "en") == ids


def _snapshot(path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as conn:
        return {table: conn.execute(f"select * from {table} order by rowid").fetchall()
                for table in ("items", "items_fts_data", "items_fts_docsize", "search_text", "search_fts_data",
                              "item_versions", "matches", "outbox")}


def test_an_unchanged_refetch_writes_nothing(tmp_path, capsys):
    with Mirror(RELEASES[:4], per_page=5) as mirror:
        config = write_config(tmp_path, mirror.base_url, languages=("en",))
        span = f"{IDS[0]}-{IDS[3]}"
        assert main(["backfill", "--ids", span, "--config", config]) == 0
        before = _snapshot(tmp_path / "store.db")
        capsys.readouterr()
        mirror.requests.clear()
        assert main(["backfill", "--ids", span, "--refresh", "--config", config]) == 0
        assert "0 new, 0 changed" in capsys.readouterr().out
        assert requested_ids(mirror, "en") == IDS[:4]
        assert _snapshot(tmp_path / "store.db") == before


# --- 4. list walks that do not depend on the pager ------------------------------------------------


@pytest.mark.parametrize("past_end", ["empty", "last", "404"])
def test_backfill_walks_past_a_pager_without_next_links(tmp_path, capsys, past_end):
    with Mirror(RELEASES, per_page=5, pager="none", past_end=past_end) as mirror:
        config = write_config(tmp_path, mirror.base_url, languages=("en",))
        assert main(["backfill", "--pages", "50", "--config", config]) == 0
        out = capsys.readouterr().out
        assert stored(tmp_path) == [(i, "en") for i in IDS]
        assert "en reached the end of the list after 8 pages" in out, out
        assert ", 0 errors" in out
        assert mirror.requests.count("/en/lists/news") == 9  # 8 pages, and the one that ended it


def test_backfill_says_when_it_stopped_at_the_pages_limit(tmp_path, capsys):
    with Mirror(RELEASES, per_page=5, pager="none") as mirror:
        config = write_config(tmp_path, mirror.base_url, languages=("en",))
        assert main(["backfill", "--pages", "3", "--config", config]) == 0
        assert "en stopped at the pages limit (3)" in capsys.readouterr().out
        assert len(stored(tmp_path)) == 15


def test_a_last_page_that_is_not_full_ends_the_walk(tmp_path, capsys):
    with Mirror(RELEASES[:13], per_page=5, pager="none", past_end="last") as mirror:
        config = write_config(tmp_path, mirror.base_url, languages=("en",))
        assert main(["backfill", "--pages", "50", "--config", config]) == 0
        assert "en reached the end of the list after 3 pages" in capsys.readouterr().out
        assert mirror.requests.count("/en/lists/news") == 3


# --- 5. Ctrl-C and SIGTERM ---------------------------------------------------------------------------


def _stored_count(path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("select count(*) from items").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("command, sig", [
    (["crawl"], signal.SIGINT),
    (["crawl"], signal.SIGTERM),
    (["backfill", "--pages", "8"], signal.SIGTERM),
], ids=["crawl-sigint", "crawl-sigterm", "backfill-sigterm"])
def test_a_signal_ends_the_run_as_interrupted_with_a_summary(tmp_path, command, sig):
    """The command is its own process, forked with the CLI imported (tests/forked_cli.py): Python's
    own SIGINT handling (KeyboardInterrupt) and presswatch's SIGTERM handling, as in `python -m`."""
    stdout, stderr = tmp_path / "out", tmp_path / "err"

    def output() -> tuple[str, str]:
        return stdout.read_text(encoding="utf-8"), stderr.read_text(encoding="utf-8")

    with Mirror(RELEASES, per_page=10) as mirror:
        config = write_config(tmp_path, mirror.base_url, max_list_pages=4)
        mirror.add_fault(lambda path: "/lists/view/" in path, Latency(0.1))
        process = CliProcess([*command, "--config", config], stdout=stdout, stderr=stderr)
        try:
            deadline = time.monotonic() + 60
            while _stored_count(tmp_path / "store.db") < 2 and time.monotonic() < deadline:
                assert process.poll() is None, output()
                time.sleep(0.02)
            process.send_signal(sig)
            process.wait(timeout=60)
            out, err = output()
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130, (out, err)
    kind = command[0]
    assert out.startswith(f"{kind} run 1: interrupted; "), (out, err)
    assert "KeyboardInterrupt" not in out + err
    runs = rows(tmp_path, "select outcome, message, new from crawl_runs")
    assert len(runs) == 1 and runs[0][0] == "interrupted" and "KeyboardInterrupt" not in (runs[0][1] or "")
    assert 2 <= runs[0][2] < len(RELEASES) * 2 == 80
    assert f"{runs[0][2]} new" in out
    with Store.open(tmp_path / "store.db") as store:
        assert store.failures_since_success(kind) == 0
