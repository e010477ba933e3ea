"""What the web view reads from the store: plain functions over a read connection, one per page.

Every query is bounded (a page of releases, the versions of one release, one topic's counts); none
writes. A store from before the multi-source change has no `source` column: `has_source` checks the
schema once per connection and the queries leave the column out then.
"""

from __future__ import annotations

import dataclasses
import html
import zlib
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from crawler.filters import Filters
from crawler.sources.base import Source
from crawler.textdiff import render_html, word_diff

# Badge colours are classes tone-0 .. tone-7 of the style sheet (no inline style: the pages' content
# security policy allows none); a topic keeps its colour by name.
BADGE_TONES = 8


@dataclass(frozen=True)
class View:
    """The validated parameters of a page: filters, the language headlines are shown in, the page."""

    filters: Filters = Filters()
    source: str | None = None
    show: str | None = None
    page: int = 1


@dataclass
class Badge:
    topic: str
    label: str
    terms: list[str] = field(default_factory=list)

    @property
    def tone(self) -> int:
        return zlib.crc32(self.topic.encode()) % BADGE_TONES

    @property
    def hint(self) -> str:
        return f"{self.label}: {', '.join(self.terms)}"


def has_source(db: Database) -> bool:
    return "source" in {column.name for column in db["items"].columns}


def sources(db: Database) -> list[str]:
    if not has_source(db):
        return []
    return [row[0] for row in db.execute("select distinct source from items order by source")]


def topics(db: Database) -> list[tuple[str, str]]:
    """(topic, label) of every topic that tagged something. The names come from the index on
    (topic, id), jumping from one topic to the next: a scan of every match took 57 ms at 72,000."""
    found, topic = [], ""
    for _ in range(10_000):  # more topics than any configuration holds
        row = db.execute("select topic, coalesce(label, topic) from matches where topic > ? order by topic limit 1",
                         [topic]).fetchone()
        if row is None:
            break
        topic = row[0]
        found.append((row[0], row[1]))
    return found


def _where(view: View, db: Database) -> tuple[str, list[Any]]:
    where, params = view.filters.where("i")
    if view.source and has_source(db):
        where += " and i.source = ?"
        params.append(view.source)
    return where, params


def newest(db: Database, source: Source, view: View, per_page: int) -> tuple[list[dict[str, Any]], bool]:
    """One page of releases, newest first, each with its headline in the chosen language and its badges;
    and whether another page follows."""
    where, params = _where(view, db)
    # The versions are walked newest first along an index (m010_web) and the walk stops as soon as
    # the page is full: grouping every version by release first would read the whole table.
    wanted = view.page * per_page + 1
    ids: dict[int, None] = {}
    for (item_id,) in db.execute(f"select i.id from items i where {where} order by i.published desc, i.id desc",
                                 params):
        ids.setdefault(item_id)
        if len(ids) >= wanted:
            break
    page = list(ids)[(view.page - 1) * per_page:]
    return releases(db, source, page[:per_page], view.show), len(page) > per_page


def releases(db: Database, source: Source, ids: list[int], show: str | None) -> list[dict[str, Any]]:
    """The rows of the list pages: headline (chosen language, else the first there is), date, badges."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    source_column = ", i.source" if has_source(db) else ", null"
    versions: dict[int, dict[str, dict[str, Any]]] = {}
    for row in db.execute(f"select i.id, i.lang, i.title, i.url, i.published{source_column} from items i "
                          f"where i.id in ({marks})", ids):
        versions.setdefault(row[0], {})[row[1]] = {"lang": row[1], "title": row[2], "url": row[3],
                                                   "published": row[4], "source": row[5]}
    badges = badges_of(db, ids)
    order = ((show,) if show else ()) + tuple(source.supported_languages)
    out = []
    for item_id in ids:
        found = versions.get(item_id, {})
        if not found:
            continue
        lang = next((lang for lang in order if lang in found), next(iter(found)))
        shown = found[lang]
        out.append({"id": item_id, "lang": lang, "title": shown["title"], "url": shown["url"],
                    "published": max((v["published"] or "" for v in found.values()), default="") or None,
                    "source": shown["source"], "languages": [lang for lang in order if lang in found],
                    "fallback": bool(show) and lang != show, "badges": badges.get(item_id, [])})
    return out


def badges_of(db: Database, ids: list[int]) -> dict[int, list[Badge]]:
    """Per release: its topics with the words that fired, in any language."""
    marks = ",".join("?" * len(ids))
    out: dict[int, dict[str, Badge]] = {}
    for item_id, topic, label, text in db.execute(
            f"select id, topic, coalesce(label, topic), text from matches where id in ({marks}) "
            "order by id, topic, field desc, start", ids):
        badge = out.setdefault(item_id, {}).setdefault(topic, Badge(topic, label))
        if text not in badge.terms and len(badge.terms) < 12:
            badge.terms.append(text)
    return {item_id: list(found.values()) for item_id, found in out.items()}


# --- one release ----------------------------------------------------------------------------------
_MARK_OPEN, _MARK_CLOSE = "\ue000", "\ue001"


def highlighted(text: str, spans: list[tuple[int, int, str]]) -> str:
    """`text` escaped, the (start, end, hint) spans inside <mark>; overlapping spans are skipped."""
    pieces, at = [], 0
    for start, end, hint in sorted(spans):
        if start < at or end > len(text) or start >= end:
            continue
        pieces += [html.escape(text[at:start]), f'<mark title="{html.escape(hint)}">',
                   html.escape(text[start:end]), "</mark>"]
        at = end
    pieces.append(html.escape(text[at:]))
    return "".join(pieces)


def paragraphs_html(marked: str) -> list[str]:
    return [paragraph for paragraph in marked.split("\n\n") if paragraph.strip()]


def release(db: Database, source: Source, item_id: int, source_name: str | None) -> list[dict[str, Any]]:
    """Every language version of a release: highlighted title and paragraphs, topics, edit history."""
    where, params = "id = ?", [item_id]
    if source_name and has_source(db):
        where += " and source = ?"
        params.append(source_name)
    rows = list(db["items"].rows_where(where, params))
    position = {lang: index for index, lang in enumerate(source.supported_languages)}
    rows.sort(key=lambda row: (position.get(row["lang"], len(position)), row["lang"]))
    return [_version(db, row) for row in rows]


def _version(db: Database, row: dict[str, Any]) -> dict[str, Any]:
    spans: dict[str, list[tuple[int, int, str]]] = {"title": [], "body": []}
    badges: dict[str, Badge] = {}
    for field_name, start, end, topic, label, term, text in db.execute(
            "select field, start, end, topic, coalesce(label, topic), term, text from matches "
            "where id = ? and lang = ? order by start", [row["id"], row["lang"]]):
        spans.setdefault(field_name, []).append((start, end, f"{label} ({term})"))
        badge = badges.setdefault(topic, Badge(topic, label))
        if text not in badge.terms:
            badge.terms.append(text)
    return {
        **{key: row[key] for key in ("id", "lang", "url", "published", "version", "first_seen", "changed_at")},
        "title": row["title"], "title_html": highlighted(row["title"] or "", spans["title"]),
        "paragraphs_html": paragraphs_html(highlighted(row["body"] or "", spans["body"])),
        "badges": list(badges.values()), "history": history(db, row),
    }


def history(db: Database, current: dict[str, Any]) -> list[dict[str, Any]]:
    """Each edit, newest first: when, which versions, and the word diff of headline and body."""
    earlier = list(db["item_versions"].rows_where("id = ? and lang = ?", [current["id"], current["lang"]],
                                                  order_by="version"))
    texts = earlier + [current]
    edits = []
    for before, after in zip(texts, texts[1:]):
        edits.append({
            "from": before["version"], "to": after["version"],
            "at": before.get("replaced_at") or after.get("changed_at"),
            "title_html": render_html(word_diff(before["title"] or "", after["title"] or "")),
            "body_html": render_html(word_diff(before["body"] or "", after["body"] or "")),
        })
    return edits[::-1]


# --- one topic ------------------------------------------------------------------------------------
def topic_label(db: Database, topic: str) -> str | None:
    row = db.execute("select coalesce(label, topic) from matches where topic = ? limit 1", [topic]).fetchone()
    return row[0] if row else None


def topic_view(view: View, topic: str) -> View:
    return dataclasses.replace(view, filters=dataclasses.replace(view.filters, topic=topic))


# --- health ---------------------------------------------------------------------------------------
RUN_COLUMNS = ("id", "kind", "started", "finished", "outcome", "pages_fetched", "requests", "new", "changed",
               "errors", "list_path", "message")


def last_runs(db: Database, limit: int = 20) -> list[dict[str, Any]]:
    rows = db.execute(f"select {', '.join(RUN_COLUMNS)} from crawl_runs order by id desc limit ?", [limit])
    return [dict(zip(RUN_COLUMNS, row)) for row in rows]
