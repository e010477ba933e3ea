"""`presswatch` commands as their own processes, forked from a server that has imported the CLI once.

The SIGKILL tests start a command 30 times or more. As `python -m crawler`, each start pays the
interpreter's start-up and the import of every presswatch module and its libraries: about half a
second on an idle machine, well over a second on a busy one, more than the work the trial kills.
A `CliProcess` is still a separate process that runs `crawler.cli.main(argv)` from its beginning,
in the working directory and environment it is given, with its own store connection, lock,
sockets, signals and exit status; only the imports happened before the fork, in
multiprocessing's fork server (a single-threaded process that never runs a command; what it
imports is tests/forked_cli_preload.py). Its exit
code is `main`'s, or minus the signal that ended it, as with `subprocess.Popen`.
`python -m crawler` itself is still started where the test is about the process as a user
starts it (the final uninterrupted runs, test_cli's entry-point test).
"""

from __future__ import annotations

import importlib
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

_PRELOAD = ["forked_cli_preload", __name__]
_context: multiprocessing.context.BaseContext | None = None


def _fork_server() -> multiprocessing.context.BaseContext:
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        # The fork server is a new interpreter that imports _PRELOAD, quietly skipping what it cannot
        # find; Python 3.11 does not hand it this process's sys.path, so its PYTHONPATH names this
        # folder and the checkout (as the tests import it) for as long as it starts.
        here = Path(__file__).resolve().parent
        checkout = Path(importlib.import_module("crawler").__file__).resolve().parents[1]
        inherited = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join([str(here), str(checkout), *([inherited] if inherited else [])])
        try:
            multiprocessing.forkserver.ensure_running()
        finally:
            if inherited is None:
                del os.environ["PYTHONPATH"]
            else:
                os.environ["PYTHONPATH"] = inherited
        _context = context
    return _context


def _redirect(fd: int, path: str | None) -> None:
    """Point `fd` at `path` (appended to) or at /dev/null, as Popen(stdout=file or DEVNULL) does."""
    target = os.open(path or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(target, fd)
    os.close(target)


def _run(argv: list[str], cwd: str, env: dict[str, str], stdout: str | None, stderr: str | None) -> None:
    """The child: what `python -m crawler ARGV` does once its imports are done."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    _redirect(1, stdout)
    _redirect(2, stderr)
    from crawler.cli import main

    sys.exit(main(argv))


class CliProcess:
    """`presswatch ARGV` started now; the part of `subprocess.Popen`'s interface the tests use."""

    def __init__(self, argv: Sequence[str], *, cwd: str | Path | None = None,
                 env: Mapping[str, str] | None = None, stdout: str | Path | None = None,
                 stderr: str | Path | None = None) -> None:
        self.args = list(argv)
        self._process = _fork_server().Process(
            target=_run, daemon=False,
            args=(self.args, str(cwd or os.getcwd()), dict(os.environ if env is None else env),
                  None if stdout is None else str(stdout), None if stderr is None else str(stderr)))
        self._process.start()
        self.pid: int = self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self._process.exitcode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
