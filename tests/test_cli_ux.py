"""What the user sees: routes that could never fire refused at load, progress only on a terminal
and one start line elsewhere, JSON on stderr with --log-format json, page text made safe for a
terminal, spreadsheet-safe CSV, and a failed crawl that says first what failed."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import UNRESOLVABLE

from crawler import app
from crawler.cli import main
from crawler.lock import StoreLock
from crawler.model import ParsedItem, StoredVersion
from crawler.progress import Progress
from crawler.searchindex import search_hook
from crawler.store import Store

ROOT = Path(__file__).resolve().parent.parent
CASSETTE = str(ROOT / "cassettes" / "crawl_twice.yaml")


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- 1. routes that could never deliver are refused at load ----------------------------------------

def route_config(tmp_path: Path, *, topics: str = '["kazakstan"]', url: str = "json://127.0.0.1:9/hook") -> str:
    return write(tmp_path / "routes.toml",
                 f'[[alerts.routes]]\nname = "newsroom"\nurls = ["{url}"]\ntopics = {topics}\n')


@pytest.mark.parametrize("command", [
    ["config"],
    ["crawl", "--replay", CASSETTE],
    ["backfill", "--ids", "5782-5782", "--replay", CASSETTE],
    ["retag"],
    ["alerts", "routes"],
    ["alerts", "deliver"],
    ["alerts", "test", "newsroom"],
])
def test_a_route_naming_a_topic_the_topics_file_lacks_is_refused(command, tmp_path, capsys):
    config = route_config(tmp_path)
    store_option = [] if command == ["config"] else ["--store", str(tmp_path / "s.db")]
    assert main([*command, "--config", config, *store_option]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"presswatch: config error in {Path(config).resolve()}: alerts.routes[0].topics: ")
    assert "route 'newsroom'" in err and "'kazakstan'" in err and "did you mean kazakhstan?" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "s.db").exists()  # refused before anything was opened


def test_a_route_of_known_topics_passes_and_the_topics_file_of_the_config_counts(tmp_path, capsys):
    assert main(["config", "--config", route_config(tmp_path, topics='["kazakhstan", "water"]')]) == 0
    capsys.readouterr()
    write(tmp_path / "mine.toml", '[topics.floods]\nlabel = "Floods"\n[topics.floods.en]\ninclude = ["flood*"]\n')
    config = write(tmp_path / "c.toml", '[topics]\npath = "mine.toml"\n[[alerts.routes]]\nname = "newsroom"\n'
                   'urls = ["json://127.0.0.1:9/hook"]\ntopics = ["floods", "water"]\n')
    assert main(["config", "--config", config]) == 2
    err = capsys.readouterr().err
    assert "'water'" in err and "mine.toml" in err and "(its topics: floods)" in err


def test_an_alert_url_whose_scheme_apprise_does_not_know_is_refused(tmp_path, capsys):
    config = route_config(tmp_path, topics="[]", url="nosuchscheme://hooks.example.org/x")
    assert main(["alerts", "routes", "--config", config]) == 2
    err = capsys.readouterr().err.strip()
    assert "alerts.routes[0].urls[0]" in err and "Apprise knows no scheme 'nosuchscheme'" in err
    assert main(["config", "--config", route_config(tmp_path, topics="[]", url="ntfys://ntfy.sh/news")]) == 0


def test_a_url_whose_scheme_is_an_unset_secret_is_not_judged_by_a_read_only_command(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PW_UX_UNSET_URL", raising=False)
    config = route_config(tmp_path, topics="[]", url="${PW_UX_UNSET_URL}")
    assert main(["alerts", "routes", "--config", config]) == 0
    assert main(["config", "--config", config]) == 2  # a command that may send names the variable
    assert "PW_UX_UNSET_URL" in capsys.readouterr().err


# --- 2. progress on a terminal, one start line elsewhere -------------------------------------------

def read_until_quiet(fd: int, *, done: Callable[[str], bool], limit: float = 60.0) -> str:
    """Everything written to the pty master `fd` until `done(text)` (bounded in time)."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the other side closed
                break
            if not data:
                break
            chunks.append(data)
        if done(b"".join(chunks).decode("utf-8", "replace")):
            break
    return b"".join(chunks).decode("utf-8", "replace")


def test_progress_draws_a_bar_with_eta_on_a_terminal():
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", encoding="utf-8", closefd=False) as stream:
            bar = Progress("releases", total=3, stream=stream)
            for number in range(3):
                bar.advance(1, f"item {number}")
            bar.close()
        text = read_until_quiet(master, done=lambda t: t.endswith("\n") or t.endswith("\r\n"), limit=5)
    finally:
        os.close(master)
        os.close(slave)
    assert "releases [" in text and "3/3" in text and "ETA" in text and "\r\x1b[K" in text


def test_progress_writes_nothing_without_a_terminal():
    read_end, write_end = os.pipe()
    try:
        with os.fdopen(write_end, "w", encoding="utf-8") as stream:
            bar = Progress("retag", total=2, stream=stream)
            bar.advance(1)
            bar.advance(1)  # the last step printed a line into logs before
            bar.close()
        with os.fdopen(read_end, "r", encoding="utf-8") as pipe:
            assert pipe.read() == ""
    except BaseException:
        os.close(read_end)
        raise


def test_crawl_without_a_terminal_says_once_what_it_will_do(tmp_path, capsys):
    assert main(["crawl", "--replay", CASSETTE, "--store", str(tmp_path / "s.db")]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"crawl: reading list pages of 4 languages, then up to 500 release pages answered from the cassette {CASSETTE}"]
    assert captured.out.startswith("crawl run 1: ok; 32 new")


def test_the_start_line_gives_the_pace_of_the_requests(tmp_path, capsys):
    config = write(tmp_path / "c.toml", f'[source]\nbase_url = "http://127.0.0.1:{closed_port()}"\n'
                   'request_delay = 0.5\nmax_attempts = 1\nmax_releases_per_run = 40\n')
    assert main(["crawl", "--config", config, "--store", str(tmp_path / "s.db")]) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert first == "crawl: reading one list page of 4 languages (adaptive polling; every list into an empty store), then up to 40 release pages at 2 requests/s"
    assert main(["backfill", "--ids", "10-19", "--config", config, "--store", str(tmp_path / "s.db")]) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert first == ("backfill: fetching releases 10 to 19 in 4 languages (up to 40 release pages) "
                     "at 2 requests/s")


def test_retag_without_a_terminal_prints_one_start_line_and_no_progress(tmp_path, capsys):
    store = str(tmp_path / "s.db")
    assert main(["crawl", "--replay", CASSETTE, "--store", store]) == 0
    capsys.readouterr()
    assert main(["retag", "--all", "--store", store]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("retag: tagging every stored language version again with ")


def test_a_crawl_on_a_terminal_shows_its_progress_and_no_start_line(tmp_path):
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "crawler", "crawl", "--replay", CASSETTE, "--store", str(tmp_path / "s.db")],
            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
            env={**os.environ, "PRESSWATCH_CONFIG": "", "COLUMNS": "200"},
        )
        os.close(slave)
        seen = read_until_quiet(master, done=lambda text: process.poll() is not None, limit=120)
        out, _ = process.communicate(timeout=60)
    finally:
        os.close(master)
    assert process.returncode == 0, seen
    assert "releases [" in seen and "/32 " in seen and "ETA" in seen
    assert "list pages uz" in seen
    assert "crawl: reading" not in seen
    assert b"32 new" in out


# --- 3. JSON on stderr, a machine summary on stdout ------------------------------------------------

def json_lines(text: str) -> list[dict]:
    lines = text.strip().splitlines()
    assert lines
    return [json.loads(line) for line in lines]  # every line is JSON, or this fails


def test_a_config_error_is_a_json_line_with_json_logs(tmp_path, capsys):
    # --replay and --store: even without the check, this crawl would not reach the network.
    assert main(["crawl", "--config", route_config(tmp_path), "--replay", CASSETTE, "--store",
                 str(tmp_path / "s.db"), "--log-format", "json"]) == 2
    (line,) = json_lines(capsys.readouterr().err)
    assert line["level"] == "error" and line["exit_code"] == 2
    assert "did you mean kazakhstan?" in line["message"]


def test_a_lock_error_is_a_json_line_with_json_logs(tmp_path, capsys):
    store = str(tmp_path / "s.db")
    with StoreLock(store):
        assert main(["crawl", "--replay", CASSETTE, "--store", store, "--log-format", "json"]) == 3
    (line,) = json_lines(capsys.readouterr().err)
    assert line["exit_code"] == 3 and "is in use by presswatch" in line["message"]


def test_the_interrupted_line_is_json_with_json_logs(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(app, "writing", interrupted)
    assert main(["crawl", "--replay", CASSETTE, "--store", str(tmp_path / "s.db"), "--log-format", "json"]) == 130
    (line,) = json_lines(capsys.readouterr().err)
    assert line["event"] == "interrupted" and line["message"] == "presswatch: interrupted"


def test_a_usage_error_is_a_json_line_with_json_logs(capsys):
    with pytest.raises(SystemExit) as done:
        main(["crawl", "--log-format", "json", "--format", "xml"])
    assert done.value.code == 2
    (line,) = json_lines(capsys.readouterr().err)
    assert line["event"] == "usage_error" and "invalid choice: 'xml'" in line["message"]


def test_crawl_with_json_logs_ends_with_a_run_end_record_of_numbers(tmp_path, capsys):
    assert main(["crawl", "--replay", CASSETTE, "--store", str(tmp_path / "s.db"), "--log-format", "json"]) == 0
    captured = capsys.readouterr()
    lines = json_lines(captured.err)
    assert lines[0]["event"] == "start"
    end = lines[-1]
    assert end["event"] == "run_end" and end["outcome"] == "ok" and end["run_id"] == 1
    assert (end["new"], end["changed"], end["errors"], end["pending_translations"]) == (32, 0, 0, 0)
    assert isinstance(end["requests"], int) and isinstance(end["pages_fetched"], int)
    assert captured.out.startswith("crawl run 1: ok;")


@pytest.mark.parametrize("option", [["--format", "json"], ["--json"]])
def test_crawl_and_backfill_print_a_machine_summary(option, tmp_path, capsys):
    store = str(tmp_path / "s.db")
    assert main(["crawl", "--replay", CASSETTE, "--store", store, *option]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["outcome"] == "ok" and summary["run_id"] == 1 and summary["kind"] == "crawl"
    assert (summary["new"], summary["changed"], summary["errors"]) == (32, 0, 0)
    assert summary["message"] == "" and summary["reason"] == ""
    assert main(["backfill", "--pages", "1", "--replay", CASSETTE, "--store", store, *option]) in (0, 1)
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "backfill" and summary["run_id"] == 2 and isinstance(summary["new"], int)


# --- 4. text from the site is made safe for a terminal; CSV safe for a spreadsheet -----------------

HOSTILE_TITLE = "Title\x1b]0;pwned\x07 with \x1b[2J\x1b[Hclear and \x9b31mred"
HOSTILE_PARAGRAPH = ("Click \x1b]8;;https://evil.example/\x1b\\here\x1b]8;;\x1b\\ now\rover\x08written "
                     "Kazakhstan border")


def stored(tmp_path: Path, items: list[ParsedItem]) -> str:
    path = str(tmp_path / "s.db")
    with Store.open(path) as store:
        for item in items:
            with store.atomic():
                outcome = store.save_item(item)
                search_hook(store, StoredVersion(item, outcome, ()))
    return path


def item(item_id: int, title: str, paragraphs: list[str]) -> ParsedItem:
    return ParsedItem(source="president.uz",
                      id=item_id, lang="en", url=f"https://president.uz/en/lists/view/{item_id}", title=title,
                      published="2026-03-10", paragraphs=paragraphs)


CONTROL = [chr(c) for c in range(0x20) if chr(c) not in "\n"] + ["\x7f"] + [chr(c) for c in range(0x80, 0xa0)]


def test_show_prints_page_text_without_escape_sequences(tmp_path, capsys):
    store = stored(tmp_path, [item(7001, HOSTILE_TITLE, [HOSTILE_PARAGRAPH])])
    assert main(["show", "7001", "--store", store]) == 0
    out = capsys.readouterr().out
    assert not any(char in out for char in CONTROL), repr(out)
    assert "Title with clear and 31mred" in out
    assert "Click here nowoverwritten Kazakhstan border" in out
    assert "pwned" not in out and "evil.example" not in out
    assert main(["show", "7001", "--json", "--store", store]) == 0
    assert json.loads(capsys.readouterr().out)[0]["title"] == HOSTILE_TITLE  # JSON keeps the text as stored


def test_search_table_prints_page_text_without_escape_sequences(tmp_path, capsys):
    store = stored(tmp_path, [item(7001, HOSTILE_TITLE, [HOSTILE_PARAGRAPH])])
    assert main(["search", "Kazakhstan", "--store", store]) == 0
    out = capsys.readouterr().out
    assert not any(char in out for char in CONTROL), repr(out)
    assert "[Kazakhstan]" in out and "pwned" not in out


def test_search_on_a_terminal_marks_matches_in_bold_and_nothing_else(tmp_path):
    store = stored(tmp_path, [item(7001, HOSTILE_TITLE, [HOSTILE_PARAGRAPH])])
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen([sys.executable, "-m", "crawler", "search", "Kazakhstan", "--store", store],
                                   stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                   env={**{k: v for k, v in os.environ.items() if k != "NO_COLOR"},
                                        "PRESSWATCH_CONFIG": ""})
        os.close(slave)
        seen = read_until_quiet(master, done=lambda text: process.poll() is not None, limit=60)
        process.communicate(timeout=30)
    finally:
        os.close(master)
    assert process.returncode == 0, seen
    assert "\x1b[1;4mKazakhstan\x1b[0m" in seen
    without_marks = seen.replace("\x1b[1;4m", "").replace("\x1b[0m", "")
    assert "\x1b" not in without_marks and "\x07" not in without_marks and "pwned" not in without_marks


@pytest.mark.parametrize("title", ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+2", "-2+3", "@SUM(A1)"])
def test_csv_export_neutralises_cells_a_spreadsheet_would_run(title, tmp_path, capsys):
    store = stored(tmp_path, [item(7002, title, ["a=b stays as written", "-"]), item(7003, "plain", ["x"])])
    assert main(["export", "--format", "csv", "--store", store]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["title"] == "'" + title
    assert rows[0]["body"] == "a=b stays as written\n\n-"  # only a cell's first character counts
    assert rows[1]["title"] == "plain"
    assert main(["export", "--format", "jsonl", "--store", store]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["title"] == title  # JSON is left as stored


# --- 5. a crawl that cannot reach the site says so first -------------------------------------------

def offline_config(tmp_path: Path, base_url: str) -> str:
    return write(tmp_path / "offline.toml", f'[source]\nbase_url = "{base_url}"\nrequest_delay = 0\n'
                 'backoff_base = 0.01\nmax_attempts = 1\n[store]\npath = "s.db"\n')


HINT = "to see presswatch work without the site: presswatch crawl --replay cassettes/crawl_twice --store demo.db"


def test_nothing_listening_is_said_first_in_plain_words_then_the_summary_then_the_replay_hint(tmp_path):
    port = closed_port()
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", "--config", offline_config(tmp_path, f"http://127.0.0.1:{port}")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("crawl: reading one list page of 4 languages")
    assert lines[1] == f"presswatch: cannot reach 127.0.0.1: nothing is listening at 127.0.0.1:{port}"
    assert lines[2].startswith("crawl run 1: failed; 0 new")
    assert lines[3] == HINT
    assert len(lines) == 4 and "Traceback" not in result.stdout




@pytest.mark.parametrize("robots", ["true", "false"])
def test_a_name_that_does_not_resolve_is_said_first(robots, tmp_path, capsys, unresolvable_name):
    config = offline_config(tmp_path, f"http://{UNRESOLVABLE}")
    text = Path(config).read_text(encoding="utf-8").replace("[source]\n", f"[source]\nobey_robots = {robots}\n")
    Path(config).write_text(text, encoding="utf-8")  # with robots.txt, its failure is what stops the run
    assert main(["crawl", "--config", config, "--store", str(tmp_path / "s.db")]) == 1
    captured = capsys.readouterr()
    said = [line for line in captured.err.splitlines() if line.startswith("presswatch")]
    assert said[0] == f"presswatch: cannot reach {UNRESOLVABLE}: the name does not resolve"
    assert captured.err.splitlines()[-1] == HINT
    assert captured.out.startswith("crawl run 1: failed;")


def test_the_plain_reason_is_in_the_machine_summary(tmp_path, capsys, unresolvable_name):
    config = offline_config(tmp_path, f"http://{UNRESOLVABLE}")
    assert main(["crawl", "--config", config, "--store", str(tmp_path / "s.db"), "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["outcome"] == "failed"
    assert summary["reason"] == f"cannot reach {UNRESOLVABLE}: the name does not resolve"
    assert summary["message"].startswith(f"GET http://{UNRESOLVABLE}/")


def test_search_and_export_notes_are_json_lines_with_json_logs(tmp_path, capsys):
    store = stored(tmp_path, [item(7001, "Kazakhstan border", ["Water"])])
    assert main(["search", "nothing-like-this", "--topic", "floods", "--store", store, "--log-format", "json"]) == 0
    lines = json_lines(capsys.readouterr().err)
    assert [line["event"] for line in lines] == ["warning", "no_results"]
    assert main(["export", "-o", str(tmp_path / "x.jsonl"), "--store", store, "--log-format", "json"]) == 0
    (line,) = json_lines(capsys.readouterr().err)
    assert line["event"] == "exported" and line["message"].startswith("exported 1 language version to ")
