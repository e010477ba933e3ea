"""The generic source (crawler/sources/generic.py) reading a press site unlike president.uz
(devsites/presssite.py), configured only by settings, with selectors and by structure alone;
then hostile and edge pages."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest

from crawler.config import load_config
from crawler.model import ParseError, UsageError
from crawler.sources import KINDS, PresidentUz, create_source
from crawler.sources.generic import Generic, GenericSettings, GenericSettingsError, ItemAddressUnknown
from devsites.mirror import LANGS as MIRROR_LANGS
from devsites.mirror import Mirror
from devsites.presssite import (
    LANGS,
    Article,
    PressSite,
    article_path,
    list_path,
    render_article_page,
    render_list_page,
)

PER_PAGE = 10
RELEASE_PATTERN = r"/(?P<lang>[a-z]{2})/press/\d{4}/\d{2}/\d{2}/[a-z0-9-]+-(?P<id>\d+)"
SELECTORS = {
    "list_item": "div.news-card", "list_link": "h3 a", "list_date": ".news-card__date",
    "item_title": "h1.article-title", "item_body": "div.article-text", "item_date": ".article-date",
}


def settings_for(base_url: str, **changes: object) -> GenericSettings:
    """What a user's TOML gives for the press site (lists become tuples, as the config loader makes them)."""
    toml = {
        "base_url": base_url,
        "name": "Akorda",
        "languages": ["kk", "ru", "en"],
        "timezone": "Asia/Almaty",
        "list_url": "/{lang}/press/page/{page}",
        "first_page_url": "/{lang}/press",
        "release_pattern": RELEASE_PATTERN,
        "shared_ids": False,
    }
    toml.update(changes)
    return GenericSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in toml.items()})


@dataclasses.dataclass
class Crawled:
    base_url: str
    articles: list[Article]
    lists: dict[tuple[str, int], tuple[str, str]]  # (lang, page) -> (url, html)
    pages: dict[int, tuple[str, str]]  # article id -> (url, html)


@pytest.fixture(scope="module")
def crawled() -> Iterator[Crawled]:
    """Every list page and every release of the site, fetched once over HTTP from 127.0.0.1."""
    with PressSite(per_page=PER_PAGE) as site, httpx.Client(timeout=10) as client:
        articles = site.articles
        lists = {}
        for lang in LANGS:
            for page in range(1, site.pages(lang) + 1):
                url = site.url(list_path(lang, page))
                answer = client.get(url)
                assert answer.status_code == 200, url
                lists[(lang, page)] = (url, answer.text)
            assert client.get(site.url(list_path(lang, site.pages(lang) + 1))).status_code == 404
        pages = {}
        for article in articles:
            url = site.url(article_path(article))
            answer = client.get(url)
            assert answer.status_code == 200, url
            pages[article.id] = (url, answer.text)
        yield Crawled(site.base_url, articles, lists, pages)


def expected_list(crawled: Crawled, lang: str, page: int) -> list[tuple[int, str, str, str]]:
    mine = sorted((a for a in crawled.articles if a.lang == lang), key=lambda a: (a.date, a.id), reverse=True)
    return [(a.id, crawled.base_url + article_path(a), a.title, a.date.isoformat())
            for a in mine[(page - 1) * PER_PAGE: page * PER_PAGE]]


def as_rendered(block: str) -> str:
    """A block as a reader sees it: its single <br> is a line break, read as a space."""
    return " ".join(block.split())


@pytest.mark.parametrize("selectors", [SELECTORS, {}], ids=["selectors", "structure"])
def test_every_list_page_is_read_exactly(crawled: Crawled, selectors: dict[str, str]) -> None:
    source = Generic(settings_for(crawled.base_url, **selectors))
    for (lang, page), (url, html) in crawled.lists.items():
        assert source.list_url(lang, page) == url
        listing = source.parse_list(html, lang, url)
        got = [(e.id, e.url, e.title, e.list_date) for e in listing.entries]
        assert got == expected_list(crawled, lang, page), (lang, page)
        assert all(e.lang == lang for e in listing.entries)
        assert listing.path == "selectors"
        last = max(p for (code, p) in crawled.lists if code == lang)
        assert listing.next_page is (page < last), (lang, page)


@pytest.mark.parametrize("selectors", [SELECTORS, {}], ids=["selectors", "structure"])
def test_every_release_is_read_exactly(crawled: Crawled, selectors: dict[str, str]) -> None:
    source = Generic(settings_for(crawled.base_url, **selectors))
    # a crawl reads list pages first: that is where a slug site's release addresses come from
    for (lang, page), (url, html) in crawled.lists.items():
        source.parse_list(html, lang, url)
    for article in crawled.articles:
        url, html = crawled.pages[article.id]
        assert source.item_url(article.lang, article.id) == url
        item = source.parse_item(html, article.lang, url)
        assert (item.id, item.lang, item.url) == (article.id, article.lang, url)
        assert item.title == article.title
        assert item.published == article.date.isoformat(), (article.id, article.timestamp)
        assert item.paragraphs == [as_rendered(block) for block in article.blocks]
        assert item.path == "selectors"
        assert item.images == [f"{crawled.base_url}/media/{article.id}.jpg"]


def test_ids_are_per_language_version(crawled: Crawled) -> None:
    """The site gives each language version its own id; the adapter reports them as they are."""
    source = Generic(settings_for(crawled.base_url))
    assert source.shared_ids is False
    story = next(a for a in crawled.articles if a.lang == "kk" and len(a.translations) == 2)
    ids = {story.id, *story.translations.values()}
    assert len(ids) == 3


def test_drifted_selectors_fall_back_to_the_structure_and_say_so(crawled: Crawled) -> None:
    drifted = {key: f"div.gone-{key}" for key in SELECTORS}
    source = Generic(settings_for(crawled.base_url, **drifted))
    url, html = crawled.lists[("ru", 1)]
    listing = source.parse_list(html, "ru", url)
    assert listing.path == "fallback"
    assert [(e.id, e.url, e.title, e.list_date) for e in listing.entries] == expected_list(crawled, "ru", 1)
    article = next(a for a in crawled.articles if a.lang == "ru")
    url, html = crawled.pages[article.id]
    item = source.parse_item(html, "ru", url)
    assert item.path == "fallback"
    assert (item.title, item.published) == (article.title, article.date.isoformat())
    assert item.paragraphs == [as_rendered(block) for block in article.blocks]


def test_a_newly_published_release_is_listed_first(crawled: Crawled) -> None:
    base = next(a for a in crawled.articles if a.lang == "en")
    fresh = dataclasses.replace(base, id=9001, date=base.date.replace(year=2030), title="Fresh news", translations={})
    with PressSite([*crawled.articles], per_page=PER_PAGE) as site:
        site.publish(fresh)
        source = Generic(settings_for(site.base_url))
        url = source.list_url("en")
        listing = source.parse_list(httpx.get(url, timeout=10).text, "en", url)
        assert (listing.entries[0].id, listing.entries[0].title, listing.entries[0].list_date) == (9001, "Fresh news", "2030-" + base.date.isoformat()[5:])
        item_url = source.item_url("en", 9001)
        assert source.parse_item(httpx.get(item_url, timeout=10).text, "en", item_url).title == "Fresh news"


def test_the_president_uz_mirror_reads_as_its_own_adapter_reads_it() -> None:
    """Structure alone, configured in settings, reads the first site exactly as its dedicated
    adapter does: every list entry, every title, date and paragraph."""
    config = load_config()
    with Mirror() as mirror, httpx.Client(timeout=10) as client:
        dedicated = PresidentUz(dataclasses.replace(config.source, base_url=mirror.base_url), config.selectors)
        generic = Generic(GenericSettings(
            base_url=mirror.base_url, languages=MIRROR_LANGS, timezone="Asia/Tashkent", shared_ids=True,
            list_url="/{lang}/lists/news?page={page}", first_page_url="/{lang}/lists/news",
            release_pattern=r"/(?P<lang>[a-z]{2})/lists/view/(?P<id>\d+)", item_url="/{lang}/lists/view/{id}"))
        compared = 0
        for lang in MIRROR_LANGS:
            for page in (1, 2, 3):
                url = dedicated.list_url(lang, page)
                html = client.get(url).text
                ours, theirs = generic.parse_list(html, lang, url), dedicated.parse_list(html, lang, url)
                assert [(e.id, e.url, e.title, e.list_date) for e in ours.entries] == [
                    (e.id, e.url, e.title, e.list_date) for e in theirs.entries]
                assert ours.next_page == theirs.next_page
            for release in mirror.releases:
                url = dedicated.item_url(lang, release.id)
                answer = client.get(url)
                if answer.status_code != 200:
                    continue
                ours, theirs = generic.parse_item(answer.text, lang, url), dedicated.parse_item(answer.text, lang, url)
                assert (ours.id, ours.title, ours.published, ours.paragraphs) == (
                    theirs.id, theirs.title, theirs.published, theirs.paragraphs)
                compared += 1
        assert compared >= len(mirror.releases) * len(MIRROR_LANGS) // 2


# --- addresses and settings ------------------------------------------------------------------------------
def test_addresses() -> None:
    source = Generic(settings_for("https://www.akorda.kz/"))
    assert source.list_url("kk") == "https://www.akorda.kz/kk/press"
    assert source.list_url("kk", 1) == "https://www.akorda.kz/kk/press"
    assert source.list_url("en", 3) == "https://www.akorda.kz/en/press/page/3"
    plain = Generic(settings_for("https://example.org", list_url="/{lang}/news?page={page}", first_page_url=""))
    assert plain.list_url("ru") == "https://example.org/ru/news?page=1"
    with pytest.raises(ItemAddressUnknown, match="not built from ids"):
        source.item_url("kk", 4211)
    source.remember("kk", 4211, "https://www.akorda.kz/kk/press/2024/05/22/x-4211")
    assert source.item_url("kk", 4211) == "https://www.akorda.kz/kk/press/2024/05/22/x-4211"
    built = Generic(settings_for("https://example.org", item_url="/{lang}/news/{id}"))
    assert built.item_url("en", 7) == "https://example.org/en/news/7"


def test_release_addresses_are_recognised_strictly() -> None:
    source = Generic(settings_for("https://www.akorda.kz"))
    page = "https://www.akorda.kz/en/press"
    assert source.parse_release_url("/en/press/2024/05/22/talks-4211", page) == (
        "en", 4211, "https://www.akorda.kz/en/press/2024/05/22/talks-4211")
    assert source.parse_release_url("/en/press/2024/05/22/talks-4211/#top", page)[1] == 4211
    assert source.parse_release_url("https://evil.example/en/press/2024/05/22/talks-4211", page) is None
    assert source.parse_release_url("/en/press/2024/05/22/talks-4211/comments", page) is None
    assert source.parse_release_url("/en/press/page/2", page) is None
    assert source.parse_release_url("http://[::1", page) is None
    assert source.parse_release_url("/en/press/2024/05/22/x-" + "9" * 30, page) is None
    by_query = Generic(settings_for("https://example.org", release_pattern=r"/news\.php\?id=(?P<id>\d+)"))
    assert by_query.parse_release_url("/news.php?id=12", "https://example.org/")[1] == 12


def test_the_kind_is_registered_and_built_from_any_settings_object() -> None:
    assert KINDS["generic"] is Generic
    loose = SimpleNamespace(base_url="https://example.org", languages=["kk", "xx"], release_pattern=r"/n/(?P<id>\d+)",
                            request_delay=1.0)
    source = create_source(loose, None, kind="generic", name="Example")
    assert (source.kind, source.name, source.display_name) == ("generic", "Example", "Example")
    assert Generic(settings_for("https://example.org", name="")).display_name == "example.org"
    assert source.supported_languages == ("kk", "xx")
    assert source.language_names == {"kk": "Қазақша", "xx": "xx"}
    assert source.language_tags == {"kk": "kk", "xx": "xx"}
    assert source.ordered(["xx", "kk", "zz"]) == ["kk", "xx", "zz"]
    assert source.parse_date("22 желтоқсан 2022 ж.") == "2022-12-22"
    assert str(source.timezone) == "UTC"
    assert str(Generic(settings_for("https://example.org")).timezone) == "Asia/Almaty"


@pytest.mark.parametrize(("changes", "key", "words"), [
    ({"base_url": "ftp://example.org"}, "base_url", "http(s)"),
    ({"base_url": ""}, "base_url", "http(s)"),
    ({"languages": ()}, "languages", "empty"),
    ({"languages": ("kk", "kk")}, "languages", "twice"),
    ({"languages": ("k k",)}, "languages", "not a language code"),
    ({"timezone": "Mars/Olympus"}, "timezone", "IANA"),
    ({"list_url": "/{lang}/press"}, "list_url", "no {page}"),
    ({"list_url": "/{lang}/press/{pgae}"}, "list_url", "unknown placeholder {pgae}"),
    ({"list_url": "/{lang/press/{page}"}, "list_url", "braces"),
    ({"first_page_url": "/{lang}/press/{page}"}, "first_page_url", "unknown placeholder {page}"),
    ({"item_url": "/{lang}/news"}, "item_url", "no {id}"),
    ({"release_pattern": ""}, "release_pattern", "empty"),
    ({"release_pattern": "/news/(\\d+)"}, "release_pattern", "(?P<id>"),
    ({"release_pattern": "/news/(?P<id>\\d+"}, "release_pattern", "not a regular expression"),
    ({"list_item": "div[["}, "list_item", "not a CSS selector"),
])
def test_settings_mistakes_name_the_key(changes: dict[str, object], key: str, words: str) -> None:
    changes = dict(changes)
    settings = settings_for(str(changes.pop("base_url", "https://example.org")), **changes)
    assert [k for k, _ in settings.problems()] == [key]
    with pytest.raises(GenericSettingsError) as raised:
        Generic(settings)
    assert isinstance(raised.value, UsageError)
    assert raised.value.key == key and words in str(raised.value) and str(raised.value).startswith(f"{key}: ")


def test_good_settings_have_no_problems() -> None:
    assert settings_for("https://example.org").problems() == []
    assert settings_for("https://example.org", **SELECTORS).problems() == []


def test_settings_fields_carry_a_comment_for_the_config() -> None:
    for field in dataclasses.fields(GenericSettings):
        assert field.metadata.get("doc"), field.name


# --- pagination -------------------------------------------------------------------------------------------
def list_html(body: str, items: str = "") -> str:
    items = items or '<div><a href="/en/news/1">One</a></div>'
    return f"<html><head><title>News | Site</title></head><body>{items}{body}</body></html>"


def paged_source() -> Generic:
    return Generic(settings_for("https://example.org", list_url="/{lang}/news?page={page}", first_page_url="/{lang}/news",
                                release_pattern=r"/(?P<lang>[a-z]{2})/news/(?P<id>\d+)"))


@pytest.mark.parametrize("pager", [
    '<link rel="next" href="/en/news?page=3">',
    '<a rel="next" href="?page=3">more</a>',
    '<a href="/en/news?page=3">3</a>',  # a numbered link to page n+1
    # labels, on addresses that are not list_url's page n+1 (a tracking parameter, another scheme)
    '<a href="?page=3&amp;s=1">›</a>', '<a href="/en/news?page=9">»</a>', '<a href="?page=3&amp;s=1">→</a>',
    '<a href="?p=3">Next</a>', '<a href="?p=3">Next page »</a>', '<a href="?p=3">Далее</a>',
    '<a href="?p=3">Келесі →</a>', '<a href="?p=3">Keyingi</a>', '<a href="?p=3"> NEXT </a>',
    '<a href="?p=3" aria-label="Next"><svg></svg></a>', '<a href="/en/news/p3" title="Далее"><i></i></a>',
])
def test_a_next_page_is_seen(pager: str) -> None:
    page_url = "https://example.org/en/news?page=2"
    assert paged_source().parse_list(list_html(pager), "en", page_url).next_page is True


@pytest.mark.parametrize("pager", [
    "",
    '<a href="/en/news?page=1">← Previous</a> <a href="/en/news?page=1">1</a> <a href="/en/news?page=2">2</a>',
    '<a href="/en/news?page=2">Next</a>',  # links to itself: the last page
    '<a href="?page=3" class="disabled">Next</a>', '<li class="disabled"><a href="?page=3">›</a></li>',
    '<a href="?page=3" aria-disabled="true">Next</a>', '<a href="#">Next</a>', '<a href="javascript:void(0)">›</a>',
    '<a href="/en/news/77">Next →</a>',  # "next release", not a list page
    '<span class="next">Next</span>',
    '<a href="/en/news?page=4">4</a>',  # a later page that is not n+1, no label
])
def test_no_next_page(pager: str) -> None:
    page_url = "https://example.org/en/news?page=2"
    assert paged_source().parse_list(list_html(pager), "en", page_url).next_page is False


def test_the_first_page_without_a_number_links_page_two() -> None:
    html = list_html('<a href="/en/news?page=2">2</a>')
    assert paged_source().parse_list(html, "en", "https://example.org/en/news").next_page is True


# --- list pages: structure ----------------------------------------------------------------------------------
def test_structure_merges_anchors_and_keeps_dates_out_of_titles() -> None:
    items = """
      <ul>
        <li><a href="/en/news/5"><img src="t.jpg" alt="thumb"></a><a href="/en/news/5">Talks held on 1 May 2024</a>
            <span>3 May 2024</span></li>
        <li><a href="/en/news/4">No date here</a></li>
        <li><time datetime="2024-04-30T21:00:00Z">30 April</time><a href="/en/news/3">Timed</a></li>
        <li><a href="/ru/news/2">Другой язык</a></li>
        <li><a href="/en/news/1#comments"></a><h3>Heading title</h3><p>1 April 2024</p></li>
      </ul>"""
    listing = paged_source().parse_list(list_html("", items), "en", "https://example.org/en/news")
    got = [(e.id, e.title, e.list_date) for e in listing.entries]
    assert got == [(5, "Talks held on 1 May 2024", "2024-05-03"), (4, "No date here", None),
                   (3, "Timed", "2024-05-01"), (1, "Heading title", "2024-04-01")]
    assert listing.entries[-1].url == "https://example.org/en/news/1"


def test_a_list_without_releases_is_empty() -> None:
    listing = paged_source().parse_list("<html><body><p>Nothing</p></body></html>", "en", "https://example.org/en/news")
    assert (listing.entries, listing.path, listing.next_page) == ([], "empty", False)
    assert paged_source().parse_list("", "en", "https://example.org/en/news").entries == []


# --- release pages: hostile and edge inputs -----------------------------------------------------------------
ITEM_URL = "https://example.org/en/news/42"


def item(html: str, **changes: object) -> object:
    source = Generic(settings_for("https://example.org", release_pattern=r"/(?P<lang>[a-z]{2})/news/(?P<id>\d+)", **changes))
    return source.parse_item(html, "en", ITEM_URL)


BODY = "<p>First paragraph of the release, long enough.</p><p>Second paragraph of the release.</p>"


def test_no_date_anywhere_is_none() -> None:
    parsed = item(f"<html><body><h1>Headline</h1><div>{BODY}</div></body></html>")
    assert (parsed.title, parsed.published) == ("Headline", None)
    assert parsed.paragraphs == ["First paragraph of the release, long enough.", "Second paragraph of the release."]


def test_no_h1_uses_og_title_then_title_minus_the_configured_suffix() -> None:
    og = '<meta property="og:title" content="From og">'
    html = f"<html><head><title>From title | My Site</title>{og}</head><body><div>{BODY}</div></body></html>"
    assert item(html).title == "From og"
    html = f"<html><head><title>From title | My Site</title></head><body><div>{BODY}</div></body></html>"
    assert item(html, title_suffixes=("My Site",)).title == "From title"
    assert item(html).title == "From title | My Site"  # a suffix seen on one page only is not cut


def test_the_site_suffix_is_learned_from_two_pages() -> None:
    source = Generic(settings_for("https://example.org", release_pattern=r"/(?P<lang>[a-z]{2})/news/(?P<id>\d+)"))
    source.parse_list("<html><head><title>News — My Site</title></head><body></body></html>", "en",
                      "https://example.org/en/news")
    html = f"<html><head><title>Only in title — My Site</title></head><body><div>{BODY}</div></body></html>"
    assert source.parse_item(html, "en", ITEM_URL).title == "Only in title"
    logo = f"<html><body><h1>My Site</h1><h1>Real headline</h1><div>{BODY}</div></body></html>"
    assert source.parse_item(logo, "en", ITEM_URL).title == "Real headline"


def test_the_page_header_logo_is_not_the_headline() -> None:
    html = (f"<html><body><header><h1 class=logo>Site</h1><nav><p>Menu item one</p></nav></header>"
            f"<div class=content><h2>x</h2><article><h1>Real</h1><div>{BODY}</div></article></div></body></html>")
    assert item(html).title == "Real"


def test_nested_containers_and_a_longer_sidebar_after_the_body() -> None:
    html = f"""<html><body><div><div><div class="wrap"><div class="inner">
      <h1>Headline</h1><div class="meta"><span>22 May 2024</span></div>
      <div><div><div class="text">{BODY}</div></div></div>
      </div></div></div></div>
      <div class="related"><p>short</p><p>tiny</p></div></body></html>"""
    parsed = item(html)
    assert parsed.paragraphs == ["First paragraph of the release, long enough.", "Second paragraph of the release."]
    assert parsed.published == "2024-05-22"


def test_br_blocks_in_the_container_that_holds_the_headline() -> None:
    html = """<html><body><div class="post">
      <h1>Headline</h1>
      22.05.2024<br>
      First block with a <a href="/en/about">link</a> and <b>bold</b> words.<br><br>
      Second block, line one<br>line two.<br> <br>
      Third block.
      <div class="share">Share this</div>
    </div></body></html>"""
    parsed = item(html)
    assert parsed.paragraphs == ["First block with a link and bold words.", "Second block, line one line two.",
                                 "Third block."]
    assert parsed.published == "2024-05-22"
    assert parsed.links == ["https://example.org/en/about"]


def test_single_br_separates_blocks_when_none_is_doubled() -> None:
    html = "<html><body><h1>H</h1><div>One block.<br>Another block.<br>A third block.</div></body></html>"
    assert item(html).paragraphs == ["One block.", "Another block.", "A third block."]


def test_p_with_a_line_break_keeps_its_words_apart() -> None:
    html = "<html><body><h1>H</h1><div><p>line one<br>line two</p><p>next</p></div></body></html>"
    assert item(html).paragraphs == ["line one line two", "next"]


def test_the_date_nearest_the_headline_and_its_sources_in_order() -> None:
    related = "<aside><ul><li>1 January 2020</li></ul></aside>"  # page frame: never the release's date
    near = f"<html><body>{related}<div><a href=/>Home</a></div><h1>H</h1><p class=d>3 May 2024</p><div>{BODY}</div></body></html>"
    assert item(near).published == "2024-05-03"
    before = f"<html><body><p>2 May 2024</p><h1>H</h1><div><p>3 May 2024</p></div><div>{BODY}</div></body></html>"
    assert item(before).published == "2024-05-02"  # at equal reach, the line before the headline
    farther = f"<html><body><p>2 May 2024</p><div><div><h1>H</h1></div></div><p>3 May 2024</p><div>{BODY}</div></body></html>"
    assert item(farther).published == "2024-05-03"
    timed = f'<html><body><h1>H</h1><p>3 May 2024</p><time datetime="2024-05-01">May 1</time><div>{BODY}</div></body></html>'
    assert item(timed).published == "2024-05-01"  # <time datetime> before a text date
    meta = ('<html><head><meta property="article:published_time" content="2024-05-01T20:00:00Z"></head>'
            f"<body><h1>H</h1><p>3 May 2024</p><div>{BODY}</div></body></html>")
    assert item(meta).published == "2024-05-02"  # in the site's zone (Asia/Almaty), before a text date
    in_headline = f"<html><body><h1>Agreement of 1 May 2020</h1><div>{BODY}</div></body></html>"
    assert item(in_headline).published is None


def test_a_configured_date_selector_reads_attributes_and_text() -> None:
    html = f'<html><body><h1>H</h1><span class="when" data-x="1">07.03.2024</span><div>{BODY}</div></body></html>'
    assert item(html, item_date=".when").published == "2024-03-07"
    html = f'<html><body><h1>H</h1><meta class="when" content="2024-03-08"><div>{BODY}</div></body></html>'
    assert item(html, item_date=".when").published == "2024-03-08"


def test_a_page_wrapped_in_a_form_keeps_its_release() -> None:
    html = f'<html><body><form id="aspnetForm"><nav>menu</nav><h1>Inside a form</h1><div>{BODY}</div></form></body></html>'
    parsed = item(html)
    assert parsed.title == "Inside a form" and len(parsed.paragraphs) == 2


def test_a_closing_line_citing_the_page_itself_is_not_body() -> None:
    own = "<p>Source: https://mirror.example/en/news/42</p>"
    other = "<p>See also: https://example.org/en/news/41</p>"
    html = f"<html><body><h1>H</h1><div>{BODY}{other}{own}</div></body></html>"
    assert item(html).paragraphs[-1] == "See also: https://example.org/en/news/41"


def test_a_body_selector_that_matches_nested_elements_takes_each_paragraph_once() -> None:
    html = f"<html><body><h1>H</h1><div class=a><div class=a>{BODY}</div></div></body></html>"
    parsed = item(html, item_body="div.a")
    assert parsed.paragraphs == ["First paragraph of the release, long enough.", "Second paragraph of the release."]
    assert parsed.path == "selectors"


def test_chrome_phrases_and_date_lines_are_not_body() -> None:
    html = "<html><body><h1>H</h1><div><p>22 May 2024</p><p>Real text.</p><p>Share on social media</p></div></body></html>"
    assert item(html, chrome_phrases=("share on SOCIAL media",)).paragraphs == ["Real text."]


@pytest.mark.parametrize(("html", "reason"), [
    ("", "no headline"),
    ("<html><body><p>text only</p></body></html>", "no headline"),
    ("<html><body><h1>Headline</h1></body></html>", "no body"),
    ("<html><body><h1>Headline</h1><p>Headline</p></body></html>", "no body"),
])
def test_pages_without_a_release_raise_parse_error(html: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        item(html)


def test_an_address_that_is_no_release_raises_parse_error() -> None:
    source = Generic(settings_for("https://example.org"))
    with pytest.raises(ParseError, match="not a release address"):
        source.parse_item(f"<h1>H</h1>{BODY}", "en", "https://example.org/en/about")


def test_deep_nesting_and_malformed_markup_do_not_break_the_parser() -> None:
    deep = "<div>" * 3000 + f"<h1>Deep</h1>{BODY}" + "</div>" * 3000
    assert item(f"<html><body>{deep}</body></html>").title == "Deep"
    untitled = "<div>" * 3000 + f"<div>From the title</div>{BODY}" + "</div>" * 3000
    parsed = item(f"<html><head><title>From the title</title></head><body>{untitled}</body></html>")
    assert (parsed.title, len(parsed.paragraphs)) == ("From the title", 2)
    spans = "<span>" * 3000 + "x<br><br>y" + "</span>" * 3000
    assert item(f"<html><body><h1>H</h1><div>one<br><br>{spans}</div></body></html>").paragraphs == ["one", "x", "y"]
    broken = f'<html><body><h1>Broken</h2><div>{BODY}<a href="http://[::1">x</a><img src="data:x"></div></span></body>'
    parsed = item(broken)
    assert parsed.paragraphs and parsed.images == []
    listing = paged_source().parse_list('<a href="http://[::1">x</a>' * 50, "en", "https://example.org/en/news")
    assert listing.entries == []


def test_rendering_is_pure() -> None:
    article = Article(id=1, lang="en", slug="s", date=__import__("datetime").date(2024, 1, 2), title="T", blocks=["a\nb", "c"])
    assert render_article_page(article) == render_article_page(article)
    assert "a<br>b<br><br>" in render_article_page(article)
    assert render_list_page([article], "en", 2) is None


def test_release_key_names_the_version_an_address_is(crawled: Crawled) -> None:
    source = Generic(settings_for(crawled.base_url))
    article = crawled.articles[0]
    url = crawled.base_url + article_path(article)
    assert source.release_key(url) == (article.id, article.lang)
    assert source.release_key(crawled.base_url + "/en/about") is None
