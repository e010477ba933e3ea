"""A store that cannot be used: one line naming the path and the reason, never a traceback, and
nothing created or changed that the user did not ask for; the same for every command.

Each fault is staged for real where this machine allows it: a path under /proc (a folder nobody can
create files in), a file used as a folder, another application's SQLite file, a store migrated by a
newer presswatch, read-only media (a read-only bind mount in a private mount namespace), a
read-only file (the immutable attribute, which stops root too) and a full store (SQLite's
max_page_count on the store's connection: a real SQLITE_FULL, "database or disk is full").
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.cli import main
from crawler.lock import StoreLock
from crawler.store import Store
from devsites.mirror import Mirror, sample_releases

RELEASES = sample_releases(6, first_id=9180)
FIRST_ID = RELEASES[0].id
READERS = (("status",), ("show", str(FIRST_ID)), ("search", "president"), ("export",), ("alerts", "list"))
WRITERS = (("crawl",), ("backfill", "--ids", str(FIRST_ID)), ("retag",), ("alerts", "retry", "--failed"))
EVERY_COMMAND = READERS + WRITERS
CREATORS = WRITERS[:2]  # the others need a store that exists
ROOT = Path(__file__).resolve().parent.parent


def write_config(folder: Path, base_url: str = "http://127.0.0.1:9") -> Path:
    """No politeness delay; port 9 (discard) when no mirror runs, so nothing can leave the machine."""
    path = folder / "presswatch.toml"
    path.write_text(f'[source]\nbase_url = "{base_url}"\nrequest_delay = 0.0\nbackoff_base = 0.01\n'
                    'languages = ["en"]\nmax_attempts = 1\n[store]\npath = "store.db"\n', encoding="utf-8")
    return path


def run(capsys, config: Path, *argv: str, store: Path | str | None = None) -> tuple[int, str, str]:
    extra = ["--store", str(store)] if store is not None else []
    code = main([*argv, "--config", str(config), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def only_line(err: str) -> str:
    """stderr without config warnings, progress and the start line: exactly one line, and no traceback."""
    lines = [line for line in err.splitlines() if "WARNING" not in line and not line.startswith("releases [")
             and not line.startswith(("crawl: ", "backfill: "))]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    return lines[0]


def files_in(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def ids(command: tuple[str, ...]) -> str:
    return " ".join(command)


# --- 1. a path that cannot hold a store ---------------------------------------------------------
@pytest.mark.parametrize("command", EVERY_COMMAND, ids=ids)
def test_a_missing_folder_is_named_not_made(tmp_path, capsys, command):
    config = write_config(tmp_path)
    store = tmp_path / "no" / "such" / "store.db"
    code, _, err = run(capsys, config, *command, store=store)
    assert (code, only_line(err)) == (
        4, f"presswatch: no folder {tmp_path}/no/such: create it first or choose another --store")
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=ids)
def test_a_file_where_a_folder_should_be(tmp_path, capsys, command):
    config = write_config(tmp_path)
    (tmp_path / "notes.txt").write_text("mine\n")
    before = files_in(tmp_path)
    code, _, err = run(capsys, config, *command, store=tmp_path / "notes.txt" / "store.db")
    assert (code, only_line(err)) == (
        4, f"presswatch: cannot use {tmp_path}/notes.txt/store.db: {tmp_path}/notes.txt is a file, not a folder; "
        "choose another --store")
    assert files_in(tmp_path) == before


@pytest.mark.parametrize("command", CREATORS, ids=ids)
def test_a_folder_where_no_file_can_be_created(tmp_path, capsys, command):
    """/proc/1 lets even root create nothing: the reason the system gives, in one line."""
    config = write_config(tmp_path)
    store = Path("/proc/1/presswatch-test.db")
    code, _, err = run(capsys, config, *command, store=store)
    assert (code, only_line(err)) == (4, f"presswatch: cannot create {store}: no such file or directory")
    assert not Path(f"{store}.lock").exists()


@pytest.mark.parametrize("command", READERS + WRITERS[2:], ids=ids)
def test_a_command_needing_a_store_where_none_is(tmp_path, capsys, command):
    config = write_config(tmp_path)
    store = Path("/proc/1/presswatch-test.db")
    code, _, err = run(capsys, config, *command, store=store)
    assert (code, only_line(err)) == (
        1, f"presswatch: no store at {store} yet: run `presswatch crawl` first (or pass --store PATH)")


# --- 2. a file that is not a presswatch store is never changed -----------------------------------
@pytest.mark.parametrize("command", EVERY_COMMAND, ids=ids)
def test_a_file_that_is_not_sqlite(tmp_path, capsys, command):
    config = write_config(tmp_path)
    store = tmp_path / "notes.db"
    store.write_text("not a database\n" * 50)
    before = files_in(tmp_path)
    code, _, err = run(capsys, config, *command, store=store)
    assert (code, only_line(err)) == (
        4, f"presswatch: cannot use {store}: it is not a SQLite database, so not a presswatch store; "
        "choose another --store")
    assert files_in(tmp_path) == before  # no -wal, -shm or .lock beside it either


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=ids)
def test_another_applications_database_is_left_as_it_was(tmp_path, capsys, command):
    """Before: `status` switched it to WAL and added some 50 tables."""
    config = write_config(tmp_path)
    store = tmp_path / "accounts.db"
    with sqlite3.connect(store) as conn:
        conn.execute("create table customers (id integer primary key, name text)")
        conn.execute("insert into customers (name) values ('Ada')")
    conn.close()
    before = files_in(tmp_path)
    code, _, err = run(capsys, config, *command, store=store)
    assert (code, only_line(err)) == (
        4, f"presswatch: cannot use {store}: it is another application's SQLite database (no presswatch tables); "
        "left unchanged, choose another --store")
    assert files_in(tmp_path) == before
    conn = sqlite3.connect(store)
    assert conn.execute("pragma journal_mode").fetchone()[0] == "delete"
    assert conn.execute("select name from sqlite_master").fetchall() == [("customers",)]
    conn.close()


def make_newer_store(path: Path) -> None:
    with Store.open(path) as store, store.atomic() as db:
        db["_sqlite_migrations"].insert({"migration_set": "presswatch", "name": "m999_from_the_future",
                                         "applied_at": "2030-01-01 00:00:00+00:00"})


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=ids)
def test_a_store_a_newer_presswatch_wrote_is_refused_by_every_command(tmp_path, capsys, command):
    """Before: crawl, status and show reported success on it."""
    config = write_config(tmp_path)
    make_newer_store(tmp_path / "store.db")
    before = files_in(tmp_path)
    code, _, err = run(capsys, config, *command)
    line = only_line(err)
    assert code == 4
    assert line.startswith(f"presswatch: cannot use {tmp_path}/store.db: a newer presswatch wrote it "
                           "(migration m999_from_the_future is unknown to presswatch ")
    assert line.endswith("); upgrade presswatch to use it")
    assert files_in(tmp_path) == before


def presswatch(*argv: str, cwd: Path, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`python -m crawler ...` as its own process (behind `prefix`), with this checkout's code."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run([*prefix, sys.executable, "-m", "crawler", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("case", ["missing folder", "newer store"])
def test_the_daemon_exits_4_with_one_line(tmp_path, case):
    """`run` under systemd: exit 4, which the unit's RestartPreventExitStatus keeps from looping."""
    config = write_config(tmp_path)
    if case == "newer store":
        make_newer_store(tmp_path / "store.db")
        store = tmp_path / "store.db"
    else:
        store = tmp_path / "missing" / "store.db"
    result = presswatch("run", "--config", str(config), "--store", str(store), cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "cannot use" in line or "no folder" in line]
    assert len(lines) == 1, result.stderr
    unit = (ROOT / "config" / "presswatch.service").read_text()
    assert "RestartPreventExitStatus=2 4" in unit


# --- 3. read-only media, a read-only file --------------------------------------------------------
@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> Path:
    """A folder holding a config and a store with every sample release in English."""
    folder = tmp_path_factory.mktemp("crawled")
    with Mirror(RELEASES, per_page=12) as mirror:
        config = write_config(folder, mirror.base_url)
        assert main(["crawl", "--config", str(config)]) == 0
    return folder


def copy_of(crawled: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "store"
    shutil.copytree(crawled, folder)
    return folder


def read_only_mount(folder: Path) -> tuple[str, ...]:
    """A prefix that runs a command in a private mount namespace where `folder` is read-only."""
    script = f'mount --bind "{folder}" "{folder}" && mount -o remount,bind,ro "{folder}" && exec "$@"'
    prefix = ("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh")
    probe = subprocess.run([*prefix, "sh", "-c", f'! touch "{folder}/probe" 2>/dev/null'], capture_output=True)
    if probe.returncode != 0 or (folder / "probe").exists():
        pytest.skip("no private mount namespace with a read-only bind mount here (needs CAP_SYS_ADMIN)")
    return prefix


def test_read_only_media_readers_read_and_writers_exit_4(crawled, tmp_path):
    folder = copy_of(crawled, tmp_path)
    prefix = read_only_mount(folder)
    before = files_in(folder)
    config = str(folder / "presswatch.toml")

    status = presswatch("status", "--json", "--config", config, cwd=tmp_path, prefix=prefix)
    assert status.returncode == 0, status.stderr
    assert f'"releases": {len(RELEASES)}' in status.stdout
    show = presswatch("show", str(FIRST_ID), "--config", config, cwd=tmp_path, prefix=prefix)
    assert show.returncode == 0, show.stderr
    assert RELEASES[0].versions["en"].title in show.stdout
    export = presswatch("export", "--format", "jsonl", "--config", config, cwd=tmp_path, prefix=prefix)
    assert export.returncode == 0, export.stderr
    assert len(export.stdout.splitlines()) == len(RELEASES)

    expected = (f"presswatch: cannot write to {folder}/store.db: its folder {folder} is read-only (read-only media or "
                "no write permission); commands that only read (status, show, search, export, feed) still work")
    for command in (("crawl",), ("run",), ("retag",)):
        result = presswatch(*command, "--config", config, cwd=tmp_path, prefix=prefix)
        assert result.returncode == 4, result.stderr
        assert only_line(result.stderr) == expected
    assert files_in(folder) == before


@pytest.fixture
def immutable(tmp_path):
    """`chattr +i`: a file nobody, root included, can write until the attribute is taken away."""
    marked: list[Path] = []

    def mark(path: Path) -> None:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode != 0:
            pytest.skip("chattr +i is not available on this file system")
        marked.append(path)

    yield mark
    for path in marked:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_file_is_read_and_refused_to_writers(crawled, tmp_path, capsys, immutable):
    folder = copy_of(crawled, tmp_path)
    config = folder / "presswatch.toml"
    immutable(folder / "store.db")
    before = files_in(folder)

    code, out, err = run(capsys, config, "show", str(FIRST_ID))
    assert code == 0, err
    assert RELEASES[0].versions["en"].title in out
    code, out, err = run(capsys, config, "status")
    assert code == 0, err
    assert f"releases: {len(RELEASES)}" in out
    for command in WRITERS:
        code, _, err = run(capsys, config, *command)
        assert (code, only_line(err)) == (
            4, f"presswatch: cannot write to {folder}/store.db: the file is read-only; commands that only read "
            "(status, show, search, export, feed) still work")
    assert files_in(folder) == before


# --- 4. a full disk ---------------------------------------------------------------------------------
@pytest.fixture
def full_store(monkeypatch):
    """While on: every store opened can grow by no page (PRAGMA max_page_count: SQLITE_FULL)."""
    real_open = Store.open.__func__

    def open_full(cls, path, **options):
        store = real_open(cls, path, **options)
        pages = store.db.execute("pragma page_count").fetchone()[0]
        store.db.execute(f"pragma max_page_count = {pages}")
        return store

    def switch(on: bool) -> None:
        if on:
            monkeypatch.setattr(Store, "open", classmethod(open_full))
        else:
            monkeypatch.setattr(Store, "open", classmethod(real_open))

    return switch


@pytest.mark.parametrize("command", [("crawl",), ("backfill", "--ids", f"{RELEASES[3].id}-{RELEASES[-1].id}")],
                         ids=ids)
def test_a_full_disk_is_one_line_and_status_turns_unhealthy(tmp_path, capsys, full_store, command):
    with Mirror(RELEASES[:3], per_page=12) as mirror:
        config = write_config(tmp_path, mirror.base_url)
        assert run(capsys, config, "crawl")[0] == 0
        for release in RELEASES[3:]:
            mirror.publish(release)

        full_store(True)
        code, _, err = run(capsys, config, *command)
        assert (code, only_line(err)) == (
            1, f"presswatch: the store {tmp_path}/store.db is full (database or disk is full): "
            "free disk space, then run again")
        full_store(False)

        with Store.open(tmp_path / "store.db") as store:
            assert store.current_run_kind("president.uz") is None  # no run left 'running'
        code, out, _ = run(capsys, config, "status")
        assert code == 1
        assert "  store: the last write failed: " in out and "is full (database or disk is full)" in out, out

        # Space again: the next run succeeds and status is healthy again.
        assert run(capsys, config, *command)[0] == 0
        code, out, _ = run(capsys, config, "status")
        assert code == 0, out


def test_a_run_left_running_by_a_dead_process_makes_status_unhealthy(tmp_path, capsys):
    config = write_config(tmp_path)
    with Store.open(tmp_path / "store.db") as store:
        run_id = store.start_run("crawl", "president.uz")  # and the process "dies": nothing closes the run

    with StoreLock(tmp_path / "store.db"):  # a live writer: its run is in progress, not a problem
        code, out, _ = run(capsys, config, "status")
        assert code == 0, out

    code, out, _ = run(capsys, config, "status")
    assert code == 1
    assert f"  store: crawl run {run_id} started " in out
    assert "was left running: its process ended without recording how (killed, or the disk full)" in out
