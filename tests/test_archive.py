"""The archive of pages: kept on crawl (once per distinct body), the `keep` setting, `reparse`
offline, `show --raw`, and WARC out and in (read back by warcio; a WARC of the mirror rebuilds the
store a crawl makes)."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import io
import sqlite3
import subprocess
import sys
import urllib.request
import zlib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.capture_http import capture_http

from crawler.cli import main
from crawler.store import Store
from devsites.mirror import Mirror, sample_releases, sample_topics

RELEASES = sample_releases(6, first_id=9180)
LANGS = ("en", "ru")
# Columns that come from the page (not from when it was stored).
PAGE_COLUMNS = "id, lang, url, title, published, body, paragraphs, images, links, content_hash, parse_path, version"


def write_config(folder: Path, base_url: str, extra: str = "", store: str = "store.db") -> str:
    path = folder / "presswatch.toml"
    langs = ", ".join(f'"{lang}"' for lang in LANGS)
    path.write_text(f'[source]\nbase_url = "{base_url}"\nrequest_delay = 0.0\nbackoff_base = 0.01\n'
                    f'languages = [{langs}]\n[store]\npath = "{store}"\n{extra}', encoding="utf-8")
    return str(path)


@pytest.fixture
def mirror():
    with Mirror(RELEASES, per_page=4) as running:
        yield running


def crawl(folder: Path, base_url: str, extra: str = "") -> str:
    config = write_config(folder, base_url, extra)
    assert main(["crawl", "--config", config]) == 0
    return config


def rows(path: Path, sql: str, params=()) -> list[tuple]:
    with Store.open(path) as store:
        return [tuple(row) for row in store.db.execute(sql, params)]


def count(path: Path, table: str) -> int:
    return rows(path, f"select count(*) from {table}")[0][0]


def served(url: str) -> bytes:
    with urllib.request.urlopen(url) as answer:
        return answer.read()


def test_a_crawl_keeps_every_answer_and_each_distinct_body_once(tmp_path, mirror, capsys):
    config = crawl(tmp_path, mirror.base_url)
    store = tmp_path / "store.db"
    kept = rows(store, "select kind, item_id, lang, url, status, fetched_at, headers from archive_responses")
    releases = [row for row in kept if row[0] == "release"]
    lists = [row for row in kept if row[0] == "list"]
    assert len(releases) == len(RELEASES) * len(LANGS) == count(store, "items")
    assert {row[2] for row in lists} == set(LANGS) and all(row[1] is None for row in lists)
    assert all(row[4] == 200 and row[5] and "content-type" in row[6].lower() for row in kept)
    target = RELEASES[2].id
    url = f"{mirror.base_url}/en/lists/view/{target}"
    (body,) = rows(store, "select b.data, b.size from archive_responses r join archive_bodies b using (digest) "
                          "where r.item_id = ? and r.lang = 'en'", [target])
    assert body[1] == len(served(url)) and len(body[0]) < body[1]  # compressed
    bodies = count(store, "archive_bodies")

    # Fetched again unchanged: a reference more, not a copy; edited: one body more.
    assert main(["backfill", "--ids", f"{target}-{target}", "--refresh", "--config", config]) == 0
    assert count(store, "archive_responses") == len(kept) + len(LANGS)
    assert count(store, "archive_bodies") == bodies
    mirror.edit(target, "en", title="An edited headline")
    assert main(["backfill", "--ids", f"{target}-{target}", "--refresh", "--config", config]) == 0
    assert count(store, "archive_bodies") == bodies + 1
    capsys.readouterr()

    # show --raw: the latest page of the version, byte for byte
    saved = tmp_path / "page.html"
    assert main(["show", str(target), "--raw", "--lang", "en", "-o", str(saved), "--config", config]) == 0
    assert saved.read_bytes() == served(url) and b"An edited headline" in saved.read_bytes()
    assert main(["show", "1", "--raw", "--config", config]) == 1
    assert "no archived page of release 1" in capsys.readouterr().err


def test_keep_latest_prunes_older_answers_and_bodies_and_none_keeps_nothing(tmp_path, mirror):
    target = RELEASES[0].id
    config = crawl(tmp_path, mirror.base_url, '[archive]\nkeep = "latest"\n')
    store = tmp_path / "store.db"
    before = count(store, "archive_responses")
    mirror.edit(target, "en", title="Edited once")
    assert main(["backfill", "--ids", f"{target}-{target}", "--refresh", "--config", config]) == 0
    assert count(store, "archive_responses") == before
    assert rows(store, "select count(*) from archive_responses where item_id = ? and lang = 'en'", [target]) == [(1,)]
    assert count(store, "archive_bodies") == count(store, "archive_responses") - _duplicate_bodies(store)
    assert rows(store, "select count(*) from archive_bodies where digest not in "
                       "(select digest from archive_responses)") == [(0,)]

    other = tmp_path / "none"
    other.mkdir()
    crawl(other, mirror.base_url, '[archive]\nkeep = "none"\n')
    assert count(other / "store.db", "items") == len(RELEASES) * len(LANGS)
    assert count(other / "store.db", "archive_responses") == 0


def _duplicate_bodies(store: Path) -> int:
    return rows(store, "select count(*) - count(distinct digest) from archive_responses")[0][0]


def test_keep_rejects_an_unknown_choice(tmp_path, capsys):
    config = write_config(tmp_path, "http://127.0.0.1:9", '[archive]\nkeep = "some"\n')
    assert main(["status", "--config", config]) == 2
    assert "archive.keep: expected all, latest or none, got 'some'" in capsys.readouterr().err


def test_reparse_fixes_the_stored_text_offline_and_never_alerts(tmp_path, capsys):
    victim = RELEASES[1]
    dropped = victim.versions["en"].paragraphs[1]
    # A normalization rule that is wrong: it takes a real paragraph for site chrome.
    wrong = f'[selectors]\nchrome_phrases = ["{dropped}"]\n'
    with Mirror(RELEASES, per_page=4) as running:
        config = crawl(tmp_path, running.base_url, wrong)
    store = tmp_path / "store.db"
    (paragraphs,) = rows(store, "select paragraphs from items where id = ? and lang = 'en'", [victim.id])
    assert dropped not in paragraphs[0]
    outbox = count(store, "outbox")
    capsys.readouterr()

    # The mirror is gone: nothing answers at its address. The rule is fixed in the config.
    config = write_config(tmp_path, running.base_url)
    assert main(["reparse", "-q", "--jobs", "2", "--config", config]) == 0  # parsed in worker processes
    out = capsys.readouterr().out
    assert out.startswith(f"reparsed {len(RELEASES) * len(LANGS)} archived release pages: 1 versions changed "
                          "(fields: paragraphs 1), 0 new,")
    assert f"{victim.id}/en paragraphs: " in out
    (paragraphs, version) = rows(store, "select paragraphs, version from items where id = ? and lang = 'en'",
                                 [victim.id])[0]
    assert dropped in paragraphs and version == 2
    assert count(store, "item_versions") == 1
    assert count(store, "outbox") == outbox  # a re-read is not news
    (indexed,) = rows(store, "select body from search_text where id = ? and lang = 'en'", [victim.id])
    assert indexed[0]  # the search index has the version reparse stored

    assert main(["reparse", "-q", "--ids", f"{victim.id}-{victim.id}", "--config", config]) == 0
    assert capsys.readouterr().out.startswith(f"reparsed {len(LANGS)} archived release pages: 0 versions changed")
    # In one process, the same pages give the same: nothing more to change.
    assert main(["reparse", "-q", "--jobs", "1", "--config", config]) == 0
    assert capsys.readouterr().out.startswith(f"reparsed {len(RELEASES) * len(LANGS)} archived release pages: "
                                              "0 versions changed")
    assert main(["reparse", "--source", "elsewhere.example", "--config", config]) == 2
    assert "no source 'elsewhere.example'" in capsys.readouterr().err


def sha1_digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def test_export_warc_is_read_back_by_warcio_with_matching_digests(tmp_path, mirror, capsys):
    config = crawl(tmp_path, mirror.base_url)
    store = tmp_path / "store.db"
    target = tmp_path / "out.warc.gz"
    assert main(["export", "--format", "warc", "-o", str(target), "--config", config]) == 0
    kept = rows(store, "select r.final_url, r.status, b.digest from archive_responses r "
                       "join archive_bodies b using (digest) order by r.fetched_at, r.id")
    records = []
    with open(target, "rb") as stream:
        for record in ArchiveIterator(stream, check_digests="raise"):
            payload = record.content_stream().read()
            records.append((record.rec_type, record.rec_headers, record.http_headers, payload))
    assert records[0][0] == "warcinfo" and b"software: presswatch/" in records[0][3]
    responses = records[1:]
    assert [r[0] for r in responses] == ["response"] * len(kept)
    for (url, status, digest), (_, warc_headers, http_headers, payload) in zip(kept, responses):
        assert warc_headers.get_header("WARC-Target-URI") == url
        assert int(http_headers.get_statuscode()) == status
        assert hashlib.sha256(payload).hexdigest() == digest  # the body kept, byte for byte
        assert warc_headers.get_header("WARC-Payload-Digest") == sha1_digest(payload)
        assert warc_headers.get_header("WARC-Block-Digest", "").startswith("sha1:")
        assert http_headers.get_header("Content-Encoding") is None
        assert http_headers.get_header("Content-Length") == str(len(payload))


# pywb (the Webrecorder replay system) in a process of its own, as `wb-manager add` and
# `wayback` would run it: the collection made in a folder, the WSGI app asked for each address in
# "id_" mode (the archived answer as it was) and in "mp_" mode (rewritten for replay).
PYWB_REPLAY = """
import os, socket, sys
from pathlib import Path
attempts = []
def refuse(sock, address):  # replay needs no network: any attempt is recorded and refused
    attempts.append(repr(address))
    raise OSError("no network in tests")
socket.socket.connect = refuse
from pywb.manager.manager import CollectionsManager
os.chdir(sys.argv[1])
manager = CollectionsManager("presswatch", must_exist=False)
manager.add_collection()
manager.add_archives([sys.argv[2]])
from pywb.apps.frontendapp import FrontEndApp
from werkzeug.test import Client
client = Client(FrontEndApp(config_file=None))
for index, url in enumerate(sys.argv[3:]):
    for mode in ("id_", "mp_"):
        answer = client.get(f"/presswatch/{mode}/{url}")
        Path(f"answer-{index}-{mode}-{answer.status_code}").write_bytes(answer.data)
Path("network-attempts").write_text("\\n".join(attempts))
"""


def test_pywb_replays_the_exported_pages(tmp_path, mirror):
    config = crawl(tmp_path, mirror.base_url)
    target = tmp_path / "out.warc.gz"
    assert main(["export", "--format", "warc", "-o", str(target), "--config", config]) == 0
    release = RELEASES[0]
    urls = [f"{mirror.base_url}/en/lists/view/{release.id}", f"{mirror.base_url}/ru/lists/news"]
    expected = [served(url) for url in urls]
    folder = tmp_path / "pywb"
    folder.mkdir()
    done = subprocess.run([sys.executable, "-c", PYWB_REPLAY, str(folder), str(target), *urls], capture_output=True)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert (folder / "network-attempts").read_text() == ""
    for index, body in enumerate(expected):
        assert (folder / f"answer-{index}-id_-200").read_bytes() == body  # what the site sent, byte for byte
        rewritten = (folder / f"answer-{index}-mp_-200").read_bytes()  # rewritten for replay
        assert b"<!-- WB Insert -->" in rewritten and b"/presswatch/" in rewritten and b"/lists/view/" in rewritten


def _captured_warc(path: Path, base_url: str) -> None:
    """A WARC of the mirror made by warcio's own recorder around plain urllib requests: every list
    page and every release page, as another archiving tool would record them."""
    with capture_http(str(path)):
        for lang in LANGS:
            for page in range(1, 4):
                suffix = f"?page={page}" if page > 1 else ""
                served(f"{base_url}/{lang}/lists/news{suffix}")
            for release in RELEASES:
                served(f"{base_url}/{lang}/lists/view/{release.id}")
        served(f"{base_url}/robots.txt")


ROUTE = '[[alerts.routes]]\nname = "newsroom"\nurls = ["json://127.0.0.1:9/a"]\n'


def test_a_warc_recorded_from_the_mirror_rebuilds_the_store_a_crawl_makes(tmp_path, mirror, capsys):
    crawled = tmp_path / "crawled"
    crawled.mkdir()
    crawl(crawled, mirror.base_url, ROUTE)
    recording = tmp_path / "mirror.warc.gz"
    _captured_warc(recording, mirror.base_url)
    foreign = tmp_path / "foreign.warc.gz"
    with Mirror(RELEASES[:2]) as elsewhere:  # another site (another port): left out
        with capture_http(str(foreign)):
            served(f"{elsewhere.base_url}/en/lists/view/{RELEASES[0].id}")

    imported = tmp_path / "imported"
    imported.mkdir()
    # The mirror stops before the import: it must not be asked for anything.
    mirror.requests.clear()
    config = write_config(imported, mirror.base_url, ROUTE)
    capsys.readouterr()
    assert main(["import-warc", str(recording), str(foreign), "--config", config]) == 0
    out = capsys.readouterr().out
    assert len(mirror.requests) == 0
    assert f"{len(RELEASES) * len(LANGS)} release pages: {len(RELEASES) * len(LANGS)} new, 0 changed, 0 errors" in out
    assert "left out: 1 of other sites, 1 other pages" in out
    query = f"select {PAGE_COLUMNS} from items order by id, lang"
    assert rows(imported / "store.db", query) == rows(crawled / "store.db", query)
    assert rows(imported / "store.db", "select id, lang, topic from matches order by 1, 2, 3") == \
        rows(crawled / "store.db", "select id, lang, topic from matches order by 1, 2, 3")
    # the alert outbox as a crawl fills it (the first run of a store: silenced)
    outbox = "select key, route, release_id, topic, status, reason from outbox order by key"
    assert rows(imported / "store.db", outbox) == rows(crawled / "store.db", outbox)
    assert rows(imported / "store.db", "select distinct status, reason from outbox") == [("silenced", "first_crawl")]
    # the recorded pages are kept: 3 list pages a language (the third past the end) and every release page
    assert count(imported / "store.db", "archive_responses") == len(LANGS) * 3 + len(RELEASES) * len(LANGS)


def test_export_then_import_keeps_every_version_in_order(tmp_path, mirror, capsys):
    first = tmp_path / "first"
    first.mkdir()
    config = crawl(first, mirror.base_url)
    target = RELEASES[3].id
    mirror.edit(target, "ru", paragraphs=["Новый первый абзац.", "Второй абзац."])
    assert main(["backfill", "--ids", f"{target}-{target}", "--refresh", "--config", config]) == 0
    exported = tmp_path / "all.warc.gz"
    assert main(["export", "--format", "warc", "-o", str(exported), "--config", config]) == 0

    second = tmp_path / "second"
    second.mkdir()
    assert main(["import-warc", str(exported), "--config", write_config(second, mirror.base_url)]) == 0
    for query in (f"select {PAGE_COLUMNS} from items order by id, lang",
                  "select id, lang, version, title, body, content_hash from item_versions order by 1, 2, 3"):
        assert rows(second / "store.db", query) == rows(first / "store.db", query)
    assert rows(second / "store.db", "select version from items where id = ? and lang = 'ru'", [target]) == [(2,)]


def test_bad_and_truncated_warc_files_are_one_line_errors(tmp_path, mirror, capsys):
    config = crawl(tmp_path, mirror.base_url)
    exported = tmp_path / "all.warc.gz"
    assert main(["export", "--format", "warc", "-o", str(exported), "--config", config]) == 0
    truncated = tmp_path / "cut.warc.gz"
    truncated.write_bytes(exported.read_bytes()[: exported.stat().st_size // 2])
    garbage = tmp_path / "notes.warc"
    garbage.write_bytes(b"this is not a WARC file\n" * 10)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    fresh_config = write_config(fresh, mirror.base_url)
    capsys.readouterr()
    for bad in (truncated, garbage):
        assert main(["import-warc", str(bad), "--config", fresh_config]) == 1
        err = capsys.readouterr().err
        assert f"cannot import {bad}: not a readable WARC file" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    assert count(fresh / "store.db", "items") == 0 and count(fresh / "store.db", "archive_responses") == 0
    assert main(["import-warc", str(tmp_path / "missing.warc"), "--config", fresh_config]) == 2


def test_warc_export_refuses_filters_and_a_terminal(tmp_path, capsys):
    config = write_config(tmp_path, "http://127.0.0.1:9")
    assert main(["export", "--format", "warc", "--lang", "en", "-o", str(tmp_path / "x.warc.gz"),
                 "--config", config]) == 2
    assert "--format warc writes every archived page" in capsys.readouterr().err


def test_warc_of_an_empty_archive_has_only_warcinfo(tmp_path, capsys):
    config = write_config(tmp_path, "http://127.0.0.1:9")
    Store.open(tmp_path / "store.db").close()
    target = tmp_path / "empty.warc.gz"
    assert main(["export", "--format", "warc", "-o", str(target), "--config", config]) == 0
    kinds = [record.rec_type for record in ArchiveIterator(io.BytesIO(target.read_bytes()))]
    assert kinds == ["warcinfo"]


def test_show_raw_writes_the_archived_bytes_to_standard_output(tmp_path, capsysbinary):
    cassette = str(Path(__file__).resolve().parent.parent / "cassettes" / "crawl_twice.yaml")
    store = tmp_path / "s.db"
    assert main(["crawl", "--replay", cassette, "--store", str(store)]) == 0
    capsysbinary.readouterr()
    assert main(["show", "5782", "--raw", "--lang", "uz", "--store", str(store)]) == 0
    out = capsysbinary.readouterr().out
    (kept,) = rows(store, "select b.data from archive_responses r join archive_bodies b using (digest) "
                          "where r.item_id = 5782 and r.lang = 'uz'")
    assert out == zlib.decompress(kept[0]) and "Қозоғистон".encode() in out
    assert main(["show", "5782", "-o", str(tmp_path / "x.html"), "--store", str(store)]) == 2


def test_import_with_keep_latest_stores_the_last_recorded_text(tmp_path, mirror, capsys):
    first = tmp_path / "first"
    first.mkdir()
    config = crawl(first, mirror.base_url)
    target = RELEASES[4].id
    mirror.edit(target, "en", title="The headline as corrected")
    assert main(["backfill", "--ids", f"{target}-{target}", "--refresh", "--config", config]) == 0
    exported = tmp_path / "all.warc.gz"
    assert main(["export", "--format", "warc", "-o", str(exported), "--config", config]) == 0
    second = tmp_path / "second"
    second.mkdir()
    latest = write_config(second, mirror.base_url, '[archive]\nkeep = "latest"\n')
    assert main(["import-warc", str(exported), "--config", latest]) == 0
    assert "0 errors" in capsys.readouterr().out
    assert rows(second / "store.db", "select title from items where id = ? and lang = 'en'", [target]) == \
        [("The headline as corrected",)]
    assert rows(second / "store.db", "select count(*) from archive_responses where item_id = ? and lang = 'en'",
                [target]) == [(1,)]


def test_an_imported_release_alerts_as_a_crawled_one_would(tmp_path, mirror, capsys):
    config = crawl(tmp_path, mirror.base_url, ROUTE)  # a completed run: from now on, news alerts
    today = dt.datetime.now(ZoneInfo("Asia/Tashkent")).date()
    (fresh,) = sample_releases(1, first_id=RELEASES[-1].id + 10, first_date=today)
    (stale,) = sample_releases(1, first_id=RELEASES[-1].id + 20, first_date=today - dt.timedelta(days=30))
    assert sample_topics(fresh) and sample_topics(stale)
    mirror.publish(fresh)
    mirror.publish(stale)
    recording = tmp_path / "news.warc.gz"
    with capture_http(str(recording)):
        for release in (fresh, stale):
            served(f"{mirror.base_url}/en/lists/view/{release.id}")
    assert main(["import-warc", str(recording), "--config", config]) == 0
    assert "2 new" in capsys.readouterr().out
    statuses = dict(rows(tmp_path / "store.db", "select release_id, status || ':' || coalesce(reason, '') "
                                                "from outbox where release_id in (?, ?)", [fresh.id, stale.id]))
    assert statuses == {fresh.id: "pending:", stale.id: "silenced:horizon"}
    assert rows(tmp_path / "store.db", "select kind, outcome from crawl_runs order by id desc limit 1") == \
        [("import", "ok")]


def test_records_that_are_no_page_are_counted_and_left_out(tmp_path, capsys):
    from warcio.warcwriter import WARCWriter

    recording = tmp_path / "other.warc.gz"
    with open(recording, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        writer.write_record(writer.create_warcinfo_record("other.warc.gz", {"software": "a test"}))
        writer.write_record(writer.create_revisit_record(
            "https://president.uz/en/lists/view/5782", digest="sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            refers_to_uri="https://president.uz/en/lists/view/5782", refers_to_date="2026-01-01T00:00:00Z"))
        writer.write_record(writer.create_warc_record("https://president.uz/", "metadata",
                                                      payload=io.BytesIO(b"note"), warc_content_type="text/plain"))
    config = write_config(tmp_path, "https://president.uz")
    assert main(["import-warc", str(recording), "--config", config]) == 0
    out = capsys.readouterr().out
    assert "(0 responses)" in out and "2 records that are no page" in out
    assert count(tmp_path / "store.db", "items") == 0


def test_reparse_in_worker_processes_stores_what_one_process_stores(tmp_path, mirror):
    """Matching and folding run in the workers with --jobs 2: the matches, the search rows and both
    full-text indexes come out as a reparse in one process leaves them."""
    config = crawl(tmp_path, mirror.base_url)
    stores = {}
    for jobs in ("1", "2"):
        folder = tmp_path / f"jobs{jobs}"
        folder.mkdir()
        (folder / "store.db").write_bytes((tmp_path / "store.db").read_bytes())
        # every version stale, half of them with an altered title: all stored anew, half re-indexed
        with Store.open(folder / "store.db") as store, store.atomic():
            store.db.execute("update items set content_hash = 'stale', "
                             "title = case when id % 2 = 0 then title || ' (old)' else title end")
        config = write_config(folder, mirror.base_url)
        assert main(["reparse", "-q", "--jobs", jobs, "--config", config]) == 0
        stores[jobs] = folder / "store.db"
    queries = (f"select {PAGE_COLUMNS} from items order by id, lang",
               "select source, id, lang, topic, label, term, field, start, [end], text, snippet from matches "
               "order by source, id, lang, field, start, topic, term",
               "select source, id, lang, title, body, content_hash, fold_version from search_text order by id, lang",
               "select rowid, title from items_fts order by rowid",
               "select count(*) from search_stale")
    for sql in queries:
        assert rows(stores["1"], sql) == rows(stores["2"], sql)
    assert rows(stores["2"], "select count(*) from matches")[0][0] > 0
    assert rows(stores["2"], "select count(*) from item_versions")[0][0] == len(RELEASES) * len(LANGS)
    with Store.open(stores["2"]) as store, store.atomic():
        for table in ("items_fts", "search_fts"):  # raises if an index disagrees with its rows
            store.db.execute(f"insert into {table}({table}, rank) values ('integrity-check', 1)")


def _tables(path: Path) -> dict[str, list[tuple]]:
    return {
        "matches": rows(path, "select source, id, lang, topic, label, term, field, start, [end], text, snippet "
                              "from matches order by source, id, lang, field, start, topic, term"),
        "search_text": rows(path, "select source, id, lang, title, body, content_hash, fold_version from search_text "
                                  "order by id, lang"),
        "search_stale": rows(path, "select * from search_stale"),
    }


def test_a_date_only_fix_stores_new_versions_and_keeps_tags_and_search_rows_as_retagging_would(tmp_path, mirror):
    """A version stored anew with the title and body it had (only its digest differs, as after a
    date fix) keeps its matches and folded text, which are what matching and folding it again give;
    versions tagged by other topics are matched again even so (a match lost is made again)."""
    crawl(tmp_path, mirror.base_url)
    stores = {}
    for case, retag in (("skipped", ""), ("redone", ", topics_fingerprint = 'other topics'")):
        folder = tmp_path / case
        folder.mkdir()
        (folder / "store.db").write_bytes((tmp_path / "store.db").read_bytes())
        with Store.open(folder / "store.db") as store, store.atomic():
            store.db.execute(f"update items set content_hash = 'stale'{retag}")
            store.db.execute("update matches set tagged_at = 'before'")
            if retag:
                store.db.execute("delete from matches where rowid = (select min(rowid) from matches)")
        assert main(["reparse", "-q", "--config", write_config(folder, mirror.base_url)]) == 0
        stores[case] = folder / "store.db"
    assert _tables(stores["skipped"]) == _tables(stores["redone"])
    versions = len(RELEASES) * len(LANGS)
    for path in stores.values():
        assert count(path, "item_versions") == versions  # every version stored anew
        assert rows(path, "select count(*) from items i join search_text s using (source, id, lang) "
                          "where s.content_hash = i.content_hash")[0][0] == versions
    assert rows(stores["skipped"], "select distinct tagged_at from matches") == [("before",)]
    # matched again, but only the version that lost a match has its matches written again
    assert rows(stores["redone"], "select count(distinct id || lang) from matches where tagged_at != 'before'") \
        == [(1,)]
    assert rows(stores["redone"], "select distinct topics_fingerprint from items") \
        == rows(stores["skipped"], "select distinct topics_fingerprint from items")


def _raw(path: Path, sql: str) -> list[tuple]:
    """Read the file with sqlite3 alone: no presswatch code runs on the way."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


def _fulltext_consistent(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for table in ("items_fts", "search_fts"):  # raises if an index disagrees with its rows
            conn.execute(f"insert into {table}({table}, rank) values ('integrity-check', 1)")
        conn.rollback()


def test_a_reparse_that_rewrites_most_text_puts_the_full_text_indexes_off_and_rebuilds_them_once(tmp_path, mirror,
                                                                                                 capsys):
    from crawler import app
    from crawler.config import load_config
    from crawler.reparse import reparse

    crawl(tmp_path, mirror.base_url)
    path = tmp_path / "store.db"
    with Store.open(path) as store, store.atomic():
        store.db.execute("update items set content_hash = 'stale', title = 'Zyxwv ' || title")
    config = load_config(write_config(tmp_path, mirror.base_url))
    entry = config.sources[0]
    statements: list[str] = []
    with app.writing(config) as store:
        store.db.conn.set_trace_callback(statements.append)
        result = reparse(store, app.source(config, entry), tagger=app.tagger_for(config, entry),
                         hooks=app.reparse_hooks(config), jobs=1, batch=4)
        store.db.conn.set_trace_callback(None)
    assert result.changed == len(RELEASES) * len(LANGS)
    assert any(sql.startswith("insert into fulltext_deferred") for sql in statements)
    assert [sql for sql in statements if "values ('rebuild')" in sql] == [
        "insert into items_fts (items_fts) values ('rebuild')", "insert into search_fts (search_fts) values ('rebuild')"]
    assert _raw(path, "select count(*) from fulltext_deferred") == [(0,)]
    _fulltext_consistent(path)
    assert _raw(path, "select count(*) from items_fts where items_fts match 'zyxwv'") == [(0,)]
    word = RELEASES[0].versions["en"].title.split()[0]
    assert _raw(path, f"select count(*) from items_fts where items_fts match '\"{word}\"'")[0][0] > 0
    capsys.readouterr()
    assert main(["search", "--config", write_config(tmp_path, mirror.base_url), word]) == 0
    assert str(RELEASES[0].id) in capsys.readouterr().out


def test_full_text_indexes_left_put_off_by_a_reparse_that_died_are_rebuilt_by_the_next_writer(tmp_path, mirror):
    config = crawl(tmp_path, mirror.base_url)
    path = tmp_path / "store.db"
    with Store.open(path) as store:
        with store.atomic():
            store.defer_full_text()
            store.db.execute("update items set title = 'Zyxwv ' || title where rowid = 1")
            store.db.execute("update search_text set title = 'zyxwv ' || title where rowid = 1")
    # ... and the process ends there, without rebuilding. A command that only reads leaves it be:
    assert main(["status", "--config", config]) == 0
    assert _raw(path, "select count(*) from fulltext_deferred") == [(1,)]
    assert _raw(path, "select count(*) from items_fts where items_fts match 'zyxwv'") == [(0,)]
    assert main(["crawl", "--config", config]) == 0  # the next writer rebuilds first
    assert _raw(path, "select count(*) from fulltext_deferred") == [(0,)]
    assert _raw(path, "select rowid from items_fts where items_fts match 'zyxwv'") == [(1,)]
    assert _raw(path, "select rowid from search_fts where search_fts match 'zyxwv'") == [(1,)]
    _fulltext_consistent(path)


def test_reparse_of_changed_text_tags_it_again_and_since_picks_pages_by_fetch_date(tmp_path, mirror, capsys):
    config = crawl(tmp_path, mirror.base_url)
    path = tmp_path / "store.db"
    ((item_id, lang, tagged),) = rows(path, "select id, lang, count(*) from matches group by id, lang "
                                            "order by count(*) desc limit 1")
    before = rows(path, "select topic, term, field, start, [end] from matches where id = ? and lang = ? order by rowid",
                  [item_id, lang])
    with Store.open(path) as store, store.atomic():  # as a wrong rule would leave it: text lost, and its matches
        store.db.execute("update items set content_hash = 'stale', body = 'x', paragraphs = '[\"x\"]' "
                         "where id = ? and lang = ?", [item_id, lang])
        store.db.execute("delete from matches where id = ? and lang = ?", [item_id, lang])
    capsys.readouterr()
    assert main(["reparse", "-q", "--since", "2999-01-01", "--config", config]) == 0
    assert capsys.readouterr().out.startswith("reparsed 0 archived release pages")
    assert main(["reparse", "-q", "--since", "2000-01-01", "--config", config]) == 0
    assert capsys.readouterr().out.startswith(f"reparsed {len(RELEASES) * len(LANGS)} archived release pages: "
                                              "1 versions changed (fields: paragraphs 1)")
    after = rows(path, "select topic, term, field, start, [end] from matches where id = ? and lang = ? order by rowid",
                 [item_id, lang])
    assert tagged > 0 and after == before
