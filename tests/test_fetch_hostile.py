"""crawler.fetch against hostile or broken sites: RFC 9309 robots rules, slow drips, huge Crawl-delays,
and the words a failure to reach the site is reported in. Servers run on 127.0.0.1 only; a name that
does not resolve is staged without asking any resolver."""

from __future__ import annotations

import logging
import socket
import threading
import time

import httpx
import pytest
from conftest import UNRESOLVABLE
from test_fetch import _Handler, make_source, reply, stall

from crawler.config import ConfigError, load_config
from crawler.fetch import (
    DeadlineExceeded,
    Fetcher,
    FetchError,
    Interrupted,
    RefusedError,
    RobotsDisallowed,
    TransportFailure,
)

# --- robots.txt per RFC 9309 ------------------------------------------------------------------


def test_robots_longest_match_wins_whatever_the_order(server, fetcher_for):
    # urllib.robotparser takes the first rule that matches, so the Disallow listed first would win.
    server.route("/robots.txt", reply(200, "User-agent: presswatch\nDisallow: /uz/\nAllow: /uz/lists/view/\n"))
    server.route("/uz/lists/view/5", reply(200, "release"))
    fetcher = fetcher_for(obey_robots=True)
    assert fetcher.get(server.url("/uz/lists/view/5")).status == 200
    with pytest.raises(RobotsDisallowed):
        fetcher.get(server.url("/uz/lists/news"))
    assert [seen.path for seen in server.requests] == ["/robots.txt", "/uz/lists/view/5"]


@pytest.mark.parametrize(
    "path, allowed",
    [
        ("/uz/lists/view/1?print=1", False),
        ("/uz/lists/view/1?lang=uz&print=1", True),  # "?print=" is not in it
        ("/uz/lists/view/1", True),
        ("/files/decree.pdf", False),
        ("/files/decree.pdf?download=1", True),  # "$" anchors the rule at the end of the path
    ],
)
def test_robots_wildcards(server, fetcher_for, path, allowed):
    server.route("/robots.txt", reply(200, "User-agent: *\nDisallow: /*?print=\nDisallow: /*.pdf$\n"))
    server.route(path, reply(200, "ok"))
    fetcher = fetcher_for(obey_robots=True)
    if allowed:
        assert fetcher.get(server.url(path)).status == 200
    else:
        with pytest.raises(RobotsDisallowed):
            fetcher.get(server.url(path))
        assert [seen.path for seen in server.requests] == ["/robots.txt"]


# --- Crawl-delay ------------------------------------------------------------------------------


def test_a_huge_crawl_delay_is_capped_and_said_once(server, fetcher_for, caplog):
    server.route("/robots.txt", reply(200, "User-agent: presswatch\nCrawl-delay: 86400\n"))
    server.route("/page", reply(200, "ok"))
    fetcher = fetcher_for(obey_robots=True, request_delay=0.0, max_crawl_delay_seconds=0.3)
    with caplog.at_level(logging.INFO, logger="presswatch.fetch"):
        fetcher.get(server.url("/page"))
        fetcher.get(server.url("/page"))
    assert fetcher.crawl_delay_requested == 86400.0
    assert fetcher.crawl_delay_in_force == 0.3
    robots, first, second = server.requests
    assert first.at - robots.at >= 0.3 - 0.02 and second.at - first.at >= 0.3 - 0.02
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings  # once per robots.txt read, not per request
    assert "86400" in warnings[0] and "0.3 s" in warnings[0] and "max_crawl_delay_seconds" in warnings[0]


def test_a_crawl_delay_is_said_again_when_robots_is_read_again(server, fetcher_for, caplog):
    server.route("/robots.txt", reply(200, "User-agent: *\nCrawl-delay: 0.2\n"))
    server.route("/page", reply(200, "ok"))
    fetcher = fetcher_for(obey_robots=True, request_delay=0.1)
    with caplog.at_level(logging.WARNING, logger="presswatch.fetch"):
        fetcher.get(server.url("/page"))
        fetcher.robots_max_age = 0.0
        fetcher.get(server.url("/page"))
    assert len(server.hits("/robots.txt")) == 2
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2
    assert (fetcher.crawl_delay_requested, fetcher.crawl_delay_in_force) == (0.2, 0.2)


def test_a_crawl_delay_below_request_delay_changes_nothing(server, fetcher_for, caplog):
    server.route("/robots.txt", reply(200, "User-agent: presswatch\nCrawl-delay: 0.05\n"))
    server.route("/page", reply(200, "ok"))
    fetcher = fetcher_for(obey_robots=True, request_delay=0.1)
    assert (fetcher.crawl_delay_requested, fetcher.crawl_delay_in_force) == (None, 0.1)  # nothing read yet
    with caplog.at_level(logging.WARNING, logger="presswatch.fetch"):
        fetcher.get(server.url("/page"))
    assert (fetcher.crawl_delay_requested, fetcher.crawl_delay_in_force) == (0.05, 0.1)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# --- the request deadline ---------------------------------------------------------------------

DRIP_BODY = 2000  # bytes; at one byte per DRIP_INTERVAL the whole body would take 40 s
DRIP_INTERVAL = 0.02


class Drip:
    """Answers one byte at a time, each a little later: under every per-read timeout, never done."""

    def __init__(self, *, headers_too: bool) -> None:
        self.headers_too = headers_too
        self.sent: list[int] = []  # bytes of the body (or of the whole answer) sent, per request
        self._lock = threading.Lock()

    def __call__(self, handler: _Handler) -> None:
        with self._lock:
            self.sent.append(0)
            index = len(self.sent) - 1
        head = f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {DRIP_BODY}\r\n"
        if self.headers_too:
            head += f"X-Padding: {'p' * DRIP_BODY}\r\n\r\n"
            dripped = head.encode("ascii")
        else:
            handler.wfile.write((head + "\r\n").encode("ascii"))
            handler.wfile.flush()
            dripped = b"x" * DRIP_BODY
        handler.close_connection = True
        for byte in dripped:
            if handler.server.loopback.stopping.wait(DRIP_INTERVAL):
                return
            handler.wfile.write(bytes([byte]))  # raises once the client has gone away
            handler.wfile.flush()
            with self._lock:
                self.sent[index] += 1


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_slow_drip_ends_at_the_request_deadline(server, fetcher_for, headers_too):
    drip = Drip(headers_too=headers_too)
    server.route("/drip", drip)
    fetcher = fetcher_for(request_deadline_seconds=0.3, read_timeout=2.0, max_attempts=2)
    with pytest.raises(DeadlineExceeded) as caught:
        fetcher.get(server.url("/drip"))
    sent_when_it_ended = sum(drip.sent)
    # it ended on the deadline, not on the drip running out: far less than one answer had been sent
    assert sent_when_it_ended < DRIP_BODY, drip.sent
    assert len(drip.sent) == 2 and fetcher.retries == 1  # retried like a transport failure
    error = caught.value
    assert isinstance(error, TransportFailure)
    assert str(error) == (f"GET {server.url('/drip')}: request deadline passed: 127.0.0.1 did not finish "
                          f"answering within 0.3 s (transport failure; after 2 attempts)")


def test_interrupt_wakes_a_request_waiting_for_an_answer(server, fetcher_for):
    server.route("/slow", stall(30))
    fetcher = fetcher_for(read_timeout=30.0, max_attempts=1)
    outcome: list[FetchError] = []

    def fetch() -> None:
        try:
            fetcher.get(server.url("/slow"))
        except FetchError as exc:  # handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=fetch)
    worker.start()
    for _ in range(500):  # until the request is in flight (at most 5 s)
        if server.hits("/slow"):
            break
        time.sleep(0.01)
    assert server.hits("/slow")
    fetcher.interrupt()
    worker.join(timeout=10)  # without the fix it waits out the 30 s read timeout
    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], Interrupted)


@pytest.mark.parametrize(
    "text, key, problem",
    [
        ("[source]\nrequest_deadline_seconds = 0\n", "source.request_deadline_seconds", "must be greater than 0"),
        ("[source]\nmax_crawl_delay_seconds = -1\n", "source.max_crawl_delay_seconds", "must be 0 or more"),
    ],
)
def test_new_settings_are_checked(tmp_path, text, key, problem):
    path = tmp_path / "presswatch.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key and problem in caught.value.problem


def test_new_settings_have_defaults():
    source = load_config(None).source
    assert (source.request_deadline_seconds, source.max_crawl_delay_seconds) == (300.0, 60.0)


# --- what a failure to reach the site is called -----------------------------------------------



def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_name_that_does_not_resolve_is_said_so(server, unresolvable_name):
    source = make_source(server, base_url=f"http://{UNRESOLVABLE}", max_attempts=2)
    with Fetcher(source) as fetcher, pytest.raises(TransportFailure) as caught:
        fetcher.get("/uz/lists/news")
    error = caught.value
    assert error.reason.startswith(f"cannot reach {UNRESOLVABLE}: the name does not resolve (")
    assert str(error).startswith(f"GET http://{UNRESOLVABLE}/uz/lists/news: cannot reach {UNRESOLVABLE}:")
    assert "Name or service not known" in str(error) and "after 2 attempts" in str(error)
    assert "refused" not in str(error).lower()


def test_a_transport_reporting_a_getaddrinfo_failure_is_said_so(server):
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    source = make_source(server, base_url=f"http://{UNRESOLVABLE}")
    with Fetcher(source, transport=httpx.MockTransport(fail)) as fetcher, pytest.raises(TransportFailure) as caught:
        fetcher.get("/ru/lists/news")
    assert caught.value.reason.startswith(f"cannot reach {UNRESOLVABLE}: the name does not resolve (")
    assert "refused" not in str(caught.value).lower()


def test_robots_behind_a_name_that_does_not_resolve_is_not_called_a_refusal(server, unresolvable_name):
    source = make_source(server, base_url=f"http://{UNRESOLVABLE}", max_attempts=1, obey_robots=True)
    with Fetcher(source) as fetcher, pytest.raises(RefusedError) as caught:
        fetcher.get("/uz/lists/news")
    assert str(caught.value).startswith(f"GET http://{UNRESOLVABLE}/robots.txt: cannot reach {UNRESOLVABLE}: "
                                        "the name does not resolve (")
    assert "robots.txt is unavailable" in str(caught.value)
    assert "refused" not in str(caught.value).lower()


def test_nothing_listening_is_said_so(fetcher_for):
    port = _closed_port()
    fetcher = fetcher_for(base_url=f"http://127.0.0.1:{port}", max_attempts=1)
    with pytest.raises(TransportFailure) as caught:
        fetcher.get("/news")
    assert caught.value.reason.startswith(f"cannot reach 127.0.0.1: nothing is listening at 127.0.0.1:{port} (")


def test_no_answer_in_time_is_said_so(server, fetcher_for):
    server.route("/slow", stall(5))
    fetcher = fetcher_for(read_timeout=0.2, max_attempts=1)
    with pytest.raises(TransportFailure) as caught:
        fetcher.get(server.url("/slow"))
    assert caught.value.reason.startswith("127.0.0.1 did not answer within 0.2 s (")
    assert "refused" not in str(caught.value).lower()

