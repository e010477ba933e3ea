"""crawler.fetch against a real HTTP/1.1 server on 127.0.0.1, started and stopped by each test."""

from __future__ import annotations

import dataclasses
import email.utils
import gzip
import logging
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crawler
from crawler.config import SourceConfig
from crawler.fetch import (
    Fetcher,
    FetchError,
    Interrupted,
    OffsiteError,
    Page,
    RefusedError,
    RobotsDisallowed,
    ServerError,
    TooLargeError,
    TransportFailure,
    decode_html,
    parse_retry_after,
)

# --- a scripted loopback server ---------------------------------------------------------------

Answer = Callable[["_Handler"], None]


@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]  # lower-cased names
    at: float  # time.monotonic() on arrival
    wall: float  # time.time() on arrival
    client_port: int


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real site
    disable_nagle_algorithm = True  # or keep-alive requests stall on delayed ACKs
    timeout = 5  # an idle keep-alive connection does not outlive a test by long
    server: _Server

    def do_GET(self) -> None:
        loopback = self.server.loopback
        loopback.record(self)
        loopback.next_answer(self.path)(self)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    loopback: Loopback

    def handle_error(self, request: object, client_address: object) -> None:
        # Tests cut connections on purpose (resets, timeouts, size caps); that is not a failure.
        pass


class Loopback:
    """Answers each path from a script: a list of answers used in turn, the last one repeating."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.requests: list[Seen] = []
        self._scripts: dict[str, list[Answer]] = {}
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.loopback = self
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    def start(self) -> Loopback:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def route(self, path: str, *answers: Answer) -> None:
        self._scripts[path] = list(answers)

    def url(self, path: str) -> str:
        return self.base_url + path

    def record(self, handler: _Handler) -> None:
        seen = Seen(
            path=handler.path,
            headers={k.lower(): v for k, v in handler.headers.items()},
            at=time.monotonic(),
            wall=time.time(),
            client_port=handler.client_address[1],
        )
        with self._lock:
            self.requests.append(seen)

    def next_answer(self, path: str) -> Answer:
        with self._lock:
            script = self._scripts.get(path)
            if not script:
                return reply(404, b"not found")
            return script.pop(0) if len(script) > 1 else script[0]

    def hits(self, path: str) -> list[Seen]:
        return [seen for seen in self.requests if seen.path == path]


def reply(status: int, body: bytes | str = b"", headers: dict[str, str] | None = None) -> Answer:
    data = body.encode("utf-8") if isinstance(body, str) else body

    def answer(handler: _Handler) -> None:
        handler.send_response(status)
        sent = {k.lower() for k in (headers or {})}
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        if "content-type" not in sent and data:
            handler.send_header("Content-Type", "text/html; charset=utf-8")
        if "content-length" not in sent and status not in (204, 304):
            handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if status != 304:
            handler.wfile.write(data)

    return answer


def reset_connection(handler: _Handler) -> None:
    """Close with an RST, without answering: what a crashing proxy or a reset looks like."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True
    socket.socket.close(handler.connection)
    handler.rfile.close()
    handler.wfile.close()


def stall(seconds: float) -> Answer:
    def answer(handler: _Handler) -> None:
        handler.server.loopback.stopping.wait(seconds)
        handler.close_connection = True

    return answer


def endless_chunked_body(handler: _Handler) -> None:
    """A chunked body without end (bounded at 64 MB and by the test's end)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"x" * 16384
    for _ in range(4096):
        if handler.server.loopback.stopping.is_set():
            break
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    handler.close_connection = True


def make_source(server: Loopback, **changes: object) -> SourceConfig:
    """Settings for fast tests: no delay, no robots, tiny backoff; each test changes what it needs."""
    fast = dict(
        base_url=server.base_url,
        request_delay=0.0,
        obey_robots=False,
        backoff_base=0.01,
        max_retry_wait=2.0,
        max_attempts=3,
        connect_timeout=2.0,
        read_timeout=2.0,
        contact="mailto:ops@example.org",
    )
    fast.update(changes)
    return dataclasses.replace(SourceConfig(), **fast)




# --- request basics ---------------------------------------------------------------------------


def test_identifies_itself_and_asks_for_compression(server, fetcher_for):
    validators = {"ETag": '"v1"', "Last-Modified": "Wed, 01 May 2026 10:00:00 GMT"}
    server.route("/uz/lists/news", reply(200, "<p>salom</p>", validators))
    fetcher = fetcher_for()
    page = fetcher.get(server.url("/uz/lists/news"))
    assert isinstance(page, Page)
    assert (page.status, page.text, page.not_modified) == (200, "<p>salom</p>", False)
    assert page.url == server.url("/uz/lists/news")
    assert (page.etag, page.last_modified) == ('"v1"', "Wed, 01 May 2026 10:00:00 GMT")
    assert page.headers["content-type"].startswith("text/html")
    (seen,) = server.requests
    assert seen.headers["user-agent"] == f"presswatch/{crawler.__version__} (+mailto:ops@example.org)"
    assert seen.headers["accept-encoding"] == "gzip, deflate"
    assert fetcher.requests_made == 1 and fetcher.retries == 0


def test_gzip_body_is_decoded(server, fetcher_for):
    html = "<html><body>" + "Президент " * 500 + "</body></html>"
    compressed = gzip.compress(html.encode("utf-8"))
    server.route("/z", reply(200, compressed, {"Content-Encoding": "gzip", "Content-Type": "text/html; charset=utf-8"}))
    page = fetcher_for().get(server.url("/z"))
    assert page.text == html


def test_keeps_the_connection_alive(server, fetcher_for):
    server.route("/a", reply(200, "a"))
    fetcher = fetcher_for()
    for _ in range(3):
        fetcher.get(server.url("/a"))
    assert len({seen.client_port for seen in server.requests}) == 1


def test_relative_url_is_taken_on_the_configured_site(server, fetcher_for):
    server.route("/ru/lists/news", reply(200, "ok"))
    assert fetcher_for().get("/ru/lists/news").url == server.url("/ru/lists/news")


# --- the host guard ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_url",
    [
        lambda port: f"http://localhost:{port}/uz/lists/news",  # another host name
        lambda port: f"https://127.0.0.1:{port}/uz/lists/news",  # another scheme
        lambda port: f"http://127.0.0.1:{port + 1}/uz/lists/news",  # another port
        lambda port: "ftp://127.0.0.1/x",
        lambda port: "//example.org/x",
    ],
)
def test_offsite_url_is_refused_without_a_request(server, fetcher_for, make_url):
    fetcher = fetcher_for(obey_robots=True)
    url = make_url(server.port)
    with pytest.raises(OffsiteError) as caught:
        fetcher.get(url)
    assert caught.value.url == url
    assert server.requests == [] and fetcher.requests_made == 0


def test_redirect_on_the_same_site_is_followed(server, fetcher_for):
    server.route("/old", reply(301, b"", {"Location": "/new"}))
    server.route("/new", reply(302, b"", {"Location": server.url("/newest#top")}))
    server.route("/newest", reply(200, "here"))
    fetcher = fetcher_for()
    page = fetcher.get(server.url("/old"))
    assert (page.status, page.text, page.url) == (200, "here", server.url("/newest"))
    assert [seen.path for seen in server.requests] == ["/old", "/new", "/newest"]


def test_redirect_to_another_host_is_refused(server, fetcher_for):
    elsewhere = f"http://localhost:{server.port}/phish"
    server.route("/old", reply(302, b"", {"Location": elsewhere}))
    with pytest.raises(OffsiteError) as caught:
        fetcher_for().get(server.url("/old"))
    assert elsewhere in str(caught.value)
    assert [seen.path for seen in server.requests] == ["/old"]


def test_redirect_loop_stops_after_five_hops(server, fetcher_for):
    server.route("/loop", reply(302, b"", {"Location": "/loop"}))
    with pytest.raises(FetchError, match="too many redirects"):
        fetcher_for().get(server.url("/loop"))
    assert len(server.requests) == 6


# --- the size cap -----------------------------------------------------------------------------


def test_size_cap_by_content_length_is_not_retried(server, fetcher_for):
    server.route("/big", reply(200, b"x" * 5000))
    fetcher = fetcher_for(max_response_bytes=1000)
    with pytest.raises(TooLargeError, match="Content-Length 5000"):
        fetcher.get(server.url("/big"))
    assert fetcher.requests_made == 1


def test_size_cap_stops_reading_an_endless_chunked_body(server, fetcher_for):
    server.route("/endless", endless_chunked_body)
    fetcher = fetcher_for(max_response_bytes=100_000)
    started = time.monotonic()
    with pytest.raises(TooLargeError, match="more than 100000 bytes"):
        fetcher.get(server.url("/endless"))
    assert time.monotonic() - started < 3
    assert fetcher.requests_made == 1


def test_size_cap_applies_to_the_decompressed_body(server, fetcher_for):
    bomb = gzip.compress(b"\0" * 2_000_000)
    server.route("/bomb", reply(200, bomb, {"Content-Encoding": "gzip"}))
    with pytest.raises(TooLargeError):
        fetcher_for(max_response_bytes=100_000).get(server.url("/bomb"))


# --- charsets ---------------------------------------------------------------------------------

CYRILLIC = "Ўзбекистон Республикаси Президенти — Давлат чегараси"
RUSSIAN = "Президент Республики Узбекистан: государственная граница, ёлка"


@pytest.mark.parametrize(
    "body, content_type, text, encoding, source",
    [
        (CYRILLIC.encode("utf-8"), "text/html; charset=UTF-8", CYRILLIC, "utf-8", "header"),
        (RUSSIAN.encode("cp1251"), "text/html; charset=windows-1251", RUSSIAN, "cp1251", "header"),
        (RUSSIAN.encode("koi8_r"), 'text/html; charset="KOI8-R"', RUSSIAN, "koi8-r", "header"),
        (b'<meta charset="windows-1251">' + RUSSIAN.encode("cp1251"), "text/html",
         '<meta charset="windows-1251">' + RUSSIAN, "cp1251", "meta"),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">' + RUSSIAN.encode("koi8_r"), None,
         '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">' + RUSSIAN, "koi8-r", "meta"),
        ("Café Ünïcode".encode("latin-1"), "text/html; charset=ISO-8859-1", "Café Ünïcode", "iso8859-1", "header"),
        (CYRILLIC.encode("utf-8"), "text/html", CYRILLIC, "utf-8", "default"),
        (b"\xef\xbb\xbf" + CYRILLIC.encode("utf-8"), None, CYRILLIC, "utf-8", "default"),
        # declared wrongly: the codec is unknown, or the bytes are not in it, or a server default hides UTF-8
        (CYRILLIC.encode("utf-8"), "text/html; charset=x-no-such-codec", CYRILLIC, "utf-8", "fallback"),
        (CYRILLIC.encode("utf-8"), "text/html; charset=base64", CYRILLIC, "utf-8", "fallback"),
        (b"C:\\new " + CYRILLIC.encode("utf-8"), "text/html; charset=unicode-escape", "C:\\new " + CYRILLIC, "utf-8",
         "fallback"),
        (CYRILLIC.encode("utf-8"), "text/html; charset=ISO-8859-1", CYRILLIC, "utf-8", "fallback"),
        (b'<meta charset="us-ascii">' + CYRILLIC.encode("utf-8"), None,
         '<meta charset="us-ascii">' + CYRILLIC, "utf-8", "fallback"),
    ],
)
def test_charset_is_found_and_decoded(server, fetcher_for, body, content_type, text, encoding, source):
    headers = {"Content-Type": content_type} if content_type else {"Content-Type": ""}
    server.route("/page", reply(200, body, headers))
    page = fetcher_for().get(server.url("/page"))
    assert (page.text, page.encoding, page.charset_source) == (text, encoding, source)


def test_cyrillic_windows_1251_declared_as_utf8_is_recovered():
    for declared in ("text/html; charset=utf-8", None, "text/html; charset=x-unknown"):
        text, encoding, source = decode_html(RUSSIAN.encode("cp1251"), declared)
        assert (text, encoding, source) == (RUSSIAN, "cp1251", "fallback")


def test_undecodable_body_falls_back_with_replacement_characters():
    # declared UTF-8, not UTF-8, and not Cyrillic letters in windows-1251 either (symbols): replace
    text, encoding, source = decode_html(b"price \xa4 \xb1 \x85 \xa9 \xae", "text/html; charset=utf-8")
    assert (encoding, source) == ("utf-8", "fallback") and "\ufffd" in text
    # declared windows-1251 correctly, yet one byte is undefined in it (0x98): keep the codec
    text, encoding, source = decode_html(RUSSIAN.encode("cp1251") + b"\x98", "text/html; charset=windows-1251")
    assert (encoding, source) == ("cp1251", "fallback") and text.startswith(RUSSIAN)


def test_meta_charset_is_looked_for_only_near_the_start():
    late = b"<!--" + b" " * 5000 + b'--><meta charset="koi8-r">' + CYRILLIC.encode("utf-8")
    assert decode_html(late, None)[2] == "default"


@settings(max_examples=300, deadline=None)
@given(
    body=st.binary(max_size=300) | st.text(max_size=100).map(lambda s: s.encode("utf-8", "surrogatepass")),
    content_type=st.none() | st.text(max_size=60) | st.sampled_from(
        [f"text/html; charset={name}" for name in ("utf-16", "utf-32", "idna", "rot13", "punycode", "utf-7", "hex",
                                                   "zlib", "mbcs", "undefined", "\u00ff", '"', "utf-8; charset=x")]
    ),
    meta=st.none() | st.sampled_from(["utf-16", "idna", "undefined", "raw_unicode_escape", "unicode_escape", "x"]),
)
def test_decoding_never_crashes(body, content_type, meta):
    if meta:
        body = f'<meta charset="{meta}">'.encode() + body
    text, encoding, source = decode_html(body, content_type)
    assert isinstance(text, str) and encoding and source in ("header", "meta", "default", "fallback")


# --- robots.txt -------------------------------------------------------------------------------

ROBOTS = """
User-agent: *
Disallow: /admin

User-agent: presswatch
Disallow: /private
"""


def test_robots_disallow_is_obeyed_without_a_request(server, fetcher_for):
    server.route("/robots.txt", reply(200, ROBOTS, {"Content-Type": "text/plain"}))
    server.route("/public", reply(200, "ok"))
    server.route("/admin", reply(200, "our group does not name /admin"))
    fetcher = fetcher_for(obey_robots=True)
    with pytest.raises(RobotsDisallowed) as caught:
        fetcher.get(server.url("/private/page"))
    assert "robots.txt" in str(caught.value)
    assert fetcher.get(server.url("/public")).status == 200
    assert fetcher.get(server.url("/admin")).status == 200
    assert [seen.path for seen in server.requests] == ["/robots.txt", "/public", "/admin"]


def test_robots_disallowed_redirect_target_is_not_requested(server, fetcher_for):
    server.route("/robots.txt", reply(200, ROBOTS))
    server.route("/go", reply(302, b"", {"Location": "/private/x"}))
    with pytest.raises(RobotsDisallowed):
        fetcher_for(obey_robots=True).get(server.url("/go"))
    assert [seen.path for seen in server.requests] == ["/robots.txt", "/go"]


@pytest.mark.parametrize("status", [404, 410, 403])
def test_robots_unavailable_with_4xx_allows_everything(server, fetcher_for, status):
    server.route("/robots.txt", reply(status, "no"))
    server.route("/private", reply(200, "ok"))
    assert fetcher_for(obey_robots=True).get(server.url("/private")).status == 200


@pytest.mark.parametrize("answer", [reply(500, "oops"), reply(429, "slow down"), reset_connection])
def test_robots_unreachable_refuses_everything(server, fetcher_for, answer):
    server.route("/robots.txt", answer)
    server.route("/page", reply(200, "ok"))
    fetcher = fetcher_for(obey_robots=True)
    with pytest.raises(RefusedError, match="robots.txt is unavailable") as caught:
        fetcher.get(server.url("/page"))
    assert caught.value.url == server.url("/robots.txt")
    assert server.hits("/page") == []
    assert len(server.hits("/robots.txt")) == 3  # retried like any request


def test_robots_is_fetched_once_and_refetched_when_old(server, fetcher_for):
    server.route("/robots.txt", reply(200, ROBOTS))
    server.route("/page", reply(200, "ok"))
    fetcher = fetcher_for(obey_robots=True)
    for _ in range(4):
        fetcher.get(server.url("/page"))
    assert len(server.hits("/robots.txt")) == 1
    assert fetcher.requests_made == 5
    fetcher.robots_max_age = 0.0
    fetcher.get(server.url("/page"))
    assert len(server.hits("/robots.txt")) == 2


def test_stale_robots_is_kept_when_the_refresh_fails(server, fetcher_for):
    server.route("/robots.txt", reply(200, ROBOTS), reply(503, "down"))
    server.route("/page", reply(200, "ok"))
    fetcher = fetcher_for(obey_robots=True, max_attempts=1)
    fetcher.get(server.url("/page"))
    fetcher.robots_max_age = 0.0
    assert fetcher.get(server.url("/page")).status == 200
    with pytest.raises(RobotsDisallowed):
        fetcher.get(server.url("/private"))


def test_robots_is_skipped_when_not_obeyed(server, fetcher_for):
    server.route("/robots.txt", reply(200, "User-agent: *\nDisallow: /\n"))
    server.route("/page", reply(200, "ok"))
    assert fetcher_for(obey_robots=False).get(server.url("/page")).status == 200
    assert server.hits("/robots.txt") == []


def test_robots_crawl_delay_larger_than_request_delay_is_honoured(server, fetcher_for):
    server.route("/robots.txt", reply(200, "User-agent: presswatch\nCrawl-delay: 1\nDisallow: /private\n"))
    server.route("/page", reply(200, "ok"))
    fetcher = fetcher_for(obey_robots=True, request_delay=0.05)
    fetcher.get(server.url("/page"))  # the delay applies from the robots.txt request on
    robots, page = server.requests
    assert page.at - robots.at >= 1.0 - 0.02  # tolerance: see test_request_delay_spaces_requests


# --- conditional GET --------------------------------------------------------------------------


def test_conditional_get_answered_304(server, fetcher_for):
    def conditional(handler: _Handler) -> None:
        if handler.headers.get("If-None-Match") == '"v7"':
            reply(304, b"", {"ETag": '"v7"'})(handler)
        else:
            reply(200, "fresh", {"ETag": '"v7"'})(handler)

    server.route("/list", conditional)
    fetcher = fetcher_for()
    page = fetcher.get(server.url("/list"), etag='"v7"', last_modified="Wed, 01 May 2026 10:00:00 GMT")
    assert (page.status, page.not_modified, page.text) == (304, True, "")
    assert page.etag == '"v7"' and page.last_modified == "Wed, 01 May 2026 10:00:00 GMT"
    (seen,) = server.requests
    assert seen.headers["if-none-match"] == '"v7"'
    assert seen.headers["if-modified-since"] == "Wed, 01 May 2026 10:00:00 GMT"
    assert fetcher.get(server.url("/list")).text == "fresh"


# --- retries ----------------------------------------------------------------------------------


def test_429_honours_retry_after_seconds(server, fetcher_for):
    server.route("/news", reply(429, "slow down", {"Retry-After": "1"}), reply(200, "ok"))
    fetcher = fetcher_for()
    assert fetcher.get(server.url("/news")).text == "ok"
    first, second = server.requests
    assert second.at - first.at >= 1.0
    assert (fetcher.requests_made, fetcher.retries) == (2, 1)


def test_503_honours_retry_after_http_date(server, fetcher_for):
    not_before = int(time.time()) + 2  # an HTTP date has whole seconds
    date = email.utils.formatdate(not_before, usegmt=True)
    server.route("/news", reply(503, "busy", {"Retry-After": date}), reply(200, "ok"))
    fetcher = fetcher_for(max_retry_wait=5.0)
    assert fetcher.get(server.url("/news")).text == "ok"
    first, second = server.requests
    assert second.wall >= not_before - 0.01
    assert second.at - first.at >= 0.5


def test_retry_after_is_capped_by_max_retry_wait(server, fetcher_for):
    server.route("/news", reply(429, "slow down", {"Retry-After": "100"}), reply(200, "ok"))
    fetcher = fetcher_for(max_retry_wait=0.3)
    started = time.monotonic()
    assert fetcher.get(server.url("/news")).status == 200
    first, second = server.requests
    assert second.at - first.at >= 0.3
    assert time.monotonic() - started < 2


def test_500_then_success(server, fetcher_for):
    server.route("/news", reply(500, "oops"), reply(200, "ok"))
    fetcher = fetcher_for()
    assert fetcher.get(server.url("/news")).text == "ok"
    assert (fetcher.requests_made, fetcher.retries) == (2, 1)


def test_503_on_every_attempt_raises_server_error(server, fetcher_for, caplog):
    server.route("/news", reply(503, "busy", {"Set-Cookie": "session=SECRET"}))
    fetcher = fetcher_for(max_attempts=3)
    with caplog.at_level(logging.INFO, logger="presswatch.fetch"), pytest.raises(ServerError) as caught:
        fetcher.get(server.url("/news"))
    url = server.url("/news")
    assert str(caught.value) == f"GET {url}: server error (503 Service Unavailable after 3 attempts)"
    assert (caught.value.url, caught.value.reason) == (url, "server error (503 Service Unavailable after 3 attempts)")
    assert len(server.requests) == 3 and fetcher.retries == 2
    retry_lines = [r.getMessage() for r in caplog.records if r.name == "presswatch.fetch" and "retry" in r.getMessage()]
    assert len(retry_lines) == 2 and all("\n" not in line for line in retry_lines)
    assert "SECRET" not in caplog.text


def test_429_on_every_attempt_is_refused_for_now(server, fetcher_for):
    server.route("/news", reply(429, "slow down"))
    with pytest.raises(RefusedError) as caught:
        fetcher_for(max_attempts=4).get(server.url("/news"))
    assert str(caught.value) == f"GET {server.url('/news')}: refused for now (429 Too Many Requests after 4 attempts)"
    assert len(server.requests) == 4


def test_connection_reset_then_success(server, fetcher_for):
    server.route("/news", reset_connection, reply(200, "ok"))
    fetcher = fetcher_for()
    assert fetcher.get(server.url("/news")).text == "ok"
    assert (fetcher.requests_made, fetcher.retries) == (2, 1)


def test_read_timeout_is_retried_then_fails(server, fetcher_for):
    server.route("/slow", stall(3))
    fetcher = fetcher_for(read_timeout=0.2, max_attempts=3)
    with pytest.raises(TransportFailure) as caught:
        fetcher.get(server.url("/slow"))
    assert "ReadTimeout" in str(caught.value) and "after 3 attempts" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert len(server.requests) == 3


def test_connection_refused_is_retried_then_fails(fetcher_for):
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    fetcher = fetcher_for(base_url=f"http://127.0.0.1:{closed_port}", max_attempts=2)
    with pytest.raises(TransportFailure, match="ConnectError"):
        fetcher.get("/news")
    assert (fetcher.requests_made, fetcher.retries) == (2, 1)


def test_403_is_refused_at_once(server, fetcher_for):
    server.route("/news", reply(403, "no"))
    fetcher = fetcher_for()
    with pytest.raises(RefusedError, match=r"refused for now \(403 Forbidden\)"):
        fetcher.get(server.url("/news"))
    assert len(server.requests) == 1 and fetcher.retries == 0


@pytest.mark.parametrize("status", [404, 410])
def test_404_and_410_are_pages(server, fetcher_for, status):
    server.route("/en/lists/view/9207", reply(status, "<h1>Not found</h1>"))
    page = fetcher_for().get(server.url("/en/lists/view/9207"))
    assert (page.status, page.text, page.not_modified) == (status, "<h1>Not found</h1>", False)
    assert len(server.requests) == 1


def test_other_4xx_is_a_fetch_error_without_retry(server, fetcher_for):
    server.route("/news", reply(401, "who are you"))
    with pytest.raises(FetchError) as caught:
        fetcher_for().get(server.url("/news"))
    assert type(caught.value) is FetchError and "401 Unauthorized" in str(caught.value)
    assert len(server.requests) == 1


def test_parse_retry_after():
    now = 1_800_000_000.0
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("-5", now=now) is None
    assert parse_retry_after(None) is None


# --- politeness and interruption ---------------------------------------------------------------


class _Stamping(httpx.HTTPTransport):
    """Notes, as each request reaches the network, when the fetcher started it (its own clock: the
    politeness delay is kept start to start, and a busy machine may hold a request for a while
    between its start and the network)."""

    def __init__(self) -> None:
        super().__init__()
        self.fetcher: Fetcher | None = None
        self.started: list[float] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert self.fetcher is not None
        self.started.append(self.fetcher._last_request_started)
        return super().handle_request(request)


def test_request_delay_spaces_requests(server):
    server.route("/a", reply(200, "a"))
    server.route("/b", reply(500, "oops"), reply(200, "b"))
    stamping = _Stamping()
    with Fetcher(make_source(server, request_delay=0.25), transport=stamping) as fetcher:
        stamping.fetcher = fetcher
        fetcher.get(server.url("/a"))
        fetcher.get(server.url("/b"))
    assert len(server.requests) == 3
    gaps = [later - earlier for earlier, later in zip(stamping.started, stamping.started[1:])]
    assert len(gaps) == 2 and all(gap >= 0.25 for gap in gaps), gaps


def test_interrupt_during_a_long_retry_after(server, fetcher_for):
    server.route("/news", reply(429, "slow down", {"Retry-After": "120"}))
    fetcher = fetcher_for(max_retry_wait=120.0)
    threading.Timer(0.3, fetcher.interrupt).start()
    started = time.monotonic()
    with pytest.raises(Interrupted) as caught:
        fetcher.get(server.url("/news"))
    assert time.monotonic() - started < 2
    assert "interrupted" in str(caught.value)
    with pytest.raises(Interrupted):  # a later request does not go out either
        fetcher.get(server.url("/news"))
    assert len(server.requests) == 1


def test_interrupt_from_a_signal_handler_in_the_waiting_thread(server, fetcher_for):
    # what a daemon does on SIGTERM when the crawl runs in the main thread
    server.route("/news", reply(503, "busy", {"Retry-After": "120"}))
    fetcher = fetcher_for(max_retry_wait=120.0)
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: fetcher.interrupt())
    try:
        threading.Timer(0.3, os.kill, args=(os.getpid(), signal.SIGUSR1)).start()
        started = time.monotonic()
        with pytest.raises(Interrupted):
            fetcher.get(server.url("/news"))
        assert time.monotonic() - started < 2
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_interrupt_during_the_politeness_delay(server, fetcher_for):
    server.route("/a", reply(200, "a"))
    fetcher = fetcher_for(request_delay=60.0)
    fetcher.get(server.url("/a"))
    threading.Timer(0.2, fetcher.interrupt).start()
    started = time.monotonic()
    with pytest.raises(Interrupted):
        fetcher.get(server.url("/a"))
    assert time.monotonic() - started < 2
    assert len(server.requests) == 1


def test_context_manager_closes_the_client(server):
    server.route("/a", reply(200, "a"))
    with Fetcher(make_source(server)) as fetcher:
        assert fetcher.get(server.url("/a")).status == 200
    with pytest.raises(RuntimeError):
        fetcher.get(server.url("/a"))


def test_errors_share_one_short_hierarchy():
    kinds = (RefusedError, OffsiteError, TooLargeError, RobotsDisallowed, ServerError, TransportFailure, Interrupted)
    for kind in kinds:
        error = kind("https://president.uz/uz/lists/news", "a reason\nover two lines")
        assert isinstance(error, FetchError)
        assert str(error) == "GET https://president.uz/uz/lists/news: a reason over two lines"
