"""Faults of the host the daemon runs on: DNS failing, the machine suspended.

A DNS failure is staged without leaving the machine. No resolver may be asked here, so the daemon process gets a `sitecustomize` that answers for one
made-up name: while a flag file exists, resolving it fails exactly as glibc does for an unknown
host (socket.gaierror EAI_NONAME); once the flag is gone the name resolves to 127.0.0.1, where the
mirror listens. Every other name goes to the real resolver, and nothing else asks for one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from forked_cli import CliProcess

from devsites.mirror import Mirror, sample_releases

pytestmark = pytest.mark.slow

HOST = "president.presswatch-test"

SITECUSTOMIZE = f'''
import os, socket
_real = socket.getaddrinfo
_flag = os.environ["PW_DNS_DOWN_FLAG"]

def getaddrinfo(host, port, *args, **kwargs):
    if host == {HOST!r}:
        if os.path.exists(_flag):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        host = "127.0.0.1"
    return _real(host, port, *args, **kwargs)

socket.getaddrinfo = getaddrinfo
'''


def runs(store: Path) -> list[tuple[str, str]]:
    if not store.exists():
        return []
    with sqlite3.connect(store) as db:
        try:
            return db.execute("select outcome, coalesce(message, '') from crawl_runs order by id").fetchall()
        except sqlite3.OperationalError:
            return []


def wait_for(condition, timeout: float, what: str, process: subprocess.Popen | CliProcess):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert process.poll() is None, f"the daemon exited while waiting for {what}"
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def daemon(config: Path, stderr, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen | CliProcess]:
    """`presswatch run` on `config`; killed at the end whatever happened. With `stderr` None, the
    process is forked with the CLI imported (tests/forked_cli.py) and its log discarded; otherwise it
    is `python -m crawler`, which also loads a sitecustomize from the PYTHONPATH of `env`."""
    env = env or {k: v for k, v in os.environ.items() if k != "PRESSWATCH_CONFIG"}
    if stderr is None:
        process = CliProcess(["run", "--config", str(config)], cwd=config.parent, env=env)
    else:
        process = subprocess.Popen([sys.executable, "-m", "crawler", "run", "--config", str(config)],
                                   cwd=config.parent, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


def test_dns_failure_is_survived_logged_once_per_run_and_recovered_from(tmp_path):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    flag = tmp_path / "dns-down"
    flag.touch()
    releases = sample_releases(3)
    with Mirror(releases, per_page=5) as mirror:
        config = tmp_path / "presswatch.toml"
        config.write_text(
            f'[source]\nbase_url = "http://{HOST}:{mirror.port}"\nlanguages = ["en"]\nrequest_delay = 0\n'
            f'max_attempts = 1\nobey_robots = false\n[store]\npath = "store.db"\n'
            f'[schedule]\ninterval_minutes = 0.01\njitter_seconds = 0\nstop_timeout_seconds = 3\n'
            f'[health]\nfailing_runs = 5\n',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if k != "PRESSWATCH_CONFIG"}
        env.update(PYTHONPATH=os.pathsep.join([str(hooks), env.get("PYTHONPATH", "")]),
                   PW_DNS_DOWN_FLAG=str(flag))
        log = tmp_path / "daemon.log"
        with open(log, "w", encoding="utf-8") as stderr, daemon(config, stderr, env) as process:
            store = tmp_path / "store.db"
            failed = wait_for(lambda: [r for r in runs(store) if r[0] == "failed"][2:], 30,
                              "three failed runs", process)
            assert all("Name or service not known" in message for _, message in failed)
            assert mirror.requests.count() == 0  # nothing reached the site while its name did not resolve
            flag.unlink()
            wait_for(lambda: any(r[0] == "ok" for r in runs(store)), 30, "a run after DNS came back", process)
            with sqlite3.connect(store) as db:
                assert db.execute("select count(*) from items").fetchone()[0] == 3
            process.terminate()
            assert process.wait(timeout=10) == 0
    text = log.read_text(encoding="utf-8")
    assert "Traceback" not in text
    failure_lines = [line for line in text.splitlines() if "Name or service not known" in line]
    assert len(failure_lines) == len([r for r in runs(tmp_path / "store.db") if r[0] == "failed"])


def test_a_suspended_host_makes_up_missed_runs_with_one_run_not_a_burst(tmp_path):
    """SIGSTOP stands in for a suspended laptop or VM: the clock runs on, the process does not."""
    with Mirror(sample_releases(2), per_page=5) as mirror:
        config = tmp_path / "presswatch.toml"
        config.write_text(
            f'[source]\nbase_url = "{mirror.base_url}"\nlanguages = ["en"]\nrequest_delay = 0\n'
            f'obey_robots = false\n[store]\npath = "store.db"\n'
            f'[schedule]\ninterval_minutes = 0.01\njitter_seconds = 0\nmisfire_grace_seconds = 60\n',
            encoding="utf-8",
        )
        store = tmp_path / "store.db"
        with daemon(config, None) as process:
            wait_for(lambda: len(runs(store)) >= 2, 30, "two runs", process)
            process.send_signal(signal.SIGSTOP)
            before = len(runs(store))
            time.sleep(4.0)  # more than six intervals go by
            process.send_signal(signal.SIGCONT)
            time.sleep(0.45)  # less than one interval: the make-up run and at most the next regular one
            after_wake = len(runs(store)) - before
            wait_for(lambda: len(runs(store)) >= before + 2, 30, "the schedule going on", process)
            process.terminate()
            assert process.wait(timeout=10) == 0
    # Six missed runs fired one after another would be six; coalesced they are one, and the interval
    # grid may put the next regular run inside the same 0.45 s.
    assert 1 <= after_wake <= 2, f"{after_wake} runs right after the wake-up; missed runs must coalesce"
