"""Backfill against the local mirror: by pages, ids and date; resumable after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from forked_cli import CliProcess

from crawler.cli import main
from crawler.store import Store
from devsites.mirror import Latency, Mirror, sample_releases

RELEASES = sample_releases(40, first_id=9180)
IDS = [r.id for r in RELEASES]


@pytest.fixture
def mirror():
    with Mirror(RELEASES, per_page=5) as running:
        yield running


def write_config(tmp_path, base_url: str, languages=("uz", "oz", "ru", "en")) -> str:
    path = tmp_path / "presswatch.toml"
    langs = ", ".join(f'"{lang}"' for lang in languages)
    path.write_text(
        f'[source]\nbase_url = "{base_url}"\nrequest_delay = 0.0\nbackoff_base = 0.01\nlanguages = [{langs}]\n'
        f'[store]\npath = "store.db"\n',
        encoding="utf-8",
    )
    return str(path)


def stored(tmp_path) -> list[tuple[int, str]]:
    with Store.open(tmp_path / "store.db") as store:
        return [tuple(r) for r in store.db.execute("select id, lang from items order by id, lang")]


def test_backfill_by_pages_with_a_start_line_and_summary(tmp_path, mirror, capsys):
    config = write_config(tmp_path, mirror.base_url, languages=("ru", "en"))
    assert main(["backfill", "--pages", "3", "--config", config]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("backfill run 1: ok; 30 new")
    # Without a terminal, no progress bar: one line saying what it does (tests/test_cli_ux.py: the bars).
    assert captured.err.splitlines() == [
        "backfill: reading list pages 1 to 3 of 2 languages, then every release not yet stored, "
        "without a pause between requests; run it again to resume"]
    newest_fifteen = sorted(IDS)[-15:]
    assert stored(tmp_path) == [(i, lang) for i in newest_fifteen for lang in ("en", "ru")]


def test_backfill_by_id_range_marks_ids_that_do_not_exist(tmp_path, mirror, capsys):
    config = write_config(tmp_path, mirror.base_url, languages=("en",))
    first, last = IDS[0], IDS[0] + 5
    assert main(["backfill", "--ids", f"{first}-{last}", "--config", config]) == 0
    expected = [i for i in IDS if first <= i <= last]
    assert stored(tmp_path) == [(i, "en") for i in expected]
    with Store.open(tmp_path / "store.db") as store:
        absent = {row["id"] for row in store.pending("absent")}
        assert absent == set(range(first, last + 1)) - set(expected)
        assert store.pending() == []  # an id no language has is not a missing translation
    # again: nothing left to do, no release page requested
    mirror.requests.clear()
    assert main(["backfill", "--ids", f"{first}-{last}", "--config", config]) == 0
    assert mirror.requests.count("/en/lists/view/") == 0


def test_backfill_back_to_a_date(tmp_path, mirror, capsys):
    config = write_config(tmp_path, mirror.base_url, languages=("ru",))
    since = sorted(r.date for r in RELEASES)[-10]
    assert main(["backfill", "--since", since.isoformat(), "--config", config]) == 0
    expected = sorted(r.id for r in RELEASES if r.date >= since)
    assert [i for i, _ in stored(tmp_path)] == expected


@pytest.mark.parametrize("bad, message", [
    (["--ids", "10-5"], "ends before it starts"),
    (["--ids", "abc"], "expected an id or a range"),
    (["--since", "yesterday"], "expected a date as YYYY-MM-DD"),
    ([], "one of the arguments --pages --ids --since --gaps is required"),
])
def test_backfill_bad_arguments(bad, message, capsys):
    with pytest.raises(SystemExit) as done:
        main(["backfill", *bad])
    assert done.value.code == 2
    assert message in capsys.readouterr().err


def wait_until(reached, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not reached():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.02)


def test_backfill_killed_midway_resumes_without_duplicates(tmp_path, mirror):
    """The killed backfill is forked with the CLI imported (tests/forked_cli.py); the one that
    resumes is `python -m crawler`. The latency only keeps the first one busy until the kill."""
    config = write_config(tmp_path, mirror.base_url, languages=("uz", "en"))
    latency = mirror.add_fault(lambda path: "/lists/view/" in path, Latency(0.05))
    argv = ["backfill", "--pages", "8", "--config", config]
    process = CliProcess(argv)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (tmp_path / "store.db").exists() and len(stored(tmp_path)) >= 20:
                break
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    partial = stored(tmp_path)
    assert 20 <= len(partial) < 80
    # The killed process's last request is logged when the mirror answers it.
    wait_until(lambda: not mirror.open_connections, "end of the killed process's requests")
    mirror.remove_fault(latency)
    mirror.requests.clear()
    result = subprocess.run([sys.executable, "-m", "crawler", *argv], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert stored(tmp_path) == [(i, lang) for i in sorted(IDS) for lang in ("en", "uz")]
    refetched = [p for p in mirror.requests.paths("/") if "/lists/view/" in p
                 and (int(p.rsplit("/", 1)[1]), p.split("/")[1]) in set(partial)]
    assert refetched == []
    with Store.open(tmp_path / "store.db") as store:
        runs = store.last_runs(5)
        assert [r["outcome"] for r in runs] == ["ok", "interrupted"]


def test_refresh_fetches_a_stored_range_again_and_keeps_edits(tmp_path, mirror):
    config = write_config(tmp_path, mirror.base_url, languages=("en",))
    target = IDS[3]
    assert main(["backfill", "--ids", f"{target}-{target}", "--config", config]) == 0
    original = mirror.release(target).versions["en"]
    mirror.edit(target, "en", paragraphs=original.paragraphs[:-1] + [original.paragraphs[-1] + " Corrected."])
    assert main(["backfill", "--ids", f"{target}-{target}", "--config", config]) == 0
    with Store.open(tmp_path / "store.db") as store:
        assert store.item("president.uz", target, "en")["version"] == 1  # without --refresh, nothing stored is fetched
    assert main(["backfill", "--ids", f"{target}-{target}", "--refresh", "--config", config]) == 0
    with Store.open(tmp_path / "store.db") as store:
        item = store.item("president.uz", target, "en")
        assert item["version"] == 2 and item["body"].endswith("Corrected.")
        assert len(store.versions("president.uz", target, "en")) == 1
