"""Release identity is (source, id): a store made before sources were plural migrates in place
(tests/data/store_v1.sqlite, made by tests/data/make_v1_store.py with the code of 07c99f4), and
two sources in one store keep same-id releases apart in every command that reads it."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
from test_generic_source import settings_for

from crawler import app
from crawler.cli import main
from crawler.model import StoredVersion
from crawler.search import search
from crawler.sources import FIRST_SOURCE_NAME
from crawler.sources.generic import Generic
from crawler.store import Store
from crawler.tagging import Tagger
from devsites.mirror import Mirror, sample_releases
from devsites.presssite import PressSite, sample_articles

V1_STORE = Path(__file__).parent / "data" / "store_v1.sqlite"
ATOM = "{http://www.w3.org/2005/Atom}"
# Tables keyed by release or version, and those that name a source in a column.
SOURCED_TABLES = ("items", "item_versions", "listings", "pending_translations", "backfill_progress", "matches",
                  "search_text", "search_stale", "crawl_runs", "crawl_errors")


def write_config(folder: Path, base_url: str, languages: tuple[str, ...], hook_port: int = 9) -> Path:
    path = folder / "presswatch.toml"
    path.write_text(
        f"[source]\nbase_url = {json.dumps(base_url)}\nlanguages = {json.dumps(list(languages))}\n"
        "request_delay = 0\nobey_robots = false\nmax_attempts = 1\n"
        '[store]\npath = "store.db"\n[alerts]\nhorizon_days = 36500\n'
        f'[[alerts.routes]]\nname = "newsroom"\nurls = ["json://127.0.0.1:{hook_port}/hook"]\n'
        f'[[alerts.routes]]\nname = "digest"\nmode = "daily"\nurls = ["json://127.0.0.1:{hook_port}/digest"]\n',
        encoding="utf-8",
    )
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def rows(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# --- the migration of a store made by the release before --------------------------------------------
def test_the_name_of_the_first_source_is_president_uz():
    assert FIRST_SOURCE_NAME == "president.uz"


@pytest.fixture
def v1_copy(tmp_path) -> Path:
    target = tmp_path / "store.db"
    shutil.copyfile(V1_STORE, target)
    return target


def test_a_store_of_the_release_before_migrates_in_place(v1_copy):
    before = {table: rows(v1_copy, f"select count(*) from {table}")[0][0]
              for table in ("items", "item_versions", "matches", "outbox", "listings", "search_text", "crawl_runs",
                            "http_cache")}
    validators = rows(v1_copy, "select url, etag, last_modified from http_cache order by url")
    statuses = rows(v1_copy, "select id, status, reason, route, release_id, topic from outbox order by id")
    assert {status for _, status, *_ in statuses} >= {"sent", "pending", "silenced"}
    assert before["matches"] and before["outbox"]
    with Store.open(v1_copy) as store:
        assert "m007_source_identity" in store.schema_version()
        for table in SOURCED_TABLES:
            sources = {row[0] for row in store.db.execute(f"select distinct source from {table}")}
            assert sources <= {"president.uz"}, table
        assert store.sources() == ["president.uz"]
        # the conditional GET validators it kept still serve its source (no unconditional refetch)
        assert validators and all(store.validators("president.uz", url) == (etag, modified)
                                  for url, etag, modified in validators)
        assert {row[0] for row in store.db.execute("select distinct source from outbox")} == {"president.uz"}
        for table, count in before.items():
            assert store.db.execute(f"select count(*) from {table}").fetchone()[0] == count, table
        assert store.db.execute(
            "select id, status, reason, route, release_id, topic from outbox order by id").fetchall() == statuses
        keys = [row[0] for row in store.db.execute("select key from outbox")]
        assert all(key.startswith("presswatch:president.uz:") for key in keys)
        hits = search(store, "Kazakhstan")
        assert hits and {hit.source for hit in hits} == {"president.uz"}
        assert store.db.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert store.db.execute("pragma foreign_key_check").fetchall() == []
        # the full-text table of the published text still follows items
        assert store.db.execute("select count(*) from items_fts where items_fts match 'Kazakhstan'").fetchone()[0]


def test_after_the_migration_a_crawl_of_the_same_site_alerts_nothing_again_and_loses_nothing(v1_copy, tmp_path,
                                                                                             capsys):
    old_versions = set(rows(v1_copy, "select id, lang, content_hash from items"))
    old_outbox = rows(v1_copy, "select id, key, status from outbox order by id")
    # The site as the store saw it, crawled now in one more language: every release gets a new
    # version, tagged with the topics it already alerted on. Their keys exist: no new alert.
    with Mirror(sample_releases(10)) as mirror:
        config = write_config(tmp_path, mirror.base_url, ("ru", "en", "uz"))
        shutil.move(v1_copy, tmp_path / "store.db")
        code, out, err = run(capsys, "crawl", "--config", str(config))
    assert code == 0, err
    store_path = tmp_path / "store.db"
    with Store.open(store_path) as store:
        assert store.db.execute("select count(*) from items where lang = 'uz'").fetchone()[0] == 10
        assert store.db.execute("select count(*) from matches where lang = 'uz'").fetchone()[0] > 0
        assert old_versions <= {tuple(row) for row in store.db.execute(
            "select id, lang, content_hash from items where source = 'president.uz'")}
        after = store.db.execute("select id, key from outbox order by id").fetchall()
    assert len(after) == len(old_outbox)
    assert [row[0] for row in after] == [row[0] for row in old_outbox]


# --- two sources in one store -------------------------------------------------------------------------
AKORDA = "Akorda"
SHARED_ID = 9181  # a release of both: president.uz's (Kazakhstan, water, border) and Akorda's Russian one
ARTICLES = sample_articles(3, first_id=9180)  # each language version its own id: a release each
AKORDA_N = len(ARTICLES)


def store_akorda(store: Store, config, site: PressSite) -> int:
    """The press site's releases read by a generic source and stored as the pipeline stores a
    version (tags, search index, alert outbox in its transaction), in a run of their own. (The
    pipeline's crawl of a site whose ids are per language version belongs to the config work.)"""
    source = Generic(settings_for(site.base_url, name=AKORDA))
    tagger, hooks = Tagger.from_config(config), app.release_hooks(config)
    run_id = store.start_run("crawl", AKORDA)
    stored = 0
    with httpx.Client(timeout=10) as client:
        for lang in ("kk", "ru", "en"):
            url = source.list_url(lang, 1)
            for entry in source.parse_list(client.get(url).text, lang, url).entries:
                page = client.get(entry.url)
                item = dataclasses.replace(source.parse_item(page.text, lang, entry.url), source=source.name)
                with store.atomic():
                    outcome = store.save_item(item)
                    version = StoredVersion(item, outcome, tuple(tagger(store, item)))
                    for hook in hooks:
                        hook(store, version)
                stored += 1
    store.finish_run(run_id, outcome="ok", new=stored)
    return stored


@pytest.fixture(scope="module")
def two_sources(tmp_path_factory) -> Path:
    """president.uz's mirror crawled through the CLI, then a generic press site (Akorda) stored
    into the same store; their ids overlap."""
    folder = tmp_path_factory.mktemp("two")
    with Mirror(sample_releases(4, first_id=9181)) as mirror:
        config_file = write_config(folder, mirror.base_url, ("ru", "en"))
        assert main(["crawl", "--config", str(config_file)]) == 0
    config = app.load(config_file)
    with PressSite(ARTICLES, per_page=10) as site, Store.open(folder / "store.db") as store:
        assert store_akorda(store, config, site) == AKORDA_N
    return config_file


def test_a_same_id_is_two_releases(two_sources):
    with Store.open(two_sources.parent / "store.db") as store:
        assert store.sources() == [AKORDA, "president.uz"]
        assert store.sources_of(SHARED_ID) == [AKORDA, "president.uz"]
        assert [v["lang"] for v in store.release(AKORDA, SHARED_ID)] == ["ru"]
        assert [v["lang"] for v in store.release("president.uz", SHARED_ID, ("ru", "en"))] == ["ru", "en"]
        keys = {row[0] for row in store.db.execute("select key from outbox where release_id = ?", [SHARED_ID])}
    assert f"presswatch:{AKORDA}:{SHARED_ID}:kazakhstan:newsroom" in keys
    assert f"presswatch:president.uz:{SHARED_ID}:kazakhstan:newsroom" in keys


def test_show_asks_which_source_when_two_have_the_id(two_sources, capsys):
    code, out, err = run(capsys, "show", str(SHARED_ID), "--config", str(two_sources))
    assert code == 2
    assert "Akorda, president.uz" in err and "--source" in err
    code, out, err = run(capsys, "show", str(SHARED_ID), "--source", AKORDA, "--json", "--config", str(two_sources))
    assert code == 0, err
    shown = json.loads(out)
    assert [(v["source"], v["lang"]) for v in shown] == [(AKORDA, "ru")]
    code, out, _ = run(capsys, "show", str(SHARED_ID), "--source", "president.uz", "--config", str(two_sources))
    assert code == 0 and out.startswith(f"president.uz {SHARED_ID}/ru")
    # an id only one source has needs no --source
    assert run(capsys, "show", "9180", "--config", str(two_sources))[0] == 0


@pytest.mark.parametrize("argv", [
    ("search", "water"), ("export",), ("feed",), ("status",), ("alerts", "list"), ("show", "9180"), ("retag",),
])
def test_an_unknown_source_is_a_usage_error_naming_the_known_ones(two_sources, capsys, argv):
    code, _, err = run(capsys, *argv, "--source", "president.us", "--config", str(two_sources))
    assert code == 2
    assert "did you mean president.uz?" in err and "Akorda, president.uz" in err


def test_search_names_the_source_and_filters_by_it(two_sources, capsys):
    code, out, err = run(capsys, "search", "Kazakhstan", "--json", "--config", str(two_sources))
    assert code == 0, err
    hits = json.loads(out)
    assert {hit["source"] for hit in hits} == {AKORDA, "president.uz"}
    code, out, _ = run(capsys, "search", "Kazakhstan", "--json", "--source", AKORDA, "--config", str(two_sources))
    assert {hit["source"] for hit in json.loads(out)} == {AKORDA}
    code, out, _ = run(capsys, "search", "Kazakhstan", "--source", "president.uz", "--config", str(two_sources))
    assert code == 0 and f"president.uz {SHARED_ID}/" in out and "Akorda" not in out


def test_export_has_a_source_column_and_filters_by_it(two_sources, capsys):
    code, out, err = run(capsys, "export", "--config", str(two_sources))
    assert code == 0, err
    exported = [json.loads(line) for line in out.splitlines()]
    assert {(row["source"], row["id"]) for row in exported if row["id"] == SHARED_ID} == {
        (AKORDA, SHARED_ID), ("president.uz", SHARED_ID)}
    code, out, _ = run(capsys, "export", "--format", "csv", "--source", AKORDA, "--config", str(two_sources))
    table = list(csv.DictReader(io.StringIO(out)))
    assert len(table) == AKORDA_N and {row["source"] for row in table} == {AKORDA}


def test_feed_entries_of_two_sources_with_one_id_differ(two_sources, capsys):
    code, out, err = run(capsys, "feed", "--limit", "100", "--config", str(two_sources))
    assert code == 0, err
    feed = ET.fromstring(out)
    ids = [entry.find(f"{ATOM}id").text for entry in feed.iter(f"{ATOM}entry")]
    assert len(ids) == len(set(ids)) == 8 + AKORDA_N
    assert f"tag:presswatch,2026:{AKORDA}/{SHARED_ID}/ru" in ids
    assert f"tag:presswatch,2026:president.uz/{SHARED_ID}/ru" in ids
    sources = {entry.find(f"{ATOM}source/{ATOM}title").text for entry in feed.iter(f"{ATOM}entry")}
    assert sources == {AKORDA, "president.uz"}
    code, out, _ = run(capsys, "feed", "--source", AKORDA, "--config", str(two_sources))
    feed = ET.fromstring(out)
    assert feed.find(f"{ATOM}id").text == f"tag:presswatch,2026:feed/{AKORDA}/all/all"
    entry_ids = [entry.find(f"{ATOM}id").text for entry in feed.iter(f"{ATOM}entry")]
    assert len(entry_ids) == AKORDA_N and all(i.startswith(f"tag:presswatch,2026:{AKORDA}/") for i in entry_ids)


def test_alerts_list_names_the_source_and_filters_by_it(two_sources, capsys):
    code, out, err = run(capsys, "alerts", "list", "--all", "--json", "--source", AKORDA, "--config", str(two_sources))
    assert code == 0, err
    listed = json.loads(out)
    assert listed and {row["source"] for row in listed} == {AKORDA}
    code, out, _ = run(capsys, "alerts", "list", "--all", "--config", str(two_sources))
    assert f"{AKORDA} {SHARED_ID} kazakhstan" in out and f"president.uz {SHARED_ID} kazakhstan" in out


def test_status_groups_by_source(two_sources, capsys):
    code, out, err = run(capsys, "status", "--json", "--config", str(two_sources))
    report = json.loads(out)
    by_name = {entry["name"]: entry for entry in report["sources"]}
    assert (by_name[AKORDA]["releases"], by_name["president.uz"]["releases"]) == (AKORDA_N, 4)
    assert report["releases"] == AKORDA_N + 4
    assert by_name[AKORDA]["last_run"]["source"] == AKORDA
    _, out, _ = run(capsys, "status", "--json", "--source", AKORDA, "--config", str(two_sources))
    report = json.loads(out)
    assert (report["releases"], report["language_versions"]) == (AKORDA_N, AKORDA_N)
    assert [entry["name"] for entry in report["sources"]] == [AKORDA]
    _, out, _ = run(capsys, "status", "--config", str(two_sources))
    assert f"source Akorda: {AKORDA_N} releases" in out and "source president.uz: 4 releases" in out


def test_retag_of_one_source_touches_only_its_versions(two_sources, capsys):
    code, out, err = run(capsys, "retag", "--all", "-q", "--source", AKORDA, "--config", str(two_sources))
    assert code == 0, err
    assert out.startswith(f"retagged {AKORDA_N} language versions")


def test_search_reaches_the_languages_of_every_stored_source(two_sources, capsys):
    code, out, err = run(capsys, "search", "шекара", "--json", "--config", str(two_sources))
    assert code == 0, err
    assert {(hit["source"], hit["id"], hit["lang"]) for hit in json.loads(out)} == {(AKORDA, 9180, "kk")}
    code, out, err = run(capsys, "search", "шекара", "--lang", "kk", "--source", AKORDA, "--json",
                         "--config", str(two_sources))
    assert code == 0, err
    assert [hit["id"] for hit in json.loads(out)] == [9180]
    code, _, err = run(capsys, "search", "шекара", "--lang", "uz", "--source", AKORDA, "--config", str(two_sources))
    assert code == 2 and "Akorda has no version in 'uz'" in err


def test_the_web_views_release_query_names_the_source_of_each_version(two_sources):
    from crawler.web import canned_queries

    config = app.load(two_sources)
    sql = canned_queries(app.source(config))["release"]["sql"]
    with Store.open(two_sources.parent / "store.db") as store:
        found = store.db.execute(sql, {"id": SHARED_ID}).fetchall()
    assert {(row[0], row[1]) for row in found} == {(AKORDA, "ru"), ("president.uz", "ru"), ("president.uz", "en")}


def test_an_alert_names_who_published_the_release(two_sources):
    from crawler.alerts import render

    config = app.load(two_sources)
    channel = render.channel_for("json")
    with Store.open(two_sources.parent / "store.db") as store:
        theirs = render.release_view(store, SHARED_ID, ["kazakhstan"], app.source(config), AKORDA)
        ours = render.release_view(store, SHARED_ID, ["kazakhstan"], app.source(config))
    theirs_body = render.render_alert(theirs, channel, f"presswatch:{AKORDA}:{SHARED_ID}:kazakhstan:newsroom").body
    ours_body = render.render_alert(ours, channel, f"presswatch:president.uz:{SHARED_ID}:kazakhstan:newsroom").body
    assert f"· {AKORDA} · release {SHARED_ID}" in theirs_body
    assert f"· President of Uzbekistan (president.uz) · release {SHARED_ID}" in ours_body
    assert theirs.headline != ours.headline  # two releases, not one
