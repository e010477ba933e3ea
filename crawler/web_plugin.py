"""The Datasette plugin `presswatch serve` registers: folding in SQL, and the pages of crawler/webview.

SQL functions, on every connection Datasette opens:
  presswatch_fold(text [, lang])   text folded like the search index (lang: a language code of
                                   the source; default its first)
  presswatch_query(text, lang)     a safe FTS5 query for search_fts, as `presswatch search` builds it
                                   for that language's fold family; '""' (no hit) when the text
                                   holds no word
Both refuse longer text than a headline or a search term with an error (web_limits.MAX_FOLD_CHARS,
MAX_QUERY_CHARS): Datasette's time limit cannot stop a function call.

Canned queries are SQL, and folding is Python: these functions are how the "releases mentioning a
term in any script" query folds its :term exactly like the index was folded.
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl

from crawler import web_limits
from crawler.search import QueryError, compile_plain
from crawler.searchindex import family_of, fold_text
from crawler.sources.base import Source
from crawler.webview import pages


def _source(datasette) -> Source:
    # make_datasette() attaches the source whose store is served.
    return datasette.presswatch_source


def folder(default_lang: str):
    def fold(text: str | None, lang: str | None = default_lang) -> str | None:
        web_limits.check_input(text, web_limits.MAX_FOLD_CHARS)
        return None if text is None else fold_text(text, lang or default_lang)

    return fold


def fts_query(text: str | None, lang: str | None) -> str:
    web_limits.check_input(text, web_limits.MAX_QUERY_CHARS)
    try:
        return compile_plain(text or "", family_of(lang or "")).fts
    except QueryError:
        return '""'  # an empty phrase: matches nothing, raises nothing


@hookimpl
def prepare_connection(conn, datasette) -> None:
    web_limits.limit_connection(conn)
    fold = folder(_source(datasette).supported_languages[0])
    conn.create_function("presswatch_fold", 1, fold, deterministic=True)
    conn.create_function("presswatch_fold", 2, fold, deterministic=True)
    conn.create_function("presswatch_query", 2, fts_query, deterministic=True)


@hookimpl
def asgi_wrapper(datasette) -> Any:
    config = datasette.plugin_config("presswatch") or {}
    return lambda app: web_limits.guard(app, loopback_only=config.get("loopback_only", True))


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    # Registered only by `presswatch serve`: the product pages (crawler/webview), ahead of Datasette's own.
    return list(pages.ROUTES)
