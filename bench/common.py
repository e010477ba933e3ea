"""What the benchmarks share: the machine they ran on, and the mirror in a process of its own."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

# devsites/ (the local mirror) lives in the checkout, not in the installed package.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {dt.date.today().isoformat()}"


class MirrorProcess:
    """`python -m devsites.mirror` on a free port of 127.0.0.1, in its own process, so the server's
    work is not counted against the crawler's CPU time."""

    def __init__(self, *mirror_args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devsites.mirror", "--host", "127.0.0.1", "--port", "0", *mirror_args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
        )
        first = self.process.stdout.readline() if self.process.stdout else ""
        if " on http://127.0.0.1:" not in first:
            self.close()
            raise SystemExit(f"the mirror did not start: {first!r}")
        self.base_url = first.split(" on ", 1)[1].split()[0]

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
