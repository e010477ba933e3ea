"""A progress line on stderr for long work: rate and ETA on a terminal, a line every 10 s elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int | None = None, *, enabled: bool = True,
                 stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.enabled and self.stream.isatty()
        self.started = time.monotonic()
        self._last_line = 0.0

    def advance(self, count: int = 1, note: str = "") -> None:
        self.done += count
        if not self.enabled:
            return
        now = time.monotonic()
        if not self.tty and now - self._last_line < 10 and self.done != self.total:
            return
        self._last_line = now
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
        if self.tty:
            self.stream.write("\r\x1b[K" + text[:200])
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()
