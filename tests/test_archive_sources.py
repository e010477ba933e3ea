"""The archive with two sources in one store whose release ids collide on purpose (the president.uz
mirror and a generic press site, "akorda", both from 9180): `show --raw` gives each source's own
page, `reparse` works and reports per source, and a WARC of both rebuilds both."""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
import urllib.request
from pathlib import Path

import pytest
from twosources import two_sources_toml
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.cli import main
from devsites.mirror import Mirror, sample_releases
from devsites.presssite import PressSite, article_path, sample_articles

FIRST_ID = 9180
RELEASES = sample_releases(3, first_id=FIRST_ID)
ARTICLES = sample_articles(3, first_id=FIRST_ID, newest=dt.date(2024, 1, 15))
# A wrong rule for the mirror only: it takes a real paragraph of one release for site chrome.
VICTIM = RELEASES[1]
DROPPED = VICTIM.versions["en"].paragraphs[1]
ITEMS = "select source, id, lang, title, published, paragraphs from items order by 1, 2, 3"


def served(url: str) -> bytes:
    with urllib.request.urlopen(url) as answer:
        return answer.read()


class Crawled:
    """Both sources crawled through the CLI (the mirror with the wrong rule), the addresses they
    had and the pages id 9180 had on each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with Mirror(RELEASES) as mirror, PressSite(ARTICLES, per_page=10) as site:
            self.mirror_url, self.site_url = mirror.base_url, site.base_url
            self.write_config(folder, chrome=DROPPED)
            assert main(["crawl", "--config", str(folder / "presswatch.toml")]) == 0
            first = next(a for a in ARTICLES if a.id == FIRST_ID)
            self.akorda_page = served(site.base_url + article_path(first))
            self.mirror_page = served(f"{mirror.base_url}/ru/lists/view/{FIRST_ID}")

    def write_config(self, folder: Path, *, chrome: str = "") -> Path:
        path = folder / "presswatch.toml"
        path.write_text(two_sources_toml(self.mirror_url, self.site_url, chrome=chrome), encoding="utf-8")
        return path

    def copy(self, folder: Path) -> Path:
        """A copy of the crawled store (through SQLite's backup) with the crawl's config."""
        folder.mkdir()
        with sqlite3.connect(self.folder / "store.db") as source, sqlite3.connect(folder / "store.db") as target:
            source.backup(target)
        return self.write_config(folder, chrome=DROPPED)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> Crawled:
    return Crawled(tmp_path_factory.mktemp("two-sources"))


def rows(path: Path, sql: str, params=()) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return [tuple(row) for row in db.execute(sql, params)]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_archive_holds_both_sources_pages_under_colliding_ids(crawled):
    kept = rows(crawled.folder / "store.db", "select distinct source from archive_responses where item_id = ?",
                [FIRST_ID])
    assert {row[0] for row in kept} == {"president.uz", "akorda"}


def test_show_raw_gives_the_page_of_the_source_asked_for(crawled, tmp_path, capsys):
    config = str(crawled.folder / "presswatch.toml")
    akorda, mirror = tmp_path / "akorda.html", tmp_path / "mirror.html"
    assert run(capsys, "show", str(FIRST_ID), "--raw", "--source", "akorda", "-o", str(akorda), "--config", config)[0] == 0
    assert run(capsys, "show", str(FIRST_ID), "--raw", "--source", "president.uz", "-o", str(mirror),
               "--config", config)[0] == 0
    assert akorda.read_bytes() == crawled.akorda_page
    assert mirror.read_bytes() == crawled.mirror_page
    assert akorda.read_bytes() != mirror.read_bytes()
    # the --source before the command means the same
    again = tmp_path / "again.html"
    assert run(capsys, "--source", "akorda", "show", str(FIRST_ID), "--raw", "-o", str(again), "--config", config)[0] == 0
    assert again.read_bytes() == crawled.akorda_page

    code, _, err = run(capsys, "show", str(FIRST_ID), "--raw", "--config", config)
    assert code == 2
    assert f"release {FIRST_ID} is in 2 sources" in err and "--source" in err
    code, _, err = run(capsys, "show", str(FIRST_ID), "--raw", "--source", "akorda", "--lang", "de",
                       "--config", config)
    assert code == 2 and "akorda has no language 'de'" in err


def test_show_raw_finds_the_source_of_a_page_that_never_became_a_version(crawled, tmp_path, capsys):
    """A page kept that the adapter could not parse is in the archive only: `show --raw` still finds
    its source, whichever is configured first."""
    from crawler import archive
    from crawler.store import Store

    config = crawled.copy(tmp_path / "copy")
    unparsed = 9999
    with Store.open(config.parent / "store.db") as store, store.atomic():
        archive.add_response(store, source="akorda", kind=archive.RELEASE, url=f"{crawled.site_url}/kk/x-{unparsed}",
                             final_url=f"{crawled.site_url}/kk/x-{unparsed}", status=200,
                             headers=[("Content-Type", "text/html; charset=utf-8")], body=b"<html>no release</html>",
                             fetched_at="2026-01-01T00:00:00+00:00", item_id=unparsed, lang="kk")
    saved = tmp_path / "page.html"
    code, _, err = run(capsys, "show", str(unparsed), "--raw", "-o", str(saved), "--config", str(config))
    assert code == 0, err
    assert saved.read_bytes() == b"<html>no release</html>"


def test_reparse_reports_per_source_and_a_config_fix_changes_only_that_sources_versions(crawled, tmp_path, capsys):
    config = crawled.copy(tmp_path / "copy")
    store = config.parent / "store.db"
    before = rows(store, ITEMS)
    (paragraphs,) = rows(store, "select paragraphs from items where source = 'president.uz' and id = ? "
                                "and lang = 'en'", [VICTIM.id])
    assert DROPPED not in paragraphs[0]

    # Nothing changed: each source has its own line, nothing is stored.
    code, out, err = run(capsys, "reparse", "-q", "--config", str(config))
    assert code == 0, err
    lines = out.splitlines()
    mirror_pages, akorda_pages = len(RELEASES) * 2, len(ARTICLES)
    assert lines[0].startswith(f"reparsed {mirror_pages} archived release pages of president.uz: "
                               "0 versions changed (fields: none), 0 new")
    assert lines[1].startswith(f"reparsed {akorda_pages} archived release pages of akorda: "
                               "0 versions changed (fields: none), 0 new")
    assert rows(store, ITEMS) == before and rows(store, "select count(*) from item_versions") == [(0,)]

    # The rule is fixed in the mirror's config: its one version changes, akorda's (same ids) do not.
    crawled.write_config(config.parent)
    code, out, err = run(capsys, "reparse", "-q", "--config", str(config))
    assert code == 0, err
    assert "archived release pages of president.uz: 1 versions changed (fields: paragraphs 1)" in out
    assert "archived release pages of akorda: 0 versions changed" in out
    changed = rows(store, "select source, id, lang, version from items where version > 1")
    assert changed == [("president.uz", VICTIM.id, "en", 2)]
    after = {row[:3]: row for row in rows(store, ITEMS)}
    assert DROPPED in after[("president.uz", VICTIM.id, "en")][5]
    assert [row for row in rows(store, ITEMS) if row[0] == "akorda"] == [row for row in before if row[0] == "akorda"]

    # --source: only that source's pages are read
    code, out, _ = run(capsys, "reparse", "-q", "--source", "akorda", "--config", str(config))
    assert code == 0 and out.startswith(f"reparsed {akorda_pages} archived release pages: 0 versions changed")
    assert "president.uz" not in out


def _warc_with_a_third_host(path: Path) -> None:
    """Append, to an exported WARC, a page of a host neither source is on, and a record that is no page."""
    with open(path, "ab") as out:
        writer = WARCWriter(out, gzip=True)
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(
            "http://third.example/en/lists/view/9180", "response", payload=io.BytesIO(b"<html>elsewhere</html>"),
            http_headers=headers))
        writer.write_record(writer.create_warc_record("http://third.example/", "metadata",
                                                      payload=io.BytesIO(b"note"), warc_content_type="text/plain"))


def test_export_then_import_rebuilds_both_sources_and_counts_pages_of_other_sites(crawled, tmp_path, capsys):
    exported = tmp_path / "both.warc.gz"
    config = str(crawled.folder / "presswatch.toml")
    assert run(capsys, "export", "--format", "warc", "-o", str(exported), "--config", config)[0] == 0
    _warc_with_a_third_host(exported)

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    fresh_config = crawled.write_config(fresh, chrome=DROPPED)
    code, out, err = run(capsys, "import-warc", str(exported), "--config", str(fresh_config))
    assert code == 0, err
    rebuilt, original = rows(fresh / "store.db", ITEMS), rows(crawled.folder / "store.db", ITEMS)
    assert {row[0] for row in rebuilt} == {"president.uz", "akorda"}
    assert rebuilt == original
    lines = [line for line in out.splitlines() if line.startswith("imported ")]
    assert len(lines) == 2, out
    mirror_line, akorda_line = lines
    assert f"{len(RELEASES) * 2} release pages: {len(RELEASES) * 2} new, 0 changed, 0 errors" in mirror_line
    assert f"{len(ARTICLES)} release pages: {len(ARTICLES)} new, 0 changed, 0 errors" in akorda_line
    # the third host's page: one of other sites, on each line (the two sources' pages are no other site)
    for line in lines:
        assert "left out: 1 of other sites," in line, line
        assert "1 records that are no page" in line, line
    # with --source, the other source's pages are of another site
    solo = tmp_path / "solo"
    solo.mkdir()
    code, out, _ = run(capsys, "import-warc", str(exported), "--source", "akorda",
                       "--config", str(crawled.write_config(solo, chrome=DROPPED)))
    akorda_records = rows(crawled.folder / "store.db", "select count(*) from archive_responses where source = 'akorda'")
    total = rows(crawled.folder / "store.db", "select count(*) from archive_responses")
    assert code == 0
    assert f"left out: {total[0][0] - akorda_records[0][0] + 1} of other sites," in out
    assert {row[0] for row in rows(solo / "store.db", "select distinct source from items")} == {"akorda"}


def test_the_web_view_links_and_serves_each_sources_own_archived_page(crawled):
    pytest.importorskip("datasette")
    import asyncio
    import re

    from crawler import app
    from crawler.web import make_datasette

    datasette = make_datasette(crawled.folder / "store.db", config=app.load(crawled.folder / "presswatch.toml"))

    async def fetch(url: str):
        await datasette.invoke_startup()
        return await datasette.client.get(url)

    page = asyncio.run(fetch(f"/release/{FIRST_ID}?source=akorda")).text
    assert re.findall(r'<a class="archived" href="([^"]+)"', page) == [f"/raw/akorda/{FIRST_ID}/kk"]
    page = asyncio.run(fetch(f"/release/{FIRST_ID}?source=president.uz")).text
    assert re.findall(r'<a class="archived" href="([^"]+)"', page) == [
        f"/raw/president.uz/{FIRST_ID}/ru", f"/raw/president.uz/{FIRST_ID}/en"]
    akorda = asyncio.run(fetch(f"/raw/akorda/{FIRST_ID}/kk"))
    mirror = asyncio.run(fetch(f"/raw/president.uz/{FIRST_ID}/ru"))
    assert (akorda.status_code, mirror.status_code) == (200, 200)
    assert akorda.content == crawled.akorda_page and mirror.content == crawled.mirror_page
    assert akorda.headers["content-security-policy"].startswith("sandbox;")
    # a language of the other source is no language of this one
    assert asyncio.run(fetch(f"/raw/president.uz/{FIRST_ID}/kk")).status_code == 400


def test_export_warc_with_source_writes_only_that_sources_pages(crawled, tmp_path, capsys):
    from warcio.archiveiterator import ArchiveIterator

    config = str(crawled.folder / "presswatch.toml")
    exported = tmp_path / "akorda.warc.gz"
    code, out, err = run(capsys, "export", "--format", "warc", "--source", "akorda", "-o", str(exported),
                         "--config", config)
    assert code == 0, err
    with open(exported, "rb") as stream:
        urls = [record.rec_headers.get_header("WARC-Target-URI") for record in ArchiveIterator(stream)
                if record.rec_type == "response"]
    kept = rows(crawled.folder / "store.db", "select count(*) from archive_responses where source = 'akorda'")[0][0]
    assert len(urls) == kept > 0
    assert all(url.startswith(crawled.site_url) for url in urls), urls
    assert f"exported {kept} archived pages" in err + out

    code, out, err = run(capsys, "export", "--format", "warc", "--source", "akorta", "-o", str(tmp_path / "x.warc.gz"),
                         "--config", config)
    assert code == 2 and "akorta" in err and "akorda" in err


def test_reparse_with_source_leaves_the_other_sources_versions_as_they_are(crawled, tmp_path, capsys):
    config = crawled.copy(tmp_path / "copy")
    store = config.parent / "store.db"
    crawled.write_config(config.parent)  # the fix that would change one president.uz version
    code, out, err = run(capsys, "reparse", "-q", "--source", "akorda", "--config", str(config))
    assert code == 0, err
    assert rows(store, "select count(*) from items where version > 1") == [(0,)]  # president.uz not read
    code, out, err = run(capsys, "reparse", "-q", "--source", "president.uz", "--config", str(config))
    assert code == 0 and "1 versions changed (fields: paragraphs 1)" in out, err
    assert rows(store, "select source, id, lang from items where version > 1") == [("president.uz", VICTIM.id, "en")]


def test_latest_with_source_lists_only_that_sources_releases(crawled, capsys):
    config = str(crawled.folder / "presswatch.toml")
    for name, ids in (("akorda", {a.id for a in ARTICLES}), ("president.uz", {r.id for r in RELEASES})):
        code, out, err = run(capsys, "latest", "--source", name, "--format", "json", "-n", "100", "--config", config)
        assert code == 0, err
        listed = json.loads(out)
        assert {row["source"] for row in listed} == {name} and {row["id"] for row in listed} == ids
    assert run(capsys, "latest", "--source", "akorta", "--config", config)[0] == 2
