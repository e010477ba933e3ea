"""Bad input: both parsers fuzzed with mutated real-shaped pages, and a crawl over mutated pages.

The pages start as what the mirror renders (every language, both layouts, the seed release), then
take a few random mutations: slices deleted, duplicated or swapped, tags, text and odd Unicode
inserted, the page cut short, dates made impossible, markup nested very deep. Whatever comes out,
`parse_item` either returns a well-formed item or raises ParseError, and `parse_list` returns a
well-formed list without raising. A crawl over a mirror serving such pages records what it could
not read in crawl_errors and goes on.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.config import Config, SelectorsConfig, SourceConfig
from crawler.fetch import Fetcher
from crawler.model import ListEntry, ListPage, ParsedItem, ParseError
from crawler.normalize import clean_text
from crawler.pipeline import Crawler
from crawler.sources.presidentuz import PresidentUz
from crawler.store import Store
from devsites.mirror import (
    LANGS,
    Fault,
    Mirror,
    Response,
    render_item_page,
    render_list_page,
    sample_releases,
    seed_release,
)

BASE = "https://president.uz"
RELEASES = sample_releases(6, first_id=9180) + [seed_release()]
ADAPTER = PresidentUz(SourceConfig(), SelectorsConfig())

# (html, lang, url) of real-shaped pages: every language, both layouts, the seed included.
ITEM_PAGES = [
    (render_item_page(r, lang, layout=layout, others=RELEASES[:3]), lang, f"{BASE}/{lang}/lists/view/{r.id}")
    for r in RELEASES[-3:]
    for lang in LANGS
    for layout in ("default", "drifted")
]
LIST_PAGES = [
    (render_list_page(RELEASES, lang, page, per_page=4, layout=layout), lang,
     f"{BASE}/{lang}/lists/news" + (f"?page={page}" if page > 1 else ""))
    for lang in LANGS
    for layout in ("default", "drifted")
    for page in (1, 2)
]

# Markup and text that stress a parser: unclosed and stray tags, comments, CDATA, entities that
# decode to nothing useful, release anchors with odd ids, and date lines that cannot be dates.
SNIPPETS = [
    "<p>", "</p>", "<div>", "</div>", "<h1>", "</h1>", "<h1></h1>", "<title>", "</title>", "<body>", "</html>",
    "<script>", "</script>", "<style>p{}</style>", "<!--", "-->", "<![CDATA[", "]]>", "<br>", "<br/>", "<p/>",
    "<table><tr><td>", "<template>", "<noscript>", "<svg><p>", "<math><mi>", "<select><p>", "<frameset>",
    "<meta property='og:title' content=''>", "<meta property=\"og:title\" content=\"&#0;\">",
    "<meta charset='utf-16'>", "<a href='/en/lists/view/99999999999999999999999'>x</a>",
    "<a href='/en/lists/view/-1'>neg</a>", "<a href='/en/lists/view/0'>zero</a>",
    "<a href='//other.example/en/lists/view/1'>other</a>", "<a href='javascript:alert(1)'>js</a>",
    "<a href='http://[::1'>broken</a>", "<a href=''>", "<a>", "<img src='/uploads/'>", "<img src=\"\">",
    "&#0;", "&#xD800;", "&#x10FFFF;", "&#99999999;", "&amp;", "&", "<", ">", "\x00", "\ufeff", "\u200b",
    "\u202e", "\ud7ff", "\U0001F600", "e\u0301", "\u00a0\u00a0", "\r\n", "\r", "\x0b", "\x1b[31m",
    '<div class="events_box"><a class="events_title" href="/en/lists/view/9999">T</a>'
    '<div class="date_text">31-02-2026 | 10:00</div></div>',
    '<div class="date">31.02.2026</div>', '<div class="date">00.00.0000</div>', "99.99.9999", "29.02.2025",
    "01-13-2026", "\u0663\u0661.\u0660\u0661.\u0662\u0660\u0662\u0666", "Манба:",
    "Source: https://president.uz/en/lists/view/1",
]
BAD_DATES = ["31.02.2026", "00.00.0000", "99.99.9999", "29.02.2025", "1.1.2026", "32.01.2026", "01.01.0000",
             "\u0663\u0661.\u0661\u0663.\u0662\u0660\u0662\u0666", "01.01.99999"]
# More examples when hunting (PW_FUZZ_EXAMPLES=5000); the default keeps the file under ~20 s.
EXAMPLES = int(os.environ.get("PW_FUZZ_EXAMPLES", "400"))
BAD_LIST_DATES = ["31-02-2026", "00-00-0000", "99-99-9999", "29-02-2025", "1-1-2026"]


# --- mutations ----------------------------------------------------------------------------------
# Positions are fractions of the current length, so a mutation means the same thing on any page
# and hypothesis shrinks it towards the start of the page.

@dataclass(frozen=True)
class Mutation:
    kind: str
    a: float = 0.0
    b: float = 0.0
    c: float = 0.0
    text: str = ""

    def apply(self, page: str) -> str:
        n = len(page)
        i, j = sorted((int(self.a * n), int(self.b * n)))
        k = int(self.c * n)
        if self.kind == "delete":
            return page[:i] + page[j:]
        if self.kind == "duplicate":
            return page[:j] + page[i:j] + page[j:]
        if self.kind == "swap":
            first, second = page[i:j], page[j : j + (j - i)]
            return page[:i] + second + first + page[j + len(second):]
        if self.kind == "insert":
            return page[:k] + self.text + page[k:]
        if self.kind == "truncate":
            return page[:k]
        if self.kind == "bad_date":
            return re.sub(r"\d{2}\.\d{2}\.\d{4}", self.text, page) if "." in self.text else \
                re.sub(r"\d{2}-\d{2}-\d{4}", self.text, page)
        if self.kind == "nest":
            depth = 1 + int(self.a * 800)
            return page[:k] + "<div><span>" * depth + self.text + page[k:]
        if self.kind == "strip_tags":
            return page[:i] + re.sub(r"<[^>]*>", "", page[i:j]) + page[j:]
        raise ValueError(self.kind)


fractions = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
odd_text = st.one_of(st.sampled_from(SNIPPETS), st.text(max_size=40),
                     st.lists(st.sampled_from(SNIPPETS), max_size=6).map("".join))
mutations = st.one_of(
    st.builds(Mutation, st.sampled_from(["delete", "duplicate", "swap", "strip_tags"]), fractions, fractions),
    st.builds(Mutation, st.just("insert"), c=fractions, text=odd_text),
    st.builds(Mutation, st.just("truncate"), c=fractions),
    st.builds(Mutation, st.just("bad_date"), text=st.sampled_from(BAD_DATES + BAD_LIST_DATES)),
    st.builds(Mutation, st.just("nest"), a=fractions, c=fractions, text=odd_text),
)


def mutate(page: str, steps: list[Mutation]) -> str:
    for step in steps:
        page = step.apply(page)
    return page


def random_mutations(rng: random.Random, count: int) -> list[Mutation]:
    """The same kinds of mutation from a plain Random, for pages served over HTTP."""
    steps = []
    for _ in range(count):
        kind = rng.choice(["delete", "duplicate", "swap", "strip_tags", "insert", "truncate", "bad_date", "nest"])
        text = rng.choice(BAD_DATES + BAD_LIST_DATES) if kind == "bad_date" else \
            "".join(rng.choices(SNIPPETS, k=rng.randint(1, 4)))
        steps.append(Mutation(kind, rng.random(), rng.random(), rng.random(), text))
    return steps


# --- what a parse may return ---------------------------------------------------------------------

def _iso_date_or_none(value: str | None) -> bool:
    if value is None:
        return True
    return dt.date.fromisoformat(value).isoformat() == value


def check_item(item: ParsedItem, lang: str, url: str) -> None:
    expected_id = int(url.rsplit("/", 1)[1])
    assert (item.id, item.lang) == (expected_id, lang)
    assert item.url == f"{BASE}/{lang}/lists/view/{expected_id}"
    assert item.title and item.title == clean_text(item.title)
    assert item.paragraphs and all(p and p == clean_text(p) for p in item.paragraphs)
    assert _iso_date_or_none(item.published)
    assert all(isinstance(u, str) for u in item.images + item.links)
    assert item.path in ("selectors", "fallback")


def check_list(listing: ListPage, lang: str) -> None:
    assert listing.path in ("selectors", "fallback", "empty")
    assert (listing.path == "empty") == (not listing.entries)
    ids = [e.id for e in listing.entries]
    assert len(ids) == len(set(ids))
    for entry in listing.entries:
        assert isinstance(entry, ListEntry) and entry.lang == lang and entry.id >= 0
        assert entry.url == f"{BASE}/{lang}/lists/view/{entry.id}"
        assert entry.title == clean_text(entry.title)
        assert _iso_date_or_none(entry.list_date)
    assert isinstance(listing.next_page, bool)


# --- the parsers ------------------------------------------------------------------------------

def test_unmutated_pages_parse() -> None:
    """The starting points are good pages: the fuzzing below starts from something that works."""
    for html, lang, url in ITEM_PAGES:
        check_item(ADAPTER.parse_item(html, lang, url), lang, url)
    for html, lang, url in LIST_PAGES:
        listing = ADAPTER.parse_list(html, lang, url)
        check_list(listing, lang)
        assert listing.entries


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=st.sampled_from(ITEM_PAGES), steps=st.lists(mutations, min_size=1, max_size=6))
def test_parse_item_raises_only_parse_error(page, steps) -> None:
    html, lang, url = page
    mutated = mutate(html, steps)
    try:
        item = ADAPTER.parse_item(mutated, lang, url)
    except ParseError as exc:
        message = str(exc)
        assert message and "\n" not in message
        return
    check_item(item, lang, url)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=st.sampled_from(LIST_PAGES), steps=st.lists(mutations, min_size=1, max_size=6))
def test_parse_list_never_raises(page, steps) -> None:
    html, lang, url = page
    check_list(ADAPTER.parse_list(mutate(html, steps), lang, url), lang)


@settings(max_examples=60, deadline=None)
@given(html=st.text(max_size=300), lang=st.sampled_from(LANGS))
def test_arbitrary_text_is_not_a_crash(html, lang) -> None:
    url = f"{BASE}/{lang}/lists/view/5782"
    try:
        check_item(ADAPTER.parse_item(html, lang, url), lang, url)
    except ParseError:
        pass
    check_list(ADAPTER.parse_list(html, lang, f"{BASE}/{lang}/lists/news"), lang)


# --- a crawl over mutated pages -------------------------------------------------------------------

@dataclass
class Mutated(Fault):
    """Serve the normal page with a few random mutations (seeded: the same request order gives the
    same pages). Only pages that answer 200 are mutated, bytes re-encoded as UTF-8."""

    rng: random.Random
    steps: int = 3

    def apply(self, handler) -> None:
        response = handler.normal_response()
        if response.status != 200 or not response.headers.get("Content-Type", "").startswith("text/html"):
            handler.send(response)
            return
        page = mutate(response.body.decode("utf-8"), random_mutations(self.rng, self.rng.randint(1, self.steps)))
        body = page.encode("utf-8", "surrogatepass")
        headers = {**response.headers, "ETag": f'"m{self.rng.getrandbits(32)}"'}
        headers.pop("Content-Length", None)
        handler.send(Response(200, headers, body))


def _mutated_here(path: str) -> bool:
    """Every list page and about half the release pages (the same half each run); the rest intact."""
    return "/lists/news" in path or ("/lists/view/" in path and zlib.crc32(path.encode()) % 2 == 0)


def _crawl_config(base_url: str) -> Config:
    return Config(source=SourceConfig(base_url=base_url, languages=LANGS, request_delay=0.0, backoff_base=0.01,
                                      max_attempts=2, read_timeout=2.0))


@pytest.mark.parametrize("seed", range(6))
def test_a_crawl_over_mutated_pages_records_errors_and_goes_on(tmp_path: Path, seed: int) -> None:
    releases = sample_releases(5, first_id=9180)
    expected = {(r.id, lang) for r in releases for lang in LANGS}
    with Mirror(releases) as mirror, Store.open(tmp_path / "store.db") as store:
        config = _crawl_config(mirror.base_url)
        mirror.add_fault(_mutated_here, Mutated(random.Random(seed)))
        with Fetcher(config.source) as fetcher:
            first = Crawler(config, store, fetcher).crawl()  # nothing may escape
        assert first.outcome in ("ok", "partial"), first.line()
        errors = list(store.db["crawl_errors"].rows_where("run_id = ?", [first.run_id]))
        assert len(errors) == first.errors
        for error in errors:
            assert error["kind"] in ("parse", "fetch") and "\n" not in error["reason"]
            if error["kind"] == "parse":
                assert error["item_id"] is not None and error["lang"] in LANGS
        stored = {(r[0], r[1]) for r in store.db.execute("select id, lang from items")}
        unreadable = {(e["item_id"], e["lang"]) for e in errors if e["kind"] == "parse"}
        # A page that could not be read is not stored, so it stays a candidate.
        assert not unreadable & stored

        # Served intact again: the next crawl stores every release version the site has.
        mirror.clear_faults()
        with Fetcher(config.source) as fetcher:
            second = Crawler(config, store, fetcher).crawl()
        assert second.outcome == "ok", second.line()
        stored = {(r[0], r[1]) for r in store.db.execute("select id, lang from items")}
        assert expected <= stored
        assert store.db.execute(
            "select count(*) from (select 1 from items group by id, lang having count(*) > 1)"
        ).fetchone()[0] == 0


def test_mutated_crawls_do_hit_the_parse_error_path(tmp_path: Path) -> None:
    """Every release page served empty of paragraphs: each one is a parse error row, none stored."""
    releases = sample_releases(3, first_id=9180)

    class NoBody(Fault):
        def apply(self, handler) -> None:
            response = handler.normal_response()
            body = re.sub(rb"<p>.*?</p>", b"", response.body, flags=re.S)
            headers = {**response.headers}
            headers.pop("Content-Length", None)
            handler.send(Response(response.status, headers, body))

    with Mirror(releases) as mirror, Store.open(tmp_path / "store.db") as store:
        config = _crawl_config(mirror.base_url)
        mirror.add_fault(lambda path: "/lists/view/" in path, NoBody())
        with Fetcher(config.source) as fetcher:
            summary = Crawler(config, store, fetcher).crawl()
        assert summary.outcome == "partial"
        errors = list(store.db["crawl_errors"].rows_where("run_id = ?", [summary.run_id]))
        assert len(errors) == len(releases) * len(LANGS) == summary.errors
        assert {e["kind"] for e in errors} == {"parse"}
        assert all("no body paragraphs" in e["reason"] for e in errors)
        assert store.db.execute("select count(*) from items").fetchone()[0] == 0


def test_poison_anchors_on_a_list_page_do_not_stop_the_crawl(tmp_path: Path) -> None:
    """Regressions found by the fuzzer: an anchor whose id overflows SQLite's INTEGER, and a
    malformed href (ValueError in urljoin), each used to crash every crawl that read the list."""
    releases = sample_releases(3, first_id=9180)
    poison = (b'<div class="events_box"><a class="events_title" href="/en/lists/view/99999999999999999999999">'
              b'Huge</a><div class="date_text">01-01-2026</div></div>'
              b'<a href="http://[::1">broken</a><p><a href="//[">broken</a></p>')

    class Poisoned(Fault):
        def apply(self, handler) -> None:
            response = handler.normal_response()
            body = response.body.replace(b'<div class="events_list">\n', b'<div class="events_list">\n' + poison, 1)
            headers = {**response.headers, "ETag": '"poisoned"'}
            headers.pop("Content-Length", None)
            handler.send(Response(response.status, headers, body))

    with Mirror(releases) as mirror, Store.open(tmp_path / "store.db") as store:
        config = _crawl_config(mirror.base_url)
        mirror.add_fault(lambda path: "/lists/news" in path, Poisoned())
        with Fetcher(config.source) as fetcher:
            summary = Crawler(config, store, fetcher).crawl()
        assert summary.outcome == "ok", summary.line()
        stored = {(r[0], r[1]) for r in store.db.execute("select id, lang from items")}
        assert stored == {(r.id, lang) for r in releases for lang in LANGS}
        assert store.db.execute("select max(id) from listings").fetchone()[0] == max(r.id for r in releases)
