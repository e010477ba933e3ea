"""Hostile pages under the size cap are parsed in bounded work, or refused in bounded time.

Before, the parse's cost grew with the square of the page's nesting: 40,000 nested <div>s took
4 s, a 2.4 MB release page that leaves a <div> open per block (without an h1) more than 130 s, a
4.4 MB list page 35 s. Now nesting past crawler.sources.presidentuz.MAX_DEPTH is flattened before
lexbor sees it, no step walks the page once per element, and a parse past its time budget raises
ParseError. The work is checked where it can be counted (the depth of the tree lexbor builds);
the time only against a generous ceiling (CPU seconds of this thread, not wall time), many times
what the parse takes here and far below what it took before.
"""

from __future__ import annotations

import re
import time

import pytest
from selectolax.lexbor import LexborHTMLParser

from crawler.config import SelectorsConfig, SourceConfig
from crawler.model import ParseError
from crawler.sources.presidentuz import MAX_DEPTH, PresidentUz, bounded_markup
from devsites.mirror import render_item_page, render_list_page, sample_releases, seed_release

BASE = "https://president.uz"
# CPU seconds a hostile page may take: these take 0.1–1 s here; before, 4 s to many minutes.
CEILING = 20.0
SEED = seed_release()


def adapter(budget: float = CEILING) -> PresidentUz:
    return PresidentUz(SourceConfig(), SelectorsConfig(), parse_budget=budget)


def tree_depth(html: str) -> int:
    """How deep the tree lexbor builds from `html` nests, iteratively (no recursion limit)."""
    deepest, stack = 0, [(LexborHTMLParser(html).root, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        child = node.first_child
        while child is not None:
            stack.append((child, depth + 1))
            child = child.next
    return deepest


def timed(parse, *args):
    started = time.thread_time()
    try:
        result = parse(*args)
    except ParseError as exc:
        result = exc
    return result, time.thread_time() - started


def deep_release(depth: int = 40_000) -> str:
    """The seed release with its headline and body inside `depth` nested <div>s."""
    html = render_item_page(SEED, "uz")
    at = html.index("<h1>")
    return html[:at] + "<div>" * depth + html[at:].replace("</body>", "</div>" * depth + "</body>")


def sloppy_release(size: int = 2_200_000) -> str:
    """A release page without an h1 whose blocks each leave a <div> open: nesting grows with the
    page, about 20,000 deep here."""
    html = render_item_page(SEED, "ru", layout="drifted")
    block = '<div class="block"><span>Текст</span> <a href="/ru/lists/view/1">ссылка</a></div><div class="row">'
    at = html.index("<footer")
    return html[:at] + block * (size // len(block)) + html[at:]


def big_list(size: int = 4_000_000) -> str:
    """A list page in the drifted layout (the selectors miss, so release anchors are read), its
    cards repeated with new ids: some 10,000 releases."""
    page = render_list_page(sample_releases(40), "oz", 1, per_page=40, layout="drifted")
    start, end = page.index("<body>") + len("<body>"), page.index("</body>")
    cards, copy = [], 0
    while sum(map(len, cards)) < size:
        copy += 1
        cards.append(re.sub(r"/lists/view/(\d+)", lambda m: f"/lists/view/{int(m[1]) + 100_000 * copy}",
                            page[start:end]))
    return page[:start] + "".join(cards) + page[end:]


def test_nesting_past_the_bound_is_flattened_before_parsing():
    html = deep_release()  # lexbor alone took 4 s over it, building a tree 40,000 deep
    assert tree_depth(bounded_markup(html)) <= MAX_DEPTH + 10
    item, seconds = timed(adapter().parse_item, html, "uz", f"{BASE}/uz/lists/view/{SEED.id}")
    assert item.title == SEED.versions["uz"].title  # the h1 is kept past the bound
    assert len(item.paragraphs) >= len(SEED.versions["uz"].paragraphs)
    assert seconds < CEILING


def test_pages_within_the_bound_are_parsed_untouched():
    html = render_list_page(sample_releases(300), "en", 1, per_page=300)
    assert html.count("<") > 2000  # large enough to be scanned
    assert bounded_markup(html) is html
    nested = "<html><body>" + "<div>" * MAX_DEPTH + "x" + "</div>" * MAX_DEPTH + "<p>y</p>" * 2000
    assert bounded_markup(nested) is nested
    deeper = "<html><body>" + "<div>" * (MAX_DEPTH + 1) + "x" + "</div>" * (MAX_DEPTH + 1) + "<p>y</p>" * 2000
    assert bounded_markup(deeper) != deeper and "x" in bounded_markup(deeper)


@pytest.mark.parametrize("unit", ["<div></span>", "<ul><li>", "<path/>", "<svg><g>", "<b><i>", "<div><span>T</span>"])
def test_nesting_tricks_are_bounded(unit):
    """End tags nothing opened, elements that close themselves only in SVG, formatting elements:
    the bound counts the way the parser nests."""
    html = "<html><head><title>T</title></head><body>" + unit * 40_000
    assert tree_depth(bounded_markup(html)) <= 2 * MAX_DEPTH + 10


def test_a_2mb_release_page_without_h1_is_parsed_in_bounded_time():
    html = sloppy_release()
    assert 2_000_000 < len(html.encode()) < 5 * 1024 * 1024
    item, seconds = timed(adapter().parse_item, html, "ru", f"{BASE}/ru/lists/view/{SEED.id}")
    assert item.title == SEED.versions["ru"].title and item.published == SEED.date.isoformat()
    assert item.paragraphs
    assert seconds < CEILING


def test_a_4mb_list_page_is_parsed_in_bounded_time():
    html = big_list()
    assert 4_000_000 < len(html.encode()) < 5 * 1024 * 1024
    listing, seconds = timed(adapter().parse_list, html, "oz", f"{BASE}/oz/lists/news")
    assert listing.path == "fallback" and len(listing.entries) > 9_000
    assert all(entry.list_date for entry in listing.entries)
    assert seconds < CEILING


def test_a_parse_past_its_budget_is_a_parse_error_with_a_one_line_reason():
    slow = adapter(budget=0.0)
    page = render_item_page(SEED, "en")
    with pytest.raises(ParseError) as raised:
        slow.parse_item(page, "en", f"{BASE}/en/lists/view/{SEED.id}")
    assert str(raised.value) == "parsing took longer than its budget of 0 s; page left unparsed"
    with pytest.raises(ParseError, match="budget"):
        slow.parse_list(render_list_page(sample_releases(5), "en", 1), "en", f"{BASE}/en/lists/news")
    # the default budget leaves an ordinary page alone
    assert adapter().parse_item(page, "en", f"{BASE}/en/lists/view/{SEED.id}").paragraphs


def test_a_list_page_past_the_budget_is_a_recorded_parse_error_not_a_crash(tmp_path):
    from crawler.config import Config
    from crawler.fetch import Fetcher
    from crawler.pipeline import Crawler
    from crawler.store import Store
    from devsites.mirror import Mirror, sample_releases

    with Mirror(sample_releases(3)) as mirror:
        source_config = SourceConfig(base_url=mirror.base_url, languages=("en",), request_delay=0.0,
                                     obey_robots=False)
        config = Config(source=source_config)
        source = PresidentUz(source_config, SelectorsConfig(), parse_budget=0.0)
        with Store.open(tmp_path / "s.db") as store, Fetcher(source_config) as fetcher:
            summary = Crawler(config, store, fetcher, source=source).crawl()
            errors = store.db.execute("select kind, reason from crawl_errors").fetchall()
    assert (summary.outcome, summary.errors) == ("partial", 1), summary.line()
    assert errors and errors[0][0] == "parse" and "budget" in errors[0][1]
