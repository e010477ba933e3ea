"""presswatch configured by TOML alone crawls a press site unlike president.uz
(devsites/presssite.py) completely: exact titles, dates and bodies, each version from its listed
address; ids not shared across languages are never tried in another language."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from crawler.cli import main
from devsites.presssite import PressSite, article_path

RELEASE_PATTERN = r"/(?P<lang>[a-z]{2})/press/\d{4}/\d{2}/\d{2}/[a-z0-9-]+-(?P<id>\d+)"


def presssite_toml(base_url: str, *, name: str = "akorda", extra: str = "") -> str:
    return f"""
[[sources]]
name = "{name}"
kind = "generic"
base_url = "{base_url}"
languages = ["kk", "ru", "en"]
request_delay = 0.0
contact = "mailto:ops@example.org"
{extra}
[sources.generic]
name = "Akorda"
timezone = "Asia/Almaty"
list_url = "/{{lang}}/press/page/{{page}}"
first_page_url = "/{{lang}}/press"
release_pattern = '{RELEASE_PATTERN}'
shared_ids = false
"""


def as_rendered(block: str) -> str:
    return " ".join(block.split())


def test_a_generic_source_configured_in_toml_is_crawled_completely(tmp_path, capsys):
    with PressSite() as site:
        config = tmp_path / "presswatch.toml"
        config.write_text(presssite_toml(site.base_url) + f'\n[store]\npath = "{tmp_path / "s.db"}"\n', encoding="utf-8")
        assert main(["crawl", "--config", str(config)]) == 0
        articles = site.articles
        requested = list(site.requests)
    db = sqlite3.connect(tmp_path / "s.db")
    stored = {(row[0], row[1]): row[2:] for row in db.execute("select id, lang, url, title, published, paragraphs from items")}
    assert set(stored) == {(a.id, a.lang) for a in articles}
    for article in articles:
        url, title, published, paragraphs = stored[(article.id, article.lang)]
        assert url == site.base_url + article_path(article)
        assert (title, published) == (article.title, article.date.isoformat())
        assert json.loads(paragraphs) == [as_rendered(block) for block in article.blocks]
    # ids are per language version: no id was tried in a language it was not listed in
    release_requests = [path for path in requested if re.fullmatch(RELEASE_PATTERN, path)]
    assert len(release_requests) == len(articles)
    out = capsys.readouterr().out
    assert "crawl run" in out and " 0 errors" in out  # no id tried in a language it was not listed in


# The same addresses, without the language as a group: it is known only from the list that showed them.
NO_LANG_GROUP = r"/[a-z]{2}/press/\d{4}/\d{2}/\d{2}/[a-z0-9-]+-(?P<id>\d+)"


@pytest.mark.parametrize("pattern", [RELEASE_PATTERN, NO_LANG_GROUP], ids=["lang in the address", "no lang group"])
def test_a_later_process_fetches_releases_at_the_addresses_their_list_pages_gave(tmp_path, capsys, pattern):
    """A slug site's address is not built from the id: a run that reads no list page (a backfill by
    ids, in a new process) takes it from the store's listings; ids not shared are not crossed."""
    with PressSite() as site:
        config = tmp_path / "presswatch.toml"
        config.write_text(presssite_toml(site.base_url, extra="max_releases_per_run = 5").replace(RELEASE_PATTERN, pattern)
                          + f'\n[store]\npath = "{tmp_path / "s.db"}"\n', encoding="utf-8")
        assert main(["crawl", "--config", str(config)]) == 0
        db = sqlite3.connect(tmp_path / "s.db")
        assert db.execute("select count(*) from items").fetchone()[0] == 5
        ids = [a.id for a in site.articles]
        assert main(["backfill", "--config", str(config), "--ids", f"{min(ids)}-{max(ids)}"]) == 0
        out = capsys.readouterr().out
        assert set(db.execute("select id, lang from items")) == {(a.id, a.lang) for a in site.articles}
    assert " 0 errors" in out.splitlines()[-1], out


def matched_topics(tmp_path, site: PressSite, extra: str) -> set[str]:
    config = tmp_path / f"presswatch{len(extra)}.toml"
    store = tmp_path / f"s{len(extra)}.db"
    config.write_text(presssite_toml(site.base_url, extra=extra) + f'\n[store]\npath = "{store}"\n', encoding="utf-8")
    assert main(["crawl", "--config", str(config)]) == 0
    return {row[0] for row in sqlite3.connect(store).execute("select distinct topic from matches")}


def test_a_source_is_tagged_with_the_topics_it_names(tmp_path, capsys):
    with PressSite() as site:
        # the opt-in neighbour topic only where a source names it; the default topics otherwise
        assert matched_topics(tmp_path, site, 'topics = ["uzbekistan"]') == {"uzbekistan"}
        default = matched_topics(tmp_path, site, "")
    assert default and "uzbekistan" not in default


def test_a_site_of_one_list_page_without_a_pager_ends_its_walk_quietly(tmp_path, capsys):
    """The walk tries page 2 after a page with no link onwards; that page not existing (404) is the
    end of the list, not an error of the run."""
    import datetime as dt

    from devsites.presssite import sample_articles

    with PressSite(sample_articles(3, newest=dt.date(2024, 1, 15))) as site:
        config = tmp_path / "presswatch.toml"
        config.write_text(presssite_toml(site.base_url) + f'\n[store]\npath = "{tmp_path / "s.db"}"\n', encoding="utf-8")
        assert main(["crawl", "--config", str(config)]) == 0
        probed = [path for path in site.requests if path.endswith("/page/2")]
    assert probed  # the walk did look past the first page
    db = sqlite3.connect(tmp_path / "s.db")
    assert db.execute("select outcome, errors from crawl_runs").fetchall() == [("ok", 0)]
    assert db.execute("select count(*) from crawl_errors").fetchone() == (0,)


def test_a_pager_of_cursor_addresses_is_walked_by_the_links_it_gives(tmp_path, capsys):
    """The next page is where the pager's link leads (?cursor=...), not the page number's address
    the list_url template builds (which this site does not serve)."""
    with PressSite(per_page=8, cursor_pager=True) as site:
        config = tmp_path / "presswatch.toml"
        config.write_text(presssite_toml(site.base_url) + f'\n[store]\npath = "{tmp_path / "s.db"}"\n', encoding="utf-8")
        assert main(["crawl", "--config", str(config)]) == 0
        articles, requested = site.articles, list(site.requests)
    assert any("?cursor=" in path for path in requested)
    assert not any("/page/" in path for path in requested)  # never the template's address
    db = sqlite3.connect(tmp_path / "s.db")
    assert set(db.execute("select id, lang from items")) == {(a.id, a.lang) for a in articles}
    assert db.execute("select outcome, errors from crawl_runs").fetchall() == [("ok", 0)]


def test_a_next_link_is_given_absolute_and_only_on_the_sites_own_host(tmp_path):
    from crawler import app

    config = tmp_path / "presswatch.toml"
    config.write_text(presssite_toml("http://127.0.0.1:9"), encoding="utf-8")
    source = app.source(app.load(config))
    page = "http://127.0.0.1:9/en/press"
    card = '<div class="c"><a href="/en/press/2024/05/22/talks-4211">Talks</a><span>May 22, 2024</span></div>'

    def onwards(href: str):
        listing = source.parse_list(f'<html><body>{card}<a rel="next" href="{href}">Next</a></body></html>', "en", page)
        return listing.next_page, listing.next_url

    assert onwards("?cursor=abc") == (True, "http://127.0.0.1:9/en/press?cursor=abc")
    # a pager leading off-site: the page has more, but the walk is never led there
    assert onwards("http://elsewhere.example/en/press?cursor=abc") == (True, None)
    assert onwards("http://127.0.0.1:10/en/press?cursor=abc") == (True, None)
