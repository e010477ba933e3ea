"""Search over the folded index: the query compiler, filters, ranking and snippets.

Queries are folded by the same rules as the index, once per fold family (Uzbek for uz and oz,
Russian, English), and each family's form runs only against that family's rows: Uzbek rules never
rewrite Russian text.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from crawler.filters import Filters, topics_of
from crawler.searchindex import families, family_of, fold_text, words_of
from crawler.store import Store
from crawler.topics import tokenize
from crawler.topics.fold import APOSTROPHES

# A title word counts this many times a body word in the ranking.
TITLE_WEIGHT = 5.0


class QueryError(ValueError):
    """A query that cannot run; str() is the one line shown to the user."""


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
def _raw_token() -> re.Pattern[str]:
    # FTS5 barewords are ASCII alphanumerics, '_', \x1a and anything above 127; apostrophes join
    # Uzbek words ("Qozog'iston") and are folded away, so they ride along.
    apostrophes = re.escape(APOSTROPHES)
    return re.compile(
        rf'(?P<string>"(?:[^"]|"")*"?)|(?P<word>(?:[A-Za-z0-9_\x1a{apostrophes}]|[^\x00-\x7f\s])+)'
        r"|(?P<space>\s+)|(?P<other>.)"
    )


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _term(text: str, family: str, prefix: bool) -> Term:
    keys = [token.key for token in tokenize(words_of(text, family), family)] + _NUMBER.findall(text)
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


# --- search ---------------------------------------------------------------------------------------
@dataclass
class Hit:
    source: str
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
            "source": self.source, "id": self.id, "lang": self.lang, "url": self.url, "published": self.published,
            "title": self.title, "score": round(self.score, 4) + 0.0, "snippet": self.snippet,
            "matched": self.matched, "topics": self.topics,
        }


def search(store: Store, text: str, *, raw: bool = False, filters: Filters = Filters(), limit: int = 20,
           marks: tuple[str, str] = ("[", "]"), languages: tuple[str, ...] = ()) -> list[Hit]:
    """Versions matching `text`, best first (bm25, title words weigh more), with snippets.

    `languages`: those searched (default: every language in the store); `filters.source` keeps
    one source's releases."""
    compiled: dict[str, Compiled] = {}
    grouped = _languages_by_query(text, raw, languages or store.languages(filters.source), filters.lang, compiled)
    if not grouped:
        if filters.lang:
            raise QueryError(f"unknown language {filters.lang!r}")
        return []  # nothing stored yet
    ranked: list[tuple] = []
    for fts, langs in grouped.items():
        ranked += _ranked(store.db, fts, langs, filters, limit)
    # Rank on (id, lang, score) alone and fetch the texts of the top rows only: a broad word
    # matches tens of thousands of versions, whose bodies must not go through the sorter.
    ranked.sort(key=lambda row: (row[3], -row[1], row[0]))
    rows = []
    for source, item_id, lang, score in ranked[:limit]:
        text_row = store.db.execute("select source, id, lang, url, published, title, body from items "
                                    "where source = ? and id = ? and lang = ?", [source, item_id, lang]).fetchone()
        rows.append((*text_row, score))
    return [_hit(store.db, row, compiled[family_of(row[2])].terms, marks) for row in rows]


# How many of the best matches of the whole index are ranked before the language and the filters
# are applied, per `limit` asked for: a broad word matches tens of thousands of versions, and
# looking each one up in search_text costs more than ranking it.
CANDIDATES_PER_HIT = 5
MIN_CANDIDATES = 100


def _ranked(db: Database, fts: str, langs: tuple[str, ...], filters: Filters, limit: int) -> list[tuple]:
    """(source, id, lang, score) of the best `limit` versions in `langs` matching `fts` and `filters`.

    Looked for first among the best CANDIDATES_PER_HIT × `limit` matches of the whole index. That
    is the exact answer when those were all the matches, or when `limit` of them are kept and rank
    strictly above the last candidate (a match left out ranks at or below it); else the query runs
    over every match."""
    candidates = max(limit * CANDIDATES_PER_HIT, MIN_CANDIDATES)
    rows = _ranked_query(db, fts, langs, filters, limit, candidates)
    if rows:
        matched, worst = rows[0][4], rows[0][5]
        if matched < candidates or (len(rows) == limit and rows[-1][3] < worst):
            return [row[:4] for row in rows]
    return [row[:4] for row in _ranked_query(db, fts, langs, filters, limit, None)]


def _ranked_query(db: Database, fts: str, langs: tuple[str, ...], filters: Filters, limit: int,
                  candidates: int | None) -> list[tuple]:
    """Rows of (source, id, lang, score, matches ranked, the last one's score), best first."""
    where, where_params = dataclasses.replace(filters, lang=None).where("i")  # lang: below
    items = " join items i on i.source = s.source and i.id = s.id and i.lang = s.lang" if where_params else ""
    cut = " order by score limit ?" if candidates else ""
    sql = (
        f"with top as materialized (select rowid, bm25(search_fts, {TITLE_WEIGHT}, 1.0) as score "
        f"from search_fts where search_fts match ?{cut}) "
        "select s.source, s.id, s.lang, top.score, (select count(*) from top), (select max(score) from top) "
        f"from top join search_text s on s.rowid = top.rowid{items} "
        f"where s.lang in ({','.join('?' * len(langs))}) and {where} "
        "order by top.score, s.id desc, s.source limit ?"
    )
    return db.execute(sql, [fts, *([candidates] if candidates else []), *langs, *where_params, limit]).fetchall()


def _languages_by_query(text: str, raw: bool, languages: tuple[str, ...], only: str | None,
                        compiled: dict[str, Compiled]) -> dict[str, tuple[str, ...]]:
    """The languages to search, grouped by the FTS5 query their fold family makes of `text` (filling
    `compiled` per family). Families that fold the text alike (`president`, `инвестиц*` in Russian
    and English) share one scan of the index: each scan costs the same whichever languages it keeps."""
    grouped: dict[str, tuple[str, ...]] = {}
    for family, langs in families(languages).items():
        langs = tuple(lang for lang in langs if not only or lang == only)
        if langs:
            compiled[family] = compile_query(text, family, raw)
            grouped[compiled[family].fts] = grouped.get(compiled[family].fts, ()) + langs
    return grouped


def _hit(db: Database, row: tuple, terms: tuple[Term, ...], marks: tuple[str, str]) -> Hit:
    source, item_id, lang, url, published, title, body, score = row
    title_spans = _spans(title, lang, terms)
    body_spans = _spans(body, lang, terms)
    matched = list(dict.fromkeys([title[s:e] for s, e, _ in title_spans] + [body[s:e] for s, e, _ in body_spans]))
    return Hit(
        source=source, id=item_id, lang=lang, url=url, published=published, title=title, score=score,
        snippet=excerpt(body, body_spans, marks), title_marked=_mark(title, 0, len(title), title_spans, marks)
        if title_spans else title, matched=matched, topics=topics_of(db, source, item_id, lang),
    )


def _spans(text: str, lang: str, terms: tuple[Term, ...]) -> list[tuple[int, int, int]]:
    """(start, end, term index) of every word of `text` a term matches (a phrase: each of its words)."""
    family = family_of(lang)
    words = [(t.start, t.end, t.key) for t in tokenize(words_of(text, family), family)]
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


