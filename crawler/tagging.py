"""Topic tags in the store: every stored language version is tagged in the transaction that stores it.

`matches` holds one row per match (topic, configured term, matched text, offsets into the stored
title or body, snippet); `items.topics_fingerprint` says which topic definitions tagged the row, so
`presswatch retag` can tell what is stale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crawler.config import Config
from crawler.normalize import now_utc
from crawler.progress import Progress
from crawler.store import Store


def load_topicset(config: Config):
    from crawler.topics import load_topics

    path = config.resolve(config.topics.path) if config.topics.path else None
    return load_topics(str(path) if path else None)


def tag_version(store: Store, topics, item_id: int, lang: str, title: str, body: str) -> list[dict[str, Any]]:
    """Replace the matches of one language version; returns the new rows."""
    now = now_utc()
    rows = [
        {"id": item_id, "lang": lang, **_match_fields(match), "tagged_at": now}
        for match in topics.match_item(title, body, lang)
    ]
    store.db["matches"].delete_where("id = ? and lang = ?", [item_id, lang])
    if rows:
        store.db["matches"].insert_all(rows)
    store.db["items"].update((item_id, lang), {"topics_fingerprint": topics.fingerprint})
    return rows


def _match_fields(match) -> dict[str, Any]:
    return {
        "topic": match.topic, "label": match.label, "term": match.term, "field": match.field,
        "start": match.start, "end": match.end, "text": match.text, "snippet": match.snippet,
    }


def tag_hook(config: Config) -> Callable:
    """A pipeline ReleaseHook: tag each new or changed version as it is stored."""
    topics = load_topicset(config)

    def hook(store: Store, item, outcome: str) -> None:
        if outcome == "unchanged":
            return
        row = store.db["items"].get((item.id, item.lang))
        tag_version(store, topics, item.id, item.lang, row["title"], row["body"])

    return hook


def retag(store: Store, topics, *, everything: bool = False, progress: bool = True, batch: int = 500) -> dict[str, int]:
    """Re-tag versions whose fingerprint differs from the current topics (all with everything=True).

    Idempotent: a second call finds nothing stale. Commits every `batch` versions, so an interrupted
    retag keeps its progress.
    """
    where = "" if everything else "where topics_fingerprint is null or topics_fingerprint != ?"
    params = [] if everything else [topics.fingerprint]
    total = store.db.execute(f"select count(*) from items {where}", params).fetchone()[0]
    bar = Progress("retag", total=total, enabled=progress)
    done = matched = 0
    while True:
        keys = store.db.execute(
            f"select id, lang, title, body from items {where} order by id, lang limit ? offset ?",
            [*params, batch, done if everything else 0],
        ).fetchall()
        if not keys:
            break
        with store.atomic():
            for item_id, lang, title, body in keys:
                matched += len(tag_version(store, topics, item_id, lang, title, body))
        done += len(keys)
        bar.advance(len(keys))
        if everything and done >= total:
            break
    bar.close()
    return {"versions": done, "matches": matched}
