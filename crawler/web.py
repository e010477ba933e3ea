"""`presswatch serve`: the store in Datasette, read-only, on 127.0.0.1.

Datasette is optional (`pip install 'presswatch[web]'`). It runs in this process so that the
plugin in crawler/web_plugin.py (SQL folding functions, the home page of releases) is registered
without an entry point. SCHEMA below is the one description of every table and column: Datasette
shows it, and docs/QUERY.md is checked against it by the tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler import web_limits
from crawler.config import Config
from crawler.searchindex import families
from crawler.sources import source_book
from crawler.sources.base import Source, language_order_sql
from crawler.sources.book import SourceBook

SOURCE_COLUMN = ("The source's name: a release is (source, id); rows from before sources were plural "
                 "belong to the first source")

# table -> (description, {column: description})
SCHEMA: dict[str, tuple[str, dict[str, str]]] = {
    "items": (
        "One row per language version of a release, as last seen (earlier texts: item_versions). "
        "Search here matches whole words as published (a * is no prefix); add &_searchmode=raw to the "
        "address for FTS5 syntax (Қозоғ* as a prefix), or use the mentioning query, which also finds "
        "other scripts and apostrophes.",
        {"source": SOURCE_COLUMN,
            "id": "Release id: the number in /{lang}/lists/view/ID; the same for every language of a release",
            "lang": "uz = Uzbek (Cyrillic), oz = Uzbek (Latin), ru = Russian, en = English",
            "url": "Address of this version on the source site",
            "title": "Headline as published (Unicode NFC, white space cleaned)",
            "published": "Release date, YYYY-MM-DD (from the page, else from the list); may be null",
            "body": "The paragraphs, joined by a blank line",
            "paragraphs": "JSON array of the paragraphs",
            "images": "JSON array of the release's image addresses (absolute)",
            "links": "JSON array of the links in the body paragraphs (absolute)",
            "content_hash": "SHA-256 of headline, date and paragraphs: a new hash is an edit",
            "parse_path": "selectors (the configured CSS selectors found the text) or fallback (layout drift)",
            "version": "1 for the first text seen, +1 for each edit",
            "first_seen": "When this version was first stored (UTC, ISO 8601)",
            "last_seen": "When its current text was last stored (UTC); an unchanged refetch writes nothing",
            "changed_at": "When the current text was stored (UTC): first_seen, or the time of the last edit",
            "topics_fingerprint": "Which topic definitions tagged it; differs from the current one → `presswatch retag`",
        },
    ),
    "item_versions": (
        "Earlier texts of edited versions: the row items held before each edit.",
        {"source": SOURCE_COLUMN,
            "id": "Release id", "lang": "Language code",
            "version": "Number of this earlier text (items.version counts on)",
            "title": "Headline of that text", "published": "Date it carried", "body": "Its paragraphs, joined",
            "paragraphs": "JSON array", "images": "JSON array", "links": "JSON array",
            "content_hash": "SHA-256 of that text",
            "first_seen": "When this text was first stored (UTC)",
            "replaced_at": "When an edit replaced it (UTC)",
        },
    ),
    "matches": (
        "Topic tags: one row per match of a topic term in a stored version (title or body).",
        {"source": SOURCE_COLUMN,
            "id": "Release id", "lang": "Language code of the tagged version",
            "topic": "Topic name (e.g. kazakhstan, border, water)", "label": "Topic label for people",
            "term": "The configured pattern that matched (e.g. чегара*)",
            "field": "title or body", "start": "Offset of the match in that field (characters)",
            "end": "Offset just after the match", "text": "The matched text as published",
            "snippet": "The sentence around the match", "tagged_at": "When it was made (UTC); kept while later taggings find the same matches",
        },
    ),
    "listings": (
        "What the list pages showed: every release id seen on a list, per language.",
        {"source": SOURCE_COLUMN,
            "id": "Release id", "lang": "Language code", "url": "Address of the release",
            "title": "Headline on the list (may be shortened)", "list_date": "Date on the list, YYYY-MM-DD",
            "first_listed": "First seen on a list (UTC)", "last_listed": "Last seen on a list (UTC)",
            "recheck": "1: listed under a new headline since it was stored, so its page is fetched again",
        },
    ),
    "pending_translations": (
        "Language versions that answered 404: retried with a growing delay, then given up.",
        {"source": SOURCE_COLUMN,
            "id": "Release id", "lang": "Missing language", "url": "Address tried",
            "state": "pending (retried), gave_up (too many attempts or too old), absent (no such release), redirect (the address redirects to another release, named in url)",
            "attempts": "Fetches tried", "first_missing": "First 404 (UTC)", "last_attempt": "Last fetch (UTC)",
        },
    ),
    "http_cache": (
        "Validators for conditional GET of list pages (ETag / Last-Modified).",
        {"source": "The source that read the page (each keeps its own)", "url": "List page address", "etag": "ETag last answered", "last_modified": "Last-Modified last answered",
         "checked_at": "When it was fetched (UTC)"},
    ),
    "crawl_runs": (
        "One row per crawl or backfill pass.",
        {"source": SOURCE_COLUMN,
            "id": "Run number", "kind": "crawl or backfill", "started": "Start (UTC)", "finished": "End (UTC)",
            "outcome": "running, ok, partial (some pages failed), failed or interrupted",
            "pages_fetched": "Pages read", "requests": "HTTP requests sent (retries included)",
            "new": "New language versions stored", "changed": "Edited versions stored",
            "errors": "Pages that failed (crawl_errors)", "list_items": "Entries read on list pages",
            "list_path": "selectors, fallback, empty or mixed: how the lists were parsed",
            "message": "Why a run failed or stopped",
        },
    ),
    "crawl_errors": (
        "Every page that failed in a run, and why.",
        {"source": SOURCE_COLUMN,
            "id": "Error number", "run_id": "crawl_runs.id", "url": "Page address", "item_id": "Release id, if any",
            "lang": "Language code, if any", "kind": "fetch or parse", "reason": "The error, one line",
            "at": "When (UTC)",
        },
    ),
    "backfill_progress": (
        "Where a resumable backfill stopped, per job and language.",
        {"source": SOURCE_COLUMN, "job": "lists:all (--pages), lists:YYYY-MM-DD (--since) or refresh:FIRST-LAST:LANGS (--ids --refresh)",
         "lang": "Language code (* for a refresh)",
         "last_page": "Last list page read (a refresh: the last id done)", "done": "1 when the job reached its end",
         "updated": "Last progress (UTC)"},
    ),
    "search_text": (
        "Search index source: each version's title and body folded (Uzbek Cyrillic → Latin, apostrophes "
        "dropped, lower case), indexed by search_fts. Written by presswatch, not by triggers.",
        {"source": SOURCE_COLUMN,
            "rowid": "Row number, the rowid of search_fts", "id": "Release id", "lang": "Language code",
            "title": "Folded headline", "body": "Folded body",
            "content_hash": "items.content_hash of the version it was folded from (a version stored anew "
                            "without the search hook keeps the older one until folded again)",
            "fold_version": "Folding rules used; rows of another version are folded again",
        },
    ),
    "search_stale": (
        "Versions whose folded text is due (queued by triggers on items; emptied by the crawler's "
        "search hook, `presswatch search` and `presswatch serve`).",
        {"source": SOURCE_COLUMN, "id": "Release id", "lang": "Language code"},
    ),
}

# FTS5 tables: searched through MATCH, listed for the documentation.
FTS_TABLES = {
    "items_fts": "FTS5 over items.title and items.body as published (unicode61); rowid = items.rowid",
    "search_fts": "FTS5 over search_text.title and .body (folded); rowid = search_text.rowid",
}


def canned_queries(source: Source | SourceBook) -> dict[str, dict[str, Any]]:
    """Datasette's canned queries over a store of `source` (every configured source's languages: their
    order and fold families)."""
    languages = SourceBook.of(source).languages()
    order = language_order_sql("i.lang", languages)
    return {
    "latest_by_topic": {
        "title": "Latest releases per topic",
        "description": "The ten newest releases tagged with each topic, in any language.",
        "sql": f"""
with tagged as (select distinct topic, source, id from matches),
ranked as (
  select tagged.topic, tagged.source, tagged.id, r.published,
         row_number() over (partition by tagged.topic order by r.published desc, tagged.id desc) as n
  from tagged join (select source, id, max(published) as published from items group by source, id) r
    on r.source = tagged.source and r.id = tagged.id
)
select ranked.topic, ranked.published, ranked.source, ranked.id,
  (select title from items i where i.source = ranked.source and i.id = ranked.id order by {order} limit 1) as title,
  (select group_concat(lang, ' ') from items i where i.source = ranked.source and i.id = ranked.id) as languages
from ranked where n <= 10
order by ranked.topic, ranked.published desc, ranked.id desc
""".strip(),
    },
    "release": {
        "title": "A release in all its languages",
        "description": "Every stored language version of the release whose id you give (of every source "
        "that has that id), with its topics.",
        "sql": f"""
select i.source, i.lang, i.title, i.published, i.url, i.version, i.first_seen, i.changed_at,
  (select group_concat(distinct m.topic) from matches m
   where m.source = i.source and m.id = i.id and m.lang = i.lang) as topics,
  i.body
from items i where i.id = cast(:id as integer)
order by i.source, {order}
""".strip(),
    },
    "mentioning": {
        "title": "Releases mentioning a term, in any script",
        "description": "Qozog'iston, Qozogʻiston and Қозоғистон find the same releases; end a word "
        "with * for a prefix (чегара*). Best matches first.",
        "sql": _mentioning_sql(languages),
    },
    }


def _mentioning_sql(languages: tuple[str, ...]) -> str:
    """One branch per fold family: each family's folding of :term runs against its own rows."""
    branches = []
    for langs in families(languages).values():
        quoted = ", ".join(f"'{lang}'" for lang in langs if lang.isalnum())
        branches.append(
            "  select s.source, s.id, s.lang, bm25(search_fts, 5.0, 1.0) as score\n"
            "    from search_fts join search_text s on s.rowid = search_fts.rowid\n"
            f"    where search_fts match presswatch_query(:term, '{langs[0]}') and s.lang in ({quoted})"
        )
    union = "\n  union all\n".join(branches)
    return (
        "select i.source, i.id, i.lang, i.published, i.title, i.url, round(h.score, 3) as score\nfrom (\n"
        f"{union}\n) h join items i on i.source = h.source and i.id = h.id and i.lang = h.lang\n"
        "order by h.score limit 100"
    )


# Overrides of Datasette's own templates (each extends "default:NAME"): not presswatch's pages.
DATASETTE_TEMPLATES = Path(__file__).resolve().parent / "webview" / "datasette_templates"

HIDDEN_TABLES = ("search_stale", "fulltext_deferred", "_sqlite_migrations")


def build_metadata(database: str, source: Source | SourceBook, loopback_only: bool = True) -> dict[str, Any]:
    """Datasette metadata for a store of `source` (or of every source of a SourceBook) opened under the
    name `database` (the file's stem); `loopback_only`: answer only requests that name this machine
    by a loopback name."""
    book = SourceBook.of(source)
    names = book.language_names()
    tables: dict[str, Any] = {
        name: {"description": description, "columns": dict(columns)}
        for name, (description, columns) in SCHEMA.items()
    }
    tables["items"].update({"fts_table": "items_fts", "fts_pk": "rowid", "sort_desc": "published"})
    tables["crawl_runs"]["sort_desc"] = "id"
    for name in HIDDEN_TABLES:
        tables.setdefault(name, {})["hidden"] = True
    return {
        "title": "presswatch",
        "description": f"Press releases of the {', '.join(s.display_name for s in book.configured)} in "
        f"{', '.join(names.get(lang, lang) for lang in book.languages())}, "
        "collected by presswatch. Read-only.",
        "source": ", ".join(book.names()),
        **({"source_url": book.first.base_url + "/"} if len(book) == 1 else {}),
        "plugins": {"presswatch": {"loopback_only": loopback_only}},
        "databases": {
            database: {
                "description": "The presswatch store: see docs/QUERY.md for every table.",
                "tables": tables,
                "queries": canned_queries(book),
            }
        },
    }


def make_datasette(path: Path, source: Source | None = None, allow_sql: bool = False, host: str = "127.0.0.1",
                   config: Config | None = None, only_source: str | None = None):
    """A Datasette instance over the store with presswatch's metadata and plugin (no server).
    The sources shown are those `config` configures (each row as its own source's), else `source`;
    `allow_sql`: Datasette's box for arbitrary SQL (canned queries and table pages work without);
    `host`: the address it will listen on (on loopback, only loopback names are answered);
    `config`: what the health page judges by (default: the defaults), and its sources;
    `only_source`: the pages show that source's releases unless ?source= names another."""
    if source is None and config is None:
        raise ValueError("make_datasette needs the config or a source")
    book = source_book(config) if source is None else SourceBook.of(source)
    from datasette.app import Datasette
    from datasette.plugins import pm

    from crawler import web_plugin

    if not pm.is_registered(web_plugin):
        pm.register(web_plugin, name="presswatch")
    datasette = Datasette(
        [str(path)],
        metadata=build_metadata(path.stem, book, loopback_only=web_limits.is_loopback(host)),
        template_dir=str(DATASETTE_TEMPLATES),
        # No arbitrary SQL writes exist in Datasette 0.x; these keep a public-facing copy modest.
        # crawler/web_limits.py bounds what each query may cost (docs/QUERY.md, "Limits of the web view").
        settings={"default_page_size": 50, "sql_time_limit_ms": 3000, "allow_download": False,
                  "default_allow_sql": allow_sql},
    )
    datasette.presswatch_sources = book  # read by crawler.webview: each row's own source
    datasette.presswatch_source = book.first  # read by crawler.web_plugin (the default fold language)
    datasette.presswatch_only = only_source
    datasette.presswatch_config = config
    return datasette
