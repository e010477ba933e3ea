"""The pages of `presswatch serve`: routes of the Datasette plugin, rendered from Jinja2 templates.

Each handler validates its parameters (crawler.webview.params) before any query, reads through the
read-only connection Datasette opened (with the limits of crawler.web_limits), and renders a
template shipped in this package. Errors become a short page: 400 for a bad parameter, 404 for
nothing there, 500 for a bug; never a traceback, a path or SQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

import jinja2
import markupsafe
from datasette.utils.asgi import Response
from sqlite_utils import Database

from crawler import health, trends
from crawler.alerts import alerts_summary
from crawler.config import Config
from crawler.feeds import build_feed, feed_entries
from crawler.filters import Filters
from crawler.search import QueryError, search
from crawler.sources.base import Source
from crawler.sources.book import SourceBook
from crawler.store import Store
from crawler.webview import params, queries
from crawler.webview.params import BadRequest
from crawler.webview.queries import View

HERE = Path(__file__).parent
PER_PAGE = 50
SEARCH_LIMIT = 20  # hits a page, as `presswatch search`; snippets are the costly part
SEARCH_PAGES = 10  # page N ranks N × 20 hits: the cost grows with the page, so the pages end here
FEED_ENTRIES = 50
YEAR_SECONDS = 365 * 24 * 3600
# Pages run no script and load nothing from elsewhere; the style sheet is the only resource.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
# An archived page is a site's HTML served on our origin: sandboxed (no script runs, an opaque
# origin, so it reaches neither our cookies nor our pages), loading nothing, never sniffed.
RAW_PAGE_HEADERS = {
    "content-security-policy": "sandbox; default-src 'none'; img-src 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
log = logging.getLogger("presswatch.web")


class NotThere(LookupError):
    """Nothing at this address: a 404 page saying what was looked for."""


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["duration"] = duration
    env.filters["counted"] = trends.counted
    return env


def duration(run: dict[str, Any]) -> str:
    try:
        seconds = (dt.datetime.fromisoformat(run["finished"]) - dt.datetime.fromisoformat(run["started"])).total_seconds()
    except (TypeError, ValueError):
        return ""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


# --- plumbing: the context every page gets, rendering, errors ---------------------------------------
class Page:
    """One request: the source, the database, the validated view, and how to link with it changed."""

    def __init__(self, datasette, request, view: View = View()) -> None:
        self.datasette, self.request, self.view = datasette, request, view
        # every configured source by name (each row is shown as its own source's), and the first
        self.sources: SourceBook = getattr(datasette, "presswatch_sources", None) or SourceBook.of(
            datasette.presswatch_source)
        self.source: Source = self.sources.first
        # `serve --source NAME`: every page is of that source unless ?source= names another
        self.only: str | None = getattr(datasette, "presswatch_only", None)
        self.database = datasette.get_database()
        # name -> every value given, so that a parameter given twice is seen (and refused)
        self.args = parse_qs(request.query_string, keep_blank_values=True)

    async def read(self, function: Callable[..., Any], *args: Any) -> Any:
        return await self.database.execute_fn(lambda conn: function(Database(conn), *args))

    def link(self, path: str, **changes: Any) -> str:
        """`path` with the current filters, headline language and page, changed by `changes`."""
        current = {"topic": self.view.filters.topic, "lang": self.view.filters.lang,
                   "since": self.view.filters.since, "until": self.view.filters.until,
                   "source": self.view.source, "show": self.view.show,
                   "page": self.view.page if self.view.page > 1 else None}
        for name in ("q", "by"):  # the search words and the chart's period go along too
            current[name] = (self.args.get(name) or [""])[0][:params.MAX_QUERY_CHARS] or None
        current.update(changes)
        query = urlencode({key: value for key, value in current.items() if value})
        return path + ("?" + query if query else "")

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        book = self.sources
        one = book.get(self.only) if self.only else None
        names, tags = book.language_names(), book.language_tags()
        # the language switch offers every configured source's languages, in display order
        languages = [(lang, names.get(lang, lang)) for lang in book.languages()]
        context.setdefault("languages", languages)
        context.setdefault("tags", tags)
        context.update(
            page=self, view=self.view, source=self.source, database=self.database.name,
            title_of_sources=one.display_name if one else book.title,
            # a row's own source: its language tags and display name
            tag_of=lambda name, lang: book.get(name).language_tags.get(lang, lang),
            publisher_of=lambda name: book.get(name).display_name,
            show=self.view.show or languages[0][0],
        )
        context.setdefault("feeds", self.feeds())
        response = Response.html(environment().get_template(template).render(**context), status=status,
                                 headers=dict(SECURITY_HEADERS))
        if self.view.show and params.one(self.args, "show"):
            response.set_cookie(params.SHOW_COOKIE, self.view.show, max_age=YEAR_SECONDS, samesite="lax",
                                httponly=True)
        return response

    def feeds(self) -> list[tuple[str, str]]:
        """(title, address) of the Atom feeds this page offers for autodiscovery."""
        topic, lang = self.view.filters.topic, self.view.filters.lang
        found = [("All releases", "/feeds/all.atom")]
        if lang:
            found.append((f"All releases ({lang})", f"/feeds/all.atom?lang={lang}"))
        if topic:
            found.append((f"Topic {topic}", f"/feeds/{topic}.atom" + (f"?lang={lang}" if lang else "")))
        return found


Handler = Callable[[Any, Any], Awaitable[Response]]


def page(handler: Handler) -> Handler:
    """A route whose failures are pages: 400 BadRequest, 404 NotThere, 500 anything else."""

    @functools.wraps(handler)
    async def answer(datasette, request) -> Response:
        try:
            return await handler(datasette, request)
        except BadRequest as exc:
            return error_page(datasette, request, 400, "Bad request", str(exc))
        except NotThere as exc:
            return error_page(datasette, request, 404, "Not found", str(exc))
        except Exception:  # a bug: logged here, shown to nobody
            log.exception("web view: %s failed", request.path)
            return error_page(datasette, request, 500, "Something went wrong",
                              "The page could not be built; the server's log says why.")

    return answer


def error_page(datasette, request, status: int, title: str, reason: str) -> Response:
    return Page(datasette, request).render("error.html", status=status, title=title, reason=reason,
                                           topics=[], feeds=[])


async def list_view(current: Page) -> View:
    sources = await current.read(queries.sources)
    cookie = current.request.cookies.get(params.SHOW_COOKIE)
    view = params.view(current.args, current.sources.languages(), sources, cookie)
    if current.only and view.filters.source is None:
        view = dataclasses.replace(view, filters=dataclasses.replace(view.filters, source=current.only))
    return view


async def filters_context(current: Page) -> dict[str, Any]:
    return {"topics": await current.read(queries.topics), "sources": await current.read(queries.sources)}


# --- the pages ------------------------------------------------------------------------------------
@page
async def home(datasette, request) -> Response:
    current = Page(datasette, request)
    current.view = await list_view(current)
    releases, more = await current.read(queries.newest, current.sources, current.view, PER_PAGE)
    return current.render("home.html", releases=releases, more=more, **await filters_context(current))


_MARKS = ("\ue000", "\ue001")


def _marked(text: str) -> str:
    """Search marks (private-use stand-ins) around escaped text become <mark> elements."""
    escaped = markupsafe.escape(text)
    return str(escaped).replace(_MARKS[0], "<mark>").replace(_MARKS[1], "</mark>")


def run_search(db: Database, sources: SourceBook, text: str, view: View) -> tuple[list[dict[str, Any]], bool]:
    """One page of hits, and whether another follows (every configured source's languages searched)."""
    hits = search(Store(db), text, filters=view.filters, limit=view.page * SEARCH_LIMIT + 1, marks=_MARKS,
                  languages=sources.languages())
    more = len(hits) > view.page * SEARCH_LIMIT and view.page < SEARCH_PAGES
    hits = hits[(view.page - 1) * SEARCH_LIMIT:view.page * SEARCH_LIMIT]
    badges = queries.badges_of(db, [(hit.source, hit.id) for hit in hits]) if hits else {}
    return [{"source": hit.source, "id": hit.id, "lang": hit.lang, "published": hit.published, "url": hit.url,
             "title_html": _marked(hit.title_marked), "snippet_html": _marked(hit.snippet),
             "badges": badges.get((hit.source, hit.id), [])} for hit in hits], more


@page
async def search_page(datasette, request) -> Response:
    current = Page(datasette, request)
    current.view = await list_view(current)
    text = params.query_text(current.args)
    if current.view.page > SEARCH_PAGES:
        raise BadRequest(f"page: the search shows {SEARCH_PAGES} pages; narrow it with more words or a filter")
    hits, more, problem = [], False, None
    if text:
        try:
            hits, more = await current.read(run_search, current.sources, text, current.view)
        except QueryError as exc:
            problem = str(exc)
    return current.render("search.html", q=text or "", hits=hits, more=more, problem=problem,
                          **await filters_context(current))


@page
async def release(datasette, request) -> Response:
    current = Page(datasette, request)
    current.view = await list_view(current)
    item_id = int(request.url_vars["id"])
    try:
        versions = await current.read(queries.release, current.sources, item_id, current.view.source)
    except queries.Ambiguous as exc:
        raise BadRequest(str(exc)) from None
    if not versions:
        raise NotThere(f"release {item_id} is not in the store")
    edited = sum(len(version["history"]) for version in versions)
    own = current.sources.get(versions[0]["source"])  # the release's source names its languages
    return current.render("release.html", item_id=item_id, versions=versions, edited=edited, topics=[],
                          publisher=own.display_name, version_tags=own.language_tags,
                          version_names=own.language_names)


@page
async def raw_page(datasette, request) -> Response:
    """The latest archived page of a version, as the site sent it, under RAW_PAGE_HEADERS."""
    current = Page(datasette, request)
    name = params.stored_source(unquote(request.url_vars["source"]), await current.read(queries.sources))
    item_id = int(request.url_vars["id"])
    languages = current.sources.get(name).supported_languages or await current.read(queries.stored_languages, name)
    lang = params.language(unquote(request.url_vars["lang"]), languages)
    found = await current.read(queries.raw_page, name, item_id, lang)
    if found is None:
        raise NotThere(f"no archived page of release {item_id} in {lang}")
    return Response(found.body, content_type=f"text/html; charset={found.charset}", headers=dict(RAW_PAGE_HEADERS))


@page
async def topic(datasette, request) -> Response:
    current = Page(datasette, request)
    name = params.topic_name(request.url_vars["name"])
    current.view = queries.topic_view(await list_view(current), name)
    period = params.one(current.args, "by") or "month"
    if period not in trends.PERIODS:
        raise BadRequest(f"by: one of {', '.join(trends.PERIODS)}")
    label = await current.read(queries.topic_label, name)
    if label is None:
        raise NotThere(f"no release is tagged with topic {name!r}")
    counts = await current.read(trends.topic_counts, name, period)
    shown_period = "month" if counts and len(counts[0].label) == 7 else period
    chart = trends.svg_chart(counts, f"Releases tagged {label} per {shown_period}", shown_period)
    releases, more = await current.read(queries.newest, current.sources, current.view, PER_PAGE)
    return current.render("topic.html", name=name, label=label, counts=counts, chart=chart, period=shown_period,
                          releases=releases, more=more, **await filters_context(current))


def topic_overview(db: Database) -> list[dict[str, Any]]:
    """Every topic with its monthly counts and their chart."""
    found = []
    for name, label in queries.topics(db):
        counts = trends.topic_counts(db, name, "month")
        found.append({"name": name, "label": label, "releases": sum(c.releases for c in counts),
                      "chart": trends.svg_chart(counts, f"Releases tagged {label} per month", "month",
                                                chart_id=f"chart-{name}")})
    return found


@page
async def topics_page(datasette, request) -> Response:
    current = Page(datasette, request)
    return current.render("topics.html", overview=await current.read(topic_overview), topics=[])


def health_report(db: Database, config: Config) -> dict[str, Any]:
    store = Store(db)
    streak, path = health.drift_streak(store)
    return {
        "runs": queries.last_runs(db),
        "conditions": [{"label": health.LABELS.get(c.name, c.name), "active": c.active, "detail": c.detail}
                       for c in health.evaluate(store, config)],
        "drift": {"streak": streak, "path": path, "threshold": config.health.drift_runs},
        "outbox": alerts_summary(store, config)["outbox"],
        "events": health.recent_events(store, 10),
    }


@page
async def health_page(datasette, request) -> Response:
    current = Page(datasette, request)
    config = getattr(datasette, "presswatch_config", None) or Config()
    report = await current.read(health_report, config)
    return current.render("health.html", report=report, topics=[])


@page
async def feed(datasette, request) -> Response:
    current = Page(datasette, request)
    name = request.url_vars["name"]
    lang = params.language(params.one(current.args, "lang"), current.sources.languages())
    topic_name = None if name == "all" else params.topic_name(name)
    source = params.one(current.args, "source") or current.only
    if source is not None:
        params.stored_source(source, await current.read(queries.sources))
    filters = Filters(topic=topic_name, lang=lang, source=source)
    entries = await current.read(lambda db: feed_entries(db, current.sources, filters, FEED_ENTRIES))
    if topic_name and not entries and await current.read(queries.topic_label, topic_name) is None:
        raise NotThere(f"no release is tagged with topic {topic_name!r}")
    body = build_feed(entries, current.sources, filters=filters)
    return Response(body, content_type="application/atom+xml; charset=utf-8", headers=dict(SECURITY_HEADERS))


async def stylesheet(datasette, request) -> Response:
    css = (HERE / "static" / "presswatch.css").read_text(encoding="utf-8")
    return Response(css, content_type="text/css; charset=utf-8",
                    headers={"cache-control": "max-age=3600", "x-content-type-options": "nosniff"})


ROUTES = [
    (r"^/$", home),
    (r"^/search$", search_page),
    (r"^/release/(?P<id>\d{1,12})$", release),
    (r"^/raw/(?P<source>[^/]{1,200})/(?P<id>\d{1,12})/(?P<lang>[^/]{1,50})$", raw_page),
    (r"^/topics$", topics_page),
    (r"^/topic/(?P<name>[^/]{1,200})$", topic),
    (r"^/health$", health_page),
    (r"^/feeds/(?P<name>[^/]{1,200})\.atom$", feed),
    (r"^/assets/presswatch\.css$", stylesheet),
]
