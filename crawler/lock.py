"""File locks beside the store: one writer per store (`<store>.lock`), one alert delivery pass at a
time (`<store>.alerts.lock`).

flock() locks belong to the open file description, so the kernel drops them when the process dies:
a lock left by a killed process is recovered simply by the next process taking it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from crawler.clock import now_utc
from crawler.model import PresswatchError, StoreUnusable


class StoreLocked(PresswatchError):
    """Another presswatch process writes to this store."""

    kind = "locked"


def _try_flock(path: Path) -> int | None:
    """An open descriptor holding an exclusive lock on `path`, or None when another process holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreUnusable(f"cannot create the lock file {path}: {(exc.strerror or str(exc)).lower()}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class StoreLock:
    """The writer's lock; the holder's pid is written into the file for the message others see."""

    def __init__(self, store_path: str | os.PathLike[str]) -> None:
        self.path = Path(f"{store_path}.lock")
        self._fd: int | None = None

    def acquire(self) -> "StoreLock":
        fd = _try_flock(self.path)
        if fd is None:
            try:
                holder = self.path.read_text("ascii", "replace").strip() or "another process"
            except OSError:
                holder = "another process"
            raise StoreLocked(
                f"the store {str(self.path)[:-5]} is in use by presswatch (pid {holder}); "
                "one process writes to a store at a time"
            )
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd
        return self

    def note_failure(self, reason: str) -> None:
        """Keep, beside the pid, why this writer could not write to the store (a full disk): the
        store itself cannot say it, and `status` reads it here (`last_write_failure`). The next
        writer to take the lock clears it. Best effort: a few bytes in a block the file already has."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.write(self._fd, f"\n{now_utc()} {reason}".replace("\r", " ").encode("utf-8", "replace")[:2000])

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "StoreLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def last_write_failure(store_path: str | os.PathLike[str]) -> str | None:
    """What the last writer noted when it could not write to the store (`note_failure`), or None."""
    try:
        text = Path(f"{store_path}.lock").read_text("utf-8", "replace")
    except OSError:
        return None
    _pid, _, note = text.partition("\n")
    return note.strip() or None


@contextlib.contextmanager
def try_lock(path: str | os.PathLike[str] | None) -> Iterator[bool]:
    """True while this process holds the lock file `path`; False when another one does.
    No path (an in-memory store): always True."""
    if path is None:
        yield True
        return
    fd = _try_flock(Path(path))
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)


def writer_active(store_path: str | os.PathLike[str]) -> bool:
    """True while some process holds the store's writer lock.

    Read from /proc/locks rather than by trying the lock: even a shared lock taken for a moment
    would make a writer starting in that moment exit 3. Where /proc/locks cannot be read, the pid
    written into the lock file is asked whether it still runs."""
    path = Path(f"{store_path}.lock")
    try:
        info = path.stat()
    except OSError:
        return False  # no writer ever took it
    held = _flock_held(info)
    if held is not None:
        return held
    try:
        pid = int(path.read_text("ascii").strip() or 0)
    except (OSError, ValueError):
        return False
    return pid > 0 and pid_alive(pid)


def _flock_held(info: os.stat_result) -> bool | None:
    """Whether /proc/locks lists a lock on this file (None when it cannot be read)."""
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            return any(device in line.split() for line in locks)
    except OSError:
        return None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
