"""SIGKILL at random moments of a backfill: the store survives every kill, and nothing is stored twice.

A `presswatch backfill` subprocess crawls the mirror (small latency on release pages) and is killed
after a random delay, 30 times over one store. Before each trial the mirror reveals a few more,
older releases at the end of its lists, so every trial has fresh work to be killed in the middle
of. After each kill the store must pass SQLite's integrity check and its own invariants (FTS index
in sync, every stored version tagged in its own transaction, no run left 'running' once the next
run started). At the end one uninterrupted backfill must complete and every release version must
be stored exactly once, with no spurious edit.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devsites.mirror import Latency, Mirror, sample_releases

pytestmark = pytest.mark.slow

TRIALS = 30
LANGS = ("uz", "en")
PER_PAGE = 10
INITIAL = 30  # releases published before the first trial
PER_TRIAL = 8  # older releases revealed before each trial (16 release pages of work)
# Oldest first; the mirror starts with the newest INITIAL and reveals older ones trial by trial.
POOL = sample_releases(INITIAL + PER_TRIAL * TRIALS, first_id=8800)
PAGES = -(-len(POOL) // PER_PAGE)
# A kill lands KILL_AFTER[0] to KILL_AFTER[1] seconds after the process took the store's lock
# (start-up takes half a second or more, and longer on a loaded machine: counting from the lock
# keeps the kills in the run), so they hit opening the store, the list walk, a fetch or a commit.
KILL_AFTER = (0.0, 0.9)
TRIAL_TIMEOUT = 20.0
SEED = int(os.environ.get("PW_CRASH_SEED", "20261125"))


def write_config(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "presswatch.toml"
    langs = ", ".join(f'"{lang}"' for lang in LANGS)
    path.write_text(
        f'[source]\nbase_url = "{base_url}"\nrequest_delay = 0.0\nbackoff_base = 0.01\nlanguages = [{langs}]\n'
        f'read_timeout = 5.0\n[store]\npath = "store.db"\n',
        encoding="utf-8",
    )
    return path


def check_store(path: Path) -> dict[str, int]:
    """SQLite's integrity check and the store's own invariants; returns a few counts."""
    conn = sqlite3.connect(path, timeout=10)
    try:
        assert conn.execute("pragma integrity_check").fetchall() == [("ok",)]
        assert conn.execute("pragma foreign_key_check").fetchall() == []
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
        if "items" not in tables:  # killed before the first migration committed
            return {"items": 0}
        # The FTS index is kept by triggers in the same transaction as the row: never out of step.
        conn.execute("insert into items_fts(items_fts) values ('integrity-check')")
        duplicates = conn.execute("select id, lang from items group by id, lang having count(*) > 1").fetchall()
        assert duplicates == []
        columns = {r[1] for r in conn.execute("pragma table_info(items)")}
        if "topics_fingerprint" in columns:
            # Tags are written in the transaction that stores the version: none is left untagged.
            untagged = conn.execute("select count(*) from items where topics_fingerprint is null").fetchone()[0]
            assert untagged == 0
        assert conn.execute("select count(*) from item_versions").fetchone()[0] == 0
        return {"items": conn.execute("select count(*) from items").fetchone()[0]}
    finally:
        conn.close()


def wait_for_lock(process: subprocess.Popen, lock: Path) -> None:
    """Until `process` holds the store's lock (the lock file names its pid), or has ended."""
    deadline = time.monotonic() + TRIAL_TIMEOUT
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if lock.read_text(encoding="ascii").strip() == str(process.pid):
                return
        except OSError:
            pass
        time.sleep(0.005)


def kill_at_random(command: list[str], lock: Path, delay: float) -> int:
    """Run `command`, SIGKILL it `delay` seconds after it took the lock unless it ended; its exit code."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_lock(process, lock)
        try:
            return process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            return process.wait(timeout=TRIAL_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=TRIAL_TIMEOUT)


def test_sigkill_at_random_moments_never_corrupts_or_duplicates(tmp_path):
    rng = random.Random(SEED)
    revealed = INITIAL
    with Mirror(POOL[-INITIAL:], per_page=PER_PAGE) as mirror:
        mirror.add_fault(lambda path: "/lists/view/" in path, Latency(0.02))
        config = write_config(tmp_path, mirror.base_url)
        store = tmp_path / "store.db"
        command = [sys.executable, "-m", "crawler", "backfill", "--pages", str(PAGES), "--config", str(config)]
        started = time.monotonic()
        killed = progressed = 0
        counts = [0]
        for trial in range(TRIALS):
            for release in POOL[-revealed - PER_TRIAL : -revealed]:
                mirror.publish(release)
            revealed += PER_TRIAL
            code = kill_at_random(command, tmp_path / "store.db.lock", rng.uniform(*KILL_AFTER))
            assert code in (0, -signal.SIGKILL), f"trial {trial}: exit {code}"
            killed += code == -signal.SIGKILL
            if store.exists():
                counts.append(check_store(store)["items"])
                progressed += counts[-1] > counts[-2]
            assert time.monotonic() - started < 90, "the trials take far longer than planned"

        # Most kills must have landed in the middle of a run that was making progress, or this
        # test proves little.
        assert killed >= TRIALS * 2 // 3, f"only {killed} of {TRIALS} runs were killed"
        assert progressed >= TRIALS // 2, f"only {progressed} of {TRIALS} runs stored anything"

        # A request of the last killed process may still be in the mirror's hands (it is logged
        # when it is answered, after the injected latency): let it land before counting.
        time.sleep(0.5)
        mirror.requests.clear()
        final = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr
        assert final.stdout.startswith("backfill run") and ": ok;" in final.stdout
        stored_before_final = counts[-1]

    check_store(store)
    conn = sqlite3.connect(store)
    try:
        rows = conn.execute("select id, lang, count(*), max(version) from items group by id, lang").fetchall()
        assert all(count == 1 and version == 1 for _, _, count, version in rows)
        assert {(r[0], r[1]) for r in rows} == {(r.id, lang) for r in POOL for lang in LANGS}
        assert conn.execute("select count(*) from item_versions").fetchone()[0] == 0
        outcomes = [r[0] for r in conn.execute("select outcome from crawl_runs order by id")]
        # Every killed run was closed by the next one. A kill during start-up left no run at all,
        # and one between the run's last commit and the process's exit left an 'ok' run.
        assert set(outcomes) <= {"interrupted", "ok"} and outcomes[-1] == "ok"
        assert outcomes.count("interrupted") <= killed
        assert outcomes.count("ok") >= 1 + TRIALS - killed
    finally:
        conn.close()
    # The final run fetched only what the killed ones had not stored.
    fetched = [p for p in mirror.requests.paths() if "/lists/view/" in p]
    assert len(fetched) == len(set(fetched)) == len(POOL) * len(LANGS) - stored_before_final, final.stderr
