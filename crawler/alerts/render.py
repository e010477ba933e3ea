"""Alert messages: what they say (read from the store at send time) and how each channel shows it.

A message is built as lines of spans (text, bold, italic, link) and rendered for the channel's
format: plain text, CommonMark (Slack, Discord: Apprise turns it into their dialects) or HTML
(Telegram, e-mail). Text from the site is always escaped for that format, so a headline holding
`<b>`, `*` or `_` arrives as those characters, never as markup. The rendered body is handed to
Apprise with the same body_format, so Apprise converts nothing.

Size: every channel has a limit (the table below, never more than the plugin's own body_maxlen).
A single alert is shortened to fit; a digest is split into several messages between releases.
Apprise's default overflow mode ("upstream") passes an oversized body on unchanged and the service
rejects or cuts it, so presswatch never relies on Apprise to split.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from crawler.sources.base import Source
from crawler.store import Store
from crawler.tagging import matches_of

TEXT, MARKDOWN, HTML = "text", "markdown", "html"

HEADLINE_MAX = 300
SNIPPET_MAX = 280
DIGEST_SNIPPET_MAX = 160
TERMS_MAX = 8
DEFAULT_LIMIT = 4000


@dataclass(frozen=True)
class Channel:
    scheme: str
    fmt: str
    limit: int
    # HTML for e-mail needs <br>; Telegram's HTML keeps newlines and has no <br>
    newline: str = "\n"
    # whether the plugin shows the title apart from the body as plain text
    plain_title: bool = False


# scheme: (preferred format, characters at most)
CHANNELS: dict[str, tuple[str, int]] = {
    "tgram": (HTML, 4096),
    "mailto": (HTML, 100_000), "mailtos": (HTML, 100_000),
    "slack": (MARKDOWN, 35_000),
    "discord": (MARKDOWN, 2000),
    "ntfy": (MARKDOWN, 7800), "ntfys": (MARKDOWN, 7800),
    "json": (TEXT, 32_768), "jsons": (TEXT, 32_768),
    "form": (TEXT, 32_768), "forms": (TEXT, 32_768),
    "xml": (TEXT, 32_768), "xmls": (TEXT, 32_768),
}
# Plugins whose title is a plain-text field (mail subject, JSON field, HTTP header).
PLAIN_TITLE_SCHEMES = {"mailto", "mailtos", "json", "jsons", "form", "forms", "xml", "xmls", "ntfy", "ntfys"}


def preferred_format(scheme: str) -> str:
    return CHANNELS.get(scheme, (TEXT, DEFAULT_LIMIT))[0]


def channel_for(scheme: str, fmt: str | None = None, plugin: Any = None) -> Channel:
    """The channel for a URL scheme; `fmt` is what the Apprise plugin resolved, `plugin` its instance."""
    preferred, limit = CHANNELS.get(scheme, (TEXT, DEFAULT_LIMIT))
    fmt = fmt or preferred
    title_maxlen = getattr(plugin, "title_maxlen", 250 if scheme in PLAIN_TITLE_SCHEMES else 0)
    plain_title = title_maxlen > 0 and (scheme in PLAIN_TITLE_SCHEMES or fmt == TEXT)
    body_maxlen = getattr(plugin, "body_maxlen", 0) or limit
    limit = min(limit, body_maxlen)
    if plain_title and getattr(plugin, "overflow_amalgamate_title", False):
        limit -= title_maxlen  # the title counts against the body's limit there
    newline = "\n" if fmt != HTML or scheme == "tgram" else "<br>\n"
    return Channel(scheme=scheme, fmt=fmt, limit=max(limit, 200), newline=newline, plain_title=plain_title)


# --- the document model ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Span:
    kind: str  # text, bold, italic, link
    text: str
    url: str = ""


def t(text: str) -> Span:
    return Span("text", text)


def b(text: str) -> Span:
    return Span("bold", text)


def i(text: str) -> Span:
    return Span("italic", text)


def link(label: str, url: str) -> Span:
    return Span("link", label, url)


Line = list[Span]


@dataclass
class Message:
    title: str
    body: str
    # the idempotency key this message carries (a digest in parts: one per part)
    key: str


# --- escaping ---------------------------------------------------------------------------------------
# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that can start markup
# in CommonMark or in the dialects Apprise converts it to (Slack mrkdwn, Telegram Markdown, Discord).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def escape_markdown(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def escape_html(text: str) -> str:
    return html.escape(text, quote=False)


def _safe_url(url: str) -> str:
    # Parentheses, spaces and angle brackets would end a Markdown link or an HTML attribute early.
    return quote(url, safe=":/?#[]@!$&'*+,;=%-._~")


def render_span(span: Span, fmt: str) -> str:
    if fmt == HTML:
        text = escape_html(span.text)
        if span.kind == "bold":
            return f"<b>{text}</b>"
        if span.kind == "italic":
            return f"<i>{text}</i>"
        if span.kind == "link":
            return f'<a href="{html.escape(_safe_url(span.url), quote=True)}">{text}</a>'
        return text
    if fmt == MARKDOWN:
        text = escape_markdown(span.text)
        if span.kind == "bold":
            return f"**{text}**" if text else ""
        if span.kind == "italic":
            return f"_{text}_" if text else ""
        if span.kind == "link":
            return f"[{text}]({_safe_url(span.url)})"
        return text
    if span.kind == "link":
        return f"{span.text} <{span.url}>" if span.text else span.url
    return span.text


def render_lines(lines: list[Line], channel: Channel) -> str:
    return channel.newline.join("".join(render_span(s, channel.fmt) for s in line) for line in lines)


def size(text: str) -> int:
    """Characters as Telegram counts them (UTF-16 code units); never less than len()."""
    return len(text.encode("utf-16-le")) // 2


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- fitting within a channel's limit ------------------------------------------------------------------
_SHORTENED: Line = [i("… (shortened to fit this channel)")]


def fit(lines: list[Line], channel: Channel) -> str:
    """Render; drop lines from the end of the middle (never the first or the footer) until it fits."""
    body = render_lines(lines, channel)
    if size(body) <= channel.limit:
        return body
    head, middle, footer = lines[:1], lines[1:-1], lines[-1:]
    while middle:
        middle = middle[:-1]
        body = render_lines(head + middle + [_SHORTENED] + footer, channel)
        if size(body) <= channel.limit:
            return body
    # Only the headline and the footer left and still too long: cut the headline's text (never the
    # rendered markup, which a cut could leave unbalanced).
    spans = head[0] if head else []
    budget = channel.limit
    while budget > 1:
        budget //= 2
        short = [[Span(s.kind, shorten(s.text, max(1, budget // max(1, len(spans)))), s.url) for s in spans]]
        body = render_lines(short + [_SHORTENED] + footer, channel)
        if size(body) <= channel.limit:
            return body
    return render_lines(footer, channel)


# --- what a release alert says, read from the store at send time ------------------------------------
@dataclass
class TopicHit:
    topic: str
    label: str
    terms: list[str]
    snippet: str | None


@dataclass
class ReleaseView:
    release_id: int
    headline: str
    date: str | None
    # (lang, title, url), every language version stored at send time
    versions: list[tuple[str, str, str]]
    topics: list[TopicHit] = field(default_factory=list)
    # how each language is named to a reader
    language_names: dict[str, str] = field(default_factory=dict)
    # who published it: the source's display name (its name when not configured here)
    source_title: str = ""


def release_view(store: Store, release_id: int, topics: list[str], source: Source,
                 source_name: str | None = None) -> ReleaseView:
    """The release `release_id` of the source named `source_name` (default: `source`'s) as an
    alert shows it: the headline in the most widely read language the source has it in (its
    `headline_preference`), every version, the topics with their terms, who published it."""
    name = source_name or source.name
    preference = source.headline_preference

    def rank(lang: str) -> int:
        return preference.index(lang) if lang in preference else len(preference)

    versions = store.release(name, release_id, source.supported_languages)
    ordered = sorted(versions, key=lambda v: rank(v["lang"]))
    first = ordered[0] if ordered else None
    date = next((v["published"] for v in ordered if v.get("published")), None)
    return ReleaseView(
        release_id=release_id,
        headline=first["title"] if first else f"release {release_id}",
        date=date,
        versions=[(v["lang"], v["title"], v["url"]) for v in versions],
        topics=[topic_hit(store, name, release_id, topic, first["lang"] if first else None, rank) for topic in topics],
        language_names=dict(source.language_names),
        source_title=source.display_name if name == source.name else name,
    )


def topic_hit(store: Store, source: str, release_id: int, topic: str, headline_lang: str | None,
              rank: Callable[[str], int]) -> TopicHit:
    rows = [(m["lang"], m["label"], m["term"], m["field"], m["start"], m["snippet"])
            for m in matches_of(store, source, release_id) if m["topic"] == topic]
    terms: list[str] = []
    for row in sorted(rows, key=lambda r: (rank(r[0]), r[3] != "title", r[4] or 0)):
        if row[2] and row[2] not in terms:
            terms.append(row[2])
    # A body snippet says more than the headline already shown; the headline's language first.
    best = sorted(
        (r for r in rows if r[5]),
        key=lambda r: (r[3] != "body", r[0] != headline_lang, rank(r[0]), r[4] or 0),
    )
    label = next((r[1] for r in rows if r[1]), topic)
    return TopicHit(topic=topic, label=label, terms=terms[:TERMS_MAX], snippet=best[0][5] if best else None)


# --- the messages ---------------------------------------------------------------------------------
def _footer(key: str) -> Line:
    # In the body too, so a receiver without headers can still drop a duplicate.
    return [i(f"presswatch id: {key}")]


def _date_line(view: ReleaseView) -> Line:
    who = f" · {view.source_title}" if view.source_title else ""
    return [i(view.date or "date unknown"), t(f"{who} · release {view.release_id}")]


def _topic_lines(hit: TopicHit, snippet_max: int) -> list[Line]:
    lines: list[Line] = [[b(hit.label), t(" — " + ", ".join(hit.terms) if hit.terms else "")]]
    if hit.snippet:
        lines.append([t("«" + shorten(hit.snippet, snippet_max) + "»")])
    return lines


def _title(prefix: str, text: str) -> str:
    return shorten(f"{prefix}: {text}", 200)


def render_alert(view: ReleaseView, channel: Channel, key: str) -> Message:
    """One release, the topics of this message, every language version with its link."""
    lines: list[Line] = [[b(shorten(view.headline, HEADLINE_MAX))], _date_line(view), []]
    for hit in view.topics:
        lines += _topic_lines(hit, SNIPPET_MAX)
    lines.append([])
    for lang, title, url in view.versions:
        lines.append([t(f"{lang}: "), link(shorten(title, HEADLINE_MAX), url)])
    lines += [[], _footer(key)]
    labels = ", ".join(hit.label for hit in view.topics)
    return Message(title=_title(labels, view.headline), body=fit(lines, channel), key=key)


def _digest_block(view: ReleaseView) -> list[Line]:
    lines: list[Line] = [[b(shorten(view.headline, HEADLINE_MAX))], _date_line(view)]
    for hit in view.topics:
        lines += _topic_lines(hit, DIGEST_SNIPPET_MAX)
    languages: Line = []
    for index, (lang, _title_text, url) in enumerate(view.versions):
        languages += ([t(" · ")] if index else []) + [link(view.language_names.get(lang, lang), url)]
    return lines + [languages, []]


def render_digest(views: list[ReleaseView], channel: Channel, key: str, heading: str) -> list[Message]:
    """Several releases in as few messages as the limit allows, split between releases."""
    blocks = [_digest_block(v) for v in views]
    parts: list[list[list[Line]]] = [[]]
    for block in blocks:
        trial = parts[-1] + [block]
        if parts[-1] and size(_digest_body(trial, channel, key, heading, 99, 99)) > channel.limit:
            parts.append([block])
        else:
            parts[-1] = trial
    messages = []
    for number, part in enumerate(parts, start=1):
        part_key = key if len(parts) == 1 else f"{key}:part{number}"
        body = _digest_body(part, channel, part_key, heading, number, len(parts))
        if size(body) > channel.limit:  # one release alone too long for the channel
            lines = [[b(heading)]] + [line for block in part for line in block] + [_footer(part_key)]
            body = fit(lines, channel)
        count = f" ({number}/{len(parts)})" if len(parts) > 1 else ""
        messages.append(Message(title=shorten(heading + count, 200), body=body, key=part_key))
    return messages


def _digest_body(part: list[list[Line]], channel: Channel, key: str, heading: str, number: int, total: int) -> str:
    count = f" ({number}/{total})" if total > 1 else ""
    lines: list[Line] = [[b(heading + count)], []]
    for block in part:
        lines += block
    return render_lines(lines + [_footer(key)], channel)


def render_ops(subject: str, body: str, channel: Channel, key: str) -> Message:
    lines: list[Line] = [[b(subject)], []] + [[t(line)] for line in body.splitlines()] + [[], _footer(key)]
    title = subject if subject.lower().startswith("presswatch") else f"presswatch: {subject}"
    return Message(title=shorten(title, 200), body=fit(lines, channel), key=key)
