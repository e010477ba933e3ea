"""SIGKILL at random moments of a backfill: the store survives every kill, and nothing is stored twice.

A `presswatch backfill` process crawls the mirror (small latency on release pages) and is killed
in the middle of its work, 30 times over one store; each is forked with the CLI already imported
(tests/forked_cli.py), so a trial pays for its work, not for Python's start-up. Before each trial
the mirror reveals a few more, older releases at the end of its lists, so every trial has fresh
work to be killed in the middle of. After each kill the store must pass SQLite's integrity check
and its own invariants (FTS index in sync, every stored version tagged in its own transaction, no
run left 'running' once the next run started). At the end one uninterrupted backfill (`python -m
crawler`, without the latency) must complete and every release version must be stored exactly
once, with no spurious edit.

Each kill is tied to the process's observed progress, not to a delay since its start (start-up
alone takes seconds on a loaded machine): it lands once the process holds the store's lock, or once
the mirror has answered its j-th list page or its k-th release page, plus a random fraction of one
release page's latency. So the kills hit opening the store, the list walk, a fetch or a commit on a
slow machine as on a fast one, and every kill after the 2nd release page has something stored.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from forked_cli import CliProcess

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
RELEASE_LATENCY = 0.02
# Where the kills land, trials per kind (shuffled), and the range of the count of answered requests
# a kill waits for: at the lock (opening the store, migrations, closing the last run); after the
# j-th list page (every trial walks at least one language's lists from page 1, 4 pages or more);
# after the k-th release page (every trial has 16 or more to fetch; from the 2nd on, the previous
# one is committed).
KILLS = {"lock": 5, "lists": 7, "releases": 18}
AFTER = {"lock": (0, 0), "lists": (1, 3), "releases": (2, 12)}
# Bounds on waiting for a process to get somewhere: generous, a loaded machine is slow.
TRIAL_TIMEOUT = 60.0
SEED = int(os.environ.get("PW_CRASH_SEED", "20261125"))


@dataclass(frozen=True)
class Kill:
    """Where one trial's kill lands: `after` answered requests of its kind (none at the lock), then
    `jitter` seconds more, a random point within the next step."""

    kind: str
    after: int
    jitter: float

    @property
    def marker(self) -> str:
        return "/lists/news" if self.kind == "lists" else "/lists/view/"

    def __str__(self) -> str:
        return f"{self.kind} {self.after} + {self.jitter * 1000:.0f} ms"


def plan_kills(rng: random.Random) -> list[Kill]:
    kinds = [kind for kind, trials in KILLS.items() for _ in range(trials)]
    rng.shuffle(kinds)
    return [Kill(kind, rng.randint(*AFTER[kind]), rng.uniform(0, RELEASE_LATENCY)) for kind in kinds]


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


def wait_until(process: CliProcess, reached: Callable[[], bool], what: str) -> bool:
    """Until `reached()` (True) or the process has ended (False); fails after TRIAL_TIMEOUT."""
    deadline = time.monotonic() + TRIAL_TIMEOUT
    while time.monotonic() < deadline:
        if reached():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.002)
    pytest.fail(f"no {what} within {TRIAL_TIMEOUT} s")


def holds_lock(process: CliProcess, lock: Path) -> bool:
    """The lock file names the pid of its holder."""
    try:
        return lock.read_text(encoding="ascii").strip() == str(process.pid)
    except OSError:
        return False


def answered(mirror: Mirror, since: int, marker: str) -> int:
    return sum(marker in entry.path for entry in mirror.requests.snapshot()[since:])


def wait_until_mirror_idle(mirror: Mirror) -> None:
    """Until the mirror has finished with a killed process: a request it had in hand is logged
    when answered, and its handler closes the connection right after (the client is gone)."""
    deadline = time.monotonic() + TRIAL_TIMEOUT
    while time.monotonic() < deadline:
        if not mirror.open_connections:
            return
        time.sleep(0.005)
    pytest.fail(f"the mirror still serves a killed process after {TRIAL_TIMEOUT} s")


def kill_after_progress(argv: list[str], lock: Path, mirror: Mirror, kill: Kill) -> int:
    """Run `presswatch ARGV`, SIGKILL it where `kill` says unless it ended before; its exit code."""
    process = CliProcess(argv)
    try:
        running = wait_until(process, lambda: holds_lock(process, lock), "store lock")
        since = len(mirror.requests)  # the previous process's requests are all logged by now
        if running and kill.after:
            running = wait_until(process, lambda: answered(mirror, since, kill.marker) >= kill.after, str(kill))
        if running:
            time.sleep(kill.jitter)
            os.kill(process.pid, signal.SIGKILL)
        return process.wait(timeout=TRIAL_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=TRIAL_TIMEOUT)
        wait_until_mirror_idle(mirror)


@pytest.mark.timeout(600)  # each wait is bounded; a loaded machine may need far more than the usual 40 s
def test_sigkill_at_random_moments_never_corrupts_or_duplicates(tmp_path):
    kills = plan_kills(random.Random(SEED))
    revealed = INITIAL
    with Mirror(POOL[-INITIAL:], per_page=PER_PAGE) as mirror:
        latency = mirror.add_fault(lambda path: "/lists/view/" in path, Latency(RELEASE_LATENCY))
        config = write_config(tmp_path, mirror.base_url)
        store = tmp_path / "store.db"
        argv = ["backfill", "--pages", str(PAGES), "--config", str(config)]
        killed = progressed = 0
        counts = [0]
        for trial, kill in enumerate(kills):
            for release in POOL[-revealed - PER_TRIAL : -revealed]:
                mirror.publish(release)
            revealed += PER_TRIAL
            code = kill_after_progress(argv, tmp_path / "store.db.lock", mirror, kill)
            assert code in (0, -signal.SIGKILL), f"trial {trial} ({kill}): exit {code}"
            killed += code == -signal.SIGKILL
            if store.exists():
                counts.append(check_store(store)["items"])
                progressed += counts[-1] > counts[-2]
                if kill.kind == "releases":  # a kill after the 2nd release page follows a commit
                    assert counts[-1] > counts[-2], f"trial {trial} ({kill}) stored nothing"

        # Every kill landed in the middle of a run (each had more work than its kill waited for),
        # and most of them in one that was storing releases, or this test would prove little.
        assert killed == TRIALS, f"only {killed} of {TRIALS} runs were killed"
        assert progressed >= TRIALS // 2, f"only {progressed} of {TRIALS} runs stored anything"
        print(f"\nSIGKILL backfill test: {killed} of {TRIALS} runs killed ({KILLS}), {progressed} stored something")

        # The latency only spreads the kills over a release fetch; the run nobody kills goes without.
        mirror.remove_fault(latency)
        mirror.requests.clear()
        # The last run is `python -m crawler` as a user starts it.
        final = subprocess.run([sys.executable, "-m", "crawler", *argv], capture_output=True, text=True, timeout=120)
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
