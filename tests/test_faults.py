"""The crawl under faults, against the local mirror: each fault in turn, then the site healed.

For every fault the crawl must not crash, must retry as configured (counted by the fetcher and by
the mirror's request log), must end with the right outcome and a crawl_errors row where a page was
lost, must store nothing twice, and must lose nothing: once the fault clears, a second crawl
fetches exactly what the first one missed (a release page that failed is not stored, so it is a
candidate again) and the store then holds every release version.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crawler.config import Config, SourceConfig, StoreConfig
from crawler.fetch import Fetcher
from crawler.pipeline import Crawler, RunSummary
from crawler.store import Store
from devsites.mirror import (
    Charset,
    Fault,
    Hang,
    Latency,
    Mirror,
    Oversized,
    Redirect,
    Reset,
    Response,
    Status,
    Truncated,
    sample_releases,
)

LANGS = ("uz", "ru", "en")
RELEASES = sample_releases(4, first_id=9180)
IDS = sorted(r.id for r in RELEASES)
ALL_VERSIONS = {(i, lang) for i in IDS for lang in LANGS}
# The release page the single-page faults hit: the second release, in English. Candidates are
# fetched by id then language, so pages come both before and after it: one failure costs that
# page only.
TARGET_ID, TARGET_LANG = IDS[1], "en"
TARGET_PATH = f"/{TARGET_LANG}/lists/view/{TARGET_ID}"
MAX_ATTEMPTS = 3
MAX_RESPONSE_BYTES = 200_000


def make_config(base_url: str, store_path: Path, **source: object) -> Config:
    """Tiny waits everywhere: no politeness delay, 10 ms backoff base, 0.5 s read timeout."""
    settings: dict[str, object] = dict(
        base_url=base_url, languages=LANGS, request_delay=0.0, backoff_base=0.01, max_retry_wait=2.0,
        max_attempts=MAX_ATTEMPTS, read_timeout=0.5, connect_timeout=1.0, max_response_bytes=MAX_RESPONSE_BYTES,
    )
    settings.update(source)
    return Config(source=SourceConfig(**settings), store=StoreConfig(path=str(store_path)))


class Site:
    """One mirror, one store, one fetcher: crawl, inspect, heal."""

    def __init__(self, tmp_path: Path, **source: object) -> None:
        self.mirror = Mirror(RELEASES, per_page=12).start()
        self.config = make_config(self.mirror.base_url, tmp_path / "store.db", **source)
        self.store = Store.open(tmp_path / "store.db")
        self.fetcher = Fetcher(self.config.source)

    def crawl(self) -> RunSummary:
        return Crawler(self.config, self.store, self.fetcher).crawl()

    def stored(self) -> set[tuple[int, str]]:
        return {(r[0], r[1]) for r in self.store.db.execute("select id, lang from items")}

    def errors(self, run_id: int) -> list[dict]:
        return list(self.store.db["crawl_errors"].rows_where("run_id = ?", [run_id], order_by="id"))

    def run_row(self, run_id: int) -> dict:
        return self.store.db["crawl_runs"].get(run_id)

    def release_requests(self) -> list[str]:
        return [p for p in self.mirror.requests.paths() if "/lists/view/" in p]

    def close(self) -> None:
        self.fetcher.close()
        self.store.close()
        self.mirror.stop()


@pytest.fixture
def site(tmp_path):
    opened: list[Site] = []

    def open_site(**source: object) -> Site:
        opened.append(Site(tmp_path, **source))
        return opened[-1]

    yield open_site
    for each in opened:
        each.close()


def _is_release(path: str) -> bool:
    return "/lists/view/" in path


def _is_list(path: str) -> bool:
    return "/lists/news" in path


# Where a fault applies: one release page, every release page, one language's list, every list.
TARGETS: dict[str, Callable[[str], bool]] = {
    "release": lambda path: path == TARGET_PATH,
    "releases": _is_release,
    "list": lambda path: path.startswith("/en/lists/news"),
    "lists": _is_list,
    "everything": lambda path: path != "/robots.txt",
    "cyrillic": lambda path: path.startswith(("/uz/", "/ru/")),
}


@dataclass
class ServerDefaultCharset(Fault):
    """A legacy CMS behind a server-wide default: the header says ISO-8859-1 (AddDefaultCharset),
    the bytes are windows-1251, and only the page's own <meta> tells the truth."""

    def apply(self, handler) -> None:
        response = handler.normal_response()
        if not response.body.startswith(b"<!DOCTYPE html>"):
            handler.send(response)
            return
        text = response.body.decode("utf-8").replace('<meta charset="utf-8">', '<meta charset="windows-1251">', 1)
        body = text.encode("windows-1251", "xmlcharrefreplace")
        headers = {**response.headers, "Content-Type": "text/html; charset=ISO-8859-1", "ETag": '"legacy"'}
        handler.send(Response(response.status, headers, body))


@dataclass(frozen=True)
class Case:
    id: str
    target: str
    fault: Fault
    times: int | None  # None: the fault lasts until cleared
    outcome: str
    retries: int  # fetcher.retries after the first crawl
    error_rows: int  # crawl_errors rows of the first crawl
    reason: str = ""  # in every crawl_errors reason (and the run's message when it failed)
    # release versions the first crawl could not store; None: depends on order, at least one
    missing: frozenset[tuple[int, str]] | None = frozenset()
    # the target page's requests in the first crawl (attempts), when it is one page
    attempts: int | None = None
    # the first crawl must take at least this long (a Retry-After honoured)
    min_seconds: float = 0.0


ONE = frozenset({(TARGET_ID, TARGET_LANG)})
PERSISTENT_RETRIES = MAX_ATTEMPTS - 1

CASES = [
    # slow but well: nothing retried, nothing lost
    Case("latency", "everything", Latency(0.05), None, "ok", 0, 0),
    # refused for now: Retry-After honoured, then the page comes
    Case("429-retry-after-once", "release", Status(429, {"Retry-After": "1"}), 1, "ok", 1, 0, attempts=2,
         min_seconds=0.9),
    Case("429-no-retry-after-once", "release", Status(429), 1, "ok", 1, 0, attempts=2),
    # refused on every attempt: the run stops (refusal is never "no news"); no page-level error
    Case("429-persistent", "release", Status(429), None, "failed", PERSISTENT_RETRIES, 0,
         reason="429", missing=None, attempts=MAX_ATTEMPTS),
    Case("429-on-lists", "lists", Status(429, {"Retry-After": "0"}), None, "failed", PERSISTENT_RETRIES, 0,
         reason="429", missing=None),
    # server errors: transient ones retried away, a persistent one loses that page only
    Case("500-transient", "release", Status(500), 2, "ok", 2, 0, attempts=3),
    Case("502-transient", "release", Status(502), 2, "ok", 2, 0, attempts=3),
    Case("503-transient-list", "list", Status(503, {"Retry-After": "0"}), 2, "ok", 2, 0),
    Case("500-persistent", "release", Status(500), None, "partial", PERSISTENT_RETRIES, 1,
         reason="500", missing=ONE, attempts=MAX_ATTEMPTS),
    Case("502-persistent", "release", Status(502), None, "partial", PERSISTENT_RETRIES, 1,
         reason="502", missing=ONE, attempts=MAX_ATTEMPTS),
    Case("503-persistent", "release", Status(503), None, "partial", PERSISTENT_RETRIES, 1,
         reason="503", missing=ONE, attempts=MAX_ATTEMPTS),
    # three release pages failing in a row: the site is taken to be down for this run
    Case("503-every-release", "releases", Status(503), None, "failed", 3 * PERSISTENT_RETRIES, 3,
         reason="503", missing=frozenset(ALL_VERSIONS)),
    # one language's list is down: the ids it would show come from the other languages' lists
    Case("500-one-list", "list", Status(500), None, "partial", PERSISTENT_RETRIES, 1, reason="500"),
    Case("500-every-list", "lists", Status(500), None, "failed", len(LANGS) * PERSISTENT_RETRIES, len(LANGS),
         reason="500", missing=frozenset(ALL_VERSIONS)),
    # the connection reset
    Case("reset-once", "release", Reset(), 1, "ok", 1, 0, attempts=2),
    Case("reset-persistent", "release", Reset(), None, "partial", PERSISTENT_RETRIES, 1,
         reason="transport failure", missing=ONE, attempts=MAX_ATTEMPTS),
    Case("reset-one-list", "list", Reset(), None, "partial", PERSISTENT_RETRIES, 1, reason="transport failure"),
    # no answer within read_timeout (0.5 s)
    Case("read-timeout-once", "release", Hang(5.0), 1, "ok", 1, 0, attempts=2),
    Case("read-timeout-persistent", "release", Hang(5.0), None, "partial", PERSISTENT_RETRIES, 1,
         reason="Timeout", missing=ONE, attempts=MAX_ATTEMPTS),
    # the body cut short of its Content-Length
    Case("truncated-once", "release", Truncated(0.5), 1, "ok", 1, 0, attempts=2),
    Case("truncated-persistent", "release", Truncated(0.3), None, "partial", PERSISTENT_RETRIES, 1,
         reason="transport failure", missing=ONE, attempts=MAX_ATTEMPTS),
    Case("truncated-list", "list", Truncated(0.5), 1, "ok", 1, 0),
    # a wrong or missing charset is decoded as well as can be and never stops the crawl
    Case("charset-declared-cp1251", "everything", Charset("header"), None, "ok", 0, 0),
    Case("charset-wrong-header", "everything", Charset("wrong-header"), None, "ok", 0, 0),
    Case("charset-meta-only", "everything", Charset("meta"), None, "ok", 0, 0),
    # no charset anywhere: Cyrillic pages are recognised as windows-1251 (English: see below)
    Case("charset-missing", "cyrillic", Charset("none"), None, "ok", 0, 0),
    Case("charset-koi8r-declared", "everything", Charset("header", "koi8-r"), None, "ok", 0, 0),
    Case("charset-server-default-latin1", "everything", ServerDefaultCharset(), None, "ok", 0, 0),
    # a redirect to another host is refused (never followed), and costs only that page
    Case("redirect-offsite", "release", Redirect("http://127.0.0.2:9/en/lists/view/1"), None, "partial", 0, 1,
         reason="redirect to another host refused", missing=ONE, attempts=1),
    Case("redirect-offsite-list", "list", Redirect("http://other.example/en/lists/news"), None, "partial", 0, 1,
         reason="redirect to another host refused"),
    # an oversized page is cut off, with or without Content-Length
    Case("oversized-declared", "release", Oversized(10 * MAX_RESPONSE_BYTES), None, "partial", 0, 1,
         reason="too large", missing=ONE, attempts=1),
    Case("oversized-undeclared", "release", Oversized(10 * MAX_RESPONSE_BYTES, declared=False), None, "partial",
         0, 1, reason="too large", missing=ONE, attempts=1),
    Case("oversized-list", "list", Oversized(10 * MAX_RESPONSE_BYTES, declared=False), None, "partial", 0, 1,
         reason="too large"),
]


def _content(store: Store) -> dict[tuple[int, str], tuple[str, str, str]]:
    rows = store.db.execute("select id, lang, title, published, body from items")
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[tuple[int, str], tuple[str, str, str]]:
    """What a crawl of the healthy site stores, to compare faulted crawls with."""
    tmp = tmp_path_factory.mktemp("reference")
    clean = Site(tmp)
    try:
        summary = clean.crawl()
        assert summary.outcome == "ok" and clean.stored() == ALL_VERSIONS
        return _content(clean.store)
    finally:
        clean.close()


def _assert_stored_once(store: Store) -> None:
    duplicates = store.db.execute("select id, lang, count(*) from items group by id, lang having count(*) > 1")
    assert duplicates.fetchall() == []
    assert store.db.execute("select count(*) from item_versions").fetchone()[0] == 0
    assert {r[0] for r in store.db.execute("select distinct version from items")} <= {1}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault_matrix(site, reference, case: Case) -> None:
    s = site()
    s.mirror.add_fault(TARGETS[case.target], case.fault, case.times)

    started = time.monotonic()
    first = s.crawl()  # any exception escaping here fails the test: a fault must never crash a crawl
    elapsed = time.monotonic() - started

    assert first.outcome == case.outcome, first.line()
    assert s.fetcher.retries == case.retries, first.line()
    errors = s.errors(first.run_id)
    assert len(errors) == case.error_rows == first.errors, errors
    assert all(case.reason in e["reason"] for e in errors), errors
    assert all(e["kind"] == "fetch" for e in errors)
    row = s.run_row(first.run_id)
    assert row["outcome"] == case.outcome and row["errors"] == case.error_rows
    if case.outcome == "failed":
        assert case.reason in row["message"]
    if case.attempts is not None:
        assert s.mirror.requests.count(TARGET_PATH) == case.attempts
    if case.target == "release" and case.error_rows:
        assert errors[0]["item_id"] == TARGET_ID and errors[0]["lang"] == TARGET_LANG
        assert errors[0]["url"].endswith(TARGET_PATH)

    missing = ALL_VERSIONS - s.stored()
    if case.missing is None:
        assert missing, "a refused run cannot have fetched everything"
    else:
        assert missing == case.missing
    _assert_stored_once(s.store)
    assert elapsed >= case.min_seconds, "Retry-After was not honoured"

    # The site heals: the next crawl fetches what was missed, and only that.
    s.mirror.clear_faults()
    s.mirror.requests.clear()
    second = s.crawl()
    assert second.outcome == "ok", second.line()
    assert s.stored() == ALL_VERSIONS
    refetched = {(int(p.rsplit("/", 1)[1]), p.split("/")[1]) for p in s.release_requests()}
    assert refetched == missing
    assert second.new == len(missing)
    _assert_stored_once(s.store)
    # Whatever the fault did to the bytes on the way, the stored text is the site's text.
    assert _content(s.store) == reference


def test_layout_drift_is_recorded_and_loses_nothing(site, reference) -> None:
    s = site()
    s.mirror.set_layout("drifted")
    summary = s.crawl()
    assert summary.outcome == "ok", summary.line()
    assert s.run_row(summary.run_id)["list_path"] == "fallback"
    assert s.stored() == ALL_VERSIONS
    paths = {r[0] for r in s.store.db.execute("select distinct parse_path from items")}
    assert paths == {"fallback"}  # no h1 on drifted pages: the headline came from og:title
    assert "layout drift" in summary.line()
    # Same text as from the normal layout: only the path that found it differs.
    assert _content(s.store) == reference

    s.mirror.set_layout("default")
    again = s.crawl()
    assert s.run_row(again.run_id)["list_path"] == "selectors"
    assert again.new == 0 and s.release_requests().count(TARGET_PATH) == 1
    _assert_stored_once(s.store)


def test_an_empty_list_is_recorded_as_such_and_loses_nothing(site, reference) -> None:
    s = site()
    s.mirror.set_layout("empty")
    summary = s.crawl()
    assert summary.outcome == "ok", summary.line()
    assert s.run_row(summary.run_id)["list_path"] == "empty"
    assert summary.list_items == 0 and s.stored() == set()
    assert s.release_requests() == []
    assert "layout drift" in summary.line()

    s.mirror.set_layout("default")
    healed = s.crawl()
    assert healed.outcome == "ok" and s.run_row(healed.run_id)["list_path"] == "selectors"
    assert s.stored() == ALL_VERSIONS
    assert _content(s.store) == reference


@dataclass
class Timed(Fault):
    """Answer with `status`, noting when each request arrived."""

    status: int
    arrivals: list[float] = field(default_factory=list)

    def apply(self, handler) -> None:
        self.arrivals.append(time.monotonic())
        Status(self.status).apply(handler)


def test_backoff_waits_stay_under_the_exponential_bound_and_the_cap(site) -> None:
    """Without Retry-After: full jitter, uniform(0, min(max_retry_wait, backoff_base * 2**n))."""
    s = site(backoff_base=0.2, max_retry_wait=0.4, max_attempts=4)
    timed = Timed(503)
    s.mirror.add_fault(TARGETS["release"], timed)
    summary = s.crawl()
    assert summary.outcome == "partial" and s.fetcher.retries == 3
    assert len(timed.arrivals) == 4
    gaps = [later - earlier for earlier, later in zip(timed.arrivals, timed.arrivals[1:])]
    bounds = [0.2, 0.4, 0.4]  # 0.2 * 2**n, capped at 0.4
    slack = 0.15  # the request itself, on a loaded machine
    assert all(gap <= bound + slack for gap, bound in zip(gaps, bounds)), gaps


def test_retry_after_is_capped_by_max_retry_wait(site) -> None:
    s = site(max_retry_wait=0.2)
    s.mirror.add_fault(TARGETS["release"], Status(503, {"Retry-After": "3600"}), times=1)
    started = time.monotonic()
    summary = s.crawl()
    assert summary.outcome == "ok" and s.fetcher.retries == 1
    assert time.monotonic() - started < 5.0  # not an hour


def test_site_down_fails_the_run_and_the_next_one_catches_up(site, reference) -> None:
    s = site()
    s.mirror.set_down(True)
    summary = s.crawl()
    assert summary.outcome == "failed"
    assert "robots.txt" in summary.message  # unreachable robots.txt means "not now" (RFC 9309)
    assert s.stored() == set()
    s.mirror.set_down(False)
    assert s.crawl().outcome == "ok"
    assert s.stored() == ALL_VERSIONS and _content(s.store) == reference


def test_an_undeclared_legacy_page_without_cyrillic_still_stores(site, reference) -> None:
    """An English page in windows-1251 with no charset anywhere has too few Cyrillic letters to be
    recognised: its few legacy bytes (NBSP, quotes, dashes) become U+FFFD, nothing else changes,
    and the crawl goes on. (A page that declares its charset anywhere is decoded exactly, above.)"""
    s = site()
    s.mirror.add_fault(lambda path: path.startswith("/en/"), Charset("none"))
    summary = s.crawl()
    assert summary.outcome == "ok" and s.stored() == ALL_VERSIONS
    replaced = 0
    for key, stored in _content(s.store).items():
        if key[1] != "en":
            assert stored == reference[key]
            continue
        for got, want in zip(stored, reference[key]):
            assert len(got) == len(want)
            assert all(a == b or a == "\ufffd" for a, b in zip(got, want))
            replaced += got.count("\ufffd")
    assert replaced > 0  # the pages did hold legacy bytes: this is the undecidable case
