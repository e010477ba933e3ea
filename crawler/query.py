"""Search, export and Atom feeds over the store: `presswatch search | export | feed`.

The search index (docs/QUERY.md, "Search index"). `search_text` holds the title and body of every
language version folded by crawler.topics: Uzbek Cyrillic → Latin, apostrophes dropped, casefold,
so `Qozog'iston`, `Qozogʻiston` and `Қозоғистон` are one word. `search_fts` (FTS5, external
content) indexes it and follows it through SQL triggers. Folding is Python, so the triggers on
`items` (migration m003) only queue changed versions in `search_stale`; what is queued is folded by
`search_hook` inside the crawl's storing transaction, and by `sync()` before every search and
before `serve`. A store written by any other means (an older presswatch, the sqlite3 shell, a
crawler without the hook) therefore catches up on the next search instead of going stale.

Queries are folded by the same rules, once per fold family (Uzbek for uz and oz, Russian, English),
and each family's form runs only against that family's rows: Uzbek rules never rewrite Russian text.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import datetime as dt
import functools
import json
import os
import re
import shutil
import sqlite3
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlite_utils import Database

from crawler.cli import EXIT_OK, EXIT_USAGE, CliError, common_options, load, open_existing_store
from crawler.progress import Progress
from crawler.sources.presidentuz import ParsedItem
from crawler.store import Store

LANGS = ("uz", "oz", "ru", "en")
# Which fold rules serve which stored languages; both Uzbek scripts share one.
FAMILIES: dict[str, tuple[str, ...]] = {"uz": ("uz", "oz"), "ru": ("ru",), "en": ("en",)}
FAMILY_OF = {lang: family for family, langs in FAMILIES.items() for lang in langs}
# Bumped when the folded text written to search_text changes for the same input.
INDEX_FORMAT = 1
# A title word counts this many times a body word in the ranking.
TITLE_WEIGHT = 5.0
LANG_ORDER = "case {0} when 'uz' then 0 when 'oz' then 1 when 'ru' then 2 when 'en' then 3 else 4 end"
FEED_TAG = "tag:presswatch,2026:"
XML_LANG = {"uz": "uz-Cyrl", "oz": "uz-Latn", "ru": "ru", "en": "en"}


class QueryError(ValueError):
    """A query that cannot run; str() is the one line shown to the user."""


# --- the index ------------------------------------------------------------------------------------
def fold_version() -> str:
    """Which folding wrote a search_text row: rows of another version are folded again."""
    try:
        from crawler.topics.fold import FOLD_VERSION
    except ImportError:  # an older topics module without a version
        FOLD_VERSION = 0
    return f"{INDEX_FORMAT}.{FOLD_VERSION}"


def _words(text: str, family: str) -> str:
    """In Uzbek an apostrophe is part of a letter (oʻ, gʻ) or the tutuq; in Russian and English it
    splits a word ("Kazakhstan's" must be found by "Kazakhstan"). Same length, same offsets."""
    return text if family == "uz" else text.translate(_apostrophes_to_spaces())


def fold_text(text: str, lang: str) -> str:
    """`text` as the search index holds it for a version in `lang` (uz, oz, ru, en)."""
    from crawler.topics import fold

    family = FAMILY_OF.get(lang, "uz")
    return fold(_words(text, family), family)


def _write(db: Database) -> contextlib.AbstractContextManager[Database]:
    """The store's write transaction: BEGIN IMMEDIATE (a savepoint when nested), so reading the
    queue and then writing never fails with "database is locked" when the crawler commits between."""
    return Store(db).atomic()


def _requeue_other_fold_versions(db: Database) -> None:
    version = fold_version()
    db.execute(
        "insert or ignore into search_stale (id, lang) select id, lang from search_text "
        "where fold_version < ? or fold_version > ?",
        [version, version],
    )


def _index_rows(db: Database, rows: Iterable[tuple[int, str, str, str, str | None]]) -> int:
    """Fold and write (id, lang, title, body, content_hash) rows; the caller owns the transaction."""
    version = fold_version()
    folded = [
        (item_id, lang, fold_text(title or "", lang), fold_text(body or "", lang), digest, version)
        for item_id, lang, title, body, digest in rows
    ]
    db.conn.executemany(
        "insert into search_text (id, lang, title, body, content_hash, fold_version) values (?, ?, ?, ?, ?, ?) "
        "on conflict (id, lang) do update set title = excluded.title, body = excluded.body, "
        "content_hash = excluded.content_hash, fold_version = excluded.fold_version",
        folded,
    )
    db.conn.executemany("delete from search_stale where id = ? and lang = ?", [(r[0], r[1]) for r in folded])
    return len(folded)


def index_version(db: Database, item_id: int, lang: str) -> None:
    """Fold one stored version now (inside the caller's transaction)."""
    row = db.execute(
        "select id, lang, title, body, content_hash from items where id = ? and lang = ?", [item_id, lang]
    ).fetchone()
    if row is None:
        db.execute("delete from search_text where id = ? and lang = ?", [item_id, lang])
        db.execute("delete from search_stale where id = ? and lang = ?", [item_id, lang])
    else:
        _index_rows(db, [row])


def search_hook(store: Store, item: ParsedItem, outcome: str) -> None:
    """Pipeline ReleaseHook: fold the version just stored, in its storing transaction."""
    if outcome != "unchanged":
        index_version(store.db, item.id, item.lang)


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
                "select s.id, s.lang, i.title, i.body, i.content_hash from search_stale s "
                "join items i on i.id = s.id and i.lang = s.lang limit ?",
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
            "(select 1 from items i where i.id = search_text.id and i.lang = search_text.lang)"
        )
        db.execute("insert or ignore into search_stale (id, lang) select id, lang from items")
    return sync(db, progress=progress)


def catch_up(store: Store, *, quiet: bool = False) -> None:
    """Bring the search index up to date before reading it; a store we cannot write is searched
    as it is, with a warning."""
    try:
        if needs_sync(store.db):
            sync(store.db, progress=not quiet and sys.stderr.isatty())
    except sqlite3.OperationalError as exc:
        if not quiet:
            print(f"presswatch: warning: the search index could not be updated ({exc}); "
                  "results may miss recent releases", file=sys.stderr)


# --- compiling a query ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Term:
    """One searched word or phrase, folded: what the highlighter looks for."""

    keys: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class Compiled:
    fts: str
    terms: tuple[Term, ...]


_PLAIN_PART = re.compile(r'"(?P<phrase>[^"]*)"?(?P<pstar>\*?)|(?P<word>[^\s"]+)')
_NUMBER = re.compile(r"\d+")


@functools.cache
def _apostrophes() -> str:
    from crawler.topics.fold import APOSTROPHES

    return APOSTROPHES


@functools.cache
def _apostrophes_to_spaces() -> dict[int, str]:
    return dict.fromkeys(map(ord, _apostrophes()), " ")


@functools.cache
def _raw_token() -> re.Pattern[str]:
    # FTS5 barewords are ASCII alphanumerics, '_', \x1a and anything above 127; apostrophes join
    # Uzbek words ("Qozog'iston") and are folded away, so they ride along.
    apostrophes = re.escape(_apostrophes())
    return re.compile(
        rf'(?P<string>"(?:[^"]|"")*"?)|(?P<word>(?:[A-Za-z0-9_\x1a{apostrophes}]|[^\x00-\x7f\s])+)'
        r"|(?P<space>\s+)|(?P<other>.)"
    )


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _term(text: str, family: str, prefix: bool) -> Term:
    from crawler.topics import tokenize

    keys = [token.key for token in tokenize(_words(text, family), family)] + _NUMBER.findall(text)
    return Term(tuple(keys), prefix)


def compile_plain(text: str, family: str) -> Compiled:
    """Every word or "quoted phrase" must occur; `word*` is a prefix. Each part is quoted, so FTS5
    syntax characters typed by a user are only text."""
    parts, terms = [], []
    for match in _PLAIN_PART.finditer(text):
        body = match.group("phrase") if match.group("word") is None else match.group("word")
        prefix = bool(match.group("pstar")) or body.endswith("*")
        body = body.rstrip("*")
        folded = fold_text(body, family)
        if not any(char.isalnum() for char in folded):
            continue
        parts.append(_quote(folded) + (" *" if prefix else ""))
        terms.append(_term(body, family, prefix))
    if not parts:
        raise QueryError(f"nothing to search for in {text!r}: give at least one word")
    return Compiled(" ".join(parts), tuple(terms))


def compile_raw(text: str, family: str) -> Compiled:
    """FTS5 syntax passed through (AND OR NOT NEAR, "phrases", prefix*, ^, column:), with every
    searched word folded like the index. Errors are left for `check_raw` to report."""
    tokens = [(m.lastgroup, m.group()) for m in _raw_token().finditer(text)]
    out: list[str] = []
    terms: list[Term] = []
    braces = 0
    for index, (kind, value) in enumerate(tokens):
        after = next((v for k, v in tokens[index + 1:] if k != "space"), "")
        if kind == "other":
            braces += {"{": 1, "}": -1}.get(value, 0)
            out.append(value)
        elif kind == "space":
            out.append(value)
        elif kind == "word" and (value in ("AND", "OR", "NOT") or (value == "NEAR" and after == "(")
                                 or after == ":" or braces > 0):
            out.append(value)  # an operator or a column name
        elif kind == "string" and (len(value) < 2 or not value.endswith('"')):
            out.append(value)  # unterminated: FTS5 names the error
        else:
            words = value[1:-1].replace('""', '"') if kind == "string" else value
            folded = fold_text(words, family)
            if folded.isdigit():
                out.append(folded)  # unquoted: NEAR(a b, 3) needs a bare number
                terms.append(_term(words, family, after == "*"))
            elif any(char.isalnum() for char in folded):
                out.append(_quote(folded))
                terms.append(_term(words, family, after == "*"))
    return Compiled("".join(out).strip(), tuple(terms))


_PROBE: sqlite3.Connection | None = None


def check_raw(expression: str, original: str) -> None:
    """Parse an FTS5 expression against an empty table: a syntax error becomes a QueryError."""
    global _PROBE
    if not expression:
        raise QueryError(f"nothing to search for in {original!r}")
    if _PROBE is None:
        _PROBE = sqlite3.connect(":memory:", check_same_thread=False)
        _PROBE.execute("create virtual table probe using fts5(title, body)")
    try:
        _PROBE.execute("select count(*) from probe where probe match ?", [expression]).fetchone()
    except sqlite3.Error as exc:
        reason = " ".join(str(exc).split())  # FTS5 may quote the query, new lines included
        raise QueryError(f"bad search query {original!r}: {reason} (FTS5 syntax; drop --raw to search "
                         "the words as typed)") from None


def compile_query(text: str, family: str, raw: bool = False) -> Compiled:
    # FTS5 reads its query as a C string: a NUL would end it in the middle of a quoted word.
    text = text.replace("\x00", " ")
    if not raw:
        return compile_plain(text, family)
    compiled = compile_raw(text, family)
    check_raw(compiled.fts, text)
    return compiled


# --- filters shared by search, export and feed ----------------------------------------------------
@dataclass(frozen=True)
class Filters:
    topic: str | None = None
    lang: str | None = None
    since: str | None = None  # YYYY-MM-DD, compared to items.published
    until: str | None = None

    def where(self, alias: str = "i") -> tuple[str, list[Any]]:
        clauses, params = ["1"], []
        if self.lang:
            clauses.append(f"{alias}.lang = ?")
            params.append(self.lang)
        if self.since:
            clauses.append(f"{alias}.published >= ?")
            params.append(self.since)
        if self.until:
            clauses.append(f"{alias}.published <= ?")
            params.append(self.until)
        if self.topic:
            clauses.append(f"exists (select 1 from matches m where m.id = {alias}.id and m.lang = {alias}.lang "
                           "and m.topic = ?)")
            params.append(self.topic)
        return " and ".join(clauses), params


def known_topics(db: Database) -> list[str]:
    return [row[0] for row in db.execute("select distinct topic from matches order by topic")]


def topics_of(db: Database, item_id: int, lang: str) -> list[str]:
    return [row[0] for row in db.execute(
        "select distinct topic from matches where id = ? and lang = ? order by topic", [item_id, lang])]


# --- search ---------------------------------------------------------------------------------------
@dataclass
class Hit:
    id: int
    lang: str
    url: str
    published: str | None
    title: str
    score: float
    snippet: str
    title_marked: str
    matched: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "lang": self.lang, "url": self.url, "published": self.published,
            "title": self.title, "score": round(self.score, 4) + 0.0, "snippet": self.snippet,
            "matched": self.matched, "topics": self.topics,
        }


def search(store: Store, text: str, *, raw: bool = False, filters: Filters = Filters(), limit: int = 20,
           marks: tuple[str, str] = ("[", "]")) -> list[Hit]:
    """Versions matching `text`, best first (bm25, title words weigh more), with snippets."""
    branches, params, compiled = [], [], {}
    for family, langs in FAMILIES.items():
        langs = tuple(lang for lang in langs if not filters.lang or lang == filters.lang)
        if not langs:
            continue
        compiled[family] = compile_query(text, family, raw)
        branches.append(
            f"select s.id as id, s.lang as lang, bm25(search_fts, {TITLE_WEIGHT}, 1.0) as score "
            "from search_fts join search_text s on s.rowid = search_fts.rowid "
            f"where search_fts match ? and s.lang in ({','.join('?' * len(langs))})"
        )
        params += [compiled[family].fts, *langs]
    if not branches:
        raise QueryError(f"unknown language {filters.lang!r}")
    # Rank on (id, lang, score) alone and fetch the texts of the top rows only: a broad word
    # matches tens of thousands of versions, whose bodies must not go through the sorter.
    ranked = f"select h.id, h.lang, h.score from ({' union all '.join(branches)}) h"
    where, where_params = dataclasses.replace(filters, lang=None).where("i")  # lang: in the branches
    if where_params:
        ranked += f" join items i on i.id = h.id and i.lang = h.lang where {where}"
    sql = (
        "select i.id, i.lang, i.url, i.published, i.title, i.body, top.score "
        f"from ({ranked} order by h.score, h.id desc limit ?) top "
        "join items i on i.id = top.id and i.lang = top.lang order by top.score, top.id desc"
    )
    rows = store.db.execute(sql, [*params, *where_params, limit]).fetchall()
    return [_hit(store.db, row, compiled[FAMILY_OF[row[1]]].terms, marks) for row in rows]


def _hit(db: Database, row: tuple, terms: tuple[Term, ...], marks: tuple[str, str]) -> Hit:
    item_id, lang, url, published, title, body, score = row
    title_spans = _spans(title, lang, terms)
    body_spans = _spans(body, lang, terms)
    matched = list(dict.fromkeys([title[s:e] for s, e, _ in title_spans] + [body[s:e] for s, e, _ in body_spans]))
    return Hit(
        id=item_id, lang=lang, url=url, published=published, title=title, score=score,
        snippet=excerpt(body, body_spans, marks), title_marked=_mark(title, 0, len(title), title_spans, marks)
        if title_spans else title, matched=matched, topics=topics_of(db, item_id, lang),
    )


def _spans(text: str, lang: str, terms: tuple[Term, ...]) -> list[tuple[int, int, int]]:
    """(start, end, term index) of every word of `text` a term matches (a phrase: each of its words)."""
    from crawler.topics import tokenize

    family = FAMILY_OF.get(lang, "uz")
    words = [(t.start, t.end, t.key) for t in tokenize(_words(text, family), family)]
    words += [(m.start(), m.end(), m.group()) for m in _NUMBER.finditer(text)]
    spans = []
    for start, end, key in words:
        for index, term in enumerate(terms):
            exact = key in term.keys[:-1] or (term.keys and key == term.keys[-1])
            if exact or (term.prefix and term.keys and key.startswith(term.keys[-1])):
                spans.append((start, end, index))
                break
    return sorted(spans)


_SPACES = re.compile(r"\s+")


def _mark(text: str, start: int, end: int, spans: list[tuple[int, int, int]], marks: tuple[str, str]) -> str:
    pieces, at = [], start
    for s, e, _ in spans:
        if s < start or e > end:
            continue
        pieces += [_SPACES.sub(" ", text[at:s]), marks[0], text[s:e], marks[1]]
        at = e
    pieces.append(_SPACES.sub(" ", text[at:end]))
    return "".join(pieces)


def excerpt(body: str, spans: list[tuple[int, int, int]], marks: tuple[str, str], width: int = 220) -> str:
    """About `width` characters of the body around the passage where most searched terms meet."""
    if not body:
        return ""
    start = first_hit = 0
    if spans:
        # The window starting a little before the hit that sees the most distinct terms.
        def coverage(i: int) -> int:
            return len({t for s, _, t in spans[i:] if s < spans[i][0] + width * 2 // 3})

        first_hit = spans[max(range(len(spans)), key=lambda i: (coverage(i), -i))][0]
        start = max(0, first_hit - width // 3)
    end = min(len(body), start + width)
    # Cut at white space, never inside a word.
    if start > 0:
        space = body.find(" ", start, first_hit)
        start = space + 1 if space != -1 else start
    if end < len(body):
        space = body.rfind(" ", start, end)
        end = space if space > start else end
    text = _mark(body, start, end, spans, marks).strip()
    return ("…" if start > 0 else "") + text + ("…" if end < len(body) else "")


# --- export ---------------------------------------------------------------------------------------
EXPORT_COLUMNS = (
    "id", "lang", "url", "published", "title", "body", "images", "links", "topics",
    "version", "first_seen", "changed_at", "last_seen", "content_hash", "parse_path",
)
_LIST_COLUMNS = ("images", "links", "topics")


def export_rows(db: Database, filters: Filters = Filters()) -> Iterator[dict[str, Any]]:
    """One dict per language version, streamed from the cursor (never all rows in memory)."""
    where, params = filters.where("i")
    plain = [c for c in EXPORT_COLUMNS if c != "topics"]
    sql = (
        f"select {', '.join('i.' + c for c in plain)}, "
        "(select json_group_array(topic) from (select distinct topic from matches m "
        " where m.id = i.id and m.lang = i.lang order by topic)) as topics "
        f"from items i where {where} order by i.id, {LANG_ORDER.format('i.lang')}"
    )
    cursor = db.conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    for values in cursor:
        row = dict(zip(names, values))
        for column in _LIST_COLUMNS:
            row[column] = json.loads(row[column]) if row[column] else []
        yield {column: row[column] for column in EXPORT_COLUMNS}


def count_rows(db: Database, filters: Filters = Filters()) -> int:
    where, params = filters.where("i")
    return db.execute(f"select count(*) from items i where {where}", params).fetchone()[0]


def write_rows(rows: Iterable[dict[str, Any]], out: TextIO, fmt: str, columns: Iterable[str],
               progress: Progress | None = None) -> int:
    """jsonl: one JSON object a line; csv: a header, list columns as JSON arrays. Returns the count."""
    columns = list(columns)
    writer = None
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
    count = 0
    for row in rows:
        if writer is None:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            writer.writerow([_csv_value(row.get(c)) for c in columns])
        count += 1
        if progress is not None and count % 500 == 0:
            progress.advance(500)
    if progress is not None:
        progress.advance(count % 500)
        progress.close()
    return count


def _csv_value(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


# --- feed -----------------------------------------------------------------------------------------
ATOM = "http://www.w3.org/2005/Atom"
_XML_NS = "{http://www.w3.org/XML/1998/namespace}"
# XML 1.0 cannot carry these at all, escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def entry_id(item_id: int, lang: str) -> str:
    """Stable across runs and hosts: one per release and language."""
    return f"{FEED_TAG}president.uz/{item_id}/{lang}"


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


def _release_date(published: str | None) -> str | None:
    # A release is dated, not timed: midnight in Tashkent.
    if published and re.fullmatch(r"\d{4}-\d{2}-\d{2}", published):
        return f"{published}T00:00:00+05:00"
    return None


def feed_entries(db: Database, filters: Filters = Filters(), limit: int = 50) -> list[dict[str, Any]]:
    """The newest releases (by publication date), one entry per language version."""
    where, params = filters.where("i")
    rows = db.execute(
        "select i.id, i.lang, i.url, i.title, i.published, i.body, i.first_seen, i.changed_at from items i "
        f"where {where} order by i.published desc, i.id desc, {LANG_ORDER.format('i.lang')} limit ?",
        [*params, limit],
    ).fetchall()
    entries = []
    for item_id, lang, url, title, published, body, first_seen, changed_at in rows:
        matches = db.execute(
            "select topic, coalesce(label, topic), text from matches where id = ? and lang = ? "
            "order by topic, field desc, start",
            [item_id, lang],
        ).fetchall()
        entries.append({
            "id": item_id, "lang": lang, "url": url, "title": title, "published": published, "body": body,
            "updated": _rfc3339(changed_at) or _rfc3339(first_seen) or _release_date(published)
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


def build_feed(entries: list[dict[str, Any]], *, filters: Filters = Filters(), site: str = "https://president.uz",
               generated: str | None = None) -> bytes:
    """An Atom 1.0 document; text goes through ElementTree, so markup in a title stays text."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    what = " · ".join(part for part in (filters.topic, filters.lang) if part)
    _sub(feed, "title", "president.uz press releases" + (f" ({what})" if what else ""))
    _sub(feed, "subtitle", "Press releases of the President of Uzbekistan, collected by presswatch")
    _sub(feed, "id", f"{FEED_TAG}feed/{filters.topic or 'all'}/{filters.lang or 'all'}")
    updated = max((e["updated"] for e in entries), default=None) or generated or _rfc3339(
        dt.datetime.now(dt.timezone.utc).isoformat())
    _sub(feed, "updated", updated)
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", href=site.rstrip("/") + "/")
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _sub(author, "name", "president.uz")
    _sub(author, "uri", site.rstrip("/") + "/")
    _sub(feed, "generator", "presswatch")
    for entry in entries:
        node = ET.SubElement(feed, f"{{{ATOM}}}entry", {f"{_XML_NS}lang": XML_LANG.get(entry["lang"], entry["lang"])})
        _sub(node, "id", entry_id(entry["id"], entry["lang"]))
        _sub(node, "title", entry["title"], type="text")
        ET.SubElement(node, f"{{{ATOM}}}link", rel="alternate", href=entry["url"])
        _sub(node, "updated", entry["updated"])
        published = _release_date(entry["published"])
        if published:
            _sub(node, "published", published)
        for topic, label in dict.fromkeys((t, lbl) for t, lbl, _ in entry["matches"]):
            ET.SubElement(node, f"{{{ATOM}}}category", term=_xml_text(topic), label=_xml_text(label))
        _sub(node, "summary", _summary(entry), type="text")
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def _sub(parent: ET.Element, tag: str, text: str | None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    node.text = _xml_text(text)
    return node


# --- output files ---------------------------------------------------------------------------------
@contextlib.contextmanager
def output(path: str | None, *, overwrite: bool, binary: bool = False) -> Iterator[Any]:
    """stdout for None or "-"; else a temporary file moved into place when complete, so an
    interrupted export never leaves half a file under the real name."""
    if path in (None, "-"):
        stream = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return
    target = Path(path)
    if target.is_dir():
        raise CliError(f"{target} is a directory: give a file name", EXIT_USAGE)
    if target.exists() and not overwrite:
        raise CliError(f"{target} already exists: pass --force to overwrite it", EXIT_USAGE)
    if not target.parent.is_dir():
        raise CliError(f"cannot write {target}: no directory {target.parent}", EXIT_USAGE)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with open(partial, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as fh:
            yield fh
        _move_into_place(partial, target, overwrite)
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)


def _move_into_place(partial: Path, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(partial, target)
        return
    try:
        os.link(partial, target)  # fails if the name was taken meanwhile: never clobber
    except FileExistsError:
        raise CliError(f"{target} already exists: pass --force to overwrite it", EXIT_USAGE) from None


# --- the commands ---------------------------------------------------------------------------------
def _iso_date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topic", metavar="NAME", help="only versions tagged with this topic (see matches.topic)")
    parser.add_argument("--lang", choices=LANGS, help="only this language: uz (Cyrillic), oz (Latin), ru, en")
    parser.add_argument("--since", type=_iso_date, metavar="YYYY-MM-DD", help="published on or after this date")
    parser.add_argument("--until", type=_iso_date, metavar="YYYY-MM-DD", help="published on or before this date")


def _filters(args: argparse.Namespace, db: Database) -> Filters:
    if args.since and args.until and args.since > args.until:
        raise CliError(f"--since {args.since} is after --until {args.until}", EXIT_USAGE)
    if args.topic:
        topics = known_topics(db)
        if args.topic not in topics:
            known = ", ".join(topics) if topics else "none yet"
            print(f"presswatch: no version is tagged with topic {args.topic!r} (topics in the store: {known})",
                  file=sys.stderr)
    return Filters(topic=args.topic, lang=args.lang, since=args.since, until=args.until)


def cmd_search(args: argparse.Namespace) -> int:
    config = load(args)
    text = " ".join(args.query)
    with open_existing_store(config, args) as store:
        filters = _filters(args, store.db)
        catch_up(store)
        tty = args.format == "table" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        marks = ("\x1b[1;4m", "\x1b[0m") if tty else ("[", "]")
        try:
            hits = search(store, text, raw=args.raw, filters=filters, limit=args.limit, marks=marks)
        except QueryError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
    if args.format == "table":
        _print_table(hits, args.limit)
    elif args.format == "json":
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
    else:
        columns = ("id", "lang", "published", "title", "url", "score", "topics", "matched", "snippet")
        write_rows((h.to_dict() for h in hits), sys.stdout, args.format, columns)
    return EXIT_OK


def _print_table(hits: list[Hit], limit: int) -> None:
    if not hits:
        print("no releases match", file=sys.stderr)
        return
    width = max(shutil.get_terminal_size((100, 24)).columns, 60)
    for hit in hits:
        head = f"{hit.id}/{hit.lang}  {hit.published or '----------'}  "
        topics = f"  [{', '.join(hit.topics)}]" if hit.topics else ""
        room = width - len(head) - len(topics)
        title = hit.title if len(hit.title) <= room else hit.title[: max(room - 1, 10)] + "…"
        print(head + title + topics)
        indent = " " * 4
        for line in textwrap.wrap(hit.snippet, width - len(indent)) or [""]:
            print(indent + line)
        print(f"{indent}{hit.url}")
        print()
    more = " (--limit shows more)" if len(hits) == limit else ""
    print(f"{len(hits)} result{'s' if len(hits) != 1 else ''}{more}")


def cmd_export(args: argparse.Namespace) -> int:
    config = load(args)
    fmt = args.format or ("csv" if args.output and args.output.lower().endswith(".csv") else "jsonl")
    with open_existing_store(config, args) as store:
        filters = _filters(args, store.db)
        progress = None
        if sys.stderr.isatty():
            progress = Progress("export", total=count_rows(store.db, filters))
        with output(args.output, overwrite=args.force) as out:
            count = write_rows(export_rows(store.db, filters), out, fmt, EXPORT_COLUMNS, progress)
    if args.output not in (None, "-"):
        print(f"exported {count} language version{'s' if count != 1 else ''} to {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_feed(args: argparse.Namespace) -> int:
    config = load(args)
    with open_existing_store(config, args) as store:
        filters = _filters(args, store.db)
        entries = feed_entries(store.db, filters, args.limit)
    document = build_feed(entries, filters=filters, site=config.source.base_url)
    with output(args.output, overwrite=True, binary=True) as out:
        out.write(document)
    return EXIT_OK


SEARCH_EPILOG = """\
examples:
  presswatch search "Qozog'iston"              same hits as Қозоғистон or Qozogʻiston
  presswatch search 'чегара*' --lang uz        prefix: чегара, чегарада, chegaralari...
  presswatch search '"водные ресурсы"' --since 2025-01-01
  presswatch search --raw 'title:suv* NOT suvenir*'
  presswatch search border --topic border --format json
"""


def register(subparsers) -> None:
    common = common_options()
    formatter = argparse.RawDescriptionHelpFormatter

    search_cmd = subparsers.add_parser(
        "search", parents=[common], formatter_class=formatter, epilog=SEARCH_EPILOG,
        help="full-text search of titles and bodies, any script, ranked, with snippets",
        description="Search the titles and bodies of the stored releases, best matches first.\n"
        "Uzbek is matched whatever the script or apostrophe (Қозоғистон = Qozog'iston = Qozogʻiston);\n"
        "a word ending in * is a prefix (чегара* finds inflected forms); \"quoted words\" are a phrase;\n"
        "every word must occur. Snippets mark the matched words.")
    search_cmd.add_argument("query", nargs="+", help="words to find (joined by spaces)")
    search_cmd.add_argument("--raw", action="store_true",
                            help="the query is FTS5 syntax (AND OR NOT NEAR, prefix*, ^, title: body:), words folded")
    _add_filters(search_cmd)
    search_cmd.add_argument("--limit", type=_positive, default=20, metavar="N", help="at most N results (default 20)")
    search_cmd.add_argument("--format", choices=("table", "json", "jsonl", "csv"), default="table",
                            help="table (default, for reading) or json / jsonl / csv for scripts")
    search_cmd.set_defaults(func=cmd_search)

    export = subparsers.add_parser(
        "export", parents=[common], formatter_class=formatter,
        help="write the store (or a filtered part) as JSON lines or CSV",
        description="Write one row per language version; the release id joins the versions of a release.\n"
        "Streams, so any size of store works in constant memory. An existing FILE is kept unless --force.")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE ('-' or none: standard output)")
    export.add_argument("--format", choices=("jsonl", "csv"),
                        help="jsonl (default) or csv (the default when FILE ends in .csv)")
    export.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    _add_filters(export)
    export.set_defaults(func=cmd_export)

    feed = subparsers.add_parser(
        "feed", parents=[common], formatter_class=formatter,
        help="write an Atom feed of the newest releases (per topic and language if asked)",
        description="Write an Atom feed: one entry per language version, newest releases first, with the\n"
        "matched topic terms in the summary. Entry ids are stable, so a feed reader shows each version\n"
        "once. FILE is replaced atomically, so a cron job can regenerate it in place.")
    feed.add_argument("-o", "--output", metavar="FILE", help="write to FILE ('-' or none: standard output)")
    feed.add_argument("--topic", metavar="NAME", help="only versions tagged with this topic")
    feed.add_argument("--lang", choices=LANGS, help="only this language")
    feed.add_argument("--limit", type=_positive, default=50, metavar="N", help="at most N entries (default 50)")
    feed.set_defaults(func=cmd_feed, since=None, until=None)
