"""HTTP fetching for one source: one polite, bounded, interruptible client.

Everything the crawler asks of the network goes through `Fetcher.get`, which
- requests only the configured site (scheme, host and port of `base_url`), redirects included;
- reads and obeys robots.txt (RFC 9309), including a Crawl-delay;
- spaces requests `request_delay` seconds apart, retries included;
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
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from urllib.robotparser import RobotFileParser

import httpx
import tenacity

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


# --- charset -----------------------------------------------------------------------------------


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


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str, str]:
    """Decode a response body: returns (text, codec, charset_source). Never raises.

    The declared charset (Content-Type header, else <meta> in the first 4 KB, else UTF-8) is
    tried strictly; a header that is unknown or proven wrong by the bytes gives way to the page's
    own <meta>, and a declaration that fails falls back to strict UTF-8, then to windows-1251 if
    that reads as Cyrillic text, and finally to the declared codec (or UTF-8) with replacement
    characters.
    """
    header, meta = header_charset(content_type), meta_charset(body)
    if header is None and meta is None:
        declared = [("utf-8", "default")]
    else:
        header_codec = _text_codec(header) if header else None
        meta_codec = _text_codec(meta) if meta else None
        declared = [(header_codec, "header")]
        if meta_codec is not None and meta_codec != header_codec:
            declared.append((meta_codec, "meta"))
            if header_codec in _CATCH_ALL_DEFAULTS and not body.isascii():
                # A server-wide default header (AddDefaultCharset) says less than the page's own
                # <meta>, which the template that wrote the bytes put there.
                declared.reverse()
        declared = [(codec, source) for codec, source in declared if codec is not None]
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


class _Transient(Exception):
    """An attempt that may succeed later: transport failure, 429 or 5xx. Never leaves this module."""

    def __init__(self, *, status: int | None = None, phrase: str = "", retry_after: float | None = None,
                 cause: httpx.TransportError | None = None) -> None:
        super().__init__(status, cause)
        self.status = status
        self.phrase = phrase
        self.retry_after = retry_after
        self.cause = cause

    def describe(self) -> str:
        if self.cause is not None:
            detail = _one_line(str(self.cause))[:200]
            return f"{type(self.cause).__name__}: {detail}" if detail else type(self.cause).__name__
        return f"{self.status} {self.phrase}".strip()

    def final_error(self, url: str, attempts: int) -> FetchError:
        tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
        if self.cause is not None:
            return TransportFailure(url, f"transport failure ({self.describe()}; {tries})")
        if self.status == 429:
            return RefusedError(url, f"refused for now ({self.describe()} {tries})")
        return ServerError(url, f"server error ({self.describe()} {tries})")


@dataclass
class _RobotsRules:
    parser: RobotFileParser | None  # None: everything is allowed (no robots.txt)
    crawl_delay: float = 0.0

    def allows(self, url: httpx.URL) -> bool:
        return self.parser is None or self.parser.can_fetch(ROBOTS_TOKEN, str(url))


# Failures worth another attempt. LocalProtocolError and UnsupportedProtocol are our own mistakes.
_RETRYABLE_TRANSPORT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


# --- the fetcher -------------------------------------------------------------------------------


class Fetcher:
    """A polite HTTP client for one source. Use as a context manager, or call close()."""

    def __init__(self, source: SourceConfig, *, transport: httpx.BaseTransport | None = None) -> None:
        self.source = source
        self.base_url = httpx.URL(source.base_url)
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
        self._client.close()

    def interrupt(self) -> None:
        """Wake any current wait and make every later one (and every later request) raise Interrupted.

        Safe to call from another thread or from a signal handler. It is final: a stopping daemon
        does not fetch again with this Fetcher.
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
                not_modified=False, headers=headers,
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
                return min(failure.retry_after, self.source.max_retry_wait)
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
            raise failure.final_error(str(url), attempts) from failure.cause

    def _attempt(self, url: httpx.URL, headers: dict[str, str]) -> _Answer:
        """One request. Raises _Transient for what is worth retrying, FetchError for what is not."""
        self._pace(url)
        request = self._client.build_request("GET", url, headers=headers)
        self.requests_made += 1
        try:
            response = self._client.send(request, stream=True)
        except _RETRYABLE_TRANSPORT as exc:
            raise _Transient(cause=exc) from exc
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
        except _RETRYABLE_TRANSPORT as exc:  # the connection failed while the body was read
            raise _Transient(cause=exc) from exc
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
            chunks.append(chunk)
        return b"".join(chunks)

    # --- waiting -------------------------------------------------------------------------------
    def _wait(self, seconds: float, url: httpx.URL, why: str) -> None:
        """Sleep, unless interrupt() is or gets called: then raise Interrupted at once."""
        if self._interrupt_requested or self._interrupted.wait(max(0.0, seconds)):
            raise Interrupted(str(url), f"interrupted while waiting {why}")

    def _pace(self, url: httpx.URL) -> None:
        """Start requests at least the politeness delay apart, measured start to start."""
        delay = self.source.request_delay
        if self._robots is not None:
            delay = max(delay, self._robots.crawl_delay)
        if self._last_request_started is not None and delay > 0:
            remaining = self._last_request_started + delay - time.monotonic()
            if remaining > 0:
                self._wait(remaining, url, "between requests")
        if self._interrupt_requested:
            raise Interrupted(str(url), "interrupted before the request")
        self._last_request_started = time.monotonic()

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
            raise RefusedError(
                str(robots_url),
                f"refused for now: robots.txt is unavailable ({exc.reason}); nothing is crawled until it can be read",
            ) from None
        self._robots = rules
        self._robots_read_at = time.monotonic()
        return rules

    def _read_robots(self, robots_url: httpx.URL) -> _RobotsRules:
        answer = self._exchange(robots_url, {}, with_robots=False)
        if 200 <= answer.status < 300:
            text, _, _ = decode_html(answer.body, answer.headers.get("Content-Type"))
            parser = RobotFileParser(str(robots_url))
            parser.parse(text.splitlines())
            crawl_delay = parser.crawl_delay(ROBOTS_TOKEN)
            log.info("robots.txt read from %s%s", robots_url, f"; Crawl-delay {crawl_delay} s" if crawl_delay else "")
            return _RobotsRules(parser, float(crawl_delay or 0.0))
        if 400 <= answer.status < 500:
            # RFC 9309 §2.3.1.3: "unavailable" (404, 410, even 401/403) means no restrictions.
            # 429 never gets here: it is retried and then raises RefusedError.
            log.info("robots.txt answered %d: no restrictions", answer.status)
            return _RobotsRules(None)
        raise FetchError(str(robots_url), f"unexpected answer ({answer.status_text})")
