"""Config files with the mistakes tests/test_config.py does not cover: each one stops presswatch
with one line naming the file, the key and the problem, exit code 2, and no traceback.

Every case goes through the CLI (`main`); a sample of them through a real process too. The
commands used (`status` on a store that does not exist) cannot reach the network even if a config
were wrongly accepted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.cli import main
from crawler.config import load_config

# (id, file bytes, key, words the problem must contain)
CASES: list[tuple[str, bytes, str, str]] = [
    # the file itself
    ("latin-1 bytes", "[source]\ncontact = 'élève'\n".encode("latin-1"), "file", "cannot read it: 'utf-8' codec"),
    ("utf-16 file", "[source]\nrequest_delay = 1.0\n".encode("utf-16"), "file", "cannot read it"),
    ("nul byte", b"[source]\nrequest_delay = 1.0\x00\n", "syntax", ""),
    ("duplicate key", b"[source]\nrequest_delay = 1.0\nrequest_delay = 2.0\n", "syntax", ""),
    ("duplicate table", b"[source]\n[source]\n", "syntax", ""),
    # a table where a value is expected, and the other way round
    ("inline table for a number", b"[source]\nrequest_delay = {seconds = 1}\n", "source.request_delay",
     "expected a number, got table"),
    ("table header for a number", b"[source.request_delay]\nseconds = 1\n", "source.request_delay",
     "expected a number, got table"),
    ("table for a string", b"[source.base_url]\nhost = '127.0.0.1'\n", "source.base_url", "expected a string, got table"),
    ("value for a section", b"source = 'https://president.uz'\n", "source", "expected a table, got string"),
    ("array of tables for a section", b"[[source]]\nrequest_delay = 1.0\n", "source", "expected a table, got list"),
    ("list of lists", b"[source]\nlanguages = [['uz']]\n", "source.languages[0]", "expected a string, got list"),
    ("string for a list of routes", b"[alerts]\nroutes = 'ops'\n", "alerts.routes", "expected a list of a table"),
    # unknown keys, nested
    ("unknown sub-table", b"[source.retry]\nmax = 3\n", "source.retry", "unknown key in section [source]"),
    ("unknown key in a route", b"[[alerts.routes]]\nname = 'ops'\nurls = ['json://127.0.0.1:9/']\ncolour = 'red'\n",
     "alerts.routes[0].colour", "unknown key in section [alerts.routes[0]]"),
    ("unknown table in a route", b"[[alerts.routes]]\nname = 'ops'\nurls = ['json://127.0.0.1:9/']\n"
     b"[alerts.routes.extra]\nx = 1\n", "alerts.routes[0].extra", "unknown key"),
    ("unknown key two levels down", b"[selectors.item.title]\nx = 1\n", "selectors.item", "unknown key in section [selectors]"),
    # huge numbers
    ("integer beyond 64 bits", b"[source]\nmax_attempts = 99999999999999999999999\n", "source.max_attempts",
     "must be at most 1,000,000,000"),
    ("huge page count", b"[source]\nmax_list_pages = 9223372036854775807\n", "source.max_list_pages", "must be at most"),
    ("infinite delay", b"[source]\nrequest_delay = inf\n", "source.request_delay", "must be a finite number"),
    ("nan timeout", b"[source]\nread_timeout = nan\n", "source.read_timeout", "must be a finite number"),
    ("1e300 minutes", b"[schedule]\ninterval_minutes = 1e300\n", "schedule.interval_minutes", "must be a finite number"),
    ("horizon beyond dates", b"[alerts]\nhorizon_days = 1e8\n", "alerts.horizon_days", "at most 36500 days"),
    ("silence beyond dates", b"[health]\nsilent_hours = 1e8\n", "health.silent_hours", "at most 876000 hours"),
    # negative delays and zero counts
    ("negative backoff", b"[source]\nbackoff_base = -0.5\n", "source.backoff_base", "must be 0 or more"),
    ("negative retry wait", b"[source]\nmax_retry_wait = -1\n", "source.max_retry_wait", "must be 0 or more"),
    ("negative connect timeout", b"[source]\nconnect_timeout = -1\n", "source.connect_timeout", "greater than 0"),
    ("zero read timeout", b"[source]\nread_timeout = 0\n", "source.read_timeout", "greater than 0"),
    ("negative pending retry", b"[source]\npending_retry_minutes = -15\n", "source.pending_retry_minutes",
     "must be 0 or more"),
    ("negative jitter", b"[schedule]\njitter_seconds = -60\n", "schedule.jitter_seconds", "must be 0 or more"),
    ("negative alert backoff cap", b"[alerts]\nretry_max_seconds = -1\n", "alerts.retry_max_seconds", "0 or more"),
    ("zero attempts", b"[source]\nmax_attempts = 0\n", "source.max_attempts", "greater than 0"),
    ("negative release cap", b"[source]\nmax_releases_per_run = -5\n", "source.max_releases_per_run", "greater than 0"),
    ("zero pending attempts", b"[source]\npending_max_attempts = 0\n", "source.pending_max_attempts", "greater than 0"),
    ("zero size cap", b"[source]\nmax_response_bytes = 0\n", "source.max_response_bytes", "greater than 0"),
    # values that pass the type check but would fail later, in the middle of a crawl
    ("port out of range", b"[source]\nbase_url = 'http://127.0.0.1:99999'\n", "source.base_url", "not a valid URL"),
    ("broken IPv6 host", b"[source]\nbase_url = 'http://[::1'\n", "source.base_url", "not a valid URL"),
    ("unknown placeholder", b"[source]\nlist_path = '/{lang}/{section}'\n", "source.list_path", "may stand in braces"),
    ("lone brace", b"[source]\nitem_path = '/{lang}/lists/view/{id}{'\n", "source.item_path", "may stand in braces"),
    ("positional placeholder", b"[source]\nlist_path = '/{lang}/{0}'\n", "source.list_path", "may stand in braces"),
    ("non-ASCII contact", "[source]\ncontact = 'mailto:редакция@example.org'\n".encode(), "source.contact",
     "printable ASCII"),
    ("header injection", b"[source]\ncontact = \"a@example.org\\r\\nX-Evil: 1\"\n", "source.contact", "printable ASCII"),
    ("no title selector", b"[selectors]\nitem_title = []\n", "selectors.item_title", "at least one selector"),
    ("boolean for a number", b"[source]\nrequest_delay = true\n", "source.request_delay", "expected a number"),
    ("date for a string", b"[store]\npath = 2026-11-25\n", "store.path", "expected a string"),
]


def _run(tmp_path: Path, content: bytes, capsys) -> tuple[int, str, Path]:
    path = tmp_path / "presswatch.toml"
    path.write_bytes(content)
    code = main(["status", "--config", str(path), "--store", str(tmp_path / "absent.db")])
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err, path


@pytest.mark.parametrize("content, key, problem", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_mistake_exits_2_with_one_line(tmp_path, capsys, monkeypatch, content, key, problem):
    monkeypatch.delenv("PRESSWATCH_CONFIG", raising=False)
    code, err, path = _run(tmp_path, content, capsys)
    assert code == 2, err
    assert err.endswith("\n") and err.count("\n") == 1, err  # one line
    assert err.startswith(f"presswatch: config error in {path}: {key}: "), err
    assert problem in err
    assert "Traceback" not in err


def test_a_directory_instead_of_a_file(tmp_path, capsys):
    folder = tmp_path / "presswatch.toml"
    folder.mkdir()
    assert main(["status", "--config", str(folder), "--store", str(tmp_path / "absent.db")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"presswatch: config error in {folder}: file: cannot read it: ")
    assert "Is a directory" in err


def test_a_directory_named_by_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PRESSWATCH_CONFIG", str(tmp_path))
    assert main(["status", "--store", str(tmp_path / "absent.db")]) == 2
    assert "Is a directory" in capsys.readouterr().err


def test_an_unreadable_file(tmp_path, capsys, monkeypatch):
    path = tmp_path / "presswatch.toml"
    path.write_text("[source]\nrequest_delay = 1.0\n", encoding="utf-8")
    path.chmod(0)
    if os.geteuid() == 0:
        # Root reads any file, so the refusal the kernel would give anyone else is staged here.
        real_read_text = Path.read_text

        def refuse(self, *args, **kwargs):
            if self == path:
                raise PermissionError(13, "Permission denied", str(self))
            return real_read_text(self, *args, **kwargs)

        monkeypatch.setattr(Path, "read_text", refuse)
    try:
        assert main(["status", "--config", str(path), "--store", str(tmp_path / "absent.db")]) == 2
    finally:
        path.chmod(0o600)
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"presswatch: config error in {path}: file: cannot read it: ")
    assert "Permission denied" in err


def test_a_byte_order_mark_is_not_a_mistake(tmp_path):
    """Notepad saves UTF-8 with a BOM; that is still a valid file."""
    path = tmp_path / "presswatch.toml"
    path.write_bytes("[source]\nrequest_delay = 0.5\n".encode("utf-8-sig"))
    assert load_config(path).source.request_delay == 0.5


def test_the_limits_themselves_are_accepted(tmp_path):
    """The bounds reject mistakes, not generous settings."""
    path = tmp_path / "presswatch.toml"
    path.write_text(
        "[source]\nmax_response_bytes = 1000000000\nrequest_delay = 0\nbackoff_base = 0\n"
        "list_path = '/{lang}/lists/news?menu_id=12'\ncontact = 'mailto:newsroom@example.org'\n"
        "[alerts]\nhorizon_days = 36500\n[health]\nsilent_hours = 876000\n",
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.source.max_response_bytes == 10**9 and config.alerts.horizon_days == 36500


# A sample through a real process: the exit code and the absence of a traceback are the process's.
PROCESS_CASES = ["latin-1 bytes", "table header for a number", "unknown table in a route", "infinite delay",
                 "integer beyond 64 bits", "negative backoff", "broken IPv6 host", "non-ASCII contact"]


@pytest.mark.slow
@pytest.mark.parametrize("name", PROCESS_CASES)
def test_through_a_real_process(tmp_path, name):
    content, key, problem = next(c[1:] for c in CASES if c[0] == name)
    path = tmp_path / "presswatch.toml"
    path.write_bytes(content)
    result = subprocess.run(
        # status, not crawl: were the config wrongly accepted, nothing would reach the network
        [sys.executable, "-m", "crawler", "status", "--config", str(path), "--store", str(tmp_path / "s.db")],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PRESSWATCH_CONFIG": ""},
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f": {key}: " in result.stderr and problem in result.stderr
    assert not (tmp_path / "s.db").exists()  # nothing was started
