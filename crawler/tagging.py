"""Topic tags in the store: every stored language version is tagged in the transaction that stores it.

`matches` holds one row per match (topic, configured term, matched text, offsets into the stored
title or body, snippet); `items.topics_fingerprint` says which topic definitions tagged the row, so
`presswatch retag` can tell what is stale.
"""

from __future__ import annotations

from typing import Any

from crawler.clock import now_utc
from crawler.config import Config
from crawler.model import ParsedItem
from crawler.normalize import join_body
from crawler.progress import Progress
from crawler.store import Store, version_keys_where
from crawler.topics import Matches, TopicSet, load_topics
from crawler.topics.patterns import languages_without_terms


def load_topicset(config: Config) -> TopicSet:
    path = config.resolve(config.topics.path) if config.topics.path else None
    return load_topics(str(path) if path else None)


def untagged_languages(config: Config, topics: TopicSet | None = None) -> list[dict[str, str]]:
    """Each (source, language) whose releases no topic the source is tagged with can fire on: they
    are stored untagged, which must be said, never left silent (`topics lint`, `status`)."""
    topics = topics or load_topicset(config)
    found = []
    for entry in config.sources:
        for lang in languages_without_terms(topics.select(entry.topics or None), entry.languages):
            found.append({"source": entry.name, "lang": lang,
                          "message": f"{lang}: no terms; releases in {lang} are stored untagged"})
    return found


def tag_version(store: Store, topics: TopicSet, source: str, item_id: int, lang: str, title: str,
                body: str) -> int:
    """Make the matches of one stored language version today's; returns how many it has."""
    return _replace_matches(store, (source, item_id, lang), topics.match_item(title, body, lang), topics.fingerprint)


class Tagger:
    """The pipeline's tagging step: tags a new or changed version as it is stored, returns its matches."""

    def __init__(self, topics: TopicSet) -> None:
        self.topics = topics

    @classmethod
    def from_config(cls, config: Config) -> "Tagger":
        return cls(load_topicset(config))

    def __call__(self, store: Store, item: ParsedItem) -> list[Any]:
        return self.store_prepared(store, item, self.prepare(item))

    def prepare(self, item: ParsedItem) -> Matches:
        """The matches of a version: a pure function of it, so `reparse` runs it in its worker processes."""
        return self.topics.match_item(item.title, join_body(item.paragraphs), item.lang)

    def store_prepared(self, store: Store, item: ParsedItem, matches: Matches) -> Matches:
        """Replace the stored matches of `item` with `matches` (what `prepare` gave for it)."""
        _replace_matches(store, (item.source, item.id, item.lang), matches, self.topics.fingerprint)
        return matches  # at most MAX_MATCHES_PER_TOPIC a topic; `matches.counts` has the exact numbers


    def current_keys(self, store: Store, source: str, ids: list[int]) -> set[tuple[int, str]]:
        """(id, lang) of these releases' versions tagged by today's topics."""
        return version_keys_where(store.db, "items", "topics_fingerprint", self.topics.fingerprint, source, ids)

    @staticmethod
    def text_unchanged(store: Store, item: ParsedItem) -> None:
        """A version stored anew with the title and body it had, tagged by today's topics: its
        stored matches stand (matching is a function of the text and the topics)."""


def _replace_matches(store: Store, key: tuple[str, int, str], matches: Any, fingerprint: str) -> int:
    """Make the stored matches of a version `matches`. Rows already as they would be are left (with
    the `tagged_at` of when they were made): reading them costs a fraction of writing them again."""
    wanted = [(m.topic, m.label, m.term, m.field, m.start, m.end, m.text, m.snippet) for m in matches]
    # plain SQL: sqlite-utils' table calls read the schema again on every call (BENCHMARKS.md, reparse)
    if store.db.conn.execute(_STORED_MATCHES, key).fetchall() != wanted:
        now = now_utc()
        store.db.conn.execute("delete from matches where source = ? and id = ? and lang = ?", key)
        store.db.conn.executemany(_INSERT_MATCH, [(*key, *fields, now) for fields in wanted])
    # only where it differs: any update of an items row rewrites its full-text entry (the items_fts trigger)
    store.db.conn.execute("update items set topics_fingerprint = ? where source = ? and id = ? and lang = ? "
                          "and topics_fingerprint is not ?", [fingerprint, *key, fingerprint])
    return len(wanted)


_MATCH_COLUMNS = ("source", "id", "lang", "topic", "label", "term", "field", "start", "end", "text", "snippet",
                  "tagged_at")
_COMPARED_COLUMNS = _MATCH_COLUMNS[3:-1]
_STORED_MATCHES = (f"select {', '.join(f'[{name}]' for name in _COMPARED_COLUMNS)} from matches "
                   "where source = ? and id = ? and lang = ? order by rowid")
_INSERT_MATCH = (f"insert into matches ({', '.join(f'[{name}]' for name in _MATCH_COLUMNS)}) "
                 f"values ({', '.join('?' * len(_MATCH_COLUMNS))})")


def matches_of(store: Store, source: str, item_id: int) -> list[dict[str, Any]]:
    """Every stored match of a release, by language, field and position."""
    return list(store.db["matches"].rows_where("source = ? and id = ?", [source, item_id],
                                               order_by="lang, field, start"))


def releases_per_topic(store: Store, source: str | None = None) -> dict[str, int]:
    where, params = ("where source = ?", [source]) if source else ("", [])
    return dict(store.db.execute(
        f"select topic, count(*) from (select distinct topic, source, id from matches {where}) group by topic",
        params).fetchall())


def retag(store: Store, topics, *, everything: bool = False, progress: bool = True, batch: int = 500,
          source: str | None = None) -> dict[str, int]:
    """Re-tag versions whose fingerprint differs from the current topics (all with everything=True).

    Idempotent: a second call finds nothing stale. Commits every `batch` versions, so an interrupted
    retag keeps its progress.
    """
    clauses = ["1"] if everything else ["(topics_fingerprint is null or topics_fingerprint != ?)"]
    params = [] if everything else [topics.fingerprint]
    if source:
        clauses.append("source = ?")
        params.append(source)
    where = "where " + " and ".join(clauses)
    total = store.db.execute(f"select count(*) from items {where}", params).fetchone()[0]
    bar = Progress("retag", total=total, enabled=progress)
    done = matched = 0
    while True:
        keys = store.db.execute(
            f"select source, id, lang, title, body from items {where} order by source, id, lang limit ? offset ?",
            [*params, batch, done if everything else 0],
        ).fetchall()
        if not keys:
            break
        with store.atomic():
            for source_name, item_id, lang, title, body in keys:
                matched += tag_version(store, topics, source_name, item_id, lang, title, body)
        done += len(keys)
        bar.advance(len(keys))
        if everything and done >= total:
            break
    bar.close()
    return {"versions": done, "matches": matched}
