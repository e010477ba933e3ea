"""Headless Chromium driven over the DevTools protocol through a pipe: no extra dependency.

`--remote-debugging-pipe` makes Chromium read JSON commands from fd 3 and write answers and events
to fd 4, each message ended by a NUL byte. A reader thread queues what arrives; every wait is for a
named answer or event and gives up at a deadline, saying what it waited for. Used by the browser
tests (tests/test_web_browser.py) and by `python -m devsites.screenshots`.
"""

from __future__ import annotations

import base64
import fcntl
import itertools
import json
import os
import queue
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
WAIT_SECONDS = 60  # the longest any one answer or event is waited for (a busy machine included)


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with one page. Use as a context manager: the process always ends."""

    def __init__(self, executable: str = CHROMIUM, width: int = 1280, height: int = 900) -> None:
        if not Path(executable).exists():
            raise FileNotFoundError(f"{executable} is not installed (Debian package `chromium`)")
        self._profile = tempfile.TemporaryDirectory()
        self._log = tempfile.TemporaryFile()  # a file, not a pipe: Chromium's chatter can never block it
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def as_fds_3_and_4() -> None:
            # Move both ends out of the way first, so that neither is overwritten by the other.
            reading = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            writing = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(reading, 3)
            os.dup2(writing, 4)

        self.process = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions", "--hide-scrollbars", "--mute-audio", f"--window-size={width},{height}",
             f"--user-data-dir={self._profile.name}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log,
            preexec_fn=as_fds_3_and_4, pass_fds=(3, 4),  # noqa: PLW1509 - only dup2 runs in the child
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._ids = itertools.count(1)
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._pending: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")

    # --- the pipe -------------------------------------------------------------------------------
    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                self._messages.put(None)  # the browser closed its end: it is gone
                return
            buffer += chunk
            *complete, buffer = buffer.split(b"\0")
            for message in complete:
                self._messages.put(json.loads(message))

    def _next(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        try:
            message = self._messages.get(timeout=max(remaining, 0.001))
        except queue.Empty:
            raise BrowserError(f"no {waiting_for} from Chromium within {WAIT_SECONDS} s") from None
        if message is None:
            self._log.seek(0)
            raise BrowserError(f"Chromium exited while waiting for {waiting_for}: "
                               f"{self._log.read().decode(errors='replace')[-2000:]}")
        return message

    def call(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its answer (events that arrive meanwhile are kept)."""
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            answer = self._next(deadline, f"answer to {method}")
            if answer.get("id") == message_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error'].get('message')}")
                return answer.get("result", {})
            self._pending.append(answer)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """A command to the page."""
        return self.call(method, session=True, **params)

    def wait_for(self, event: str) -> dict[str, Any]:
        """The next `event` of the page (one already received counts)."""
        for index, message in enumerate(self._pending):
            if message.get("method") == event:
                return self._pending.pop(index)
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            message = self._next(deadline, f"event {event}")
            if message.get("method") == event:
                return message
            self._pending.append(message)

    # --- what tests do --------------------------------------------------------------------------
    def _forget(self, event: str) -> None:
        self._pending = [m for m in self._pending if m.get("method") != event]
        while not self._messages.empty():
            message = self._messages.get_nowait()
            if message is None:
                self._messages.put(None)
                return
            if message.get("method") != event:
                self._pending.append(message)

    def open(self, url: str) -> None:
        """Load `url` and wait until its load event."""
        self._forget("Page.loadEventFired")
        answer = self.send("Page.navigate", url=url)
        if answer.get("errorText"):
            raise BrowserError(f"cannot open {url}: {answer['errorText']}")
        self.wait_for("Page.loadEventFired")

    def navigate_by(self, script: str) -> None:
        """Run `script`, which makes the page navigate (a click, a form submitted); wait for the new page."""
        self._forget("Page.loadEventFired")
        self.evaluate(script)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        answer = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in answer:
            raise BrowserError(f"script failed: {answer['exceptionDetails'].get('text')}: "
                               f"{answer['exceptionDetails'].get('exception', {}).get('description', '')}")
        return answer["result"].get("value")

    def viewport(self, width: int, height: int = 900, mobile: bool = False) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=mobile)

    def screenshot(self, path: Path, full_page: bool = True) -> None:
        options: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            width, height = self.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            options["clip"] = {"x": 0, "y": 0, "width": width, "height": min(height, 4000), "scale": 1}
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", **options)["data"]))

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                try:
                    self.call("Browser.close")
                except BrowserError:
                    pass
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            for fd in (self._to_browser, self._from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._profile.cleanup()
            self._log.close()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
