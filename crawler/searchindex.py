"""The script-independent search index: its upkeep (docs/QUERY.md, "Search index").

`search_text` holds the title and body of every language version folded by crawler.topics: Uzbek
Cyrillic → Latin, apostrophes dropped, casefold, so `Qozog'iston`, `Qozogʻiston` and `Қозоғистон`
are one word. `search_fts` (FTS5, external content) indexes it and follows it through SQL
triggers. Folding is Python, so the triggers on `items` (migration m003) only queue changed
versions in `search_stale`; what is queued is folded by `search_hook` inside the crawl's storing
transaction, and by `sync()` before every search and before `serve`. A store written by any other
means (an older presswatch, the sqlite3 shell, a crawler without the hook) therefore catches up on
the next search instead of going stale. This module owns those three tables.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable

from sqlite_utils import Database

from crawler.model import ParsedItem, StoredVersion
from crawler.normalize import join_body
from crawler.progress import Progress
from crawler.store import Store, content_hash, version_keys_where
from crawler.topics import fold
from crawler.topics.fold import APOSTROPHES, FOLD_VERSION, LEXICON_OF

# Bumped when the folded text written to search_text changes for the same input.
INDEX_FORMAT = 1


def family_of(lang: str) -> str:
    """The fold rules serving a language: both Uzbek scripts share one; a language without a
    lexicon of its own is folded plainly (casefold), as English is."""
    return LEXICON_OF.get(lang, "en")


def families(languages: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Languages grouped by fold family, in the order given."""
    grouped: dict[str, list[str]] = {}
    for lang in languages:
        grouped.setdefault(family_of(lang), []).append(lang)
    return {family: tuple(langs) for family, langs in grouped.items()}


def fold_version() -> str:
    """Which folding wrote a search_text row: rows of another version are folded again."""
    return f"{INDEX_FORMAT}.{FOLD_VERSION}"


_APOSTROPHES_TO_SPACES = dict.fromkeys(map(ord, APOSTROPHES), " ")


def words_of(text: str, family: str) -> str:
    """In Uzbek an apostrophe is part of a letter (oʻ, gʻ) or the tutuq; in Russian and English it
    splits a word ("Kazakhstan's" must be found by "Kazakhstan"). Same length, same offsets."""
    return text if family == "uz" else text.translate(_APOSTROPHES_TO_SPACES)


def fold_text(text: str, lang: str) -> str:
    """`text` as the search index holds it for a version in `lang` (uz, oz, ru, en)."""
    family = family_of(lang)
    return fold(words_of(text, family), family)


def _write(db: Database) -> contextlib.AbstractContextManager[Database]:
    """The store's write transaction: BEGIN IMMEDIATE (a savepoint when nested), so reading the
    queue and then writing never fails with "database is locked" when the crawler commits between."""
    return Store(db).atomic()


def _requeue_other_fold_versions(db: Database) -> None:
    version = fold_version()
    db.execute(
        "insert or ignore into search_stale (source, id, lang) select source, id, lang from search_text "
        "where fold_version < ? or fold_version > ?",
        [version, version],
    )


def _index_rows(db: Database, rows: Iterable[tuple[str, int, str, str, str, str | None]]) -> int:
    """Fold and write (source, id, lang, title, body, content_hash) rows; the caller owns the transaction."""
    version = fold_version()
    return _write_folded(db, [
        (source, item_id, lang, fold_text(title or "", lang), fold_text(body or "", lang), digest, version)
        for source, item_id, lang, title, body, digest in rows
    ])


def _write_folded(db: Database, folded: list[tuple[str, int, str, str, str, str | None, str]]) -> int:
    """Write (source, id, lang, folded title, folded body, content_hash, fold_version) rows."""
    db.conn.executemany(
        "insert into search_text (source, id, lang, title, body, content_hash, fold_version) "
        "values (?, ?, ?, ?, ?, ?, ?) "
        "on conflict (source, id, lang) do update set title = excluded.title, body = excluded.body, "
        "content_hash = excluded.content_hash, fold_version = excluded.fold_version",
        folded,
    )
    db.conn.executemany("delete from search_stale where source = ? and id = ? and lang = ?",
                        [(r[0], r[1], r[2]) for r in folded])
    return len(folded)


class SearchHook:
    """Pipeline ReleaseHook: fold the version just stored, in its storing transaction.

    `prepare` (the folding, a pure function of the version) and `store_prepared` (the writing) are
    the two halves of a call, so `reparse` folds in its worker processes and only writes here."""

    def __call__(self, store: Store, version: StoredVersion) -> None:
        self.store_prepared(store, version, self.prepare(version.item))

    @staticmethod
    def prepare(item: ParsedItem) -> tuple[str, str, str]:
        """The folded title and body of a version, and the folding that made them."""
        return fold_text(item.title or "", item.lang), fold_text(join_body(item.paragraphs), item.lang), fold_version()

    @staticmethod
    def store_prepared(store: Store, version: StoredVersion, folded: tuple[str, str, str]) -> None:
        item = version.item
        _write_folded(store.db, [(item.source, item.id, item.lang, *folded[:2], version.digest or content_hash(item),
                                  folded[2])])

    @staticmethod
    def current_keys(store: Store, source: str, ids: list[int]) -> set[tuple[int, str]]:
        """(id, lang) of these releases' versions whose stored text is folded by today's rules."""
        return version_keys_where(store.db, "search_text", "fold_version", fold_version(), source, ids)

    @staticmethod
    def text_unchanged(store: Store, version: StoredVersion) -> None:
        """A version stored anew with the title and body it had (a date-only fix): its folded text
        stands; only the digest it records is the new one."""
        item = version.item
        store.db.conn.execute("update search_text set content_hash = ? where source = ? and id = ? and lang = ?",
                              [version.digest or content_hash(item), item.source, item.id, item.lang])

    def __reduce__(self) -> str:
        return "search_hook"  # the module's one instance, also in a worker process


search_hook = SearchHook()


def stale_count(db: Database) -> int:
    """Versions queued for folding."""
    return db.execute("select count(*) from search_stale").fetchone()[0]


def needs_sync(db: Database) -> bool:
    """Anything queued, or folded by other rules than today's? Two index lookups."""
    version = fold_version()
    return bool(db.execute(
        "select exists (select 1 from search_stale) or exists "
        "(select 1 from search_text where fold_version < ? or fold_version > ?)",
        [version, version],
    ).fetchone()[0])


def sync(db: Database, *, batch: int = 500, progress: bool = False) -> int:
    """Fold every queued version; returns how many. Commits per batch, so the crawler (a writer
    too) never waits long, and an interrupted sync keeps what it did."""
    with _write(db):
        _requeue_other_fold_versions(db)
    total = stale_count(db)
    if not total:
        return 0
    bar = Progress("indexing for search", total=total, enabled=progress)
    done = 0
    while True:
        with _write(db):
            rows = db.execute(
                "select s.source, s.id, s.lang, i.title, i.body, i.content_hash from search_stale s "
                "join items i on i.source = s.source and i.id = s.id and i.lang = s.lang limit ?",
                [batch],
            ).fetchall()
            if not rows:
                # Left: keys of versions deleted since they were queued.
                db.execute("delete from search_stale")
                break
            done += _index_rows(db, rows)
        bar.advance(len(rows))
    bar.close()
    return done


def reindex(db: Database, *, progress: bool = False) -> int:
    """Fold every stored version again (after a change of folding rules, or to repair the index)."""
    with _write(db):
        db.execute(
            "delete from search_text where not exists "
            "(select 1 from items i where i.source = search_text.source and i.id = search_text.id "
            "and i.lang = search_text.lang)"
        )
        db.execute("insert or ignore into search_stale (source, id, lang) select source, id, lang from items")
    return sync(db, progress=progress)


def catch_up(store: Store, *, progress: bool = False) -> str | None:
    """Bring the search index up to date before reading it. A store we cannot write is searched
    as it is: the warning to show is returned."""
    try:
        if needs_sync(store.db):
            sync(store.db, progress=progress)
    except sqlite3.OperationalError as exc:
        return f"the search index could not be updated ({exc}); results may miss recent releases"
    return None


