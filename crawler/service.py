"""systemd's notify protocol for `presswatch run` (Type=notify, WatchdogSec=; docs/SERVICE.md).

sd_notify(3) is one datagram of `NAME=value` lines to the AF_UNIX socket named by $NOTIFY_SOCKET
(a path, or an abstract name written with a leading '@'). Without $NOTIFY_SOCKET every call does
nothing, so the daemon runs the same by hand, in tests and under Type=simple.

The watchdog ($WATCHDOG_USEC, for this process unless $WATCHDOG_PID names another) is fed only
while the daemon shows it is alive:

- the main loop of Daemon.serve calls `keepalive()` every wake-up: a hung main thread sends nothing;
- a job on the daemon's scheduler stamps the time: a scheduler that no longer runs jobs stops the
  pings once its stamp is older than the watchdog timeout;
- while crawls run, the requests each has sent, per source: a source's crawl that sent none for its
  `crawl_stall_seconds()` stops the pings too, however busy the other sources' crawls are (one
  hung source job never runs again by itself: its next runs wait for it). Every wait of a healthy
  crawl is bounded by its source's timeouts, delays and retry waits, so the bound is twice their
  sum, and at least CRAWL_STALL_FLOOR for what the config does not bound (a robots.txt
  Crawl-delay, a page sent very slowly). STATUS= then names the source that hangs.

systemd then kills the process (SIGABRT) and Restart=on-failure starts it again; the runs it was in
are marked `interrupted` by the next ones, and every source is crawled again from the start.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

from crawler.config import SourceConfig

log = logging.getLogger("presswatch.daemon")

CRAWL_STALL_FLOOR = 600.0
# A notification must never block the daemon for long, even if systemd stops reading.
_SEND_TIMEOUT = 2.0


# --- sd_notify --------------------------------------------------------------------------------------
def notify_address(environ: Mapping[str, str]) -> str | None:
    """The socket address of $NOTIFY_SOCKET ('@' is the abstract namespace), or None."""
    address = environ.get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        return "\0" + address[1:]
    return address if address.startswith("/") else None


def watchdog_timeout(environ: Mapping[str, str], pid: int | None = None) -> float | None:
    """Seconds systemd waits for a WATCHDOG=1 before it acts, if it expects them from this process."""
    watchdog_pid = environ.get("WATCHDOG_PID", "")
    if watchdog_pid and watchdog_pid != str(pid if pid is not None else os.getpid()):
        return None
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 1e6 if usec > 0 else None


class Notifier:
    """Sends sd_notify messages; does nothing without $NOTIFY_SOCKET."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: Any) -> bool:
        """One datagram, e.g. send(READY=1, STATUS="idle"); True if it was sent."""
        if self.address is None:
            return False
        message = "\n".join(f"{name}={str(value).replace(chr(10), ' ')}" for name, value in fields.items())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.settimeout(_SEND_TIMEOUT)
                sock.sendto(message.encode("utf-8"), self.address)
        except OSError as exc:
            if not self._warned:  # once: systemd going away must not flood the log
                self._warned = True
                log.warning("systemd notification not sent: %s", exc)
            return False
        return True


# --- the daemon's side --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CrawlProgress:
    """What a running crawl has done so far, as the watchdog sees it."""

    run: object  # the crawls in hand (Daemon._crawl_progress): a new run starts a new stall window
    requests: int
    stall_seconds: float


# What the daemon hands the watchdog: each running source's crawl by name (one crawl alone: itself).
Crawls = Union[CrawlProgress, Mapping[str, CrawlProgress], None]


def crawl_stall_seconds(source: SourceConfig) -> float:
    """How long a crawl may send no request before it counts as hung (see the module docstring)."""
    longest_wait = source.request_delay + source.connect_timeout + source.read_timeout + source.max_retry_wait
    return max(CRAWL_STALL_FLOOR, 2 * longest_wait)


def idle_status(next_run: dt.datetime | None, backing_off: bool) -> str:
    """The STATUS= line between two runs, with the next run in the host's time zone."""
    state = "backing off after failed runs" if backing_off else "idle"
    if next_run is None:
        return state
    return f"{state}, next crawl at {next_run.astimezone().strftime('%Y-%m-%d %H:%M:%S %Z')}"


class SystemdService:
    """READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 for the daemon, from its environment."""

    def __init__(self, environ: Mapping[str, str] | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        environ = os.environ if environ is None else environ
        self.notifier = Notifier(notify_address(environ))
        timeout = watchdog_timeout(environ) if self.notifier.enabled else None
        self.watchdog_timeout = timeout
        # sd_watchdog_enabled(3) asks for a ping every half of the timeout; every quarter leaves room
        # for a wake-up that a busy host delays.
        self.ping_every = timeout / 4 if timeout else None
        self._clock = clock
        self._last_ping = float("-inf")
        self._scheduler_seen = clock()
        # per running source: its crawl as last seen, and when it last sent a request
        self._crawls: dict[str, tuple[CrawlProgress, float]] = {}
        self._stalled = ""  # why pings are held back, logged once

    def wake_seconds(self, default: float) -> float:
        """How long the main loop may sleep so that no ping comes late."""
        return min(default, self.ping_every) if self.ping_every else default

    def started(self, scheduler: Any, status: str = "started") -> None:
        """READY=1, once `scheduler` (an APScheduler scheduler, started) runs the daemon's jobs."""
        if self.ping_every:
            from apscheduler.triggers.interval import IntervalTrigger

            self._scheduler_seen = self._clock()
            scheduler.add_job(self.scheduler_alive, IntervalTrigger(seconds=self.ping_every), id="watchdog",
                              name="watchdog", max_instances=1, coalesce=True, misfire_grace_time=None)
        self.notifier.send(READY=1, STATUS=status)

    def status(self, text: str) -> None:
        self.notifier.send(STATUS=text)

    def stopping(self, status: str = "stopping") -> None:
        self.notifier.send(STOPPING=1, STATUS=status)

    def scheduler_alive(self) -> None:
        """A scheduler job: the scheduler still runs jobs."""
        self._scheduler_seen = self._clock()

    def keepalive(self, crawl: Crawls = None) -> bool:
        """From the main loop: WATCHDOG=1 if one is due and the daemon is alive (the scheduler runs
        jobs, and each running crawl, by source name, sent a request within its bound); True if sent."""
        if not self.ping_every:
            return False
        now = self._clock()
        if now - self._last_ping < self.ping_every or not self._alive(now, crawl):
            return False
        self._last_ping = now
        return self.notifier.send(WATCHDOG=1)

    def _alive(self, now: float, crawl: Crawls) -> bool:
        stalled = ""
        if now - self._scheduler_seen > self.watchdog_timeout:
            stalled = f"the scheduler has run no job for {now - self._scheduler_seen:.0f} s"
        for name, idle in self._crawls_idle(now, crawl):
            if not stalled:
                of = f" of {name}" if name else ""
                stalled = f"the crawl{of} has sent no request for {idle:.0f} s"
        if stalled and not self._stalled:
            log.error("watchdog: %s; no more keep-alives for systemd", stalled, extra={"event": "watchdog_stalled"})
            self.status(f"hung: {stalled}; the watchdog will restart presswatch")
        self._stalled = stalled
        return not stalled

    def _crawls_idle(self, now: float, crawl: Crawls) -> list[tuple[str, float]]:
        """Each running crawl that has stood still for longer than its bound, with how long (s)."""
        crawls = {"": crawl} if isinstance(crawl, CrawlProgress) else dict(crawl or {})
        seen = {}
        for name, progress in crawls.items():
            last = self._crawls.get(name)
            moved = last is None or (progress.run, progress.requests) != (last[0].run, last[0].requests)
            seen[name] = (progress, now if moved else last[1])
        self._crawls = seen  # a source whose crawl ended is forgotten: its next run starts a new window
        return [(name, now - moved_at) for name, (progress, moved_at) in seen.items()
                if now - moved_at > progress.stall_seconds]
