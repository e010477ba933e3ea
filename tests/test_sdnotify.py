"""systemd's notify protocol (crawler.service): a real `presswatch run` against the mirror, with a fake
$NOTIFY_SOCKET bound by the test, and the watchdog's liveness rules with a test clock.

Every wait is tied to datagrams received, with generous bounds for a busy machine.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import socket
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_daemon import start, write_config  # noqa: F401 - `start` is a fixture

from crawler.config import SourceConfig
from crawler.service import (
    CRAWL_STALL_FLOOR,
    CrawlProgress,
    SystemdService,
    crawl_stall_seconds,
    watchdog_timeout,
)
from devsites.mirror import Mirror, sample_releases

WAIT = 30.0  # seconds, for anything the daemon should do within one or two of its wake-ups


class NotifySocket:
    """The service manager's end: an AF_UNIX datagram socket; each datagram becomes {name: value}."""

    def __init__(self, address: str) -> None:
        self.address = address  # as in $NOTIFY_SOCKET
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.received: list[tuple[float, dict[str, str]]] = []

    def next(self, timeout: float = WAIT) -> dict[str, str] | None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return None
        message = dict(line.split("=", 1) for line in data.decode("utf-8").splitlines())
        self.received.append((time.monotonic(), message))
        return message

    def wait_for(self, name: str, value: str | None = None, *, prefix: str = "", what: str = "") -> dict[str, str]:
        """Receive until a message sets `name` (to `value`, or to something starting with `prefix`)."""
        deadline = time.monotonic() + WAIT
        while (left := deadline - time.monotonic()) > 0:
            message = self.next(left)
            if message is None:
                break
            got = message.get(name)
            if got is not None and (got == value if value is not None else got.startswith(prefix)):
                return message
        pytest.fail(f"no {what or name} within {WAIT} s; received: {[m for _, m in self.received][-10:]}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path) -> Iterator[NotifySocket]:
    path = tmp_path / "notify"
    if len(str(path)) > 100:  # sun_path holds 108 bytes
        path = Path(f"/tmp/pw-notify-{uuid.uuid4().hex[:12]}")
    listener = NotifySocket(str(path))
    yield listener
    listener.close()
    if not str(path).startswith(str(tmp_path)):
        path.unlink(missing_ok=True)


# --- the daemon, end to end ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_daemon_reports_ready_pings_the_watchdog_and_reports_stopping(tmp_path, start, notify_socket,  # noqa: F811
                                                                          monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.address)
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")  # 2 s: a ping due every second, sent every half second
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    with Mirror(sample_releases(6)) as mirror:
        daemon = start(write_config(tmp_path / "presswatch.toml", mirror))
        ready = notify_socket.wait_for("READY", "1", what="READY=1")
        assert ready.get("STATUS", "").startswith("started")
        # Crawls (every 0.3 s) report themselves, and the wait between them says when the next one is.
        notify_socket.wait_for("STATUS", "crawling", what="STATUS=crawling")
        idle = notify_socket.wait_for("STATUS", prefix="idle, next crawl at ", what="STATUS=idle")
        pings = 0
        while pings < 5:
            notify_socket.wait_for("WATCHDOG", "1", what=f"WATCHDOG=1 number {pings + 1}")
            pings += 1
        assert daemon.alive()
        daemon.signal(signal.SIGTERM)
        stopping = notify_socket.wait_for("STOPPING", "1", what="STOPPING=1")
        assert daemon.proc.wait(timeout=WAIT) == 0

    assert stopping["STATUS"] == "stopping (SIGTERM)"
    messages = [m for _, m in notify_socket.received]
    assert "WATCHDOG" not in messages[0]  # READY=1 comes first: systemd arms the watchdog then
    assert not any("WATCHDOG" in m for m in messages[messages.index(stopping):])
    ping_times = [at for at, m in notify_socket.received if "WATCHDOG" in m]
    gaps = [b - a for a, b in itertools.pairwise(ping_times)]
    print(f"\n{len(ping_times)} pings, gaps {min(gaps):.2f}-{max(gaps):.2f} s (median {statistics.median(gaps):.2f}); "
          f"{idle['STATUS']!r}")
    # systemd would act after 2 s without one; typical gaps are half a second.
    assert statistics.median(gaps) < 2.0
    assert "Traceback" not in daemon.log()


# --- the watchdog's rules, in process, with a test clock -----------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Scheduler:
    """Stands in for APScheduler: the watchdog adds its job; the test runs it."""

    def __init__(self) -> None:
        self.jobs: dict[str, object] = {}

    def add_job(self, func, trigger, *, id: str, **options) -> None:
        self.jobs[id] = func


def watched(notify_socket: NotifySocket, clock: Clock, usec: str = "2000000") -> tuple[SystemdService, Scheduler]:
    service = SystemdService({"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": usec}, clock=clock)
    scheduler = Scheduler()
    service.started(scheduler)
    assert notify_socket.next()["READY"] == "1"
    return service, scheduler


def pinged(service: SystemdService, notify_socket: NotifySocket, crawl: CrawlProgress | None = None) -> bool:
    """keepalive(), and whether a WATCHDOG=1 arrived."""
    sent = service.keepalive(crawl)
    message = notify_socket.next(timeout=WAIT if sent else 0.1)
    assert sent == (message == {"WATCHDOG": "1"}), message
    return sent


def test_pings_stop_when_the_scheduler_runs_no_job_and_resume_when_it_does(notify_socket, caplog):
    clock = Clock()
    service, scheduler = watched(notify_socket, clock)  # timeout 2 s
    assert service.ping_every == 0.5 and service.wake_seconds(1.0) == 0.5
    assert pinged(service, notify_socket)
    clock.now += 0.2
    assert not pinged(service, notify_socket)  # not due yet
    for _ in range(3):  # the scheduler's job runs, so pings go on
        clock.now += 0.6
        scheduler.jobs["watchdog"]()
        assert pinged(service, notify_socket)
    with caplog.at_level(logging.ERROR, logger="presswatch.daemon"):
        # No job: pings go on until its last run is older than the watchdog timeout, then stop.
        results = []
        for _ in range(5):
            clock.now += 0.6
            results.append(pinged(service, notify_socket))
    assert results == [True, True, True, False, False]
    assert [r.getMessage() for r in caplog.records] == [  # once, not at every wake-up
        "watchdog: the scheduler has run no job for 2 s; no more keep-alives for systemd"]
    scheduler.jobs["watchdog"]()
    assert pinged(service, notify_socket)


def test_pings_stop_when_a_crawl_sends_no_request_for_longer_than_its_stall_bound(notify_socket):
    clock = Clock()
    service, scheduler = watched(notify_socket, clock, usec="600000000")  # 10 min: ping every 2.5 min
    run, stall = object(), 900.0

    def after(seconds: float, crawl: CrawlProgress | None) -> bool:
        clock.now += seconds
        scheduler.jobs["watchdog"]()
        return pinged(service, notify_socket, crawl)

    assert [after(300, CrawlProgress(run, n, stall)) for n in (1, 2, 3)] == [True] * 3  # sending requests
    # The same request count: pinged until it has stood still for longer than the bound.
    assert [after(300, CrawlProgress(run, 3, stall)) for _ in range(4)] == [True, True, True, False]
    assert after(300, CrawlProgress(run, 4, stall))  # it moves again
    assert [after(300, CrawlProgress(run, 4, stall)) for _ in range(4)] == [True, True, True, False]
    assert after(300, None)  # between runs nothing is expected of a crawl
    new_run = object()  # a new run starts its own window
    assert [after(300, CrawlProgress(new_run, 4, stall)) for _ in range(5)] == [True, True, True, True, False]


def test_the_stall_bound_covers_every_bounded_wait_of_a_crawl():
    assert crawl_stall_seconds(SourceConfig()) == CRAWL_STALL_FLOOR  # defaults: 2 x 161 s < 10 min
    slow = SourceConfig(request_delay=30, connect_timeout=60, read_timeout=300, max_retry_wait=600)
    assert crawl_stall_seconds(slow) == 2 * (30 + 60 + 300 + 600)


def test_watchdog_settings_follow_sd_watchdog_enabled():
    assert watchdog_timeout({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_timeout({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 30.0
    assert watchdog_timeout({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}) is None
    assert watchdog_timeout({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_timeout({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_timeout({}) is None


def test_an_abstract_socket_name_is_used_and_no_socket_means_nothing_is_sent(caplog):
    listener = NotifySocket(f"@presswatch-test-{uuid.uuid4().hex}")
    try:
        service = SystemdService({"NOTIFY_SOCKET": listener.address})
        service.status("idle, next crawl at 10:00")
        assert listener.next() == {"STATUS": "idle, next crawl at 10:00"}
        service.stopping()
        assert listener.next() == {"STOPPING": "1", "STATUS": "stopping"}
        assert service.ping_every is None and not service.keepalive()  # no WATCHDOG_USEC, no watchdog
    finally:
        listener.close()
    with caplog.at_level(logging.DEBUG):
        silent = SystemdService({"WATCHDOG_USEC": "2000000"})
        silent.started(Scheduler())
        silent.status("crawling")
        silent.stopping()
        assert not silent.keepalive() and silent.wake_seconds(1.0) == 1.0
    assert caplog.records == []


def test_one_hung_source_stops_the_pings_while_another_still_sends(notify_socket, caplog):
    """Per source: a crawl that stands still is not hidden by another source's requests."""
    clock = Clock()
    service, scheduler = watched(notify_socket, clock, usec="600000000")  # 10 min: ping every 2.5 min
    busy_run, hung_run, stall = object(), object(), 900.0
    sent = iter(range(1, 100))

    def after(seconds: float, crawls) -> bool:
        clock.now += seconds
        scheduler.jobs["watchdog"]()
        return pinged(service, notify_socket, crawls)

    def both() -> dict[str, CrawlProgress]:
        return {"president.uz": CrawlProgress(busy_run, next(sent), stall), "akorda": CrawlProgress(hung_run, 7, stall)}

    with caplog.at_level(logging.ERROR, logger="presswatch.daemon"):
        # akorda stands still from its first sight on: past 900 s (the fifth look), no more pings
        assert [after(300, both()) for _ in range(5)] == [True, True, True, True, False]
    assert [r.getMessage() for r in caplog.records] == [
        "watchdog: the crawl of akorda has sent no request for 1200 s; no more keep-alives for systemd"]
    # the hung source's run ends (or moves again): pings resume while the other still sends
    assert after(300, {"president.uz": CrawlProgress(busy_run, next(sent), stall)})
    assert after(300, {"president.uz": CrawlProgress(busy_run, next(sent), stall),
                       "akorda": CrawlProgress(object(), 7, stall)})  # its next run: a new window
