"""The SQLite store: one file users query directly (every table is documented in the README).

Opened through sqlite-utils, in WAL mode so readers (status, search, Datasette) never block the
crawler. The schema is versioned with sqlite-utils' Migrations: a store made by an older presswatch
is migrated when it is opened. All writes that belong together go through `Store.atomic()`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database, Migrations

from crawler import __version__
from crawler.clock import now_utc
from crawler.model import (
    ListEntry,
    ParsedItem,
    PresswatchError,
    RunOutcome,
    StoreFull,
    StoreOutcome,
    StoreReadOnly,
    StoreUnusable,
)
from crawler.normalize import join_body
from crawler.sources.base import language_order_sql

migrations = Migrations("presswatch")


@migrations()
def m001_initial(db: Database) -> None:
    db["items"].create(
        {
            "id": int, "lang": str, "url": str, "title": str, "published": str, "body": str,
            "paragraphs": str, "images": str, "links": str, "content_hash": str, "parse_path": str,
            "version": int, "first_seen": str, "last_seen": str, "changed_at": str,
        },
        pk=("id", "lang"),
        not_null={"id", "lang", "url", "title", "body", "content_hash", "first_seen", "last_seen"},
    )
    db["items"].create_index(["published"])
    db["items"].create_index(["first_seen"])
    db["items"].enable_fts(["title", "body"], create_triggers=True, tokenize="unicode61")
    db["item_versions"].create(
        {
            "id": int, "lang": str, "version": int, "title": str, "published": str, "body": str,
            "paragraphs": str, "images": str, "links": str, "content_hash": str,
            "first_seen": str, "replaced_at": str,
        },
        pk=("id", "lang", "version"),
    )
    db["listings"].create(
        {"id": int, "lang": str, "url": str, "title": str, "list_date": str, "first_listed": str,
         "last_listed": str, "recheck": int},
        pk=("id", "lang"),
        defaults={"recheck": 0},
    )
    db["pending_translations"].create(
        {"id": int, "lang": str, "url": str, "state": str, "attempts": int, "first_missing": str, "last_attempt": str},
        pk=("id", "lang"),
    )
    db["http_cache"].create({"url": str, "etag": str, "last_modified": str, "checked_at": str}, pk="url")
    db["crawl_runs"].create(
        {
            "id": int, "kind": str, "started": str, "finished": str, "outcome": str,
            "pages_fetched": int, "requests": int, "new": int, "changed": int, "errors": int,
            "list_items": int, "list_path": str, "message": str,
        },
        pk="id",
    )
    db["backfill_progress"].create(
        {"job": str, "lang": str, "last_page": int, "done": int, "updated": str}, pk=("job", "lang")
    )
    db["crawl_errors"].create(
        {"id": int, "run_id": int, "url": str, "item_id": int, "lang": str, "kind": str, "reason": str, "at": str},
        pk="id",
        foreign_keys=[("run_id", "crawl_runs", "id")],
    )


@migrations()
def m002_topic_matches(db: Database) -> None:
    db["matches"].create(
        {
            "id": int, "lang": str, "topic": str, "label": str, "term": str, "field": str,
            "start": int, "end": int, "text": str, "snippet": str, "tagged_at": str,
        },
    )
    db["matches"].create_index(["id", "lang"])
    db["matches"].create_index(["topic", "id"])
    db["items"].add_column("topics_fingerprint", str)


@migrations()
def m003_search_index(db: Database) -> None:
    """The script-independent search index (crawler/query.py keeps it filled; docs/QUERY.md).

    Folding is Python (crawler.topics), so SQL triggers cannot write the folded text. They only
    queue what changed in `search_stale`; the pipeline's search hook and every `search`/`serve`
    fold what is queued. Pure SQL here, so this migration does not depend on the folding code of
    the day: existing rows are queued and folded on first use.
    """
    # One statement at a time: executescript() would commit the migration's transaction.
    for statement in _SEARCH_INDEX_SQL:
        db.execute(statement)


_SEARCH_INDEX_SQL = (
    """create table search_text (
        rowid integer primary key,
        id integer not null, lang text not null,
        title text not null, body text not null,
        content_hash text, fold_version text,
        unique (id, lang)
    )""",
    # A fold-rule upgrade re-queues rows folded by an older version: found through this index.
    "create index search_text_fold_version on search_text (fold_version)",
    """create virtual table search_fts using fts5(
        title, body, content='search_text', content_rowid='rowid', tokenize='unicode61'
    )""",
    """create trigger search_text_ai after insert on search_text begin
        insert into search_fts (rowid, title, body) values (new.rowid, new.title, new.body);
    end""",
    """create trigger search_text_ad after delete on search_text begin
        insert into search_fts (search_fts, rowid, title, body) values ('delete', old.rowid, old.title, old.body);
    end""",
    """create trigger search_text_au after update on search_text begin
        insert into search_fts (search_fts, rowid, title, body) values ('delete', old.rowid, old.title, old.body);
        insert into search_fts (rowid, title, body) values (new.rowid, new.title, new.body);
    end""",
    "create table search_stale (id integer not null, lang text not null, primary key (id, lang)) without rowid",
    """create trigger items_search_ai after insert on items begin
        insert or ignore into search_stale (id, lang) values (new.id, new.lang);
    end""",
    """create trigger items_search_au after update of id, lang, title, body on items begin
        delete from search_text where id = old.id and lang = old.lang and (old.id != new.id or old.lang != new.lang);
        insert or ignore into search_stale (id, lang) values (new.id, new.lang);
    end""",
    """create trigger items_search_ad after delete on items begin
        delete from search_text where id = old.id and lang = old.lang;
        delete from search_stale where id = old.id and lang = old.lang;
    end""",
    "insert or ignore into search_stale (id, lang) select id, lang from items",
)


@migrations()
def m005_daemon(db: Database) -> None:
    """The daemon's heartbeat (one row per daemon process) and health condition transitions."""
    db["heartbeat"].create(
        {"id": int, "pid": int, "host": str, "started": str, "last_beat": str, "state": str, "next_run": str},
        pk="id",
    )
    db["health_events"].create(
        {"id": int, "condition": str, "state": str, "at": str, "detail": str},
        pk="id",
        not_null={"condition", "state", "at"},
    )
    db["health_events"].create_index(["condition", "id"])


@migrations()
def m004_alerts(db: Database) -> None:
    """The alert outbox (crawler/alerts, docs/ALERTS.md): one row per (release, topic, route) or ops
    message, written with the release version that triggers it and marked sent after delivery."""
    db["outbox"].create(
        {
            "id": int, "key": str, "kind": str, "route": str, "mode": str, "release_id": int, "topic": str,
            "trigger_lang": str, "published": str, "subject": str, "body": str, "status": str, "reason": str,
            "period": str, "created_at": str, "due_at": str, "attempts": int, "last_attempt": str,
            "last_error": str, "sent_at": str, "done_urls": str, "message_key": str,
        },
        pk="id",
        not_null={"key", "kind", "route", "status", "created_at", "due_at"},
        defaults={"attempts": 0, "done_urls": "[]"},
    )
    db["outbox"].create_index(["key"], unique=True)
    db["outbox"].create_index(["status", "due_at"])
    db["outbox"].create_index(["release_id"])


@migrations()
def m006_source_state(db: Database) -> None:
    """The pace the last run kept with each host (robots.txt Crawl-delay, capped), for `status`,
    which runs in another process than the crawler."""
    db["source_state"].create(
        {"host": str, "delay_in_force": float, "crawl_delay_requested": float, "max_crawl_delay": float,
         "request_delay": float, "at": str},
        pk="host",
    )


def content_hash(item: ParsedItem) -> str:
    """What makes an edit: headline, date and paragraphs (not images, whose sizes vary)."""
    payload = json.dumps([item.title, item.published, item.paragraphs], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_SQLITE_FULL, _SQLITE_NOTADB = 13, 26


def _folder_problem(file: Path) -> str | None:
    """Why the store's folder cannot hold it (None: it can). Nothing is created: a folder the
    user did not make is named, not made."""
    if file.is_dir():
        return f"cannot use {file}: it is a folder, not a store file; choose another --store"
    ancestor = file.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"cannot use {file}: {ancestor} is a file, not a folder; choose another --store"
    if ancestor != file.parent:
        return f"no folder {file.parent}: create it first or choose another --store"
    return None


def _read_only_reason(file: Path) -> str | None:
    """Why an existing store cannot be written (read-only media, file or folder), or None."""
    if not os.access(file.parent, os.W_OK):
        return f"its folder {file.parent} is read-only (read-only media or no write permission)"
    if not os.access(file, os.W_OK):
        return "the file is read-only"
    return None


def _create_private(path: Path) -> None:
    """Create the store file readable by its owner only; SQLite gives -wal and -shm the same mode."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass  # another process created it a moment ago
    except OSError as exc:
        raise StoreUnusable(f"cannot create {path}: {(exc.strerror or str(exc)).lower()}") from None


def _connect(file: Path, read_only: bool) -> sqlite3.Connection:
    """A connection; read-only ones by URI. Without a -wal file no connection is open anywhere, so
    the store is opened immutable: SQLite then makes no -wal or -shm beside it (it could not on
    read-only media). With one, a writer may be at work: `mode=ro` reads its WAL as well."""
    if not read_only:
        return sqlite3.connect(str(file), timeout=30, check_same_thread=False)
    mode = "mode=ro" if Path(f"{file}-wal").exists() else "immutable=1"
    return sqlite3.connect(f"{file.absolute().as_uri()}?{mode}", uri=True, timeout=30, check_same_thread=False)


def _check_is_presswatch(db: Database, file: Path) -> None:
    """Refuse, before anything is written, a file that is neither empty nor a presswatch store, and a
    store a newer presswatch migrated (this version would misread it)."""
    try:
        tables = {row[0] for row in db.execute("select name from sqlite_master")}
    except sqlite3.DatabaseError as exc:
        if exc.sqlite_errorcode == _SQLITE_NOTADB:
            raise StoreUnusable(f"cannot use {file}: it is not a SQLite database, so not a presswatch store; "
                                "choose another --store") from None
        raise StoreUnusable(f"cannot open {file}: {exc}") from None
    if not tables:
        return  # empty: a new store
    applied = {m.name for m in migrations.applied(db)}
    if not applied:
        raise StoreUnusable(f"cannot use {file}: it is another application's SQLite database (no presswatch "
                            "tables); left unchanged, choose another --store")
    unknown = sorted(applied - {m.name for m in migrations._migrations})
    if unknown:
        raise StoreUnusable(f"cannot use {file}: a newer presswatch wrote it (migration {', '.join(unknown)} is "
                            f"unknown to presswatch {__version__}); upgrade presswatch to use it")


def storage_error(exc: sqlite3.Error, path: Path | None) -> PresswatchError | None:
    """The domain error for a SQLite failure that is about the storage, not about presswatch."""
    if getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL:
        return StoreFull(f"the store {path} is full ({exc}): free disk space, then run again")
    if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc).replace("-", ""):
        return StoreReadOnly(f"cannot write to {path}: {exc}")
    return None


class Store:
    """The presswatch store. `Store.open(path)` creates or migrates it."""

    def __init__(self, db: Database, path: Path | None = None, *, read_only: str | None = None) -> None:
        self.db = db
        self.path = path
        # Why the store cannot be written (read-only media, file or folder), None when it can.
        self.read_only = read_only

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, migrate: bool = True, write: bool = False) -> "Store":
        """Open the store at `path`, creating an empty one in an existing folder. StoreUnusable (one
        line, nothing changed) for a missing folder, a file that is not a presswatch store, or a store
        a newer presswatch wrote; StoreReadOnly when `write` and it cannot be written. Without
        `write`, a store that cannot be written is opened read-only."""
        if str(path) == ":memory:":
            store = cls(Database(sqlite3.connect(":memory:", check_same_thread=False)), Path(":memory:"))
            store.db.execute("PRAGMA foreign_keys = ON")
            if migrate:
                store.migrate()
            return store
        file = Path(path)
        problem = _folder_problem(file)
        if problem:
            raise StoreUnusable(problem)
        if file.exists():
            if not os.access(file, os.R_OK):
                raise StoreUnusable(f"cannot read {file}: permission denied")
            read_only = _read_only_reason(file)
        else:
            _create_private(file)
            read_only = None
        try:
            conn = _connect(file, bool(read_only))
        except sqlite3.Error as exc:
            raise StoreUnusable(f"cannot open {file}: {exc}") from None
        store = cls(Database(conn), file, read_only=read_only)
        try:
            store._prepare(write=write, migrate=migrate)
        except BaseException:
            store.close()
            raise
        return store

    def _prepare(self, *, write: bool, migrate: bool) -> None:
        _check_is_presswatch(self.db, self.path)
        if self.read_only and write:
            raise StoreReadOnly(f"cannot write to {self.path}: {self.read_only}; commands that only read "
                                "(status, show, search, export, feed) still work")
        self.db.execute("PRAGMA busy_timeout = 30000")
        self.db.execute("PRAGMA foreign_keys = ON")
        if self.read_only:
            if migrate and migrations.pending(self.db):
                raise StoreReadOnly(f"cannot read {self.path}: an older presswatch made it and it needs an "
                                    f"upgrade, which writes to it, but {self.read_only}")
            return
        self.db.enable_wal()
        self.db.execute("PRAGMA synchronous = NORMAL")
        if migrate:
            self.migrate()

    def migrate(self) -> None:
        """Apply the migrations this store lacks. Only a store that needs it is written to, so
        readers never queue for the write lock."""
        if migrations.pending(self.db):
            with self.atomic():  # another process may be creating the same store right now
                migrations.apply(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        """A write transaction, nested ones as savepoints.

        BEGIN IMMEDIATE takes the write lock up front: a deferred transaction that reads first
        and writes later fails at once with "database is locked" (no busy wait) when another
        process committed in between, which is exactly the daemon-plus-CLI case.
        """
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic() as db:
                yield db
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            try:
                conn.execute("COMMIT")
            except BaseException:
                # A failed COMMIT (a deferred constraint, a full disk) can leave the transaction
                # open; the next write would then commit half of this one with its own.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def storage_errors(self) -> Iterator[None]:
        """Around a writer's work: a full disk or a read-only file becomes a domain error with one
        line (StoreFull, StoreReadOnly); any other SQLite error stays what it is. Not inside
        `atomic()`: readers that write opportunistically (the search catch-up) handle SQLite's own."""
        try:
            yield
        except sqlite3.Error as exc:
            error = storage_error(exc, self.path)
            if error is None:
                raise
            raise error from exc

    def schema_version(self) -> list[str]:
        return [m.name for m in migrations.applied(self.db)]

    # --- items -----------------------------------------------------------------------------
    def item(self, item_id: int, lang: str) -> dict[str, Any] | None:
        rows = list(self.db["items"].rows_where("id = ? and lang = ?", [item_id, lang]))
        return _decode(rows[0]) if rows else None

    def release(self, item_id: int, language_order: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Every stored language version of a release, in the source's language order."""
        order = language_order_sql("lang", language_order) + ", lang"
        return [_decode(r) for r in self.db["items"].rows_where("id = ?", [item_id], order_by=order)]

    def versions(self, item_id: int, lang: str) -> list[dict[str, Any]]:
        rows = self.db["item_versions"].rows_where("id = ? and lang = ?", [item_id, lang], order_by="version")
        return [_decode(r) for r in rows]

    def save_item(self, item: ParsedItem, now: str | None = None) -> StoreOutcome:
        """Store one language version: 'new', 'changed' (old text kept in item_versions) or 'unchanged'.

        Call inside `atomic()` together with whatever else belongs to the same release.
        """
        now = now or now_utc()
        digest = content_hash(item)
        existing = self.item(item.id, item.lang)
        self.db["pending_translations"].delete_where("id = ? and lang = ?", [item.id, item.lang])
        self.db.execute("update listings set recheck = 0 where id = ? and lang = ? and recheck", [item.id, item.lang])
        if existing and existing["content_hash"] == digest:
            # Nothing to write: any update of the row would rewrite its full-text entry (items_fts).
            return StoreOutcome.UNCHANGED
        row = {
            "id": item.id, "lang": item.lang, "url": item.url, "title": item.title,
            "published": item.published, "body": join_body(item.paragraphs),
            "paragraphs": json.dumps(item.paragraphs, ensure_ascii=False),
            "images": json.dumps(item.images, ensure_ascii=False),
            "links": json.dumps(item.links, ensure_ascii=False),
            "content_hash": digest, "parse_path": item.path, "last_seen": now, "changed_at": now,
        }
        if existing is None:
            self.db["items"].insert({**row, "version": 1, "first_seen": now})
            return StoreOutcome.NEW
        old = self.db["items"].get((item.id, item.lang))
        self.db["item_versions"].insert(
            {
                "id": item.id, "lang": item.lang, "version": old["version"], "title": old["title"],
                "published": old["published"], "body": old["body"], "paragraphs": old["paragraphs"],
                "images": old["images"], "links": old["links"], "content_hash": old["content_hash"],
                "first_seen": old["changed_at"] or old["first_seen"], "replaced_at": now,
            },
            replace=True,
        )
        self.db["items"].update((item.id, item.lang), {**row, "version": old["version"] + 1})
        return StoreOutcome.CHANGED

    def any_published(self, item_id: int) -> str | None:
        """The date of any stored language version of a release."""
        row = self.db.execute(
            "select published from items where id = ? and published is not null limit 1", [item_id]
        ).fetchone()
        return row[0] if row else None

    def is_known(self, item_id: int) -> bool:
        """Stored or listed in some language."""
        return self.db.execute(
            "select 1 from items where id = ? union select 1 from listings where id = ?", [item_id, item_id]
        ).fetchone() is not None

    def languages(self) -> tuple[str, ...]:
        """Every language a version is stored in."""
        return tuple(row[0] for row in self.db.execute("select distinct lang from items order by lang"))

    def versions_per_language(self) -> dict[str, int]:
        return dict(self.db.execute("select lang, count(*) from items group by lang").fetchall())

    def release_count(self) -> int:
        return self.db.execute("select count(distinct id) from items").fetchone()[0]

    def stored_on(self, date: str) -> int:
        """Versions first stored, or published, on `date` (YYYY-MM-DD)."""
        return self.db.execute(
            "select count(*) from items where substr(first_seen, 1, 10) = ? or published = ?", [date, date]
        ).fetchone()[0]

    def known_ids(self) -> set[int]:
        return {row[0] for row in self.db.execute("select distinct id from items")}

    def stored_keys(self, lang: str) -> set[int]:
        return {row[0] for row in self.db.execute("select id from items where lang = ?", [lang])}

    # --- what the lists showed ---------------------------------------------------------------
    def record_listing(self, entries: list[ListEntry], now: str | None = None) -> None:
        """Remember what a list showed. A release listed under a new headline is an edit: it is
        marked for a recheck of its page (comparing list titles with list titles, since a list may
        shorten headlines)."""
        now = now or now_utc()
        with self.atomic():
            for entry in entries:
                existing = self.db.execute(
                    "select title from listings where id = ? and lang = ?", [entry.id, entry.lang]
                ).fetchone()
                if existing:
                    update = {"last_listed": now}
                    if entry.title and entry.title != existing[0]:
                        update["title"] = entry.title
                        update["recheck"] = int(bool(existing[0]))
                    self.db["listings"].update((entry.id, entry.lang), update)
                else:
                    self.db["listings"].insert(
                        {"id": entry.id, "lang": entry.lang, "url": entry.url, "title": entry.title,
                         "list_date": entry.list_date, "first_listed": now, "last_listed": now}
                    )

    def listed_date(self, item_id: int) -> str | None:
        row = self.db.execute(
            "select list_date from listings where id = ? and list_date is not null limit 1", [item_id]
        ).fetchone()
        return row[0] if row else None

    # --- what to fetch -----------------------------------------------------------------------
    def candidates(self, languages: list[str], *, retry_minutes: float, retry_cap_minutes: float,
                   since: str | None = None, now: str | None = None) -> list[tuple[int, str]]:
        """(id, lang) to fetch: every id listed or stored in any language, in each of `languages`
        that is neither stored (or marked for a recheck) nor a missing translation whose retry,
        doubling from `retry_minutes` up to `retry_cap_minutes`, is not yet due."""
        placeholders = ",".join("?" for _ in languages)
        since_clause = "and list_date >= ?" if since else ""
        rows = self.db.execute(
            f"""
            with ids(id) as (
                select id from listings where 1 {since_clause}
                union select id from items
            ),
            langs(lang) as (select value from json_each(?))
            select ids.id, langs.lang from ids, langs
            where (not exists (select 1 from items i where i.id = ids.id and i.lang = langs.lang)
                   or exists (select 1 from listings l where l.id = ids.id and l.lang = langs.lang and l.recheck))
              and not exists (
                select 1 from pending_translations p
                where p.id = ids.id and p.lang = langs.lang
                  and (p.state != 'pending'
                       or (julianday(?) - julianday(p.last_attempt)) * 1440.0
                          < min(? * (1 << (p.attempts - 1)), ?))
              )
              and langs.lang in ({placeholders})
            order by ids.id, langs.lang
            """,
            ([since] if since else [])
            + [json.dumps(languages), now or now_utc(), retry_minutes, retry_cap_minutes, *languages],
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def id_range_candidates(self, first: int, last: int, languages: list[str], *,
                            refresh: bool = False) -> list[tuple[int, str]]:
        """(id, lang) of an id range not yet stored (all with `refresh`) nor settled as absent."""
        stored = set() if refresh else {(r[0], r[1]) for r in self.db.execute(
            "select id, lang from items where id between ? and ?", [first, last])}
        settled = {(r[0], r[1]) for r in self.db.execute(
            "select id, lang from pending_translations where id between ? and ? and state != 'pending'",
            [first, last])}
        return [
            (item_id, lang)
            for item_id in range(first, last + 1)
            for lang in languages
            if (item_id, lang) not in stored and (item_id, lang) not in settled
        ]

    # --- backfill progress --------------------------------------------------------------------
    def resume_page(self, job: str, lang: str) -> int:
        """The list page a backfill job continues at (1 when it never ran or completed)."""
        row = self.db.execute(
            "select last_page, done from backfill_progress where job = ? and lang = ?", [job, lang]
        ).fetchone()
        if not row or row[1]:
            return 1
        return row[0] + 1

    def resume_id(self, job: str, first: int) -> int:
        """The id an id-range job continues at: `first` when it never ran or completed. Kept in
        backfill_progress with lang '*' and the last id done in last_page."""
        return max(first, self.resume_page(job, "*"))

    def save_resume_id(self, job: str, last_done: int, *, done: bool) -> None:
        self.save_resume_page(job, "*", last_done, done=done)

    def save_resume_page(self, job: str, lang: str, page: int, *, done: bool) -> None:
        with self.atomic() as db:
            db["backfill_progress"].upsert(
                {"job": job, "lang": lang, "last_page": page, "done": int(done), "updated": now_utc()},
                pk=("job", "lang"),
            )

    # --- missing translations ---------------------------------------------------------------
    def note_missing(self, item_id: int, lang: str, url: str, *, absent: bool) -> None:
        """A 404 for a version: pending (a translation not out yet, retried later), or, for an id
        known nowhere, absent."""
        with self.atomic() as db:
            self.mark_pending(item_id, lang, url)
            if absent:
                db["pending_translations"].update((item_id, lang), {"state": "absent"})

    def note_redirect(self, item_id: int, lang: str, target_url: str) -> None:
        """A release address that redirects to another release: recorded as state 'redirect' (its
        url the address it redirects to) and not fetched again."""
        with self.atomic() as db:
            self.mark_pending(item_id, lang, target_url)
            db["pending_translations"].update((item_id, lang), {"state": "redirect", "url": target_url})

    def mark_pending(self, item_id: int, lang: str, url: str, now: str | None = None) -> None:
        now = now or now_utc()
        existing = self.db.execute(
            "select attempts from pending_translations where id = ? and lang = ?", [item_id, lang]
        ).fetchone()
        if existing:
            self.db["pending_translations"].update(
                (item_id, lang), {"attempts": existing[0] + 1, "last_attempt": now}
            )
        else:
            self.db["pending_translations"].insert(
                {"id": item_id, "lang": lang, "url": url, "state": "pending", "attempts": 1,
                 "first_missing": now, "last_attempt": now}
            )

    def give_up_pending(self, max_attempts: int, max_age_days: int, now: str | None = None) -> int:
        now = now or now_utc()
        with self.atomic() as db:
            cursor = db.execute(
                "update pending_translations set state = 'gave_up' where state = 'pending' and "
                "(attempts >= ? or julianday(?) - julianday(first_missing) > ?)",
                [max_attempts, now, max_age_days],
            )
        return cursor.rowcount

    def pending(self, state: str = "pending") -> list[dict[str, Any]]:
        return list(self.db["pending_translations"].rows_where("state = ?", [state], order_by="id, lang"))

    # --- conditional GET --------------------------------------------------------------------
    def validators(self, url: str) -> tuple[str | None, str | None]:
        row = self.db.execute("select etag, last_modified from http_cache where url = ?", [url]).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def save_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        self.db["http_cache"].upsert(
            {"url": url, "etag": etag, "last_modified": last_modified, "checked_at": now_utc()}, pk="url"
        )

    def save_walk_validators(self, pages: list[tuple[str, str | None, str | None]]) -> None:
        """The validators of every page of a completed list walk, together: saved for page 1 alone,
        a later 304 there would hide the pages after it that were never read."""
        with self.atomic():
            for url, etag, last_modified in pages:
                self.save_validators(url, etag, last_modified)

    # --- runs -------------------------------------------------------------------------------
    def close_stale_runs(self) -> None:
        """A run left 'running' belongs to a process that died (the caller holds the store's lock)."""
        with self.atomic() as db:
            db.execute(
                "update crawl_runs set outcome = ?, finished = coalesce(finished, ?), "
                "message = coalesce(message, 'the process ended during the run') where outcome = ?",
                [RunOutcome.INTERRUPTED, now_utc(), RunOutcome.RUNNING],
            )

    def current_run_kind(self) -> str | None:
        """The kind of the run in progress ('crawl', 'backfill'), None outside any run."""
        row = self.db.execute(
            "select kind from crawl_runs where outcome = ? order by id desc limit 1", [RunOutcome.RUNNING]
        ).fetchone()
        return row[0] if row else None

    def has_completed_run(self) -> bool:
        """True once a crawl or backfill run has completed."""
        row = self.db.execute(
            "select 1 from crawl_runs where outcome in (?, ?) and finished is not null limit 1",
            [RunOutcome.OK, RunOutcome.PARTIAL],
        ).fetchone()
        return row is not None

    def start_run(self, kind: str) -> int:
        with self.atomic():
            table = self.db["crawl_runs"]
            table.insert({"kind": kind, "started": now_utc(), "outcome": RunOutcome.RUNNING.value,
                          "pages_fetched": 0, "requests": 0, "new": 0, "changed": 0, "errors": 0})
            return int(table.last_pk)

    def finish_run(self, run_id: int, **fields: Any) -> None:
        with self.atomic():
            self.db["crawl_runs"].update(run_id, {"finished": now_utc(), **fields})

    def record_error(self, run_id: int, url: str, kind: str, reason: str,
                     item_id: int | None = None, lang: str | None = None) -> None:
        with self.atomic():
            self.db["crawl_errors"].insert(
                {"run_id": run_id, "url": url, "item_id": item_id, "lang": lang, "kind": kind,
                 "reason": reason[:2000], "at": now_utc()}
            )

    def failures_since_success(self, kind: str) -> int:
        """Failed runs of `kind` since the last one that succeeded (ok or partial)."""
        return self.db.execute(
            "select count(*) from crawl_runs where kind = ? and outcome = ? and id > "
            "coalesce((select max(id) from crawl_runs where kind = ? and outcome in (?, ?)), 0)",
            [kind, RunOutcome.FAILED, kind, RunOutcome.OK, RunOutcome.PARTIAL],
        ).fetchone()[0]

    def last_success(self, kind: str) -> str | None:
        row = self.db.execute(
            "select finished from crawl_runs where kind = ? and outcome in (?, ?) order by id desc limit 1",
            [kind, RunOutcome.OK, RunOutcome.PARTIAL],
        ).fetchone()
        return row[0] if row else None

    def last_failure_message(self, kind: str) -> str:
        row = self.db.execute(
            "select message from crawl_runs where kind = ? and outcome = ? order by id desc limit 1",
            [kind, RunOutcome.FAILED],
        ).fetchone()
        return (row[0] or "") if row else ""

    def list_results(self, kind: str, limit: int) -> list[tuple[str | None, int | None, str]]:
        """(list_path, list_items, outcome) of the newest finished runs of `kind`."""
        return self.db.execute(
            "select list_path, list_items, outcome from crawl_runs where kind = ? and outcome != ? "
            "order by id desc limit ?",
            [kind, RunOutcome.RUNNING, limit],
        ).fetchall()

    def newest_release(self) -> tuple[int, str] | None:
        """The newest release id and when it was first stored."""
        row = self.db.execute(
            "select id, min(first_seen) from items where id = (select max(id) from items)"
        ).fetchone()
        return (row[0], row[1]) if row and row[0] is not None else None

    def last_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        return list(self.db["crawl_runs"].rows_where(order_by="id desc", limit=limit))

    # --- status: failed runs, coverage of the id range, pace -------------------------------------
    def last_failed_run(self, kind: str) -> dict[str, Any] | None:
        """The newest failed run of `kind`: {run_id, kind, at, message}."""
        row = self.db.execute(
            "select id, kind, coalesce(finished, started), message from crawl_runs where kind = ? and outcome = ? "
            "order by id desc limit 1",
            [kind, RunOutcome.FAILED],
        ).fetchone()
        if not row:
            return None
        return {"run_id": row[0], "kind": row[1], "at": row[2], "message": row[3] or ""}

    def last_page_error(self) -> dict[str, Any] | None:
        """The newest page that failed to fetch or parse (crawl_errors)."""
        row = self.db.execute(
            "select run_id, at, url, reason from crawl_errors order by id desc limit 1"
        ).fetchone()
        return {"run_id": row[0], "at": row[1], "url": row[2], "reason": row[3]} if row else None

    def stored_id_gaps(self, lang: str) -> tuple[int | None, int | None, int, list[tuple[int, int]]]:
        """(first id, last id, versions stored, [(first, last) of each run of ids not stored]) for `lang`."""
        first, last, count = self.db.execute(
            "select min(id), max(id), count(*) from items where lang = ?", [lang]
        ).fetchone()
        rows = self.db.execute(
            "select id + 1, next - 1 from (select id, lead(id) over (order by id) as next "
            "from items where lang = ?) where next - id > 1 order by id",
            [lang],
        ).fetchall()
        return first, last, count, [(row[0], row[1]) for row in rows]

    def probed_missing(self, lang: str) -> dict[int, str]:
        """id -> state ('pending', 'gave_up', 'absent') of every 404 remembered for `lang`."""
        return dict(self.db.execute("select id, state from pending_translations where lang = ?", [lang]).fetchall())

    def release_ids_stored(self, ids: list[int]) -> set[int]:
        """Which of `ids` have a version stored in some language."""
        found: set[int] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" for _ in chunk)
            found.update(row[0] for row in self.db.execute(f"select distinct id from items where id in ({marks})", chunk))
        return found

    def reopen_absent_found_elsewhere(self) -> int:
        """An id settled 'absent' (404 in a language while known nowhere) that a later probe found in
        another language is a translation not out yet: back to 'pending'."""
        with self.atomic() as db:
            cursor = db.execute(
                "update pending_translations set state = 'pending' where state = 'absent' "
                "and id in (select id from items)"
            )
        return cursor.rowcount

    def record_pace(self, base_url: str, *, in_force: float, requested: float | None, cap: float,
                    request_delay: float) -> None:
        """The pace a run kept with the host of `base_url` (robots.txt's Crawl-delay, capped)."""
        host = urlsplit(base_url).netloc
        with self.atomic() as db:
            db["source_state"].upsert(
                {"host": host, "delay_in_force": in_force, "crawl_delay_requested": requested,
                 "max_crawl_delay": cap, "request_delay": request_delay, "at": now_utc()},
                pk="host",
            )

    def pace(self, base_url: str) -> dict[str, Any] | None:
        """The pace last recorded for the host of `base_url`, or None before any run there."""
        rows = list(self.db["source_state"].rows_where("host = ?", [urlsplit(base_url).netloc]))
        return rows[0] if rows else None


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    decoded = dict(row)
    for key in ("paragraphs", "images", "links"):
        if isinstance(decoded.get(key), str):
            decoded[key] = json.loads(decoded[key])
    return decoded


@migrations()
def m008_archive(db: Database) -> None:
    """The archive of pages (crawler/archive.py owns these tables): every answer of a list or
    release page (`archive_responses`, keyed by source first), its body compressed and stored once
    per distinct content (`archive_bodies`, by SHA-256 of the body)."""
    for statement in _ARCHIVE_SQL:
        db.execute(statement)


_ARCHIVE_SQL = (
    """create table archive_bodies (
        digest text primary key,
        size integer not null,
        codec text not null,
        data blob not null
    )""",
    """create table archive_responses (
        id integer primary key,
        source text not null,
        kind text not null,
        item_id integer,
        lang text,
        url text not null,
        final_url text not null,
        fetched_at text not null,
        status integer not null,
        headers text not null,
        digest text not null references archive_bodies (digest)
    )""",
    "create index archive_responses_version on archive_responses (source, item_id, lang, fetched_at)",
    "create index archive_responses_url on archive_responses (source, url, fetched_at)",
    "create index archive_responses_digest on archive_responses (digest)",
)
