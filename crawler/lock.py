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

from crawler.model import PresswatchError


class StoreLocked(PresswatchError):
    """Another presswatch process writes to this store."""

    kind = "locked"


def _try_flock(path: Path) -> int | None:
    """An open descriptor holding an exclusive lock on `path`, or None when another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
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

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "StoreLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


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
