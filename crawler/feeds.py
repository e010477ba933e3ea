"""Atom feeds of the newest releases (per topic and language if asked)."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from typing import Any

from sqlite_utils import Database

from crawler.filters import Filters
from crawler.sources.base import Source, language_order_sql
from crawler.sources.book import SourceBook

FEED_TAG = "tag:presswatch,2026:"
_SPACES = re.compile(r"\s+")

ATOM = "http://www.w3.org/2005/Atom"
_XML_NS = "{http://www.w3.org/XML/1998/namespace}"
# XML 1.0 cannot carry these at all, escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def entry_id(source: str, item_id: int, lang: str) -> str:
    """Stable across runs and hosts: one per release version (source, id, lang)."""
    return f"{FEED_TAG}{source}/{item_id}/{lang}"


def _xml_text(text: str | None) -> str:
    return _NOT_XML.sub("", text or "")


def _rfc3339(value: str | None) -> str | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _release_date(source: Source, published: str | None) -> str | None:
    # A release is dated, not timed: midnight in the source's time zone.
    if published and re.fullmatch(r"\d{4}-\d{2}-\d{2}", published):
        try:
            midnight = dt.datetime.combine(dt.date.fromisoformat(published), dt.time(), source.timezone)
        except ValueError:
            return None
        return midnight.isoformat(timespec="seconds")
    return None


def feed_entries(db: Database, sources: Source | SourceBook, filters: Filters = Filters(),
                 limit: int = 50) -> list[dict[str, Any]]:
    """The newest releases (by publication date), one entry per language version; each dated in
    its own source's time zone."""
    book = SourceBook.of(sources)
    where, params = filters.where("i")
    rows = db.execute(
        "select i.source, i.id, i.lang, i.url, i.title, i.published, i.body, i.first_seen, i.changed_at from items i "
        f"where {where} order by i.published desc, i.id desc, {language_order_sql('i.lang', book.languages())} limit ?",
        [*params, limit],
    ).fetchall()
    entries = []
    for source_name, item_id, lang, url, title, published, body, first_seen, changed_at in rows:
        matches = db.execute(
            "select topic, coalesce(label, topic), text from matches where source = ? and id = ? and lang = ? "
            "order by topic, field desc, start",
            [source_name, item_id, lang],
        ).fetchall()
        entries.append({
            "source": source_name, "id": item_id, "lang": lang, "url": url, "title": title, "published": published, "body": body,
            "updated": _rfc3339(changed_at) or _rfc3339(first_seen) or _release_date(book.get(source_name), published)
            or "1970-01-01T00:00:00Z",
            "matches": matches,
        })
    return entries


def _summary(entry: dict[str, Any]) -> str:
    terms: dict[str, list[str]] = {}
    for _topic, label, text in entry["matches"]:
        words = terms.setdefault(label, [])
        if text not in words:
            words.append(text)
    lines = [f"{label}: {', '.join(words)}" for label, words in terms.items()]
    body = _SPACES.sub(" ", entry["body"] or "").strip()
    if len(body) > 400:
        body = body[:400].rsplit(" ", 1)[0] + "…"
    return "\n".join(lines + ([""] if lines and body else []) + ([body] if body else []))


def build_feed(entries: list[dict[str, Any]], sources: Source | SourceBook, *, filters: Filters = Filters(),
               generated: str | None = None) -> bytes:
    """An Atom 1.0 document; text goes through ElementTree, so markup in a title stays text. Each
    entry has its own source's language tag, publisher (its author) and time zone."""
    book = SourceBook.of(sources)
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _feed_head(feed, book, filters, entries, generated)
    for entry in entries:
        _entry(feed, entry, book.get(entry["source"]))
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def _feed_head(feed: ET.Element, book: SourceBook, filters: Filters, entries: list[dict[str, Any]],
               generated: str | None) -> None:
    what = " · ".join(part for part in (filters.topic, filters.lang) if part)
    # the feed's publisher: the source it is filtered to, the one configured, else every configured one
    one = book.get(filters.source) if filters.source else book.first if len(book) == 1 else None
    name = one.name if one else ", ".join(book.names())
    publisher = one.display_name if one else ", ".join(source.display_name for source in book.configured)
    _sub(feed, "title", f"{name} press releases" + (f" ({what})" if what else ""))
    _sub(feed, "subtitle", f"Press releases of the {publisher}, collected by presswatch")
    # a feed of one source names it in its id (one source's id 5 is not another's)
    of_source = f"{filters.source}/" if filters.source else ""
    _sub(feed, "id", f"{FEED_TAG}feed/{of_source}{filters.topic or 'all'}/{filters.lang or 'all'}")
    updated = max((e["updated"] for e in entries), default=None) or generated or _rfc3339(
        dt.datetime.now(dt.timezone.utc).isoformat())
    _sub(feed, "updated", updated)
    if one and one.base_url:
        ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", href=one.base_url + "/")
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _sub(author, "name", name)
    if one and one.base_url:
        _sub(author, "uri", one.base_url + "/")
    _sub(feed, "generator", "presswatch")


def _entry(feed: ET.Element, entry: dict[str, Any], source: Source) -> None:
    node = ET.SubElement(feed, f"{{{ATOM}}}entry", {f"{_XML_NS}lang": source.language_tags.get(entry["lang"], entry["lang"])})
    _sub(node, "id", entry_id(entry["source"], entry["id"], entry["lang"]))
    _sub(node, "title", entry["title"], type="text")
    author = ET.SubElement(node, f"{{{ATOM}}}author")  # who published this release: its source
    _sub(author, "name", source.display_name)
    entry_source = ET.SubElement(node, f"{{{ATOM}}}source")  # RFC 4287 4.2.11: whose entry it is
    _sub(entry_source, "id", f"{FEED_TAG}source/{entry['source']}")
    _sub(entry_source, "title", entry["source"])
    ET.SubElement(node, f"{{{ATOM}}}link", rel="alternate", href=entry["url"])
    _sub(node, "updated", entry["updated"])
    published = _release_date(source, entry["published"])
    if published:
        _sub(node, "published", published)
    for topic, label in dict.fromkeys((t, lbl) for t, lbl, _ in entry["matches"]):
        ET.SubElement(node, f"{{{ATOM}}}category", term=_xml_text(topic), label=_xml_text(label))
    _sub(node, "summary", _summary(entry), type="text")


def _sub(parent: ET.Element, tag: str, text: str | None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    node.text = _xml_text(text)
    return node


