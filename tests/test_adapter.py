"""The president.uz adapter on pages rendered in the site's shape, and on pages that are not."""

from __future__ import annotations

import dataclasses

import pytest

from crawler.config import load_config
from crawler.model import ParseError
from crawler.sources import PresidentUz
from devsites.mirror import render_item_page, render_list_page, sample_releases, seed_release

RELEASES = sample_releases(12)


@pytest.fixture
def adapter():
    config = load_config()
    return PresidentUz(config.source, config.selectors)


def test_addresses(adapter):
    assert adapter.list_url("uz") == "https://president.uz/uz/lists/news"
    assert adapter.list_url("ru", 3) == "https://president.uz/ru/lists/news?page=3"
    assert adapter.item_url("oz", 5782) == "https://president.uz/oz/lists/view/5782"
    assert adapter.parse_item_url("/en/lists/view/9207") == ("en", 9207)
    assert adapter.parse_item_url("https://evil.example/en/lists/view/9207") is None
    assert adapter.parse_item_url("/en/lists/view/9207/extra") is None


def test_list_page_by_selectors_merges_thumbnail_and_title_links(adapter):
    html = render_list_page(RELEASES, "oz", 1, per_page=5)
    page = adapter.parse_list(html, "oz", adapter.list_url("oz"))
    assert page.path == "selectors" and page.next_page
    newest = sorted(RELEASES, key=lambda r: r.id, reverse=True)[:5]
    assert [e.id for e in page.entries] == [r.id for r in newest]
    first = page.entries[0]
    assert first.title == newest[0].versions["oz"].title
    assert first.list_date == newest[0].date.isoformat()
    assert first.url == f"https://president.uz/oz/lists/view/{newest[0].id}"


def test_list_page_fallback_when_selectors_miss(adapter):
    html = render_list_page(RELEASES, "ru", 1, per_page=5, layout="drifted")
    page = adapter.parse_list(html, "ru", adapter.list_url("ru"))
    assert page.path == "fallback"
    assert len(page.entries) == 5 and all(e.title and e.list_date for e in page.entries)


def test_last_and_empty_list_pages(adapter):
    last = adapter.parse_list(render_list_page(RELEASES, "en", 3, per_page=5), "en", adapter.list_url("en", 3))
    assert len(last.entries) == 2 and not last.next_page
    empty = adapter.parse_list(render_list_page(RELEASES, "en", 1, layout="empty"), "en", adapter.list_url("en"))
    assert empty.entries == [] and empty.path == "empty"


@pytest.mark.parametrize("lang", ["uz", "oz", "ru", "en"])
def test_item_page_in_each_language(adapter, lang):
    release = RELEASES[2]
    html = render_item_page(release, lang, others=RELEASES[:3])
    item = adapter.parse_item(html, lang, adapter.item_url(lang, release.id))
    version = release.versions[lang]
    assert item.title == " ".join(version.title.split())
    assert item.published == release.date.isoformat()
    assert len(item.paragraphs) == len(version.paragraphs)
    assert item.path == "selectors"
    assert item.images and all("/uploads/" in url for url in item.images)
    site_words = ("Search on site", "Font size", "Official pages", "Поиск по сайту")
    assert not any(word in item.paragraphs[-1] for word in site_words)


def test_date_after_the_headline(adapter):
    release = next(r for r in RELEASES if r.date_after_title)
    item = adapter.parse_item(render_item_page(release, "en"), "en", adapter.item_url("en", release.id))
    assert item.published == release.date.isoformat()


def test_title_from_title_tag_without_h1_strips_site_suffix(adapter):
    release = seed_release()
    html = render_item_page(release, "ru", layout="drifted")
    item = adapter.parse_item(html, "ru", adapter.item_url("ru", 5782))
    assert item.title == release.versions["ru"].title
    assert item.path == "fallback"
    assert item.published == "2022-12-22"


def test_configured_body_selector_that_misses_reports_fallback():
    config = load_config()
    selectors = dataclasses.replace(config.selectors, item_body="div.no-such-thing p")
    adapter = PresidentUz(config.source, selectors)
    release = RELEASES[0]
    item = adapter.parse_item(render_item_page(release, "en"), "en", adapter.item_url("en", release.id))
    assert item.path == "fallback"
    assert len(item.paragraphs) == len(release.versions["en"].paragraphs)
    hit = dataclasses.replace(config.selectors, item_body="div.col-md-8 > p")
    item = PresidentUz(config.source, hit).parse_item(
        render_item_page(release, "en"), "en", adapter.item_url("en", release.id))
    assert item.path == "selectors" and len(item.paragraphs) >= len(release.versions["en"].paragraphs)


@pytest.mark.parametrize("html", [
    "",
    "<html><body><p>no headline at all</p></body></html>",
    "<html><head><title>Official website of the President of the Republic of Uzbekistan</title></head>"
    "<body><h1></h1></body></html>",
    "<html><body><h1>Headline</h1></body></html>",
    "\x00\x01binary<<<>>>",
])
def test_a_page_without_a_release_raises_parse_error(adapter, html):
    with pytest.raises(ParseError):
        adapter.parse_item(html, "en", adapter.item_url("en", 1))


def test_text_is_kept_as_published(adapter):
    release = next(r for r in RELEASES if any(ch in r.versions["oz"].title for ch in "ʻ’'‘"))
    item = adapter.parse_item(render_item_page(release, "oz"), "oz", adapter.item_url("oz", release.id))
    assert item.title == " ".join(release.versions["oz"].title.split())
