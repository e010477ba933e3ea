"""Every parameter a web page accepts, checked before any query runs: a bad one is a 400 page.

Unknown parameters are ignored (trackers append them to shared links); a known one given twice, too
long, or outside its values is refused with a one-line reason that never echoes SQL or a path.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

from crawler.filters import Filters
from crawler.webview.queries import View

MAX_PAGE = 10_000
MAX_QUERY_CHARS = 500  # as the search box of the Datasette view (web_limits.MAX_QUERY_CHARS)
MAX_NAME_CHARS = 100
_TOPIC = re.compile(r"[\w.-]{1,100}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
SHOW_COOKIE = "presswatch_show"


class BadRequest(ValueError):
    """A parameter the page cannot use; str() is the reason shown on the 400 page."""


def one(args: Mapping[str, Sequence[str]], name: str, limit: int = MAX_NAME_CHARS) -> str | None:
    """The single value of `name` ('' counts as absent), or BadRequest."""
    values = args.get(name) or []
    if len(values) > 1:
        raise BadRequest(f"{name} is given {len(values)} times")
    value = values[0].strip() if values else ""
    if len(value) > limit:
        raise BadRequest(f"{name} is longer than {limit} characters")
    if any(ord(char) < 32 for char in value):
        raise BadRequest(f"{name} holds control characters")
    return value or None


def topic_name(value: str | None) -> str | None:
    if value is not None and not _TOPIC.fullmatch(value):
        raise BadRequest("topic: a topic name is letters, digits, '_', '-' or '.'")
    return value


def language(value: str | None, languages: Sequence[str], name: str = "lang") -> str | None:
    if value is not None and value not in languages:
        raise BadRequest(f"{name}: not one of the languages {', '.join(languages)}")
    return value


def date(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise BadRequest(f"{name}: expected a date as YYYY-MM-DD") from None


def stored_source(value: str, sources: Sequence[str]) -> str:
    """A source name in an address: one the store holds rows of."""
    if value not in sources:
        raise BadRequest("source: not a source of this store")
    return value


def page_number(value: str | None) -> int:
    if value is None:
        return 1
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise BadRequest(f"page: expected a whole number from 1 to {MAX_PAGE}")
    return int(value)


def view(args: Mapping[str, Sequence[str]], languages: Sequence[str], sources: Sequence[str],
         cookie_show: str | None = None) -> View:
    """The filters, page and headline language of a list page."""
    since, until = date(one(args, "since"), "since"), date(one(args, "until"), "until")
    if since and until and since > until:
        raise BadRequest(f"since {since} is after until {until}")
    source = one(args, "source")
    if source is not None:
        stored_source(source, sources)
    show = language(one(args, "show"), languages, "show")
    if show is None and cookie_show in languages:
        show = cookie_show
    filters = Filters(topic=topic_name(one(args, "topic")), lang=language(one(args, "lang"), languages),
                      since=since, until=until, source=source)
    return View(filters=filters, show=show, page=page_number(one(args, "page")))


def query_text(args: Mapping[str, Sequence[str]]) -> str | None:
    text = one(args, "q", MAX_QUERY_CHARS)
    return text.replace("\x00", " ") if text else None
