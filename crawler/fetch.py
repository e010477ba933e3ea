"""HTTP fetching for one source: one polite, bounded, interruptible client.

Everything the crawler asks of the network goes through `Fetcher.get`, which
- requests only the configured site (scheme, host and port of `base_url`), redirects included;
- reads and obeys robots.txt (RFC 9309, matched by Protego), including a Crawl-delay up to a cap;
- spaces requests `request_delay` seconds apart, retries included, and with the fetchers of other
  sources on the same host when they share a PaceRegistry (the stricter delay; one Retry-After);
- ends every request at `request_deadline_seconds`, however slowly its answer trickles in;
- retries transport errors, 429 and 5xx with tenacity, honouring Retry-After;
- caps the response size and decodes the body with the declared charset, falling back safely.

Any outcome other than a page (200, 304, 404, 410) raises a `FetchError` subclass whose `str()`
is one line meant for a log or a user. The Fetcher is used by one thread at a time; only
`interrupt()` may be called from another thread (or a signal handler).
"""

from __future__ import annotations

import codecs
import datetime as dt
import email.message
import email.utils
import errno
import functools
import logging
import re
import socket
import ssl
import threading
import time
import typing
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType

import httpcore
import httpx
import tenacity
from protego import Protego

from crawler import __version__
from crawler.config import SourceConfig

log = logging.getLogger("presswatch.fetch")

# The product token that robots.txt groups are matched against.
ROBOTS_TOKEN = "presswatch"
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# RFC 9309 §2.4: a cached robots.txt should not be used for more than 24 hours.
ROBOTS_MAX_AGE = 24 * 3600.0
# When a stale robots.txt cannot be refreshed we keep obeying the old copy (RFC 9309 §2.4 allows
# it) and try the refresh again after this long rather than on every request.
ROBOTS_REFRESH_RETRY = 3600.0
# Browsers look for a <meta> charset in the first 1024 bytes; pages with a long <head> put it later.
META_SNIFF_BYTES = 4096
_DEFAULT_PORTS = {"http": 80, "https": 443}

_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
# Server-wide defaults that are often sent for pages that are really UTF-8 (Apache's
# AddDefaultCharset, old frameworks). These codecs accept any byte, so a strict decode never fails
# and the wrong declaration would go unnoticed without this check.
_CATCH_ALL_DEFAULTS = frozenset({"iso8859-1", "ascii", "cp1252"})
# Python text codecs that are not web charsets: a page "declaring" one is treated like one that
# declares an unknown charset, never decoded with it (unicode-escape would interpret backslashes).
_NOT_WEB_CHARSETS = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode", "charmap", "undefined"})
# Tried when neither the declared codec nor UTF-8 decodes the body; see _legacy_cyrillic.
LEGACY_CYRILLIC = "cp1251"
# A socket wait is cut into slices this long so that interrupt() is noticed soon during a slow read.
INTERRUPT_POLL = 0.1


# --- errors ------------------------------------------------------------------------------------


class FetchError(Exception):
    """A fetch that produced no page. `str()` is one line: "GET <url>: <reason>"."""

    def __init__(self, url: str, reason: str) -> None:
        # args carry both so the exception pickles and copies intact
        super().__init__(url, reason)
        self.url = _one_line(str(url))
        self.reason = _one_line(reason)

    def __str__(self) -> str:
        return f"GET {self.url}: {self.reason}"


class RefusedError(FetchError):
    """The site refused us for now (403, 429 after retries, robots.txt unavailable): back off."""


class OffsiteError(FetchError):
    """The URL, or a redirect, points outside the configured site; nothing was requested there."""


class TooLargeError(FetchError):
    """The response is larger than max_response_bytes."""


class RobotsDisallowed(FetchError):
    """robots.txt disallows the URL for presswatch; nothing was requested."""


class ServerError(FetchError):
    """5xx on every attempt."""


class TransportFailure(FetchError):
    """Connection, timeout or protocol failure on every attempt."""


class DeadlineExceeded(TransportFailure):
    """No attempt got its whole answer within request_deadline_seconds (a slow drip, say)."""


class Interrupted(FetchError):
    """`Fetcher.interrupt()` was called: the daemon is stopping."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- the page ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    url: str  # final URL, after redirects
    status: int  # 2xx (normally 200), 304, 404 or 410
    text: str
    encoding: str | None  # Python codec name used for `text`; None for 304
    charset_source: str | None  # "header", "meta", "default" or "fallback"; None for 304
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    headers: httpx.Headers = field(default_factory=httpx.Headers, repr=False, compare=False)
    # the bytes `text` was decoded from (after any Content-Encoding), for the archive of pages
    body: bytes = field(default=b"", repr=False, compare=False)
    # when the answer came ("" for now); a page replayed from an archive file keeps its own time
    fetched_at: str = field(default="", compare=False)


# --- charset -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)  # a site sends a handful of Content-Types; email.message is slow (reparse reads many)
def header_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header value, if any."""
    if not content_type:
        return None
    try:
        message = email.message.Message()
        message["content-type"] = content_type
        charset = message.get_content_charset(failobj=None)
    except Exception:  # a malformed header must not stop the fetch; it just declares nothing
        return None
    return (charset.strip() or None) if charset else None


def meta_charset(body: bytes) -> str | None:
    """The charset declared by <meta charset> or <meta http-equiv=Content-Type> near the start."""
    match = _META_CHARSET.search(body[:META_SNIFF_BYTES])
    return (match.group(1).decode("ascii").strip(".:-") or None) if match else None


def _text_codec(name: str) -> str | None:
    """Python's name for a text codec, or None if unknown or not a text codec (e.g. "base64")."""
    try:
        codec = codecs.lookup(name).name
        b"".decode(codec)
    except (LookupError, ValueError):
        return None
    return None if codec in _NOT_WEB_CHARSETS else codec


def _legacy_cyrillic(body: bytes, exclude: str | None) -> str | None:
    """The body as windows-1251 when that reads as Cyrillic text, else None.

    The site writes Uzbek (Cyrillic) and Russian, whose legacy encoding is windows-1251; a page in
    it declared as UTF-8 is a known failure mode of old CMS templates. windows-1251 accepts almost
    any byte, so the guess is kept only when nearly all non-ASCII characters are Cyrillic letters.
    """
    if exclude == LEGACY_CYRILLIC:
        return None
    try:
        text = body.decode(LEGACY_CYRILLIC)
    except UnicodeDecodeError:
        return None
    non_ascii = [char for char in text if not char.isascii()]
    cyrillic = sum(1 for char in non_ascii if "\u0400" <= char <= "\u04ff")
    return text if non_ascii and cyrillic >= 0.9 * len(non_ascii) else None


def _strict(body: bytes, codec: str) -> str:
    # utf-8-sig drops a byte order mark that would otherwise start the text
    return body.decode("utf-8-sig" if codec == "utf-8" else codec)


def _declared_codecs(body: bytes, content_type: str | None) -> list[tuple[str, str]]:
    """(codec, where it was declared), in the order to try them."""
    header, meta = header_charset(content_type), meta_charset(body)
    if header is None and meta is None:
        return [("utf-8", "default")]
    header_codec = _text_codec(header) if header else None
    meta_codec = _text_codec(meta) if meta else None
    declared = [(header_codec, "header")]
    if meta_codec is not None and meta_codec != header_codec:
        declared.append((meta_codec, "meta"))
        if header_codec in _CATCH_ALL_DEFAULTS and not body.isascii():
            # A server-wide default header (AddDefaultCharset) says less than the page's own
            # <meta>, which the template that wrote the bytes put there.
            declared.reverse()
    return [(codec, source) for codec, source in declared if codec is not None]


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str, str]:
    """Decode a response body: returns (text, codec, charset_source). Never raises.

    The declared charset (Content-Type header, else <meta> in the first 4 KB, else UTF-8) is
    tried strictly; a header that is unknown or proven wrong by the bytes gives way to the page's
    own <meta>, and a declaration that fails falls back to strict UTF-8, then to windows-1251 if
    that reads as Cyrillic text, and finally to the declared codec (or UTF-8) with replacement
    characters.
    """
    declared = _declared_codecs(body, content_type)
    codec = declared[0][0] if declared else None

    for candidate, source in declared:
        if candidate in _CATCH_ALL_DEFAULTS and not body.isascii():
            # Text in these codecs is almost never valid UTF-8 by chance, so valid UTF-8 means UTF-8.
            try:
                return _strict(body, "utf-8"), "utf-8", "fallback"
            except UnicodeDecodeError:
                pass
        try:
            return _strict(body, candidate), candidate, source
        except UnicodeDecodeError:
            pass  # wrongly declared: try the next declaration, then UTF-8 below
        except Exception:  # a broken codec implementation must not crash the crawl
            pass
    if codec != "utf-8":
        try:
            return _strict(body, "utf-8"), "utf-8", "fallback"
        except UnicodeDecodeError:
            pass
    guessed = _legacy_cyrillic(body, exclude=codec)
    if guessed is not None:
        return guessed, LEGACY_CYRILLIC, "fallback"
    last_resort = codec or "utf-8"
    try:
        return body.decode(last_resort, errors="replace"), last_resort, "fallback"
    except Exception:
        return body.decode("utf-8", errors="replace"), "utf-8", "fallback"


# --- Retry-After -------------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta seconds or HTTP date); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# --- internals ---------------------------------------------------------------------------------


@dataclass
class _Answer:
    """One HTTP exchange that is not retried: status, headers and (when needed) the body."""

    url: httpx.URL
    status: int
    reason_phrase: str
    headers: httpx.Headers
    body: bytes = b""

    @property
    def status_text(self) -> str:
        return f"{self.status} {self.reason_phrase}".strip()


class _DeadlinePassed(Exception):
    """The request in flight outlived request_deadline_seconds. Never leaves this module."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"request deadline of {seconds:g} s passed")
        self.seconds = seconds


class _Transient(Exception):
    """An attempt that may succeed later: transport failure, 429 or 5xx. Never leaves this module."""

    def __init__(self, *, status: int | None = None, phrase: str = "", retry_after: float | None = None,
                 cause: httpx.TransportError | _DeadlinePassed | None = None) -> None:
        super().__init__(status, cause)
        self.status = status
        self.phrase = phrase
        self.retry_after = retry_after
        self.cause = cause

    def describe(self) -> str:
        if isinstance(self.cause, _DeadlinePassed):
            return str(self.cause)
        if self.cause is not None:
            detail = _one_line(str(self.cause))[:200]
            return f"{type(self.cause).__name__}: {detail}" if detail else type(self.cause).__name__
        return f"{self.status} {self.phrase}".strip()

    def final_error(self, url: httpx.URL, attempts: int, source: SourceConfig) -> FetchError:
        tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
        if isinstance(self.cause, _DeadlinePassed):
            return DeadlineExceeded(str(url), f"{_plain_failure(self.cause, url, source)} (transport failure; {tries})")
        if self.cause is not None:
            plain = _plain_failure(self.cause, url, source)
            return TransportFailure(str(url), f"{plain} (transport failure: {self.describe()}; {tries})")
        if self.status == 429:
            return RefusedError(str(url), f"refused for now ({self.describe()} {tries})")
        return ServerError(str(url), f"server error ({self.describe()} {tries})")


# What getaddrinfo says of a name that does not resolve (glibc, BSD and macOS, Windows), for when
# only an exception's message is left of the socket.gaierror.
_UNRESOLVED_WORDS = ("name or service not known", "nodename nor servname", "name resolution",
                     "no address associated with hostname", "getaddrinfo failed")


def _os_error(exc: BaseException | None) -> OSError | None:
    """The OSError an httpx exception was raised from (httpx -> httpcore -> socket), if any."""
    for _ in range(8):  # chains are short; a cycle must not loop forever
        if exc is None or isinstance(exc, OSError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _unreachable(cause: Exception, url: httpx.URL) -> str:
    """Why no connection could be made to the host of `url`, in plain words."""
    host, port = url.host, _origin(url)[2]
    root = _os_error(cause)
    text = str(cause).lower()
    if isinstance(root, socket.gaierror) or any(words in text for words in _UNRESOLVED_WORDS):
        return f"cannot reach {host}: the name does not resolve"
    code = root.errno if root is not None else None
    if isinstance(root, ConnectionRefusedError) or code == errno.ECONNREFUSED or "connection refused" in text:
        return f"cannot reach {host}: nothing is listening at {host}:{port}"
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH) or "unreachable" in text:
        return f"cannot reach {host}: no network route leads there"
    if isinstance(root, ssl.SSLCertVerificationError):
        return f"cannot reach {host}: its TLS certificate does not verify"
    if isinstance(root, ssl.SSLError):
        return f"cannot reach {host}: the TLS handshake failed"
    return f"cannot reach {host}"


def _plain_failure(cause: Exception, url: httpx.URL, source: SourceConfig) -> str:
    """What failed, in words for someone who knows nothing of httpx: the start of the reason."""
    host = url.host
    if isinstance(cause, _DeadlinePassed):
        return f"request deadline passed: {host} did not finish answering within {cause.seconds:g} s"
    if isinstance(cause, httpx.ConnectTimeout):
        return f"{host} did not answer within {source.connect_timeout:g} s"
    if isinstance(cause, httpx.TimeoutException):
        return f"{host} did not answer within {source.read_timeout:g} s"
    if isinstance(cause, httpx.ConnectError):
        return _unreachable(cause, url)
    return f"the connection to {host} broke off"


@dataclass
class _RobotsRules:
    parser: Protego | None  # None: everything is allowed (no robots.txt)
    crawl_delay_requested: float | None = None  # the Crawl-delay for presswatch, if robots.txt gives one

    def allows(self, url: httpx.URL) -> bool:
        # Protego matches per RFC 9309: the longest matching rule wins, with * and $ wildcards.
        return self.parser is None or self.parser.can_fetch(str(url), ROBOTS_TOKEN)


class RobotsCache(typing.Protocol):
    """Where robots.txt is kept between processes (app.py wires the store's), by origin
    ("https://host:443"): the status it answered (2xx or 4xx), its body, and when it was read
    (Unix seconds). A copy is trusted for `Fetcher.robots_max_age` (24 hours, RFC 9309 §2.4)."""

    def cached_robots(self, origin: str) -> tuple[int, str, float] | None: ...

    def cache_robots(self, origin: str, status: int, body: str, fetched_at: float) -> None: ...


# --- the watch on every socket wait ------------------------------------------------------------

# A socket timeout of 0 would make the socket non-blocking (an error, not a wait).
_MIN_WAIT = 0.001


class _RequestWatch:
    """What every socket wait of the request in flight must respect: its deadline and interrupt()."""

    def __init__(self, interrupted: Callable[[], bool]) -> None:
        self._interrupted = interrupted
        self._url = ""
        self._seconds = 0.0
        self._deadline: float | None = None  # on the time.monotonic() clock; None between requests

    def start(self, url: str, seconds: float) -> None:
        self._url, self._seconds, self._deadline = url, seconds, time.monotonic() + seconds

    def stop(self) -> None:
        self._deadline = None

    def check(self) -> None:
        """Raise Interrupted after interrupt(), _DeadlinePassed once the deadline is behind us."""
        if self._interrupted():
            raise Interrupted(self._url, "interrupted during the request")
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise _DeadlinePassed(self._seconds)

    def limit(self, timeout: float | None) -> float | None:
        """`timeout`, cut to what is left before the deadline (after a check)."""
        self.check()
        if self._deadline is None:
            return timeout
        left = max(self._deadline - time.monotonic(), _MIN_WAIT)
        return left if timeout is None else max(min(timeout, left), _MIN_WAIT)


class _WatchedStream(httpcore.NetworkStream):
    """A connection whose waits end at the request deadline, and soon after interrupt()."""

    def __init__(self, stream: httpcore.NetworkStream, watch: _RequestWatch) -> None:
        self._stream = stream
        self._watch = watch

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        # A recv that times out takes no data, so one long wait can be made of short ones, each a
        # chance to stop; read_timeout still bounds the whole wait for one read.
        give_up = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = self._watch.limit(None if give_up is None else give_up - time.monotonic())
            try:
                return self._stream.read(max_bytes, INTERRUPT_POLL if wait is None else min(wait, INTERRUPT_POLL))
            except httpcore.ReadTimeout:
                if give_up is not None and time.monotonic() >= give_up:
                    self._watch.check()  # when the deadline came first, that is the failure
                    raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # not sliced: a timed-out write may have sent part of the buffer
        try:
            self._stream.write(buffer, self._watch.limit(timeout))
        except httpcore.WriteTimeout:
            self._watch.check()
            raise

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        try:
            stream = self._stream.start_tls(ssl_context, server_hostname, self._watch.limit(timeout))
        except httpcore.ConnectTimeout:
            self._watch.check()
            raise
        return _WatchedStream(stream, self._watch)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class _WatchedBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, each wrapped in a _WatchedStream."""

    def __init__(self, watch: _RequestWatch) -> None:
        self._backend = httpcore.SyncBackend()
        self._watch = watch

    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        # name resolution is not cut short: getaddrinfo takes no timeout
        try:
            stream = self._backend.connect_tcp(host, port, self._watch.limit(timeout), local_address, socket_options)
        except httpcore.ConnectTimeout:
            self._watch.check()
            raise
        return _WatchedStream(stream, self._watch)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.NetworkStream:
        return _WatchedStream(self._backend.connect_unix_socket(path, self._watch.limit(timeout), socket_options),
                              self._watch)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _WatchedTransport(httpx.HTTPTransport):
    """httpx's own transport, on sockets that keep the request deadline and notice interrupt()."""

    def __init__(self, watch: _RequestWatch) -> None:
        super().__init__()
        # httpx offers no public way to choose httpcore's network backend: the pool it built is
        # replaced by a like one (httpx's default limits) on ours. Tests of the deadline catch a change.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_WatchedBackend(watch),
        )


def _delay_in_force(source: SourceConfig, crawl_delay_requested: float | None) -> float:
    """request_delay, or robots.txt's Crawl-delay when longer, but never more than the configured cap."""
    return max(source.request_delay, min(crawl_delay_requested or 0.0, source.max_crawl_delay_seconds))


def _proxied(url: httpx.URL) -> bool:
    """Whether the environment sends requests for `url` through a proxy (httpx then builds its own transport)."""
    proxies = urllib.request.getproxies()
    return bool(proxies.get(url.scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(url.host)


# Failures worth another attempt. LocalProtocolError and UnsupportedProtocol are our own mistakes.
_RETRYABLE_TRANSPORT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


# --- one pace per host ----------------------------------------------------------------------------


class HostPace:
    """The pace of one host, kept by every fetcher of a process that requests it.

    Two sources on one host are one site to its operators: their requests start the stricter of
    their delays apart (each fetcher declares its delay in force, robots.txt's Crawl-delay
    included), and a Retry-After one of them receives holds back all of them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_start: float | None = None  # time.monotonic() of the latest request slot given
        self._not_before = 0.0  # until then (a Retry-After), no request starts
        self._delays: dict[int, float] = {}  # per fetcher (its id) taking part

    def reserve(self, member: int, delay: float) -> float:
        """The monotonic time at which `member`'s next request may start; taken as the host's last."""
        with self._lock:
            self._delays[member] = delay
            pace = max(self._delays.values())
            start = time.monotonic()
            if self._last_start is not None:
                start = max(start, self._last_start + pace)
            start = max(start, self._not_before)
            self._last_start = start
            return start

    def started(self) -> float:
        """Note that a request starts now (at or after its slot): the next slot counts from here."""
        with self._lock:
            now = time.monotonic()
            self._last_start = max(self._last_start or now, now)
            return now

    def hold_off(self, seconds: float) -> None:
        """No request to the host starts for `seconds` (the host said Retry-After)."""
        with self._lock:
            self._not_before = max(self._not_before, time.monotonic() + seconds)

    def leave(self, member: int) -> None:
        with self._lock:
            self._delays.pop(member, None)

    @property
    def members(self) -> int:
        with self._lock:
            return len(self._delays)


class PaceRegistry:
    """One HostPace per host (name and port), shared by the fetchers of one process (the daemon's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hosts: dict[str, HostPace] = {}

    def for_url(self, url: httpx.URL) -> HostPace:
        key = f"{url.host}:{_origin(url)[2]}"
        with self._lock:
            return self._hosts.setdefault(key, HostPace())


# --- the fetcher -------------------------------------------------------------------------------


class Fetcher:
    """A polite HTTP client for one source. Use as a context manager, or call close()."""

    def __init__(self, source: SourceConfig, *, transport: httpx.BaseTransport | None = None,
                 paces: PaceRegistry | None = None, robots_cache: RobotsCache | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        """`paces`: shared with the other fetchers of the process, so that sources on one host keep
        one pace; without it, this fetcher paces only itself. `robots_cache`: where robots.txt is
        kept between processes (the store)."""
        self.source = source
        # robots.txt read by an earlier process, and the clock its age is told by
        self.robots_cache = robots_cache
        self.wall_clock = wall_clock
        self.base_url = httpx.URL(source.base_url)
        self._host_pace = (paces or PaceRegistry()).for_url(self.base_url)
        self.user_agent = f"{ROBOTS_TOKEN}/{__version__} (+{source.contact})"
        self.requests_made = 0  # HTTP requests sent, robots.txt and retries included
        self.retries = 0
        # How long a robots.txt is trusted; an attribute so tests can shorten it.
        self.robots_max_age = ROBOTS_MAX_AGE
        self._site = _origin(self.base_url)
        self._interrupt_requested = False
        self._interrupted = threading.Event()  # wakes waits at once when interrupt() is called
        self._last_request_started: float | None = None
        self._robots: _RobotsRules | None = None
        self._robots_read_at = 0.0
        self._robots_retry_at = 0.0  # after a failed refresh, when to try again
        self._watch = _RequestWatch(lambda: self._interrupt_requested)
        if transport is None and not _proxied(self.base_url):
            transport = _WatchedTransport(self._watch)
        self._client = httpx.Client(
            headers={
                "User-Agent": self.user_agent,
                # no br/zstd: httpx decodes those only when optional packages happen to be installed
                "Accept-Encoding": "gzip, deflate",
                "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
            },
            timeout=httpx.Timeout(source.read_timeout, connect=source.connect_timeout),
            follow_redirects=False,  # redirects are followed by hand so each hop passes the host guard
            transport=transport,
        )

    # --- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._host_pace.leave(id(self))
        self._client.close()

    def interrupt(self) -> None:
        """Wake any current wait and make every later one (and every later request) raise Interrupted.

        A request waiting on the network notices within INTERRUPT_POLL seconds (except while it
        connects or resolves the name). Safe to call from another thread or from a signal handler.
        It is final: a stopping daemon does not fetch again with this Fetcher.
        """
        self._interrupt_requested = True  # a plain assignment: seen at once, safe anywhere
        if threading.current_thread() is threading.main_thread():
            # In a signal handler, the main thread may be inside Event.wait holding the Event's
            # lock; Event.set here would deadlock. A helper thread sets it once the lock is free.
            threading.Thread(target=self._interrupted.set, name="presswatch-interrupt", daemon=True).start()
        else:
            self._interrupted.set()

    @property
    def interrupted(self) -> bool:
        return self._interrupt_requested

    @property
    def crawl_delay_requested(self) -> float | None:
        """The Crawl-delay (seconds) the robots.txt in force asks of presswatch; None if it asks none or is unread."""
        return self._robots.crawl_delay_requested if self._robots is not None else None

    @property
    def crawl_delay_in_force(self) -> float:
        """Seconds between request starts: request_delay, or more if robots.txt asks (up to max_crawl_delay_seconds)."""
        return _delay_in_force(self.source, self.crawl_delay_requested)

    # --- the one public operation -------------------------------------------------------------
    def get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Page:
        """GET a page of the configured site; conditional when validators are given.

        Returns a Page for 2xx, 304, 404 and 410; raises a FetchError subclass otherwise.
        A relative URL is taken relative to base_url.
        """
        target = self._on_site(url)
        conditions: dict[str, str] = {}
        if etag:
            conditions["If-None-Match"] = etag
        if last_modified:
            conditions["If-Modified-Since"] = last_modified
        answer = self._exchange(target, conditions, with_robots=True)
        final_url, status = str(answer.url), answer.status
        headers = answer.headers

        if status == 304:
            return Page(
                url=final_url, status=304, text="", encoding=None, charset_source=None,
                # a 304 need not repeat the validators; the ones we sent are still good
                etag=headers.get("ETag") or etag, last_modified=headers.get("Last-Modified") or last_modified,
                not_modified=True, headers=headers,
            )
        if 200 <= status < 300 or status in (404, 410):
            text, codec, source = decode_html(answer.body, headers.get("Content-Type"))
            return Page(
                url=final_url, status=status, text=text, encoding=codec, charset_source=source,
                etag=headers.get("ETag"), last_modified=headers.get("Last-Modified"),
                not_modified=False, headers=headers, body=answer.body,
            )
        if status == 403:
            raise RefusedError(final_url, f"refused for now ({answer.status_text})")
        if 400 <= status < 500:
            raise FetchError(final_url, f"client error ({answer.status_text})")
        raise FetchError(final_url, f"unexpected answer ({answer.status_text})")

    # --- host guard ----------------------------------------------------------------------------
    def _on_site(self, url: str) -> httpx.URL:
        try:
            target = self.base_url.join(url).copy_with(fragment=None)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise FetchError(str(url), f"invalid URL ({exc})") from None
        if _origin(target) != self._site:
            raise OffsiteError(str(url), f"offsite URL refused (only {self.base_url} is fetched)")
        return target

    # --- redirects -----------------------------------------------------------------------------
    def _exchange(self, url: httpx.URL, headers: dict[str, str], *, with_robots: bool) -> _Answer:
        """Request `url`, following same-site redirects; returns the final non-redirect answer."""
        for _ in range(MAX_REDIRECTS + 1):
            if with_robots:
                self._check_robots(url)
            answer = self._request_with_retries(url, headers)
            if answer.status not in REDIRECT_STATUSES:
                return answer
            location = answer.headers.get("Location")
            if not location:
                raise FetchError(str(url), f"redirect ({answer.status}) without a Location header")
            try:
                next_url = url.join(location.strip()).copy_with(fragment=None)
            except (httpx.InvalidURL, TypeError, ValueError):
                raise FetchError(str(url), f"redirect ({answer.status}) to an invalid URL") from None
            if _origin(next_url) != self._site:
                raise OffsiteError(str(url), f"redirect to another host refused: {next_url}")
            log.debug("GET %s: %d redirect to %s", url, answer.status, next_url)
            url = next_url
        raise FetchError(str(url), f"too many redirects (more than {MAX_REDIRECTS})")

    # --- retries -------------------------------------------------------------------------------
    def _request_with_retries(self, url: httpx.URL, headers: dict[str, str]) -> _Answer:
        attempts = 0
        backoff = tenacity.wait_random_exponential(multiplier=self.source.backoff_base, max=self.source.max_retry_wait)

        def attempt() -> _Answer:
            nonlocal attempts
            attempts += 1
            return self._attempt(url, headers)

        def wait(state: tenacity.RetryCallState) -> float:
            failure = state.outcome.exception() if state.outcome else None
            if isinstance(failure, _Transient) and failure.retry_after is not None:
                honoured = min(failure.retry_after, self.source.max_retry_wait)
                self._host_pace.hold_off(honoured)  # every source on this host waits with us
                return honoured
            # full jitter: uniform(0, min(max_retry_wait, backoff_base * 2**(attempt_number - 1)))
            return backoff(state)

        def before_retry(state: tenacity.RetryCallState) -> None:
            self.retries += 1
            failure = state.outcome.exception() if state.outcome else None
            what = failure.describe() if isinstance(failure, _Transient) else repr(failure)
            # INFO: a retry is routine; if they all fail, the FetchError raised says so once
            log.info(
                "GET %s: %s; retry %d of %d in %.1f s",
                url, what, state.attempt_number, self.source.max_attempts - 1, state.upcoming_sleep,
            )

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.source.max_attempts),
            wait=wait,
            retry=tenacity.retry_if_exception_type(_Transient),
            sleep=lambda seconds: self._wait(seconds, url, "before a retry"),
            before_sleep=before_retry,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Transient as failure:
            raise failure.final_error(url, attempts, self.source) from failure.cause

    def _attempt(self, url: httpx.URL, headers: dict[str, str]) -> _Answer:
        """One request. Raises _Transient for what is worth retrying, FetchError for what is not."""
        self._pace(url)
        request = self._client.build_request("GET", url, headers=headers)
        self.requests_made += 1
        self._watch.start(str(url), self.source.request_deadline_seconds)
        try:
            return self._send(request, url)
        except (*_RETRYABLE_TRANSPORT, _DeadlinePassed) as exc:  # while connecting or reading
            raise _Transient(cause=exc) from exc
        finally:
            self._watch.stop()

    def _send(self, request: httpx.Request, url: httpx.URL) -> _Answer:
        try:
            response = self._client.send(request, stream=True)
        except _RETRYABLE_TRANSPORT:
            raise
        except httpx.HTTPError as exc:
            raise FetchError(str(url), f"request failed ({type(exc).__name__}: {exc})") from exc
        try:
            status = response.status_code
            if status == 429 or 500 <= status <= 599:
                raise _Transient(
                    status=status, phrase=response.reason_phrase,
                    retry_after=parse_retry_after(response.headers.get("Retry-After")),
                )
            answer = _Answer(url=url, status=status, reason_phrase=response.reason_phrase, headers=response.headers)
            if 200 <= status < 300 or status in (404, 410):
                answer.body = self._read_capped(response, url)
            return answer
        except _RETRYABLE_TRANSPORT:
            raise
        except httpx.HTTPError as exc:  # e.g. a corrupt gzip stream: retrying would get the same
            raise FetchError(str(url), f"unreadable response ({type(exc).__name__}: {exc})") from exc
        finally:
            response.close()

    def _read_capped(self, response: httpx.Response, url: httpx.URL) -> bytes:
        cap = self.source.max_response_bytes
        declared = response.headers.get("Content-Length", "").strip()
        if declared.isdigit() and int(declared) > cap:
            raise TooLargeError(str(url), f"response too large (Content-Length {declared} > limit of {cap} bytes)")
        chunks: list[bytes] = []
        received = 0
        for chunk in response.iter_bytes():
            received += len(chunk)
            # decoded size guards against compression bombs, downloaded size against the raw stream
            if received > cap or response.num_bytes_downloaded > cap:
                raise TooLargeError(str(url), f"response too large (more than {cap} bytes)")
            if self._interrupt_requested:
                raise Interrupted(str(url), "interrupted while reading the response")
            self._watch.check()  # the deadline, also for transports without a _WatchedBackend
            chunks.append(chunk)
        return b"".join(chunks)

    # --- waiting -------------------------------------------------------------------------------
    def _wait(self, seconds: float, url: httpx.URL, why: str) -> None:
        """Sleep, unless interrupt() is or gets called: then raise Interrupted at once."""
        if self._interrupt_requested or self._interrupted.wait(max(0.0, seconds)):
            raise Interrupted(str(url), f"interrupted while waiting {why}")

    def _pace(self, url: httpx.URL) -> None:
        """Start requests at least the politeness delay apart, measured start to start, together
        with every other fetcher on this host (the stricter delay, and a Retry-After, hold for all)."""
        remaining = self._host_pace.reserve(id(self), self.crawl_delay_in_force) - time.monotonic()
        if remaining > 0:
            self._wait(remaining, url, "between requests")
        if self._interrupt_requested:
            raise Interrupted(str(url), "interrupted before the request")
        self._last_request_started = self._host_pace.started()

    # --- robots.txt ----------------------------------------------------------------------------
    def _check_robots(self, url: httpx.URL) -> None:
        if not self.source.obey_robots:
            return
        if not self._robots_rules().allows(url):
            raise RobotsDisallowed(str(url), f"disallowed by robots.txt for {ROBOTS_TOKEN}")

    def _robots_rules(self) -> _RobotsRules:
        now = time.monotonic()
        if self._robots is not None:
            fresh = now - self._robots_read_at < self.robots_max_age
            if fresh or now < self._robots_retry_at:
                return self._robots
        robots_url = self.base_url.join("/robots.txt")
        if self._robots is None and self._robots_from_cache(robots_url):
            return self._robots  # type: ignore[return-value]
        try:
            rules = self._read_robots(robots_url)
        except Interrupted:
            raise
        except FetchError as exc:
            # RFC 9309 §2.3.1.4: unreachable means complete disallow, but a cached copy may be used.
            if self._robots is not None:
                log.warning("robots.txt could not be refreshed (%s); obeying the copy read before", exc.reason)
                self._robots_retry_at = now + ROBOTS_REFRESH_RETRY
                return self._robots
            # What failed comes first: a name that does not resolve is no refusal by the site.
            raise RefusedError(
                str(robots_url),
                f"{exc.reason}; robots.txt is unavailable, so nothing is crawled until it can be read",
            ) from None
        self._robots = rules
        self._robots_read_at = time.monotonic()
        return rules

    def _read_robots(self, robots_url: httpx.URL) -> _RobotsRules:
        answer = self._exchange(robots_url, {}, with_robots=False)
        if 200 <= answer.status < 300:
            text, _, _ = decode_html(answer.body, answer.headers.get("Content-Type"))
            self._keep_robots(answer.status, text)
            return self._robots_rules_of(robots_url, answer.status, text)
        if 400 <= answer.status < 500:
            self._keep_robots(answer.status, "")
            return self._robots_rules_of(robots_url, answer.status, "")
        # 5xx and the like are not kept: the next process asks again (RFC 9309 §2.3.1.4).
        raise FetchError(str(robots_url), f"unexpected answer ({answer.status_text})")

    def _robots_rules_of(self, robots_url: httpx.URL, status: int, text: str) -> _RobotsRules:
        if 400 <= status < 500:
            # RFC 9309 §2.3.1.3: "unavailable" (404, 410, even 401/403) means no restrictions.
            # 429 never gets here: it is retried and then raises RefusedError.
            log.info("robots.txt answered %d: no restrictions", status)
            return _RobotsRules(None)
        parser = Protego.parse(text)
        requested = parser.crawl_delay(ROBOTS_TOKEN)  # None, or a finite number >= 0
        log.info("robots.txt read from %s%s", robots_url, f"; Crawl-delay {requested:g} s" if requested else "")
        self._warn_of_crawl_delay(robots_url, requested)
        return _RobotsRules(parser, requested)

    def _robots_origin(self) -> str:
        scheme, host, port = self._site
        return f"{scheme}://{host}:{port}"

    def _keep_robots(self, status: int, text: str) -> None:
        if self.robots_cache is not None:
            self.robots_cache.cache_robots(self._robots_origin(), status, text, self.wall_clock())

    def _robots_from_cache(self, robots_url: httpx.URL) -> bool:
        """Obey the copy an earlier process read, while it is younger than robots_max_age."""
        cached = self.robots_cache.cached_robots(self._robots_origin()) if self.robots_cache is not None else None
        if cached is None:
            return False
        status, text, fetched_at = cached
        age = self.wall_clock() - fetched_at
        if not 0 <= age < self.robots_max_age:
            return False
        self._robots = self._robots_rules_of(robots_url, status, text)
        self._robots_read_at = time.monotonic() - age
        return True

    def _warn_of_crawl_delay(self, robots_url: httpx.URL, requested: float | None) -> None:
        """Say once per robots.txt read when its Crawl-delay slows the crawl, and how far it is obeyed."""
        if requested is None or requested <= self.source.request_delay:
            return
        log.warning(
            "robots.txt at %s asks for a Crawl-delay of %g s; %g s between requests in force "
            "(source.max_crawl_delay_seconds caps it at %g s)",
            robots_url, requested, _delay_in_force(self.source, requested), self.source.max_crawl_delay_seconds,
        )
