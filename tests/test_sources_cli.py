"""`presswatch sources list | check` against the press site on 127.0.0.1, and a source language
without terms reported by `topics lint` and `status`."""

from __future__ import annotations

import json

import pytest
from test_sources_crawl import presssite_toml

from crawler.cli import main
from devsites.mirror import Mirror
from devsites.presssite import PressSite, article_path

SELECTORS = """
list_item = "div.news-card"
list_link = "h3 a"
list_date = ".news-card__date"
item_title = "h1.article-title"
item_body = "div.gone"
"""


def write(tmp_path, text: str):
    path = tmp_path / "presswatch.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def site():
    with PressSite() as running:
        yield running


def newest(site: PressSite, lang: str):
    return max((a for a in site.articles if a.lang == lang), key=lambda a: (a.date, a.id))


def test_sources_list_names_each_source_with_its_topics(tmp_path, capsys):
    config = write(tmp_path, presssite_toml("http://127.0.0.1:9", extra='topics = ["uzbekistan", "water"]'))
    assert main(["sources", "list", "--config", config]) == 0
    out = capsys.readouterr().out
    assert out.startswith("akorda  generic  http://127.0.0.1:9  languages kk,ru,en  topics water,uzbekistan")
    assert main(["sources", "list", "--config", config, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["name"], row["topics"]) == ("akorda", ["water", "uzbekistan"])


def test_sources_list_of_a_config_with_one_source_table(capsys):
    assert main(["sources", "list"]) == 0
    assert capsys.readouterr().out.startswith("president.uz  presidentuz  https://president.uz  languages uz,oz,ru,en")


def test_sources_check_shows_what_the_structure_finds(site, tmp_path, capsys):
    config = write(tmp_path, presssite_toml(site.base_url))
    requests_before = len(site.requests)
    assert main(["sources", "check", "akorda", "--config", config, "--lang", "ru"]) == 0
    out = capsys.readouterr().out
    first = newest(site, "ru")
    assert f"list page {site.base_url}/ru/press (ru): 10 entries, found by the page's structure" in out
    assert "a next page: yes" in out
    assert f"  {first.id}  {first.date.isoformat()}  {first.title}" in out
    assert f"release {site.base_url}{article_path(first)}: id {first.id}, language ru" in out
    assert f"  title (structure): {first.title}" in out and f"  date (structure): {first.date.isoformat()}" in out
    assert f"    {' '.join(first.blocks[0].split())}" in out
    assert len(site.requests) - requests_before == 3  # robots.txt, one list page, one release


def test_sources_check_says_which_selector_fell_back(site, tmp_path, capsys):
    text = presssite_toml(site.base_url) + SELECTORS
    config = write(tmp_path, text)
    other = newest(site, "en")
    url = site.base_url + article_path(other)
    assert main(["sources", "check", "akorda", "--config", config, "--release-url", url]) == 0
    out = capsys.readouterr().out
    assert "found by the configured selectors" in out
    assert f"  title (selectors): {other.title}" in out
    assert f"  body (fallback): {len(other.blocks)} paragraphs" in out  # div.gone finds nothing


def test_sources_check_of_an_unknown_source_or_language_is_a_usage_error(site, tmp_path, capsys):
    config = write(tmp_path, presssite_toml(site.base_url))
    assert main(["sources", "check", "akrda", "--config", config]) == 2
    assert "did you mean 'akorda'" in capsys.readouterr().err
    assert main(["sources", "check", "akorda", "--config", config, "--lang", "uz"]) == 2


def test_sources_check_of_a_page_without_releases_exits_1(site, tmp_path, capsys):
    config = write(tmp_path, presssite_toml(site.base_url))
    assert main(["sources", "check", "akorda", "--config", config, "--page-url", site.base_url + "/kk/press/page/99"]) == 1
    assert "answered 404" in capsys.readouterr().out


def test_sources_check_obeys_robots_txt(tmp_path, capsys):
    with Mirror() as mirror:
        mirror.set_robots("User-agent: *\nDisallow: /\n")
        config = write(tmp_path, f'[source]\nbase_url = "{mirror.base_url}"\nrequest_delay = 0\n')
        assert main(["sources", "check", "president.uz", "--config", config]) == 1
        assert "disallowed by robots.txt" in capsys.readouterr().out


def test_a_source_language_without_terms_is_reported_by_lint_and_status(tmp_path, capsys):
    text = presssite_toml("http://127.0.0.1:9").replace('languages = ["kk", "ru", "en"]', 'languages = ["kk", "tg"]')
    config = write(tmp_path, text + f'\n[store]\npath = "{tmp_path / "s.db"}"\n')
    assert main(["topics", "lint", "--config", config]) == 1
    assert "sources.akorda: tg: no terms; releases in tg are stored untagged" in capsys.readouterr().out
    from crawler.store import Store

    Store.open(tmp_path / "s.db").close()
    main(["status", "--config", config])
    assert "topics (akorda): tg: no terms; releases in tg are stored untagged" in capsys.readouterr().out
    main(["status", "--config", config, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["untagged_languages"] == [
        {"source": "akorda", "lang": "tg", "message": "tg: no terms; releases in tg are stored untagged"}]


def test_lint_is_clean_for_a_source_whose_languages_all_have_terms(tmp_path, capsys):
    config = write(tmp_path, presssite_toml("http://127.0.0.1:9"))
    assert main(["topics", "lint", "--config", config]) == 0  # kk, ru and en all have terms
    assert "no warnings" in capsys.readouterr().out


def test_sources_check_on_the_president_uz_mirror(tmp_path, capsys):
    with Mirror() as mirror:
        config = write(tmp_path, f'[source]\nbase_url = "{mirror.base_url}"\nrequest_delay = 0\n')
        assert main(["sources", "check", "president.uz", "--config", config, "--lang", "ru"]) == 0
        newest = max(mirror.releases, key=lambda release: release.id)
    out = capsys.readouterr().out
    assert f"list page {mirror.base_url}/ru/lists/news (ru):" in out and "found by the configured selectors" in out
    assert f"release {mirror.base_url}/ru/lists/view/{newest.id}: id {newest.id}, language ru" in out
    assert "  title (selectors): " in out and "  body (selectors): " in out


def test_crawl_goes_through_every_source_and_exits_1_when_one_fails(site, tmp_path, capsys):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    text = (presssite_toml(f"http://127.0.0.1:{closed}", name="down").replace("request_delay = 0.0", "max_attempts = 1")
            + presssite_toml(site.base_url).replace("[[sources]]", "\n[[sources]]", 1)
            + f'\n[store]\npath = "{tmp_path / "s.db"}"\n')
    config = write(tmp_path, text)
    assert main(["crawl", "--config", config]) == 1
    captured = capsys.readouterr()
    assert "nothing is listening" in captured.out + captured.err
    import sqlite3

    stored = set(sqlite3.connect(tmp_path / "s.db").execute("select id, lang from items"))
    assert stored == {(a.id, a.lang) for a in site.articles}
    assert main(["crawl", "--config", config, "--source", "akorda"]) == 0


RELEASE = "/ru/press/2024/05/22/talks-4204"
ONE_OF_EACH = ("<html><head><meta property='og:image' content='/media/4204.jpg'></head><body><h1>Talks with Uzbekistan</h1><p>22 мая 2024 года</p><div class='text'>"
               "<p>The one paragraph of this release, long enough to be a body of its own here.</p>"
               "<img src='/media/4204.jpg' alt=''></div></body></html>")


def test_sources_check_counts_in_the_singular_where_there_is_one(server, tmp_path, capsys):
    from test_fetch import reply

    server.route("/ru/press", reply(200, f"<html><body><a href='{RELEASE}'>Talks with Uzbekistan</a></body></html>"))
    server.route(RELEASE, reply(200, ONE_OF_EACH))
    config = write(tmp_path, presssite_toml(server.base_url))
    assert main(["sources", "check", "akorda", "--config", config, "--lang", "ru"]) == 0
    body = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("  body ("))
    assert body.endswith(": 1 paragraph, 1 image"), body
