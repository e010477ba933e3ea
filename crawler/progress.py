"""A progress bar on stderr for long work, with rate and ETA: on a terminal only.

Without a terminal (a pipe, a log file, journald) it writes nothing: a line every few seconds
would only bury the log's events. The commands say once at the start what they will do instead.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_REDRAW_SECONDS = 0.1


class Progress:
    def __init__(self, label: str, total: int | None = None, *, enabled: bool = True,
                 stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.enabled and _is_terminal(self.stream)
        self.started = time.monotonic()
        self._drawn_at = float("-inf")

    def advance(self, count: int = 1, note: str = "") -> None:
        self.done += count
        if not self.tty:
            return
        now = time.monotonic()
        # Redrawn at most ten times a second (a fast loop would spend its time on the terminal).
        if now - self._drawn_at >= _REDRAW_SECONDS or self.done == self.total:
            self._drawn_at = now
            self._write(self._line(now, note))

    def _line(self, now: float, note: str) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        if self.total:
            width = 24
            filled = int(width * min(self.done, self.total) / self.total)
            remaining = (self.total - self.done) / rate if rate > 0 else 0
            bar = "#" * filled + "-" * (width - filled)
            text = f"{self.label} [{bar}] {self.done}/{self.total} {rate:.1f}/s ETA {remaining:.0f}s"
        else:
            text = f"{self.label} {self.done} {rate:.1f}/s"
        return f"{text} {note}".rstrip()

    def _write(self, text: str) -> None:
        self.stream.write("\r\x1b[K" + text[:200])
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-less stream
        return False
