"""The archive of pages: what the site answered, kept beside what was extracted from it.

Every answer of a list or release page the crawl gets (not a 304, which carries no page) is kept:
source, kind, release id and language when known, the address asked for and the final one, when,
the status, the headers and the body. Bodies are zlib-compressed and stored once per distinct
content (`archive_bodies`, keyed by the SHA-256 of the body): fetching an unchanged page again adds
a row to `archive_responses` that points at the body already kept. `[archive] keep` chooses what is
kept: "all", "latest" (the latest answer per release version, or per list address: older rows and
the bodies no row needs any more are deleted) or "none".

The body kept is the one the crawl decoded its text from, after any Content-Encoding (gzip) was
undone; the headers are as the site sent them. This module owns the two tables (the migration that
makes them is crawler/store.py's m008_archive).
"""

from __future__ import annotations

import functools
import hashlib
import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from crawler.clock import now_utc
from crawler.fetch import Page, decode_html
from crawler.store import Store

KEEP_CHOICES = ("all", "latest", "none")
LIST, RELEASE = "list", "release"
# zlib at its default level: within 1 % of level 9 on these pages, and a third faster (BENCHMARKS.md)
_CODEC, _LEVEL = "zlib", 6
_COLUMNS = "r.id, r.source, r.kind, r.item_id, r.lang, r.url, r.final_url, r.fetched_at, r.status, r.headers, r.digest"


@dataclass(frozen=True)
class ArchivedPage:
    """One kept answer, body included."""

    id: int
    source: str
    kind: str
    item_id: int | None
    lang: str | None
    url: str  # the address asked for
    final_url: str  # after redirects: the address the body is of
    fetched_at: str
    status: int
    headers: list[tuple[str, str]]
    digest: str
    codec: str
    data: bytes  # the body as kept (compressed by `codec`): what a worker process is sent

    @functools.cached_property
    def body(self) -> bytes:
        """The body as received (decompressed on first use)."""
        return decompress(self.codec, self.data)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)

    @property
    def text(self) -> str:
        """The body decoded as the crawl decoded it (declared charset, then the safe fallbacks)."""
        return decode_html(self.body, self.header("Content-Type"))[0]

    @property
    def charset(self) -> str:
        """The charset the crawl read the body in, as a label browsers know (to serve the bytes with)."""
        return web_charset(decode_html(self.body, self.header("Content-Type"))[1])


def web_charset(codec: str) -> str:
    """Python's codec name as the WHATWG Encoding Standard labels it, where the two differ
    ("cp1251" is a label too, but "iso8859-5" and "mac-cyrillic" are not)."""
    if codec.startswith("iso8859-"):
        return "iso-8859-" + codec.removeprefix("iso8859-")
    if codec.startswith("cp125"):
        return "windows-" + codec.removeprefix("cp")
    return {"mac-cyrillic": "x-mac-cyrillic"}.get(codec, codec)


def digest_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _compress(body: bytes) -> bytes:
    return zlib.compress(body, _LEVEL)


def decompress(codec: str, data: bytes) -> bytes:
    if codec != _CODEC:
        raise ValueError(f"archived body in an unknown codec {codec!r}")
    return zlib.decompress(data)


class PageKeeper:
    """The pipeline's page hook (crawler.pipeline.PageHook): keeps each answer as `keep` says."""

    def __init__(self, source: str, keep: str = "all") -> None:
        self.source = source
        self.keep = keep

    def __call__(self, store: Store, kind: str, url: str, page: Page, item_id: int | None, lang: str | None) -> None:
        if self.keep == "none":
            return
        with store.atomic():
            add_response(store, source=self.source, kind=kind, url=url, final_url=page.url, status=page.status,
                         headers=list(page.headers.multi_items()), body=page.body,
                         fetched_at=page.fetched_at or now_utc(), item_id=item_id, lang=lang, keep=self.keep)


def add_response(store: Store, *, source: str, kind: str, url: str, final_url: str, status: int,
                 headers: list[tuple[str, str]], body: bytes, fetched_at: str, item_id: int | None,
                 lang: str | None, keep: str = "all") -> int:
    """Keep one answer (inside the caller's transaction); returns its row id."""
    digest = digest_of(body)
    db = store.db
    if db.execute("select 1 from archive_bodies where digest = ?", [digest]).fetchone() is None:
        db.execute("insert into archive_bodies (digest, size, codec, data) values (?, ?, ?, ?)",
                   [digest, len(body), _CODEC, _compress(body)])
    cursor = db.execute(
        "insert into archive_responses (source, kind, item_id, lang, url, final_url, fetched_at, status, headers, "
        "digest) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [source, kind, item_id, lang, url, final_url, fetched_at, status,
         json.dumps(headers, ensure_ascii=False), digest],
    )
    row_id = cursor.lastrowid
    if keep == "latest":
        _prune_older(store, source, kind, url, item_id, lang)
    return row_id


def _prune_older(store: Store, source: str, kind: str, url: str, item_id: int | None,
                 lang: str | None) -> None:
    """Keep only the latest answer (by fetch time) of this release version, or, for a list page, of
    this address: the one just added, unless an answer fetched later is kept (an imported file's
    records need not come in date order)."""
    if kind == RELEASE and item_id is not None:
        where, params = "source = ? and kind = ? and item_id = ? and lang = ?", [source, kind, item_id, lang]
    else:
        where, params = "source = ? and kind = ? and url = ?", [source, kind, url]
    db = store.db
    latest = db.execute(f"select id from archive_responses where {where} order by fetched_at desc, id desc limit 1",
                        params).fetchone()[0]
    digests = [row[0] for row in db.execute(f"select distinct digest from archive_responses where {where} "
                                            "and id != ?", [*params, latest])]
    db.execute(f"delete from archive_responses where {where} and id != ?", [*params, latest])
    drop_unreferenced(store, digests)


def drop_unreferenced(store: Store, digests: Iterable[str]) -> None:
    for digest in digests:
        store.db.execute("delete from archive_bodies where digest = ? and not exists "
                         "(select 1 from archive_responses where digest = ?)", [digest, digest])


def forget(store: Store, ids: list[int]) -> None:
    """Drop these answers, and the bodies no other answer needs."""
    with store.atomic():
        for batch in in_batches(ids, 500):
            marks = ",".join("?" * len(batch))
            digests = [row[0] for row in store.db.execute(
                f"select distinct digest from archive_responses where id in ({marks})", batch)]
            store.db.execute(f"delete from archive_responses where id in ({marks})", batch)
            drop_unreferenced(store, digests)


# --- reading ------------------------------------------------------------------------------------

def _page(row: tuple, codec: str, data: bytes) -> ArchivedPage:
    headers = [(str(k), str(v)) for k, v in json.loads(row[9])]
    return ArchivedPage(*row[:9], headers, row[10], codec, data)


def pages_by_id(store: Store, ids: list[int]) -> list[ArchivedPage]:
    """These answers, in the order of `ids`."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = store.db.execute(f"select {_COLUMNS}, b.codec, b.data from archive_responses r "
                            f"join archive_bodies b on b.digest = r.digest where r.id in ({marks})", ids).fetchall()
    found = {row[0]: _page(row[:11], row[11], row[12]) for row in rows}
    return [found[i] for i in ids if i in found]


def kept(store: Store, ids: list[int]) -> set[int]:
    """Which of these answers are still kept (keep = "latest" drops older ones as newer come)."""
    found: set[int] = set()
    for batch in in_batches(ids, 500):
        marks = ",".join("?" * len(batch))
        found.update(row[0] for row in store.db.execute(f"select id from archive_responses where id in ({marks})",
                                                        batch))
    return found


def latest_page(store: Store, source: str, item_id: int, lang: str) -> ArchivedPage | None:
    """The latest page answer (2xx) kept for a release version, or None."""
    row = store.db.execute(
        "select id from archive_responses where source = ? and kind = ? and item_id = ? and lang = ? "
        "and status between 200 and 299 order by fetched_at desc, id desc limit 1",
        [source, RELEASE, item_id, lang]).fetchone()
    return pages_by_id(store, [row[0]])[0] if row else None


def archived_languages(store: Store, source: str, item_id: int) -> set[str]:
    """The languages of a release that have a page answer (2xx) kept."""
    return {row[0] for row in store.db.execute(
        "select distinct lang from archive_responses where source = ? and item_id = ? and kind = ? "
        "and status between 200 and 299", [source, item_id, RELEASE])}


def sources_of(store: Store, item_id: int) -> list[str]:
    """The sources with a page answer (2xx) of a release with this id kept (ids are per source)."""
    return [row[0] for row in store.db.execute(
        "select distinct source from archive_responses where item_id = ? and kind = ? "
        "and status between 200 and 299 order by source", [item_id, RELEASE])]


def latest_release_ids(store: Store, source: str, *, ids: tuple[int, int] | None = None,
                       since: str | None = None) -> list[int]:
    """Row ids of the latest page answer (2xx) of every release version kept, by release and language;
    `ids` bounds the release ids, `since` (ISO date) the time the answer was fetched."""
    where, params = ["source = ?", "kind = ?", "status between 200 and 299", "item_id is not null"], [source, RELEASE]
    if ids is not None:
        where.append("item_id between ? and ?")
        params += list(ids)
    if since:
        where.append("fetched_at >= ?")
        params.append(since)
    sql = (f"select id from (select id, item_id, lang, row_number() over (partition by item_id, lang "
           f"order by fetched_at desc, id desc) as n from archive_responses where {' and '.join(where)}) "
           "where n = 1 order by item_id, lang")
    return [row[0] for row in store.db.execute(sql, params)]


def all_ids(store: Store, source: str | None = None) -> Iterator[int]:
    """Every kept answer's row id, oldest first (a WARC file's order)."""
    where, params = ("where source = ?", [source]) if source else ("", [])
    for row in store.db.execute(f"select id from archive_responses {where} order by fetched_at, id", params):
        yield row[0]


def in_batches(ids: Iterable[int], size: int = 200) -> Iterator[list[int]]:
    batch: list[int] = []
    for row_id in ids:
        batch.append(row_id)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def response_count(store: Store, source: str | None = None) -> int:
    """Answers kept (of `source`, or of every source)."""
    where, params = ("where source = ?", [source]) if source else ("", [])
    return store.db.execute(f"select count(*) from archive_responses {where}", params).fetchone()[0]


def stats(store: Store) -> dict[str, int]:
    """Answers kept, distinct bodies, their bytes as received and as stored."""
    db = store.db
    responses = db.execute("select count(*) from archive_responses").fetchone()[0]
    bodies, raw, stored = db.execute(
        "select count(*), coalesce(sum(size), 0), coalesce(sum(length(data)), 0) from archive_bodies").fetchone()
    return {"responses": responses, "bodies": bodies, "body_bytes": raw, "stored_bytes": stored}
