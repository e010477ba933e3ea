"""The Datasette plugin `presswatch serve` registers: folding in SQL, and a home page of releases.

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
from datasette.utils.asgi import Response

from crawler import web_limits
from crawler.search import QueryError, compile_plain
from crawler.searchindex import family_of, fold_text
from crawler.sources.base import Source, language_order_sql

HOME_RELEASES = 40

HOME_TEMPLATE = """{% extends "base.html" %}
{% block title %}presswatch: {{ source_name }} press releases{% endblock %}
{% block content %}
<h1>{{ source_name }} press releases</h1>
<p>The newest of {{ "{:,}".format(total) }} stored language versions.
<a href="{{ urls.database(database) }}">All tables and queries</a> ·
<a href="{{ urls.query(database, 'latest_by_topic') }}">latest releases per topic</a></p>
<form action="{{ urls.query(database, 'mentioning') }}" method="get">
  <p><label>Find a word in any script: <input type="search" name="term" placeholder="Qozog'iston, чегара*"></label>
  <input type="submit" value="Search"></p>
</form>
<table class="rows-and-columns">
  <thead><tr><th>published</th><th>source</th><th>release</th><th>versions</th></tr></thead>
  <tbody>
  {% for release in releases %}
    <tr class="release">
      <td>{{ release.published or "" }}</td>
      <td>{{ release.source }}</td>
      <td><a href="{{ urls.query(database, 'release') }}?id={{ release.id }}">{{ release.id }}</a></td>
      <td>{% for version in release.versions %}
        <div lang="{{ version.lang }}"><code>{{ version.lang }}</code>
          <a class="release-title" href="{{ version.url }}">{{ version.title }}</a></div>
      {% endfor %}</td>
    </tr>
  {% else %}
    <tr><td colspan="4">No releases stored yet: run <code>presswatch crawl</code>.</td></tr>
  {% endfor %}
  </tbody>
</table>
{% endblock %}
"""


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
    # Registered only by `presswatch serve`: its front page is the releases, not a table list.
    return [(r"^/$", home)]


async def home(datasette, request) -> Response:
    database = datasette.get_database()
    source = _source(datasette)
    total = (await database.execute("select count(*) from items")).first()[0]
    rows = await database.execute(
        """
        with latest as (select source, id from items group by source, id
                        order by max(published) desc, id desc limit ?)
        select i.source, i.id, i.lang, i.title, i.url, i.published from items i join latest using (source, id)
        order by i.published desc, i.id desc, """ + language_order_sql("i.lang", source.supported_languages),
        [HOME_RELEASES],
    )
    releases: dict[int, dict[str, Any]] = {}
    for row in rows:
        release = releases.setdefault((row["source"], row["id"]), {
            "source": row["source"], "id": row["id"], "published": row["published"], "versions": []})
        release["versions"].append(dict(row))
    template = datasette.jinja_env.from_string(HOME_TEMPLATE)
    html = await datasette.render_template(
        template, {"database": database.name, "releases": list(releases.values()), "total": total,
                   "source_name": source.name}, request=request
    )
    return Response.html(html)
