"""The product pages of `presswatch serve` (crawler/webview), the word diff, the topic trends and
`presswatch latest` / `show --diff`: through Datasette's in-process client and the CLI."""

from __future__ import annotations

import asyncio
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote

import pytest
from test_web import KAZAKH_TITLE, build, president_uz

from crawler.cli import main
from crawler.model import ParsedItem, StoredVersion
from crawler.searchindex import search_hook
from crawler.store import Store
from crawler.textdiff import DELETE, EQUAL, INSERT, render_html, render_text, tokens, word_diff

EDITED_BEFORE = ["Обсуждены вопросы границы."]
EDITED_AFTER = ["Обсуждены вопросы границы и воды."]


def add_edit(path: Path) -> Path:
    """Release 5782 in Russian edited once: 'и воды' added."""
    with Store.open(path) as store:
        item = ParsedItem(id=5782, lang="ru", url="https://president.uz/ru/lists/view/5782",
                          title="Президенты Узбекистана и Казахстана встретились в Ташкенте",
                          published="2026-03-18", paragraphs=EDITED_AFTER, source="president.uz")
        with store.atomic():
            outcome = store.save_item(item)
            search_hook(store, StoredVersion(item, outcome))
        assert outcome == "changed"
        with store.atomic():
            for week, item_id in enumerate((5700, 5710, 5720)):
                older = ParsedItem(id=item_id, lang="ru", url=f"https://president.uz/ru/lists/view/{item_id}",
                                   title=f"Казахстан {item_id}", published=f"2026-01-{5 + week * 14:02d}",
                                   paragraphs=["Казахстан."], source="president.uz")
                store.save_item(older)
                store.db["matches"].insert({"source": "president.uz", "id": item_id, "lang": "ru", "topic": "kazakhstan", "label": "Kazakhstan",
                                            "term": "казахстан*", "field": "title", "start": 0, "end": 9,
                                            "text": "Казахстан", "snippet": "", "tagged_at": "2026-03-10T00:00:00Z"})
            store.db["crawl_runs"].insert({"source": "president.uz", "kind": "crawl", "started": "2026-03-18T10:00:00", "finished":
                                           "2026-03-18T10:00:42", "outcome": "ok", "pages_fetched": 5,
                                           "requests": 7, "new": 6, "changed": 1, "errors": 0,
                                           "list_items": 12, "list_path": "selectors"})
    return path


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    return add_edit(build(tmp_path_factory.mktemp("pages") / "pw.db"))


@pytest.fixture(scope="module")
def client(store_path):
    from crawler.web import make_datasette

    datasette = make_datasette(store_path, president_uz())
    asyncio.run(datasette.invoke_startup())

    def get(url: str, **options):
        return asyncio.run(datasette.client.get(url, **options))

    return get


def test_home_shows_one_row_per_release_in_the_chosen_language(client):
    page = client("/")
    assert page.status_code == 200
    assert page.text.count('class="release"') == 6
    assert KAZAKH_TITLE in page.text  # the first language of the source, by default
    assert "Tariffs &lt;b&gt;cut&lt;/b&gt; &amp; water" in page.text  # only in English: the fallback
    assert 'class="badge tone-' in page.text and 'title="Kazakhstan: Қозоғистон"' in page.text
    assert '<link rel="alternate" type="application/atom+xml"' in page.text


def test_language_switch_is_remembered_in_a_cookie(client):
    page = client("/?show=ru")
    assert "Президенты Узбекистана и Казахстана встретились в Ташкенте" in page.text
    assert "presswatch_show=ru" in page.headers["set-cookie"]
    again = client("/", cookies={"presswatch_show": "ru"})
    assert "Президенты Узбекистана" in again.text and KAZAKH_TITLE not in again.text
    assert client("/", cookies={"presswatch_show": "<script>"}).status_code == 200  # a bad cookie is ignored


def test_filters_are_kept_in_the_address(client):
    page = client("/?topic=kazakhstan&show=ru")
    assert page.text.count('class="release"') == 4
    assert '<option value="kazakhstan" selected>' in page.text
    assert client("/?since=2026-03-15&until=2026-03-18").text.count('class="release"') == 1
    assert client("/?lang=en").text.count('class="release"') == 2


def test_pages_of_releases(client, monkeypatch):
    from crawler.webview import pages

    monkeypatch.setattr(pages, "PER_PAGE", 4)
    first, second = client("/?topic=").text, client("/?page=2").text
    assert first.count('class="release"') == 4 and 'href="/?page=2"' in first
    assert second.count('class="release"') == 2 and 'rel="prev"' in second and 'rel="next"' not in second


def test_search_in_latin_finds_cyrillic_with_marked_snippets(client):
    page = client("/search?q=" + quote("Qozog'iston"))
    assert page.status_code == 200
    assert 'href="/release/5782#v-uz"' in page.text
    assert "<mark>Қозоғистон</mark>" in page.text
    assert client("/search?q=" + quote("Qozog'iston") + "&lang=ru").text.count('class="hit"') == 0
    empty = client("/search?q=" + quote('"(*'))
    assert empty.status_code == 200 and "nothing to search for" in empty.text


def test_search_pages(client, monkeypatch):
    from crawler.webview import pages

    monkeypatch.setattr(pages, "SEARCH_LIMIT", 2)
    first = client("/search?q=" + quote("Qozog'iston"))
    assert first.text.count('class="hit"') == 2 and "page=2" in first.text and "q=Qozog" in first.text
    second = client("/search?page=2&q=" + quote("Qozog'iston"))
    assert second.text.count('class="hit"') == 1 and 'rel="next"' not in second.text
    assert client("/search?page=11&q=x").status_code == 400


def test_release_page_has_every_version_marks_and_the_word_diff(client):
    page = client("/release/5782")
    assert page.status_code == 200
    assert page.text.count('<article class="version"') == 4
    assert '<mark title="Kazakhstan (қозоғистон*)">Қозоғистон</mark>' in page.text
    assert 'href="https://president.uz/ru/lists/view/5782"' in page.text
    assert "<ins> в Ташкенте</ins>" in page.text and "<ins> и воды</ins>" in page.text
    assert 'id="history"' in page.text


def test_topic_page_draws_one_mark_per_period(client):
    monthly = client("/topic/kazakhstan")
    assert monthly.status_code == 200
    assert re.findall(r'data-period="([^"]+)"', monthly.text) == ["2026-01", "2026-02", "2026-03"]
    assert re.findall(r'data-count="(\d+)"', monthly.text) == ["3", "0", "1"]
    assert '<title id="chart-title">' in monthly.text and "<table" in monthly.text
    weekly = client("/topic/kazakhstan?by=week")
    assert len(re.findall(r'class="mark"', weekly.text)) == 11  # 2026-01-05 .. 2026-03-16, empty weeks too


def test_topic_page_names_the_topic_and_lists_its_latest_releases(client):
    page = client("/topic/kazakhstan").text
    assert '<p class="crumbs"><a href="/">Releases</a> › <a href="/topics">Topics</a> › Kazakhstan</p>' in page
    latest = page.split("<h2>Latest releases</h2>", 1)[1]
    assert list(dict.fromkeys(re.findall(r'href="/release/(\d+)', latest))) == ["5782", "5720", "5710", "5700"]
    assert "4 releases in 3 months from 2026-01 to 2026-03" in page


def test_counts_are_pluralised():
    from crawler.trends import Count, counted, svg_chart

    assert (counted(1, "release"), counted(3, "release"), counted(0, "month")) == ("1 release", "3 releases", "0 months")
    assert "3 releases in 1 month from 2026-03" in svg_chart([Count("2026-03-01", "2026-03", 3)], "t")
    assert "1 release in 1 week" in svg_chart([Count("2026-03-02", "2026-03-02", 1)], "t", "week")


def test_topics_page_charts_every_topic(client):
    page = client("/topics")
    assert page.status_code == 200
    assert 'href="/topic/kazakhstan"' in page.text and 'aria-labelledby="chart-kazakhstan-title' in page.text
    assert len(re.findall(r'class="mark"', page.text)) == 3
    assert '<span class="meta">4 releases</span>' in page.text


def test_health_page(client):
    page = client("/health")
    assert page.status_code == 200
    assert "layout drift" in page.text and "42 s" in page.text
    assert 'class="count-queued"' in page.text


def test_health_page_shows_the_outbox_counts_and_the_runs_columns(store_path, tmp_path):
    import shutil

    from crawler.web import make_datasette

    path = shutil.copy(store_path, tmp_path / "pw.db")
    with Store.open(path) as store, store.atomic():
        for number, status in enumerate(["queued"] * 3 + ["sent"] * 2 + ["failed"]):
            store.db["outbox"].insert({"key": f"k{number}", "kind": "release", "route": "team", "status": status,
                                       "created_at": "2026-03-18T10:00:00Z", "due_at": "2026-03-18T10:00:00Z"})
    datasette = make_datasette(Path(path), president_uz())
    page = asyncio.run(datasette.client.get("/health")).text
    for status, count in (("queued", 3), ("sent", 2), ("failed", 1)):
        assert f'<span class="count-{status}">{status}: <strong>{count}</strong></span>' in page
    # the run of add_edit(): outcome, duration, requests, new, edited, errors, lists
    assert ("<td>ok</td><td>42 s</td><td>7</td><td>6</td><td>1</td><td>0</td><td>selectors</td>"
            in re.sub(r'<td title="[^"]*">', "<td>", page))


@pytest.mark.parametrize("url", ["/", "/search?q=water", "/release/5782", "/topic/kazakhstan"])
def test_every_page_links_its_feed_for_autodiscovery(client, url):
    page = client(url).text
    assert re.search(r'<link rel="alternate" type="application/atom\+xml"[^>]* href="/feeds/[^"]+\.atom', page), url


def test_feeds_are_served(client):
    answer = client("/feeds/kazakhstan.atom?lang=ru")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/atom+xml")
    entries = ET.fromstring(answer.content).findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == 3
    assert client("/feeds/all.atom").status_code == 200
    assert client("/feeds/nosuchtopic.atom").status_code == 404


@pytest.mark.parametrize("url", [
    "/?topic=%27%20or%201=1--", "/?page=0", "/?page=99999999999999999999", "/?page=-1", "/?lang=zz",
    "/?lang=ru&lang=en", "/?since=2026-13-01", "/?since=2026-03-10&until=2026-03-01", "/?show=%3Cb%3E",
    "/?source=elsewhere", "/?topic=" + "a" * 300, "/?since=%00", "/search?q=" + "x" * 501,
    "/topic/kazakhstan?by=year", "/topic/%27;drop", "/feeds/all.atom?lang=zz", "/release/1?page=x",
    "/raw/elsewhere/5782/ru", "/raw/president.uz/5782/zz", "/raw/%00/5782/ru", "/raw/president.uz/5782/%3Cb%3E",
    "/raw/%2Fetc%2Fpasswd/5782/ru", "/raw/president.uz%27%3B--/5782/ru", "/raw/president.uz/5782/ru%00",
])
def test_a_hostile_parameter_gets_a_400_page(client, url):
    answer = client(url)
    assert answer.status_code == 400
    assert "Bad request" in answer.text
    assert not re.search(r"Traceback|select |sqlite|\.py\b", answer.text, re.IGNORECASE)


@pytest.mark.parametrize("url", ["/release/1", "/topic/nothing", "/release/99999999999"])
def test_nothing_there_is_a_404_page(client, url):
    answer = client(url)
    assert answer.status_code == 404 and "Not found" in answer.text


def test_a_bug_is_a_500_page_without_a_traceback(client, monkeypatch):
    from crawler.webview import queries

    def broken(*args):
        raise RuntimeError("select secret from /srv/store.db")

    monkeypatch.setattr(queries, "newest", broken)
    answer = client("/")
    assert answer.status_code == 500
    assert "Something went wrong" in answer.text and "secret" not in answer.text and "Traceback" not in answer.text


def test_pages_forbid_scripts_and_foreign_resources(client):
    policy = client("/").headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert client("/assets/presswatch.css").headers["content-type"].startswith("text/css")


# --- the word diff --------------------------------------------------------------------------------
def test_word_diff_marks_words_not_characters():
    pieces = word_diff("The border talks ended.", "The water talks ended today.")
    assert render_text(pieces) == "The [-border-]{+water+} talks ended{+ today+}."
    assert {p.kind for p in pieces} == {EQUAL, DELETE, INSERT}
    assert "".join(tokens("Qozogʻiston, 2026!")) == "Qozogʻiston, 2026!"


def test_word_diff_aligns_paragraphs_and_escapes_html():
    old = "First <b>para</b>.\n\nSecond para.\n\nThird."
    new = "First <b>para</b>.\n\nSecond paragraph.\n\nThird."
    html = render_html(word_diff(old, new))
    assert html.count("<p>") == 3 and "&lt;b&gt;" in html
    assert "<del>para</del><ins>paragraph</ins>" in html


def test_word_diff_of_a_huge_block_stays_bounded():
    old, new = " ".join(["a"] * 20_000), " ".join(["b"] * 20_000)
    pieces = word_diff(old, new)
    assert [p.kind for p in pieces] == [DELETE, INSERT]


# --- the CLI --------------------------------------------------------------------------------------
def test_show_diff_prints_the_word_diff(store_path, capsys, monkeypatch):
    monkeypatch.delenv("PRESSWATCH_CONFIG", raising=False)
    assert main(["show", "5782", "--diff", "--lang", "ru", "--store", str(store_path)]) == 0
    out = capsys.readouterr().out
    assert "5782/ru  version 1 → 2" in out
    assert "встретились{+ в Ташкенте+}" in out and "границы{+ и воды+}." in out
    assert main(["show", "5782", "--diff", "--lang", "en", "--store", str(store_path)]) == 0
    assert "5782/en: no edit stored" in capsys.readouterr().out
    assert main(["show", "5782", "--diff", "--format", "json", "--store", str(store_path)]) == 2


def test_latest_lists_newest_releases_with_topics(store_path, capsys, monkeypatch):
    monkeypatch.delenv("PRESSWATCH_CONFIG", raising=False)
    assert main(["latest", "-n", "2", "--store", str(store_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("2026-03-19  5790/oz  Qozog'iston delegatsiyasi")
    assert main(["latest", "--topic", "kazakhstan", "--lang", "ru", "--format", "json", "--store",
                 str(store_path)]) == 0
    rows = json.loads(capsys.readouterr().out)
    # the topic and the language filter versions: 5782 is tagged in its Uzbek version only
    assert [r["id"] for r in rows] == [5720, 5710, 5700]
    assert rows[0]["topics"] == ["kazakhstan"] and rows[0]["lang"] == "ru"
    assert main(["latest", "--lang", "zz", "--store", str(store_path)]) == 2


def test_trend_counts_releases_per_period_several_in_one(store_path):
    from sqlite_utils import Database

    from crawler.trends import svg_chart, topic_counts

    db = Database(store_path)
    with Store.open(store_path) as store, store.atomic():
        store.db["matches"].insert({"source": "president.uz", "id": 5790, "lang": "oz", "topic": "kazakhstan", "label": "Kazakhstan",
                                    "term": "qozogiston*", "field": "title", "start": 0, "end": 11,
                                    "text": "Qozog'iston", "snippet": "", "tagged_at": "2026-03-10T00:00:00Z"})
    try:
        counts = topic_counts(db, "kazakhstan", "week")
        assert [(c.label, c.releases) for c in counts][-1] == ("2026-03-16", 2)  # 5782 and 5790: the same week
        svg = svg_chart(counts, "Kazakhstan <per week>", "week")
        assert svg.count('class="mark"') == len(counts) and "&lt;per week&gt;" in svg
    finally:
        with Store.open(store_path) as store, store.atomic():
            store.db.execute("delete from matches where id = 5790")


def test_the_source_is_shown_and_filtered_once_the_store_holds_several(store_path, tmp_path):
    """A store holding two sources: sources are offered and filtered; a release number both hold is
    asked for with its source."""
    import shutil
    import sqlite3

    from crawler.web import make_datasette

    copy = tmp_path / "sources.db"
    shutil.copy(store_path, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("update items set source = 'press.example' where id = 5800")
        conn.execute("insert into items (source, id, lang, url, title, body, content_hash, version, first_seen, last_seen) "
                     "select 'press.example', id, lang, url, 'Other ' || title, body, content_hash, 1, first_seen, "
                     "last_seen from items where id = 5782 and lang = 'ru'")
    datasette = make_datasette(copy, president_uz())

    async def fetch(url):
        await datasette.invoke_startup()
        return await datasette.client.get(url)

    home = asyncio.run(fetch("/"))
    assert '<select name="source">' in home.text and '<span class="source" title="press.example">press.example</span>' in home.text
    only = asyncio.run(fetch("/?source=press.example"))
    assert only.text.count('class="release"') == 2 and "Tariffs" in only.text and "Other " in only.text
    assert asyncio.run(fetch("/?source=nowhere")).status_code == 400
    both = asyncio.run(fetch("/release/5782"))
    assert both.status_code == 400 and "president.uz, press.example" in both.text
    other = asyncio.run(fetch("/release/5782?source=press.example"))
    assert other.status_code == 200 and "Other " in other.text
    assert "Other " not in asyncio.run(fetch("/release/5782?source=president.uz")).text


# A site's page as kept in the archive: legacy charset, and a script that must never run here.
ARCHIVED_HTML = ("<html><head><meta charset='windows-1251'><title>Президенты</title></head><body>"
                 "<h1>Президенты встретились</h1><script>document.title = 'pwned'</script>"
                 "<img src='https://tracker.example/p.gif'></body></html>").encode("cp1251")


def test_the_archived_page_is_linked_and_served_sandboxed(store_path, tmp_path):
    import shutil

    from crawler import archive
    from crawler.web import make_datasette

    copy = tmp_path / "archived.db"
    shutil.copy(store_path, copy)
    with Store.open(copy) as store, store.atomic():
        archive.add_response(store, source="president.uz", kind=archive.RELEASE,
                             url="https://president.uz/ru/lists/view/5782",
                             final_url="https://president.uz/ru/lists/view/5782", status=200,
                             headers=[("Content-Type", "text/html; charset=windows-1251")], body=ARCHIVED_HTML,
                             fetched_at="2026-03-18T10:00:00+00:00", item_id=5782, lang="ru")
    datasette = make_datasette(copy, president_uz())

    async def fetch(url):
        await datasette.invoke_startup()
        return await datasette.client.get(url)

    page = asyncio.run(fetch("/release/5782")).text
    links = re.findall(r'<a class="archived" href="([^"]+)"', page)
    assert links == ["/raw/president.uz/5782/ru"]  # only the version with a page kept
    assert page.count('class="original"') == 4

    raw = asyncio.run(fetch(links[0]))
    assert raw.status_code == 200
    assert raw.content == ARCHIVED_HTML  # the bytes as the site sent them, script included
    assert raw.headers["content-type"] == "text/html; charset=windows-1251"
    assert raw.headers["x-content-type-options"] == "nosniff"
    policy = [part.strip() for part in raw.headers["content-security-policy"].split(";")]
    # sandbox without allow-scripts: the <script> never runs, the page has an opaque origin
    assert "sandbox" in policy and not any("allow-" in part for part in policy)
    assert "default-src 'none'" in policy and "img-src 'none'" in policy
    assert not any(part.startswith("script-src") for part in policy)
    assert "set-cookie" not in raw.headers

    missing = asyncio.run(fetch("/raw/president.uz/5782/en"))
    assert missing.status_code == 404 and "Not found" in missing.text
    assert "no archived page of release 5782 in en" in missing.text
    assert missing.headers["content-security-policy"].startswith("default-src 'none'")  # our own error page
