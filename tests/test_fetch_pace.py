"""One pace per host: two sources on one host share the stricter delay and one Retry-After, when
their fetchers share a PaceRegistry (as the daemon's do); measured by the times a real server on
127.0.0.1 saw the requests."""

from __future__ import annotations

import threading
import time

from test_fetch import make_source, reply

from crawler.fetch import Fetcher, PaceRegistry

STRICT = 0.4


def run_both(first: Fetcher, second: Fetcher, server, pages: int) -> None:
    def fetch(fetcher: Fetcher, prefix: str) -> None:
        for number in range(pages):
            fetcher.get(server.url(f"/{prefix}{number}"))

    threads = [threading.Thread(target=fetch, args=(first, "a")), threading.Thread(target=fetch, args=(second, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()


def test_two_sources_on_one_host_keep_the_stricter_delay_between_all_their_requests(server):
    for prefix in "ab":
        for number in range(3):
            server.route(f"/{prefix}{number}", reply(200, "page"))
    paces = PaceRegistry()
    with Fetcher(make_source(server, request_delay=STRICT), paces=paces) as polite, \
            Fetcher(make_source(server, request_delay=0.0), paces=paces) as eager:
        run_both(polite, eager, server, 3)
    seen = sorted(server.requests, key=lambda seen: seen.at)
    assert len(seen) == 6
    assert {s.path[1] for s in seen} == {"a", "b"}
    gaps = [later.at - earlier.at for earlier, later in zip(seen, seen[1:])]
    # the eager source alone would send its three requests back to back; a request's way to the
    # server may vary on a busy machine, so half the delay is the bound that tells the two apart
    assert min(gaps) >= STRICT / 2, gaps


def test_without_a_shared_registry_each_source_keeps_only_its_own_delay(server):
    for prefix in "ab":
        for number in range(3):
            server.route(f"/{prefix}{number}", reply(200, "page"))
    with Fetcher(make_source(server, request_delay=STRICT)) as polite, \
            Fetcher(make_source(server, request_delay=0.0)) as eager:
        for number in range(3):
            eager.get(server.url(f"/b{number}"))
        polite.get(server.url("/a0"))
    eager_hits = [s.at for s in server.requests if s.path.startswith("/b")]
    assert len(eager_hits) == 3  # the contrast above: nothing else held the eager source back


def test_a_retry_after_received_by_one_source_holds_back_the_other_on_the_same_host(server):
    server.route("/a", reply(503, "busy", {"Retry-After": "1"}), reply(200, "a"))
    server.route("/b", reply(200, "b"))
    paces = PaceRegistry()
    with Fetcher(make_source(server), paces=paces) as refused, Fetcher(make_source(server), paces=paces) as other:
        worker = threading.Thread(target=refused.get, args=(server.url("/a"),))
        worker.start()
        deadline = time.monotonic() + 10
        while not server.hits("/a") and time.monotonic() < deadline:  # the 503 has been served
            time.sleep(0.01)
        assert server.hits("/a")
        time.sleep(0.05)  # the answer reaches the refused fetcher, which notes the Retry-After
        other.get(server.url("/b"))
        worker.join(timeout=10)
    first_refusal = server.hits("/a")[0].at
    assert server.hits("/b")[0].at - first_refusal >= 0.5
    assert len(server.hits("/a")) == 2


def test_fetchers_leave_the_host_pace_when_closed(server):
    paces = PaceRegistry()
    fetcher = Fetcher(make_source(server, request_delay=STRICT), paces=paces)
    server.route("/a", reply(200, "a"))
    fetcher.get(server.url("/a"))
    host = paces.for_url(fetcher.base_url)
    assert host.members == 1
    fetcher.close()
    assert host.members == 0
