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
from collections.abc import Iterable, Iterator, Mapping
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
from crawler.sources import FIRST_SOURCE_NAME
from crawler.sources.base import language_order_sql

migrations = Migrations("presswatch")

# save_item's `existing` when the caller did not read the row: read it there.
_READ = object()


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


@migrations()
def m007_source_identity(db: Database) -> None:
    """Sources become plural: a release is (source, id), a version (source, id, lang). Tables keyed
    by release or version are rebuilt with `source` first in their key (rowids kept, so the
    full-text tables that point at them stay right); tables keyed by their own number get a
    `source` column. Every existing row belongs to the one source a store had until now. Alert
    keys are rewritten to the keyed-by-source form, so nothing already queued or sent alerts again."""
    first = FIRST_SOURCE_NAME
    triggers = [row[0] for row in db.execute(
        "select sql from sqlite_master where type = 'trigger' and tbl_name = 'items' and name not like 'items_search_%'")]
    for table, key in _REKEYED.items():
        _rekey(db, table, key, first)
    for statement in triggers:  # items_fts follows items (sqlite-utils' triggers, by rowid)
        db.execute(statement)
    for statement in _SOURCE_SEARCH_SQL:
        db.execute(statement, [first] if "?" in statement else [])
    for table in ("crawl_runs", "crawl_errors", "outbox"):
        # '' for rows of no source (ops alerts); the rows so far are the first source's
        db.execute(f"alter table [{table}] add column source text not null default ''")
    db.execute("update crawl_runs set source = ?", [first])
    db.execute("update crawl_errors set source = ?", [first])
    db.execute("update outbox set source = ? where kind = 'release'", [first])
    db.execute("update outbox set key = 'presswatch:' || ? || ':' || substr(key, length('presswatch:') + 1) "
               "where kind = 'release'", [first])
    db.execute("create index crawl_runs_source on crawl_runs (source, kind, id)")
    db.execute("drop index if exists idx_outbox_release_id")
    db.execute("create index outbox_release on outbox (source, release_id)")


# Tables keyed by release or version: their key once `source` leads it (None: no key, rowid only).
_REKEYED: dict[str, tuple[str, ...] | None] = {
    "items": ("id", "lang"),
    "item_versions": ("id", "lang", "version"),
    "listings": ("id", "lang"),
    "pending_translations": ("id", "lang"),
    "backfill_progress": ("job", "lang"),
    "matches": None,
}


def _rekey(db: Database, table: str, key: tuple[str, ...] | None, source: str) -> None:
    """Rebuild `table` with a `source` column first (in its key, when it has one), every row
    belonging to `source`, rowids and indexes kept (an index on id gets source in front)."""
    columns = db.execute(f"pragma table_info([{table}])").fetchall()  # cid, name, type, notnull, default, pk
    indexes = [row[0] for row in db.execute(
        "select sql from sqlite_master where type = 'index' and tbl_name = ? and sql is not null", [table])]
    definitions = ["[source] TEXT NOT NULL"] + [
        f"[{name}] {kind}" + (" NOT NULL" if not_null else "") + (f" DEFAULT {default}" if default is not None else "")
        for _, name, kind, not_null, default, _ in columns
    ]
    if key:
        definitions.append(f"PRIMARY KEY ({', '.join(['source', *key])})")
    names = ", ".join(f"[{column[1]}]" for column in columns)
    db.execute(f"create table [{table}_m007] ({', '.join(definitions)})")
    db.execute(f"insert into [{table}_m007] (rowid, source, {names}) select rowid, ?, {names} from [{table}]",
               [source])
    db.execute(f"drop table [{table}]")
    db.execute(f"alter table [{table}_m007] rename to [{table}]")
    for statement in indexes:
        db.execute(statement.replace('("id"', '("source", "id"').replace("([id]", "([source], [id]"))


_SOURCE_SEARCH_SQL = (
    # search_text: unique per version of a source; rowids kept, so search_fts stays right.
    """create table search_text_m007 (
        rowid integer primary key,
        source text not null, id integer not null, lang text not null,
        title text not null, body text not null,
        content_hash text, fold_version text,
        unique (source, id, lang)
    )""",
    "insert into search_text_m007 select rowid, ?, id, lang, title, body, content_hash, fold_version from search_text",
    "drop table search_text",
    "alter table search_text_m007 rename to search_text",
    "create index search_text_fold_version on search_text (fold_version)",
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
    "create table search_stale_m007 (source text not null, id integer not null, lang text not null, "
    "primary key (source, id, lang)) without rowid",
    "insert into search_stale_m007 select ?, id, lang from search_stale",
    "drop table search_stale",
    "alter table search_stale_m007 rename to search_stale",
    """create trigger items_search_ai after insert on items begin
        insert or ignore into search_stale (source, id, lang) values (new.source, new.id, new.lang);
    end""",
    """create trigger items_search_au after update of source, id, lang, title, body on items begin
        delete from search_text where source = old.source and id = old.id and lang = old.lang
            and (old.source != new.source or old.id != new.id or old.lang != new.lang);
        insert or ignore into search_stale (source, id, lang) values (new.source, new.id, new.lang);
    end""",
    """create trigger items_search_ad after delete on items begin
        delete from search_text where source = old.source and id = old.id and lang = old.lang;
        delete from search_stale where source = old.source and id = old.id and lang = old.lang;
    end""",
)


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


@migrations()
def m009_polling(db: Database) -> None:
    """The adaptive poll's place in its rotation, per source (crawler.polling owns the table), and
    robots.txt as last read from each origin, so a crawl started by cron does not read it every run
    (RFC 9309 §2.4: a cached copy serves up to 24 hours)."""
    db["poll_state"].create({"source": str, "polls": int, "last_list": str, "at": str}, pk="source")
    db["robots_cache"].create({"origin": str, "status": int, "body": str, "fetched_at": float}, pk="origin")


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
    def item(self, source: str, item_id: int, lang: str) -> dict[str, Any] | None:
        row = self._item_row((source, item_id, lang))
        return _decode(row) if row else None

    def _item_row(self, key: tuple[str, int, str]) -> dict[str, Any] | None:
        """The stored row of a version as it is in the table (JSON columns as text)."""
        cursor = self.db.execute("select * from items where source = ? and id = ? and lang = ?", key)
        row = cursor.fetchone()
        return dict(zip((column[0] for column in cursor.description), row)) if row else None

    def _insert(self, table: str, row: dict[str, Any], *, replace: bool = False) -> None:
        """One row, by plain SQL: the hot path of storing a version reads no schema (sqlite-utils'
        table calls do, several statements each)."""
        verb = "insert or replace" if replace else "insert"
        columns = ", ".join(f"[{name}]" for name in row)
        self.db.execute(f"{verb} into [{table}] ({columns}) values ({', '.join('?' * len(row))})", list(row.values()))

    def release(self, source: str, item_id: int, language_order: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Every stored language version of a release of `source`, in the source's language order."""
        order = language_order_sql("lang", language_order) + ", lang"
        return [_decode(r) for r in self.db["items"].rows_where("source = ? and id = ?", [source, item_id],
                                                                 order_by=order)]

    def sources_of(self, item_id: int) -> list[str]:
        """The sources that stored a release with this id (ids are per source)."""
        return [row[0] for row in self.db.execute(
            "select distinct source from items where id = ? order by source", [item_id])]

    def sources(self) -> list[str]:
        """Every source with a row in the store: a stored version, a listing or a run."""
        return sorted({*self.sources_with_items(), *distinct_leading(self.db, "listings", "source"),
                       *distinct_leading(self.db, "crawl_runs", "source")})

    def sources_with_items(self) -> list[str]:
        """Every source with a stored version, in name order."""
        return distinct_leading(self.db, "items", "source")

    def versions(self, source: str, item_id: int, lang: str) -> list[dict[str, Any]]:
        rows = self.db["item_versions"].rows_where("source = ? and id = ? and lang = ?", [source, item_id, lang],
                                                   order_by="version")
        return [_decode(r) for r in rows]

    def save_item(self, item: ParsedItem, now: str | None = None, *, digest: str | None = None,
                  existing: Mapping[str, Any] | None | object = _READ) -> StoreOutcome:
        """Store one language version: 'new', 'changed' (old text kept in item_versions) or 'unchanged'.

        Call inside `atomic()` together with whatever else belongs to the same release. The item
        names its source (`item.source`, set by the pipeline). A caller that has the version's
        `content_hash` or its stored row (`stored_rows`; None: not stored) at hand may pass them,
        as `reparse` does for a batch at a time.
        """
        if not item.source:
            raise ValueError(f"release {item.id}/{item.lang} names no source")
        now = now or now_utc()
        digest = digest or content_hash(item)
        key = (item.source, item.id, item.lang)
        if existing is _READ:
            existing = self._item_row(key)
        self.db.conn.execute("delete from pending_translations where source = ? and id = ? and lang = ?", key)
        self.db.conn.execute("update listings set recheck = 0 where source = ? and id = ? and lang = ? and recheck", key)
        if existing and existing["content_hash"] == digest:
            # Nothing to write: any update of the row would rewrite its full-text entry (items_fts).
            return StoreOutcome.UNCHANGED
        row = {
            "source": item.source, "id": item.id, "lang": item.lang, "url": item.url, "title": item.title,
            "published": item.published, "body": join_body(item.paragraphs),
            "paragraphs": json.dumps(item.paragraphs, ensure_ascii=False),
            "images": json.dumps(item.images, ensure_ascii=False),
            "links": json.dumps(item.links, ensure_ascii=False),
            "content_hash": digest, "parse_path": item.path, "last_seen": now, "changed_at": now,
        }
        if existing is None:
            self._insert("items", {**row, "version": 1, "first_seen": now})
            return StoreOutcome.NEW
        old = existing
        self._insert(
            "item_versions",
            {
                "source": item.source, "id": item.id, "lang": item.lang, "version": old["version"], "title": old["title"],
                "published": old["published"], "body": old["body"], "paragraphs": old["paragraphs"],
                "images": old["images"], "links": old["links"], "content_hash": old["content_hash"],
                "first_seen": old["changed_at"] or old["first_seen"], "replaced_at": now,
            },
            replace=True,
        )
        # Only the columns that differ: naming title or body in the update queues the version for
        # folding again and, when they differ, rewrites its full-text entries (the triggers).
        changed = {name: value for name, value in row.items() if old[name] != value}
        changed["version"] = old["version"] + 1
        self.db.conn.execute(f"update items set {', '.join(f'[{name}] = ?' for name in changed)} "
                             "where source = ? and id = ? and lang = ?", [*changed.values(), *key])
        return StoreOutcome.CHANGED

    # --- the full-text indexes put off (m013) ---------------------------------------------------
    def defer_full_text(self) -> None:
        """Stop keeping items_fts and search_fts row by row until `rebuild_full_text`; call inside
        `atomic()`, with the first writes it is for. For writing a large share of the store at
        once (`reparse`), where one rebuild costs far less. Recorded in the store, so if this
        process dies before the rebuild, the next writer repairs it (`repair_full_text`)."""
        self.db.conn.execute("insert into fulltext_deferred (since) select ? where not exists "
                             "(select 1 from fulltext_deferred)", [now_utc()])

    def full_text_deferred(self) -> bool:
        return self.db.conn.execute("select exists (select 1 from fulltext_deferred)").fetchone()[0] == 1

    def repair_full_text(self) -> bool:
        """Rebuild the full-text indexes if a process that put them off died before it rebuilt
        them. For a writer holding the one-writer lock (app.writing): then none is running."""
        if not self.full_text_deferred():
            return False
        self.rebuild_full_text()
        return True

    def rebuild_full_text(self) -> None:
        """Both full-text indexes made anew from their rows, and kept row by row again."""
        with self.atomic():
            for index in ("items_fts", "search_fts"):
                self.db.conn.execute(f"insert into {index} ({index}) values ('rebuild')")
            self.db.conn.execute("delete from fulltext_deferred")

    def version_count(self) -> int:
        """Language versions stored, of every source (what the full-text indexes hold)."""
        return self.db.conn.execute("select count(*) from items").fetchone()[0]

    def stored_rows(self, source: str, ids: Iterable[int]) -> dict[tuple[int, str], sqlite3.Row]:
        """The stored rows of every version of these releases, by (id, lang), as `save_item` takes them."""
        rows: dict[tuple[int, str], sqlite3.Row] = {}
        for chunk in _chunks(sorted(set(ids)), 500):
            cursor = self.db.conn.execute(
                f"select * from items where source = ? and id in ({', '.join('?' * len(chunk))})", [source, *chunk])
            cursor.row_factory = sqlite3.Row
            for row in cursor:
                rows[(row["id"], row["lang"])] = row
        return rows

    def any_published(self, source: str, item_id: int) -> str | None:
        """The date of any stored language version of a release."""
        row = self.db.execute(
            "select published from items where source = ? and id = ? and published is not null limit 1",
            [source, item_id],
        ).fetchone()
        return row[0] if row else None

    def is_known(self, source: str, item_id: int) -> bool:
        """Stored or listed in some language."""
        return self.db.execute(
            "select 1 from items where source = ? and id = ? union select 1 from listings where source = ? and id = ?",
            [source, item_id, source, item_id],
        ).fetchone() is not None

    def languages(self, source: str | None = None) -> tuple[str, ...]:
        """Every language a version is stored in (of `source`; None: of any source)."""
        where, params = _of(source)
        return tuple(row[0] for row in self.db.execute(f"select distinct lang from items {where} order by lang", params))

    def versions_per_language(self, source: str | None = None) -> dict[str, int]:
        where, params = _of(source)
        return dict(self.db.execute(f"select lang, count(*) from items {where} group by lang", params).fetchall())

    def release_count(self, source: str | None = None) -> int:
        where, params = _of(source)
        return self.db.execute(f"select count(*) from (select distinct source, id from items {where})",
                               params).fetchone()[0]

    def stored_on(self, date: str, source: str | None = None) -> int:
        """Versions first stored, or published, on `date` (YYYY-MM-DD)."""
        where, params = _of(source, "and")
        return self.db.execute(
            f"select count(*) from items where (substr(first_seen, 1, 10) = ? or published = ?) {where}",
            [date, date, *params],
        ).fetchone()[0]

    def stored_keys(self, source: str, lang: str) -> set[int]:
        return {row[0] for row in self.db.execute("select id from items where source = ? and lang = ?", [source, lang])}

    # --- what the lists showed ---------------------------------------------------------------
    def record_listing(self, source: str, entries: list[ListEntry], now: str | None = None) -> None:
        """Remember what a list showed. A release listed under a new headline is an edit: it is
        marked for a recheck of its page (comparing list titles with list titles, since a list may
        shorten headlines)."""
        now = now or now_utc()
        with self.atomic():
            for entry in entries:
                key = (source, entry.id, entry.lang)
                existing = self.db.execute(
                    "select title from listings where source = ? and id = ? and lang = ?", key
                ).fetchone()
                if existing:
                    update = {"last_listed": now}
                    if entry.title and entry.title != existing[0]:
                        update["title"] = entry.title
                        update["recheck"] = int(bool(existing[0]))
                    self.db["listings"].update(key, update)
                else:
                    self.db["listings"].insert(
                        {"source": source, "id": entry.id, "lang": entry.lang, "url": entry.url, "title": entry.title,
                         "list_date": entry.list_date, "first_listed": now, "last_listed": now}
                    )

    def listed_url(self, source: str, item_id: int, lang: str) -> str | None:
        """The address a list page gave for this version (sites whose addresses are not built from ids)."""
        row = self.db.execute("select url from listings where source = ? and id = ? and lang = ?",
                              [source, item_id, lang]).fetchone()
        return row[0] if row else None

    def listed_keys(self, source: str) -> set[tuple[int, str]]:
        """(id, lang) of every version of `source` a list page showed."""
        return {(row[0], row[1]) for row in self.db.execute("select id, lang from listings where source = ?",
                                                            [source])}

    def listed_date(self, source: str, item_id: int) -> str | None:
        row = self.db.execute(
            "select list_date from listings where source = ? and id = ? and list_date is not null limit 1",
            [source, item_id],
        ).fetchone()
        return row[0] if row else None

    # --- what to fetch -----------------------------------------------------------------------
    def candidates(self, source: str, languages: list[str], *, retry_minutes: float, retry_cap_minutes: float,
                   since: str | None = None, now: str | None = None) -> list[tuple[int, str]]:
        """(id, lang) to fetch: every id listed or stored in any language, in each of `languages`
        that is neither stored (or marked for a recheck) nor a missing translation whose retry,
        doubling from `retry_minutes` up to `retry_cap_minutes`, is not yet due."""
        since_clause = "and list_date >= :since" if since else ""
        rows = self.db.execute(
            f"""
            with ids(id) as (
                select id from listings where source = :source {since_clause}
                union select id from items where source = :source
            ),
            langs(lang) as (select value from json_each(:langs))
            select ids.id, langs.lang from ids, langs
            where (not exists (select 1 from items i where i.source = :source and i.id = ids.id and i.lang = langs.lang)
                   or exists (select 1 from listings l where l.source = :source and l.id = ids.id
                              and l.lang = langs.lang and l.recheck))
              and not exists (
                select 1 from pending_translations p
                where p.source = :source and p.id = ids.id and p.lang = langs.lang
                  and (p.state != 'pending'
                       or (julianday(:now) - julianday(p.last_attempt)) * 1440.0
                          < min(:retry * (1 << (p.attempts - 1)), :cap))
              )
            order by ids.id, langs.lang
            """,
            {"source": source, "since": since, "langs": json.dumps(languages), "now": now or now_utc(),
             "retry": retry_minutes, "cap": retry_cap_minutes},
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def id_range_candidates(self, source: str, first: int, last: int, languages: list[str], *,
                            refresh: bool = False) -> list[tuple[int, str]]:
        """(id, lang) of an id range not yet stored (all with `refresh`) nor settled as absent."""
        stored = set() if refresh else {(r[0], r[1]) for r in self.db.execute(
            "select id, lang from items where source = ? and id between ? and ?", [source, first, last])}
        settled = {(r[0], r[1]) for r in self.db.execute(
            "select id, lang from pending_translations where source = ? and id between ? and ? and state != 'pending'",
            [source, first, last])}
        return [
            (item_id, lang)
            for item_id in range(first, last + 1)
            for lang in languages
            if (item_id, lang) not in stored and (item_id, lang) not in settled
        ]

    # --- backfill progress --------------------------------------------------------------------
    def resume_page(self, source: str, job: str, lang: str) -> int:
        """The list page a backfill job continues at (1 when it never ran or completed)."""
        row = self.db.execute(
            "select last_page, done from backfill_progress where source = ? and job = ? and lang = ?",
            [source, job, lang],
        ).fetchone()
        if not row or row[1]:
            return 1
        return row[0] + 1

    def resume_id(self, source: str, job: str, first: int) -> int:
        """The id an id-range job continues at: `first` when it never ran or completed. Kept in
        backfill_progress with lang '*' and the last id done in last_page."""
        return max(first, self.resume_page(source, job, "*"))

    def save_resume_id(self, source: str, job: str, last_done: int, *, done: bool) -> None:
        self.save_resume_page(source, job, "*", last_done, done=done)

    def save_resume_page(self, source: str, job: str, lang: str, page: int, *, done: bool) -> None:
        with self.atomic() as db:
            db["backfill_progress"].upsert(
                {"source": source, "job": job, "lang": lang, "last_page": page, "done": int(done),
                 "updated": now_utc()},
                pk=("source", "job", "lang"),
            )

    # --- missing translations ---------------------------------------------------------------
    def note_missing(self, source: str, item_id: int, lang: str, url: str, *, absent: bool) -> None:
        """A 404 for a version: pending (a translation not out yet, retried later), or, for an id
        known nowhere, absent."""
        with self.atomic() as db:
            self.mark_pending(source, item_id, lang, url)
            if absent:
                db["pending_translations"].update((source, item_id, lang), {"state": "absent"})

    def note_redirect(self, source: str, item_id: int, lang: str, target_url: str) -> None:
        """A release address that redirects to another release: recorded as state 'redirect' (its
        url the address it redirects to) and not fetched again."""
        with self.atomic() as db:
            self.mark_pending(source, item_id, lang, target_url)
            db["pending_translations"].update((source, item_id, lang), {"state": "redirect", "url": target_url})

    def mark_pending(self, source: str, item_id: int, lang: str, url: str, now: str | None = None) -> None:
        now = now or now_utc()
        key = (source, item_id, lang)
        existing = self.db.execute(
            "select attempts from pending_translations where source = ? and id = ? and lang = ?", key
        ).fetchone()
        if existing:
            self.db["pending_translations"].update(key, {"attempts": existing[0] + 1, "last_attempt": now})
        else:
            self.db["pending_translations"].insert(
                {"source": source, "id": item_id, "lang": lang, "url": url, "state": "pending", "attempts": 1,
                 "first_missing": now, "last_attempt": now}
            )

    def give_up_pending(self, source: str, max_attempts: int, max_age_days: int, now: str | None = None) -> int:
        now = now or now_utc()
        with self.atomic() as db:
            cursor = db.execute(
                "update pending_translations set state = 'gave_up' where source = ? and state = 'pending' and "
                "(attempts >= ? or julianday(?) - julianday(first_missing) > ?)",
                [source, max_attempts, now, max_age_days],
            )
        return cursor.rowcount

    def pending(self, state: str = "pending", source: str | None = None) -> list[dict[str, Any]]:
        where, params = _of(source, "and")
        return list(self.db["pending_translations"].rows_where(f"state = ? {where}", [state, *params],
                                                               order_by="source, id, lang"))

    # --- conditional GET --------------------------------------------------------------------
    # Validators are a source's own (two sources on one host may read the same page: one told the
    # page is unchanged must not make it unchanged for the other): the key is "SOURCE URL" (a URL
    # holds no space), so the table needs no migration.
    def validators(self, source: str, url: str) -> tuple[str | None, str | None]:
        """The validators `source` last got for `url` (two sources on one host keep their own: one's
        304 must not hide a page from the other)."""
        row = self.db.execute("select etag, last_modified from http_cache where source = ? and url = ?",
                              [source, url]).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def save_validators(self, source: str, url: str, etag: str | None, last_modified: str | None) -> None:
        self.db.execute(
            "insert into http_cache (source, url, etag, last_modified, checked_at) values (?, ?, ?, ?, ?) "
            "on conflict (source, url) do update set etag = excluded.etag, "
            "last_modified = excluded.last_modified, checked_at = excluded.checked_at",
            [source, url, etag, last_modified, now_utc()])

    def save_walk_validators(self, source: str, pages: list[tuple[str, str | None, str | None]]) -> None:
        """The validators of every page of a completed list walk, together: saved for page 1 alone,
        a later 304 there would hide the pages after it that were never read."""
        with self.atomic():
            for url, etag, last_modified in pages:
                self.save_validators(source, url, etag, last_modified)

    # --- runs -------------------------------------------------------------------------------
    def close_stale_runs(self, source: str) -> None:
        """A run of `source` left 'running' belongs to a process that died (the caller holds the
        store's lock); runs of other sources may be at work in this process."""
        with self.atomic() as db:
            db.execute(
                "update crawl_runs set outcome = ?, finished = coalesce(finished, ?), "
                "message = coalesce(message, 'the process ended during the run') where outcome = ? and source = ?",
                [RunOutcome.INTERRUPTED, now_utc(), RunOutcome.RUNNING, source],
            )

    def current_run_kind(self, source: str) -> str | None:
        """The kind of the run of `source` in progress ('crawl', 'backfill'), None outside any run."""
        row = self.db.execute(
            "select kind from crawl_runs where outcome = ? and source = ? order by id desc limit 1",
            [RunOutcome.RUNNING, source],
        ).fetchone()
        return row[0] if row else None

    def has_completed_run(self, source: str) -> bool:
        """True once a crawl or backfill run of `source` has completed."""
        row = self.db.execute(
            "select 1 from crawl_runs where outcome in (?, ?) and finished is not null and source = ? limit 1",
            [RunOutcome.OK, RunOutcome.PARTIAL, source],
        ).fetchone()
        return row is not None

    def start_run(self, kind: str, source: str) -> int:
        with self.atomic():
            table = self.db["crawl_runs"]
            table.insert({"source": source, "kind": kind, "started": now_utc(), "outcome": RunOutcome.RUNNING.value,
                          "pages_fetched": 0, "requests": 0, "new": 0, "changed": 0, "errors": 0})
            return int(table.last_pk)

    def finish_run(self, run_id: int, **fields: Any) -> None:
        with self.atomic():
            self.db["crawl_runs"].update(run_id, {"finished": now_utc(), **fields})

    def record_error(self, run_id: int, url: str, kind: str, reason: str,
                     item_id: int | None = None, lang: str | None = None) -> None:
        with self.atomic():
            self.db["crawl_errors"].insert(
                {"source": self._run_source(run_id), "run_id": run_id, "url": url, "item_id": item_id, "lang": lang, "kind": kind,
                 "reason": reason[:2000], "at": now_utc()}
            )

    def _run_source(self, run_id: int) -> str:
        row = self.db.execute("select source from crawl_runs where id = ?", [run_id]).fetchone()
        return row[0] if row else ""

    # Reports below read one source's runs, or (source None) every source's together.
    def failures_since_success(self, kind: str, source: str | None = None) -> int:
        """Failed runs of `kind` since the last one that succeeded (ok or partial)."""
        where, params = _of(source, "and")
        return self.db.execute(
            f"select count(*) from crawl_runs where kind = ? and outcome = ? {where} and id > "
            f"coalesce((select max(id) from crawl_runs where kind = ? and outcome in (?, ?) {where}), 0)",
            [kind, RunOutcome.FAILED, *params, kind, RunOutcome.OK, RunOutcome.PARTIAL, *params],
        ).fetchone()[0]

    def last_success(self, kind: str, source: str | None = None) -> str | None:
        where, params = _of(source, "and")
        row = self.db.execute(
            f"select finished from crawl_runs where kind = ? and outcome in (?, ?) {where} order by id desc limit 1",
            [kind, RunOutcome.OK, RunOutcome.PARTIAL, *params],
        ).fetchone()
        return row[0] if row else None

    def last_failure_message(self, kind: str, source: str | None = None) -> str:
        where, params = _of(source, "and")
        row = self.db.execute(
            f"select message from crawl_runs where kind = ? and outcome = ? {where} order by id desc limit 1",
            [kind, RunOutcome.FAILED, *params],
        ).fetchone()
        return (row[0] or "") if row else ""

    def list_results(self, kind: str, limit: int, source: str | None = None) -> list[tuple[str | None, int | None, str]]:
        """(list_path, list_items, outcome) of the newest finished runs of `kind`."""
        where, params = _of(source, "and")
        return self.db.execute(
            f"select list_path, list_items, outcome from crawl_runs where kind = ? and outcome != ? {where} "
            "order by id desc limit ?",
            [kind, RunOutcome.RUNNING, *params, limit],
        ).fetchall()

    def first_run_started(self, kind: str, source: str | None = None) -> str | None:
        where, params = _of(source, "and")
        row = self.db.execute(f"select min(started) from crawl_runs where kind = ? {where}", [kind, *params]).fetchone()
        return row[0] if row else None

    def newest_release(self, source: str | None = None) -> tuple[int, str] | None:
        """The newest release id (of `source`) and when it was first stored."""
        where, params = _of(source, "and")
        row = self.db.execute(
            f"select id, min(first_seen) from items where 1 {where} and id = (select max(id) from items where 1 {where})",
            [*params, *params],
        ).fetchone()
        return (row[0], row[1]) if row and row[0] is not None else None

    def last_runs(self, limit: int = 10, source: str | None = None) -> list[dict[str, Any]]:
        where, params = _of(source, "")
        return list(self.db["crawl_runs"].rows_where(where or None, params, order_by="id desc", limit=limit))

    # --- status: failed runs, coverage of the id range, pace -------------------------------------
    def last_failed_run(self, kind: str, source: str | None = None) -> dict[str, Any] | None:
        """The newest failed run of `kind`: {run_id, kind, at, message}."""
        where, params = _of(source, "and")
        row = self.db.execute(
            "select id, kind, coalesce(finished, started), message from crawl_runs where kind = ? and outcome = ? "
            f"{where} order by id desc limit 1",
            [kind, RunOutcome.FAILED, *params],
        ).fetchone()
        if not row:
            return None
        return {"run_id": row[0], "kind": row[1], "at": row[2], "message": row[3] or ""}

    def last_page_error(self, source: str | None = None) -> dict[str, Any] | None:
        """The newest page that failed to fetch or parse (crawl_errors)."""
        where, params = _of(source)
        row = self.db.execute(
            f"select run_id, at, url, reason from crawl_errors {where} order by id desc limit 1", params
        ).fetchone()
        return {"run_id": row[0], "at": row[1], "url": row[2], "reason": row[3]} if row else None

    def stored_id_gaps(self, source: str, lang: str | None) -> tuple[int | None, int | None, int, list[tuple[int, int]]]:
        """(first id, last id, versions stored, [(first, last) of each run of ids not stored]) for `lang`;
        with `lang` None, of the ids stored in any language (the count is of ids)."""
        first, last, count = self.db.execute(
            "select min(id), max(id), count(distinct id) from items where source = ? and (? is null or lang = ?)",
            [source, lang, lang],
        ).fetchone()
        rows = self.db.execute(
            "select id + 1, next - 1 from (select id, lead(id) over (order by id) as next "
            "from (select distinct id from items where source = ? and (? is null or lang = ?))) "
            "where next - id > 1 order by id",
            [source, lang, lang],
        ).fetchall()
        return first, last, count, [(row[0], row[1]) for row in rows]

    def probed_missing(self, source: str, lang: str) -> dict[int, str]:
        """id -> state ('pending', 'gave_up', 'absent') of every 404 remembered for `lang`."""
        return dict(self.db.execute("select id, state from pending_translations where source = ? and lang = ?",
                                    [source, lang]).fetchall())

    def release_ids_stored(self, source: str, ids: list[int]) -> set[int]:
        """Which of `ids` have a version stored in some language."""
        found: set[int] = set()
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" for _ in chunk)
            found.update(row[0] for row in self.db.execute(
                f"select distinct id from items where source = ? and id in ({marks})", [source, *chunk]))
        return found

    def reopen_absent_found_elsewhere(self, source: str) -> int:
        """An id settled 'absent' (404 in a language while known nowhere) that a later probe found in
        another language is a translation not out yet: back to 'pending'."""
        with self.atomic() as db:
            cursor = db.execute(
                "update pending_translations set state = 'pending' where state = 'absent' and source = ? "
                "and id in (select id from items where source = ?)", [source, source]
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

    # --- robots.txt as last read (crawler.fetch.RobotsCache) ----------------------------------
    def cached_robots(self, origin: str) -> tuple[int, str, float] | None:
        """(status, body, fetched_at as Unix seconds) of the robots.txt last read from `origin`."""
        row = self.db.execute("select status, body, fetched_at from robots_cache where origin = ?",
                              [origin]).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def cache_robots(self, origin: str, status: int, body: str, fetched_at: float) -> None:
        if self.read_only:
            return  # a reader keeps its copy in memory only
        with self.atomic() as db:
            db["robots_cache"].upsert({"origin": origin, "status": status, "body": body,
                                       "fetched_at": fetched_at}, pk="origin")

    # --- when versions were first stored (crawler.polling learns from it) -----------------------
    def first_seen_of_recent(self, source: str, releases: int) -> list[tuple[int, str, str]]:
        """(id, lang, first_seen) of every stored version of `source`'s `releases` highest ids."""
        return [(row[0], row[1], row[2]) for row in self.db.execute(
            "select id, lang, first_seen from items where source = ? and id in "
            "(select distinct id from items where source = ? order by id desc limit ?)", [source, source, releases])]

    def discoveries_since(self, source: str, since: str) -> list[tuple[str, str | None]]:
        """(first stored, published date) of each release of `source` first stored at or after `since`."""
        return [(row[0], row[1]) for row in self.db.execute(
            "select min(first_seen), max(published) from items where source = ? group by id having min(first_seen) >= ?",
            [source, since])]


def distinct_leading(db: Database, table: str, column: str, limit: int = 10_000) -> list[str]:
    """The distinct values of `column` in `table`, read by jumping along an index that leads with
    it (one lookup a value): `select distinct` would read every row (6 ms at 50,000 versions, on
    every page of the web view)."""
    found: list[str] = []
    value = ""
    for _ in range(limit):
        row = db.execute(f"select min([{column}]) from [{table}] where [{column}] > ?", [value]).fetchone()
        if row is None or row[0] is None:
            break
        value = row[0]
        found.append(value)
    return found


def version_keys_where(db: Database, table: str, column: str, value: Any, source: str,
                       ids: list[int]) -> set[tuple[int, str]]:
    """(id, lang) of the rows of `table` (keyed by source, id, lang) for these releases whose
    `column` (a name of ours) is `value`. Compared here, not in SQL: given `column = ?`, the planner
    may take an index on `column` and read every row holding that value (search_text's fold_version)."""
    found: set[tuple[int, str]] = set()
    for chunk in _chunks(ids, 500):
        found.update((item_id, lang) for item_id, lang, held in db.conn.execute(
            f"select id, lang, [{column}] from {table} where source = ? and id in ({', '.join('?' * len(chunk))})",
            [source, *chunk]) if held == value)
    return found


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    """`values` in lists of at most `size` (SQLite's host parameters are limited)."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _of(source: str | None, joiner: str = "where") -> tuple[str, list[Any]]:
    """The clause that keeps one source's rows ("" for every source's), and its parameter."""
    if source is None:
        return "", []
    return (f"{joiner} source = ?".strip(), [source])


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    decoded = dict(row)
    for key in ("paragraphs", "images", "links"):
        if isinstance(decoded.get(key), str):
            decoded[key] = json.loads(decoded[key])
    return decoded


@migrations()
def m010_web(db: Database) -> None:
    """Indexes the web view reads by (bench/bench_web.py): the newest releases walked in date order
    without reading the rows, and a version's date found from its key (the topic chart's join)."""
    db.execute("create index if not exists items_web_newest on items (published, id, source, lang)")
    db.execute("create index if not exists items_web_dated on items (source, id, lang, published)")
    # a release asked for by its number alone (`/release/ID`, `show ID`): the key leads with the source
    db.execute("create index if not exists items_by_id on items (id, source, lang)")
    db.execute("create index if not exists matches_web_topic on matches (topic, source, id)")


@migrations()
def m011_fts_triggers(db: Database) -> None:
    """The full-text indexes follow their rows only when the text itself changes. sqlite-utils'
    `items_au` fired on any update of an items row (a new topics fingerprint, the version number),
    and rewriting a full-text entry tokenizes the old and the new title and body; now it fires on an
    update of the title or body that changes one of them (a date-only edit keeps its entry), and
    `search_text_au` likewise. Same statements in the trigger bodies: the indexes stay as they were."""
    for statement in _FTS_TRIGGERS_SQL:
        db.execute(statement)


_FTS_TRIGGERS_SQL = (
    "drop trigger if exists items_au",
    """create trigger items_au after update of title, body on items
        when old.title is not new.title or old.body is not new.body begin
        insert into items_fts (items_fts, rowid, title, body) values ('delete', old.rowid, old.title, old.body);
        insert into items_fts (rowid, title, body) values (new.rowid, new.title, new.body);
    end""",
    "drop trigger if exists search_text_au",
    """create trigger search_text_au after update of title, body on search_text
        when old.title is not new.title or old.body is not new.body begin
        insert into search_fts (search_fts, rowid, title, body) values ('delete', old.rowid, old.title, old.body);
        insert into search_fts (rowid, title, body) values (new.rowid, new.title, new.body);
    end""",
)


@migrations()
def m012_http_cache_source(db: Database) -> None:
    """Conditional GET validators per source: `http_cache` keyed by (source, url), so two sources
    reading one page each keep their own. The rows so far are the first source's."""
    db.execute("create table http_cache_m012 (source text not null, url text not null, etag text, "
               "last_modified text, checked_at text, primary key (source, url))")
    db.execute("insert or ignore into http_cache_m012 (source, url, etag, last_modified, checked_at) "
               "select ?, url, etag, last_modified, checked_at from http_cache where url not like '% %'",
               [FIRST_SOURCE_NAME])
    db.execute("drop table http_cache")
    db.execute("alter table http_cache_m012 rename to http_cache")


@migrations()
def m013_fulltext_deferral(db: Database) -> None:
    """The full-text indexes can be put off and rebuilt at once (`Store.defer_full_text`): while
    `fulltext_deferred` holds a row, the triggers that keep items_fts and search_fts leave them be.
    A rebuild reads every row once; row by row, a rewritten version costs tokenizing its old and
    new text for each index, five times more than its share of a rebuild (BENCHMARKS.md, reparse).
    Same statements in the trigger bodies otherwise."""
    for statement in _FULLTEXT_DEFERRAL_SQL:
        db.execute(statement)


_LIVE = "not exists (select 1 from fulltext_deferred)"


def _gated_fts_triggers(table: str, index: str) -> tuple[str, ...]:
    """The three triggers that keep the external-content FTS5 `index` in step with `table`, each
    firing only while the indexes are not put off (an update only when the text changes, m011)."""
    delete = f"insert into {index} ({index}, rowid, title, body) values ('delete', old.rowid, old.title, old.body);"
    insert = f"insert into {index} (rowid, title, body) values (new.rowid, new.title, new.body);"
    return (
        f"drop trigger if exists {table}_ai", f"drop trigger if exists {table}_ad", f"drop trigger if exists {table}_au",
        f"create trigger {table}_ai after insert on {table} when {_LIVE} begin {insert} end",
        f"create trigger {table}_ad after delete on {table} when {_LIVE} begin {delete} end",
        f"create trigger {table}_au after update of title, body on {table} when "
        f"(old.title is not new.title or old.body is not new.body) and {_LIVE} begin {delete} {insert} end",
    )


_FULLTEXT_DEFERRAL_SQL = (
    "create table fulltext_deferred (since text not null)",
    *_gated_fts_triggers("items", "items_fts"),
    *_gated_fts_triggers("search_text", "search_fts"),
)
