"""What the web view reads from the store: plain functions over a read connection, one per page.

Every query is bounded (a page of releases, the versions of one release, one topic's counts); none
writes. A release is (source, id): the same number may belong to releases of two sources.
"""

from __future__ import annotations

import dataclasses
import html
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlite_utils import Database

from crawler import archive
from crawler.filters import Filters
from crawler.sources.base import Source
from crawler.sources.book import SourceBook
from crawler.store import Store, distinct_leading
from crawler.textdiff import render_html, word_diff

# Badge colours are classes tone-0 .. tone-7 of the style sheet (no inline style: the pages' content
# security policy allows none); a topic keeps its colour by name.
BADGE_TONES = 8


@dataclass(frozen=True)
class View:
    """The validated parameters of a page: filters, the language headlines are shown in, the page."""

    filters: Filters = Filters()
    show: str | None = None
    page: int = 1

    @property
    def source(self) -> str | None:
        return self.filters.source


class Ambiguous(Exception):
    """A release number that several sources hold, asked for without naming the source."""

    def __init__(self, item_id: int, sources: list[str]) -> None:
        super().__init__(f"release {item_id} exists in {len(sources)} sources ({', '.join(sources)}): "
                         "add ?source=NAME to the address")
        self.sources = sources


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


def sources(db: Database) -> list[str]:
    return Store(db).sources_with_items()


def topics(db: Database) -> list[tuple[str, str]]:
    """(topic, label) of every topic that tagged something. The names come from the index on
    (topic, ...), jumping from one topic to the next: a scan of every match took 57 ms at 72,000."""
    return [(name, topic_label(db, name) or name) for name in distinct_leading(db, "matches", "topic")]


Key = tuple[str, int]  # (source, id): one release


def newest(db: Database, source: Source | SourceBook, view: View, per_page: int) -> tuple[list[dict[str, Any]], bool]:
    """One page of releases, newest first, each with its headline in the chosen language and its badges;
    and whether another page follows."""
    where, params = view.filters.where("i")
    # The versions are walked newest first along an index (m010_web) and the walk stops as soon as
    # the page is full: grouping every version by release first would read the whole table.
    wanted = view.page * per_page + 1
    keys: dict[Key, None] = {}
    for source_name, item_id in db.execute(
            f"select i.source, i.id from items i where {where} order by i.published desc, i.id desc", params):
        keys.setdefault((source_name, item_id))
        if len(keys) >= wanted:
            break
    page = list(keys)[(view.page - 1) * per_page:]
    return releases(db, source, page[:per_page], view.show), len(page) > per_page


def _in_keys(keys: list[Key], alias: str) -> tuple[str, list[Any]]:
    """An SQL condition matching the releases `keys`, and its parameters: per source, its ids, so
    that each part is looked up along the key (a row-value `in (values ...)` read the whole table)."""
    by_source: dict[str, list[int]] = {}
    for source_name, item_id in keys:
        by_source.setdefault(source_name, []).append(item_id)
    parts, params = [], []
    for source_name, ids in by_source.items():
        parts.append(f"({alias}.source = ? and {alias}.id in ({','.join('?' * len(ids))}))")
        params += [source_name, *ids]
    return "(" + " or ".join(parts) + ")", params


def releases(db: Database, source: Source | SourceBook, keys: list[Key], show: str | None) -> list[dict[str, Any]]:
    """The rows of the list pages: headline (chosen language, else the first there is), date, badges;
    each release's languages in its own source's display order."""
    book = SourceBook.of(source)
    if not keys:
        return []
    condition, params = _in_keys(keys, "i")
    versions: dict[Key, dict[str, dict[str, Any]]] = {}
    for row in db.execute(f"select i.source, i.id, i.lang, i.title, i.url, i.published from items i "
                          f"where {condition}", params):
        versions.setdefault((row[0], row[1]), {})[row[2]] = {"lang": row[2], "title": row[3], "url": row[4],
                                                             "published": row[5], "source": row[0]}
    badges = badges_of(db, keys)
    out = []
    for key in keys:
        item_id = key[1]
        found = versions.get(key, {})
        if not found:
            continue
        order = tuple(dict.fromkeys([*((show,) if show else ()), *book.get(key[0]).supported_languages, *sorted(found)]))
        lang = next((lang for lang in order if lang in found), next(iter(found)))
        shown = found[lang]
        out.append({"id": item_id, "lang": lang, "title": shown["title"], "url": shown["url"],
                    "published": max((v["published"] or "" for v in found.values()), default="") or None,
                    "source": shown["source"], "languages": [lang for lang in order if lang in found],
                    "fallback": bool(show) and lang != show, "badges": badges.get(key, [])})
    return out


def badges_of(db: Database, keys: list[Key]) -> dict[Key, list[Badge]]:
    """Per release: its topics with the words that fired, in any language."""
    condition, params = _in_keys(keys, "m")
    out: dict[Key, dict[str, Badge]] = {}
    for source_name, item_id, topic, label, text in db.execute(
            f"select m.source, m.id, m.topic, coalesce(m.label, m.topic), m.text from matches m where {condition} "
            "order by m.source, m.id, m.topic, m.field desc, m.start", params):
        badge = out.setdefault((source_name, item_id), {}).setdefault(topic, Badge(topic, label))
        if text not in badge.terms and len(badge.terms) < 12:
            badge.terms.append(text)
    return {key: list(found.values()) for key, found in out.items()}


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


def release(db: Database, source: Source | SourceBook, item_id: int, source_name: str | None) -> list[dict[str, Any]]:
    """Every language version of a release: highlighted title and paragraphs, topics, edit history.
    Ambiguous when `source_name` is None and several sources hold `item_id`."""
    where, params = "id = ?", [item_id]
    if source_name:
        where += " and source = ?"
        params.append(source_name)
    rows = list(db["items"].rows_where(where, params))
    holders = sorted({row["source"] for row in rows})
    if len(holders) > 1:
        raise Ambiguous(item_id, holders)
    order = SourceBook.of(source).get(holders[0]).supported_languages if holders else ()
    position = {lang: index for index, lang in enumerate(order)}
    rows.sort(key=lambda row: (position.get(row["lang"], len(position)), row["lang"]))
    archived = archive.archived_languages(Store(db), holders[0], item_id) if holders else set()
    return [{**_version(db, row), "raw_url": raw_url(row["source"], item_id, row["lang"])
             if row["lang"] in archived else None} for row in rows]


def raw_url(source_name: str, item_id: int, lang: str) -> str:
    """The address of the latest archived page of a version (crawler.webview.pages.raw_page)."""
    return f"/raw/{quote(source_name, safe='')}/{item_id}/{quote(lang, safe='')}"


def raw_page(db: Database, source_name: str, item_id: int, lang: str) -> archive.ArchivedPage | None:
    return archive.latest_page(Store(db), source_name, item_id, lang)


def stored_languages(db: Database, source_name: str) -> tuple[str, ...]:
    return Store(db).languages(source_name)


def _version(db: Database, row: dict[str, Any]) -> dict[str, Any]:
    spans: dict[str, list[tuple[int, int, str]]] = {"title": [], "body": []}
    badges: dict[str, Badge] = {}
    for field_name, start, end, topic, label, term, text in db.execute(
            "select field, start, end, topic, coalesce(label, topic), term, text from matches "
            "where source = ? and id = ? and lang = ? order by start", [row["source"], row["id"], row["lang"]]):
        spans.setdefault(field_name, []).append((start, end, f"{label} ({term})"))
        badge = badges.setdefault(topic, Badge(topic, label))
        if text not in badge.terms:
            badge.terms.append(text)
    return {
        **{key: row[key] for key in ("source", "id", "lang", "url", "published", "version", "first_seen",
                                     "changed_at")},
        "title": row["title"], "title_html": highlighted(row["title"] or "", spans["title"]),
        "paragraphs_html": paragraphs_html(highlighted(row["body"] or "", spans["body"])),
        "badges": list(badges.values()), "history": history(db, row),
    }


def history(db: Database, current: dict[str, Any]) -> list[dict[str, Any]]:
    """Each edit, newest first: when, which versions, and the word diff of headline and body."""
    earlier = list(db["item_versions"].rows_where("source = ? and id = ? and lang = ?",
                                                  [current["source"], current["id"], current["lang"]],
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
