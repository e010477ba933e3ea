"""The store: edits kept as versions, migrations on open, owner-only file, FTS."""

import json
import shutil
import stat
from pathlib import Path

from crawler.model import ParsedItem
from crawler.normalize import join_body
from crawler.store import Store, content_hash, migrations


def item(item_id=9200, lang="ru", title="Заголовок", paragraphs=("Первый абзац.", "Второй абзац.")):
    return ParsedItem(
        source="president.uz",
        id=item_id, lang=lang, url=f"https://president.uz/{lang}/lists/view/{item_id}", title=title,
        published="2026-05-12", paragraphs=list(paragraphs), images=["https://president.uz/uploads/a.jpg"],
    )


def old_row(store, parsed):
    """A version as a presswatch before sources were plural stored it (no source column)."""
    now = "2026-05-12T10:00:00+00:00"
    store.db["items"].insert({
        "id": parsed.id, "lang": parsed.lang, "url": parsed.url, "title": parsed.title,
        "published": parsed.published, "body": join_body(parsed.paragraphs),
        "paragraphs": json.dumps(parsed.paragraphs), "images": "[]", "links": "[]",
        "content_hash": content_hash(parsed), "parse_path": "selectors", "version": 1,
        "first_seen": now, "last_seen": now, "changed_at": now,
    })


def save(store, parsed):
    with store.atomic():
        return store.save_item(parsed)


def test_new_unchanged_changed_and_versions(tmp_path):
    store = Store.open(tmp_path / "s.db")
    assert save(store, item()) == "new"
    assert save(store, item()) == "unchanged"
    assert save(store, item(paragraphs=("Первый абзац, исправленный.", "Второй абзац."))) == "changed"
    row = store.item("president.uz", 9200, "ru")
    assert row["version"] == 2
    assert row["paragraphs"][0] == "Первый абзац, исправленный."
    assert row["body"] == "Первый абзац, исправленный.\n\nВторой абзац."
    history = store.versions("president.uz", 9200, "ru")
    assert [h["version"] for h in history] == [1]
    assert history[0]["paragraphs"][0] == "Первый абзац."


def test_full_text_search_follows_edits(tmp_path):
    store = Store.open(tmp_path / "s.db")
    save(store, item(paragraphs=("Водные ресурсы региона.",)))
    hits = lambda q: [r["id"] for r in store.db.query(
        "select items.id from items_fts join items on items.rowid = items_fts.rowid where items_fts match ?", [q])]
    assert hits("Водные") == [9200]
    save(store, item(paragraphs=("Торговля выросла.",)))
    assert hits("Водные") == []
    assert hits("Торговля") == [9200]


def test_store_file_is_owner_only(tmp_path):
    (tmp_path / "deep").mkdir()  # a missing folder is named, not made (tests/test_store_unusable.py)
    Store.open(tmp_path / "deep" / "s.db").close()
    mode = stat.S_IMODE((tmp_path / "deep" / "s.db").stat().st_mode)
    assert mode == 0o600


def test_an_older_store_is_migrated_on_open(tmp_path):
    path = tmp_path / "old.db"
    old = Store.open(path, migrate=False)
    migrations.apply(old.db, stop_before="m002_topic_matches")
    old_row(old, item())
    assert not old.db["matches"].exists()
    old.close()

    store = Store.open(path)
    assert store.db["matches"].exists()
    assert "topics_fingerprint" in store.db["items"].columns_dict
    assert store.item("president.uz", 9200, "ru")["title"] == "Заголовок"
    assert store.schema_version()[:2] == ["m001_initial", "m002_topic_matches"]


def test_pending_translations_lifecycle(tmp_path):
    store = Store.open(tmp_path / "s.db")
    with store.atomic():
        store.mark_pending("president.uz", 9200, "oz", "https://president.uz/oz/lists/view/9200")
        store.mark_pending("president.uz", 9200, "oz", "https://president.uz/oz/lists/view/9200")
    assert store.pending()[0]["attempts"] == 2
    save(store, item(lang="oz", title="Sarlavha"))
    assert store.pending() == []


V1_STORE = Path(__file__).parent / "data" / "store_v1.sqlite"  # a store of the first release (test_source_identity)


def test_full_text_entries_are_rewritten_only_when_the_text_changes(tmp_path):
    """m011: on a store migrated from the first release, an update of an items or search_text row
    that leaves its title and body as they were writes no full-text entry; one that changes them
    does, and both indexes stay consistent with their rows."""
    path = tmp_path / "store.db"
    shutil.copy(V1_STORE, path)
    with Store.open(path) as store:
        assert "m011_fts_triggers" in store.schema_version()

        def changes(sql: str) -> int:
            before = store.db.conn.total_changes
            with store.atomic():
                store.db.execute(sql)
            return store.db.conn.total_changes - before

        assert changes("update items set topics_fingerprint = 'other' where rowid = 1") == 1
        assert changes("update items set published = '2020-01-02', version = version + 1 where rowid = 1") == 1
        assert changes("update search_text set content_hash = 'other' where rowid = 1") == 1
        assert changes("update items set title = title || ' Zyxwv' where rowid = 1") > 2
        assert changes("update search_text set body = body || ' zyxwv' where rowid = 1") > 1
        for table in ("items_fts", "search_fts"):  # raises when an index disagrees with its rows
            store.db.execute(f"insert into {table}({table}, rank) values ('integrity-check', 1)")
        assert store.db.execute("select rowid from items_fts where items_fts match 'zyxwv'").fetchall() == [(1,)]
        assert store.db.execute("select rowid from search_fts where search_fts match 'zyxwv'").fetchall() == [(1,)]
