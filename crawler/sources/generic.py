"""The `generic` source: a press site built like most are (list pages linking to release pages),
described in settings instead of code.

What it needs to know is in `GenericSettings` (one frozen dataclass: what a user writes in TOML).
Selectors are optional; without them the page's structure is read:

- list pages: the anchors whose address matches `release_pattern` (merged by id, the first one with
  text giving the title); an entry's date is found in its card (the largest element around the
  anchor that holds no other release), from `<time datetime>` or a short line of text;
- release pages: the headline from `h1`, `og:title` or `<title>`, minus the site's suffix (the
  configured `title_suffixes`, or a " | "/" - "/" — " tail seen on two pages of the site); the body
  as the longest run of paragraphs after the headline: `<p>` elements that share a parent, or the
  text blocks separated by `<br>` inside one container; the date nearest the headline, from
  `<time datetime>`, then `article:published_time`, then text (crawler/sources/dates.py);
- pagination: a page has a next one when it links `rel=next`, links page n+1 by `list_url`, or has a
  "next" arrow (›, », →, Next, Далее, Келесі, Keyingi); the walk fetches that link's own address
  (`ListPage.next_url`, on the site's host only), so a pager the template cannot express is walked.

A parse reports `path = "selectors"` when it was read the configured way (by the selectors, or by the
structure when no selectors are configured) and "fallback" when configured selectors found nothing
and the structure did: only drift away from the configuration shows up in `crawl_runs`.

Limitation: on sites whose release addresses carry a slug (`/en/press/2024/05/22/talks-4211`) an
address cannot be built from an id. `item_url` then answers only for releases this object has seen
on a list page (or been told of with `remember`), unless `item_url` is configured as a template;
otherwise it raises `ItemAddressUnknown`. A caller that keeps the listing's address (the store's
`listings.url`) should pass that address instead, or `remember` it first.
"""

from __future__ import annotations

import dataclasses
import re
import string
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.model import ListEntry, ListPage, ParsedItem, ParseError, PresswatchError, UsageError
from crawler.normalize import clean_text
from crawler.sources import dates
from crawler.sources.base import Source
from crawler.sources.markup import css, css_first

# The store keys releases by a SQLite INTEGER (64-bit); a larger "id" in an address is no release.
_MAX_ID = 2**63 - 1
# Markup that is never part of a release, wherever it stands.
_CHROME_TAGS = "script, style, noscript, template, iframe, svg"
# The page's frame, removed unless it holds the release: a form may wrap a whole page (ASP.NET),
# and an article's own <header>/<footer> holds its headline and date.
_FRAME_TAGS = "header, footer, nav, aside, form"
_CONTENT_TAGS = frozenset({"article", "main"})
_TITLE_SEPARATORS = (" | ", " - ", " — ", " – ", " :: ")
# Element tags that end a run of text: a <br> container's blocks are the text directly inside it.
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "ol", "p",
    "pre", "section", "table", "tbody", "td", "th", "thead", "tr", "ul",
})
# How far (in elements) from the headline a date may stand.
_DATE_REACH = 40
# A line of text that holds a date and little else (a dateline, not a sentence).
_DATE_LINE_LENGTH = 60
# Memory of release addresses seen on list pages (slug sites): bounded, oldest forgotten first.
_MAX_REMEMBERED = 200_000
_MAX_SUFFIXES = 1_000
_NEXT_ARROWS = frozenset("›»→>≫⟩⇒▸▶⟶❯")
_NEXT_WORDS = frozenset({
    "next", "next page", "older", "older posts", "далее", "следующая", "следующая страница", "вперед",
    "вперёд", "келесі", "келесі бет", "keyingi", "keyingi sahifa", "кейинги", "кейинги саҳифа",
})

# How each language is named to a reader, in that language; an unknown code is shown as itself.
LANGUAGE_NAMES: Mapping[str, str] = {
    "kk": "Қазақша", "kz": "Қазақша", "ru": "Русский", "en": "English", "uz": "Oʻzbekcha",
    "oz": "Oʻzbekcha", "ky": "Кыргызча", "tg": "Тоҷикӣ", "tk": "Türkmençe", "az": "Azərbaycanca",
    "tr": "Türkçe", "uk": "Українська", "be": "Беларуская", "hy": "Հայերեն", "ka": "ქართული",
    "mn": "Монгол", "de": "Deutsch", "fr": "Français", "es": "Español", "it": "Italiano",
    "zh": "中文", "ar": "العربية", "fa": "فارسی",
}
# Codes sites use that are not BCP 47 tags.
LANGUAGE_TAGS: Mapping[str, str] = {"kz": "kk", "oz": "uz-Latn", "ua": "uk", "cn": "zh", "by": "be"}

# A line that is an address, after a label of up to three words ("Source:", "Манба", "Дереккөз:").
_CITATION = re.compile(r"(?:[^\W\d_]+(?:\s+[^\W\d_]+){0,2}\s*[:：]?\s*)?(?P<address>https?://\S+)")
_SPACES = re.compile(r"\s+")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,34}")


def _setting(default: Any, doc: str = "") -> Any:
    """A key of the generic source's TOML table: its default and the comment a config renders."""
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class GenericSettings:
    """Everything the generic source reads: one site, written in TOML."""

    base_url: str = _setting("", "the site's root (https://www.example.org); only this host is read")
    languages: tuple[str, ...] = _setting((), "the codes the site uses in its addresses, in display order")
    name: str = _setting("", "who publishes here, shown to readers (empty: the host)")
    timezone: str = _setting("UTC", "the site's time zone (IANA name): when its days begin")
    list_url: str = _setting(
        "/{lang}/press?page={page}", "a list page's address; {lang} and {page} are filled in")
    first_page_url: str = _setting("", "the first list page's address when it has no page number ({lang})")
    release_pattern: str = _setting(
        "", "a regular expression a release's address (path, and ?query when it has one) matches in\n"
        "full, with a group (?P<id>\\d+) and optionally (?P<lang>...)")
    item_url: str = _setting(
        "", "a release's address built from {lang} and {id}, when the site has one; empty: the address\n"
        "seen on a list page is used")
    shared_ids: bool = _setting(
        False, "whether the language versions of one release share its id (false: each version has its own)")
    list_item: str = _setting("", "CSS selector of one entry on a list page (empty: the page's structure)")
    list_link: str = _setting("", "within an entry: its link (empty: the first link to a release)")
    list_date: str = _setting("", "within an entry: its date (empty: a date line found in the entry)")
    item_title: str = _setting("", "release pages: the headline (empty: h1, og:title, <title>)")
    item_body: str = _setting(
        "", "release pages: the element(s) holding the body (empty: the longest run of paragraphs)")
    item_date: str = _setting("", "release pages: the date (empty: the date nearest the headline)")
    title_suffixes: tuple[str, ...] = _setting(
        (), "the site's name, cut from the end of a headline (\"Headline | <name>\")")
    chrome_phrases: tuple[str, ...] = _setting(
        (), "paragraphs of the page's frame, never part of a body (compared ignoring case)")

    def problems(self) -> list[tuple[str, str]]:
        """(key, what is wrong) for every mistake; empty when the settings are usable."""
        found = _address_problems(self) + _pattern_problems(self.release_pattern)
        found += _language_problems(self.languages) + _timezone_problems(self.timezone)
        found += _selector_problems(self)
        return found

    @property
    def selectors(self) -> dict[str, str]:
        return {key: getattr(self, key) for key in _SELECTOR_KEYS}


_SELECTOR_KEYS = ("list_item", "list_link", "list_date", "item_title", "item_body", "item_date")


def as_generic_settings(settings: Any) -> GenericSettings:
    """`settings` itself, or GenericSettings from the attributes it has (the others default)."""
    if isinstance(settings, GenericSettings):
        return settings
    known = {f.name: getattr(settings, f.name) for f in dataclasses.fields(GenericSettings) if hasattr(settings, f.name)}
    return GenericSettings(**{key: tuple(value) if isinstance(value, list) else value for key, value in known.items()})


class GenericSettingsError(UsageError):
    """A generic source described wrongly; str() is one line naming the key."""

    def __init__(self, key: str, problem: str) -> None:
        self.key, self.problem = key, problem
        super().__init__(f"{key}: {problem}")


class ItemAddressUnknown(PresswatchError, LookupError):
    """A release's address cannot be built from its id and was not seen on a list page."""


class Generic(Source):
    """A press site read by `GenericSettings`: list pages linking to release pages."""

    kind = "generic"
    supported_languages: tuple[str, ...] = ()
    language_names: Mapping[str, str] = {}
    language_tags: Mapping[str, str] = {}
    settings_class = GenericSettings

    def __init__(self, settings: GenericSettings | Any, selectors: Any = None, name: str = "") -> None:
        """`selectors` is accepted for the registry's call and unused: the selectors are settings.
        Any object with some of GenericSettings' fields as attributes is read as GenericSettings."""
        settings = as_generic_settings(settings)
        problems = settings.problems()
        if problems:
            raise GenericSettingsError(*problems[0])
        # The site's languages, names and zone are this instance's, not the class's.
        self.supported_languages = tuple(settings.languages)
        self.language_names = {code: LANGUAGE_NAMES.get(_primary(code), code) for code in settings.languages}
        self.language_tags = {code: LANGUAGE_TAGS.get(code.lower(), code) for code in settings.languages}
        self.timezone = zoneinfo.ZoneInfo(settings.timezone)
        super().__init__(settings, name or settings.name)
        self.generic = settings
        self._release = re.compile(settings.release_pattern)
        self._addresses: dict[tuple[str, int], str] = {}
        self._suffix_pages: dict[str, set[str]] = {}

    @property
    def display_name(self) -> str:
        return self.generic.name or self.name

    @property
    def shared_ids(self) -> bool:
        return self.generic.shared_ids

    @property
    def item_urls_from_ids(self) -> bool:
        return bool(self.generic.item_url)

    def parse_date(self, text: str) -> str | None:
        return dates.parse_date(text, self.languages)

    # --- addresses -------------------------------------------------------------------------
    def list_url(self, lang: str, page: int = 1) -> str:
        template = self.generic.first_page_url if page <= 1 and self.generic.first_page_url else self.generic.list_url
        return urljoin(self.base_url + "/", _fill(template, lang=lang, page=str(page)))

    def item_url(self, lang: str, item_id: int) -> str:
        """The address of a release: as seen on a list page, else built by the `item_url` template."""
        known = self._addresses.get((lang, item_id))
        if known:
            return known
        if self.generic.item_url:
            return urljoin(self.base_url + "/", _fill(self.generic.item_url, lang=lang, id=str(item_id)))
        raise ItemAddressUnknown(
            f"no address known for release {item_id} ({lang}): this site's addresses are not built from ids "
            "and it has not been seen on a list page")

    def remember(self, lang: str, item_id: int, url: str) -> None:
        """Record a release's address (from a list page, or from a store that kept it)."""
        self._addresses.pop((lang, item_id), None)
        self._addresses[(lang, item_id)] = url
        if len(self._addresses) > _MAX_REMEMBERED:
            del self._addresses[next(iter(self._addresses))]

    def release_key(self, url: str) -> tuple[int, str] | None:
        """(id, lang) of a release address: the language from the address, else from the address a
        list page gave for it."""
        found = self.parse_release_url(url)
        if found is None:
            return None
        lang, item_id, absolute = found
        if lang is None:
            lang = next((known_lang for (known_lang, known_id), known_url in self._addresses.items()
                         if known_id == item_id and known_url == absolute), None)
        return (item_id, lang) if lang else None

    def parse_release_url(self, href: str, page_url: str | None = None) -> tuple[str | None, int, str] | None:
        """(lang in the address or None, id, absolute address) when `href` is a release here."""
        try:
            parts = urlsplit(urljoin(page_url or self.base_url + "/", href.strip()))
            if parts.hostname != urlsplit(self.base_url).hostname:
                return None
        except ValueError:  # a malformed href ("http://[::1") is no release, not a crash
            return None
        candidates = [parts.path, parts.path.rstrip("/")]
        if parts.query:
            candidates = [f"{path}?{parts.query}" for path in candidates] + candidates
        for candidate in candidates:
            match = self._release.fullmatch(candidate)
            digits = match.groupdict().get("id") if match else None
            if digits and digits.isdigit() and int(digits) <= _MAX_ID:
                return match.groupdict().get("lang"), int(digits), urlunsplit(parts._replace(fragment=""))
        return None

    def _page_number(self, page_url: str, lang: str) -> int:
        pattern = _template_pattern(urljoin(self.base_url + "/", self.generic.list_url), lang)
        match = pattern.fullmatch(_without_fragment(page_url))
        return int(match["page"]) if match else 1

    # --- list pages ------------------------------------------------------------------------
    def parse_list(self, html: str, lang: str, page_url: str) -> ListPage:
        tree = LexborHTMLParser(html)
        self._note_title(tree, page_url)
        entries: list[ListEntry] = []
        path = "selectors"
        if self.generic.list_item:
            entries = self._list_by_selectors(tree, lang, page_url)
            path = "selectors" if entries else "fallback"
        if not entries:
            entries = self._list_by_structure(tree, lang, page_url)
        if not entries:
            path = "empty"
        for entry in entries:
            self.remember(lang, entry.id, entry.url)
        onwards = self._next_link(tree, lang, page_url)
        return ListPage(entries=entries, path=path, next_page=onwards is not None, next_url=self._on_site(onwards))

    def _list_by_selectors(self, tree: LexborHTMLParser, lang: str, page_url: str) -> list[ListEntry]:
        entries: dict[int, ListEntry] = {}
        for box in css(tree, self.generic.list_item):
            links = css(box, self.generic.list_link) if self.generic.list_link else css(box, "a[href]")
            found = self._first_release(links, lang, page_url)
            if found is None or found[1] in entries:
                continue
            anchor, item_id, url = found
            title = clean_text(_text(anchor)) or _card_title(box, anchor)
            if self.generic.list_date:
                date_node = css_first(box, self.generic.list_date)
                list_date = self._node_date(date_node) if date_node is not None else None
            else:
                list_date = self._card_date(box, title)
            entries[item_id] = ListEntry(id=item_id, lang=lang, url=url, title=title, list_date=list_date)
        return list(entries.values())

    def _first_release(self, links: list[LexborNode], lang: str, page_url: str) -> tuple[LexborNode, int, str] | None:
        for link in links:
            target = self.parse_release_url(link.attributes.get("href") or "", page_url)
            if target and target[0] in (None, lang):
                return link, target[1], target[2]
        return None

    def _list_by_structure(self, tree: LexborHTMLParser, lang: str, page_url: str) -> list[ListEntry]:
        """Anchors to releases, merged by id; title from the first with text; date from the card."""
        anchors: dict[int, list[tuple[LexborNode, str]]] = {}
        # which release each element holds (any language): what tells one entry's card from the next
        holds = _ReleasesHeld()
        for anchor in tree.css("a[href]"):
            target = self.parse_release_url(anchor.attributes.get("href") or "", page_url)
            if target:
                holds.add(anchor, target[1])
            if target and target[0] in (None, lang):
                anchors.setdefault(target[1], []).append((anchor, target[2]))
        entries = []
        for item_id, found in anchors.items():
            titled = [anchor for anchor, _ in found if clean_text(_text(anchor))]
            card = holds.card(found[0][0])
            title = clean_text(_text(titled[0])) if titled else _card_title(card, found[0][0])
            entries.append(ListEntry(id=item_id, lang=lang, url=found[0][1], title=title,
                                     list_date=self._card_date(card, title)))
        return entries

    def _card_date(self, card: LexborNode, title: str) -> str | None:
        """An entry's date: a `<time datetime>`, else the first short line with a date that is not
        part of the title (a headline may mention a date)."""
        for node in card.css("time[datetime]"):
            date = dates.parse_timestamp(node.attributes.get("datetime") or "", self.timezone, self.languages)
            if date:
                return date
        for node in card.traverse():
            if title and title in clean_text(node.text()):
                continue
            date = self._date_line(node)
            if date:
                return date
        return None

    def _next_link(self, tree: LexborHTMLParser, lang: str, page_url: str) -> str | None:
        """The absolute address the page links onwards to (rel=next, page n+1, or a "next" arrow), or None."""
        here = _comparable(page_url)
        for node in css(tree, "link[rel~=next][href], a[rel~=next][href]"):
            target = _absolute(page_url, node.attributes.get("href") or "")
            if target and _comparable(target) != here:
                return target
        following = _comparable(self.list_url(lang, self._page_number(page_url, lang) + 1))
        for anchor in tree.css("a[href]"):
            href = (anchor.attributes.get("href") or "").strip()
            target = _absolute(page_url, href)
            if not target or href.startswith(("#", "javascript:")) or _comparable(target) == here or _disabled(anchor):
                continue
            if _comparable(target) == following:
                return target
            if _is_next_label(anchor) and self.parse_release_url(target) is None:
                return target
        return None

    def _on_site(self, url: str | None) -> str | None:
        """`url` when it is on this site's host (a pager never leads the walk off-site), else None."""
        try:
            return url if url and urlsplit(url).netloc == urlsplit(self.base_url).netloc else None
        except ValueError:
            return None

    # --- release pages ---------------------------------------------------------------------
    def parse_item(self, html: str, lang: str, url: str) -> ParsedItem:
        return self.trace_item(html, lang, url)[0]

    def trace_item(self, html: str, lang: str, url: str) -> tuple[ParsedItem, dict[str, str]]:
        """parse_item, and how each field was found: "selectors" (a configured selector), "structure"
        (none configured) or "fallback" (the configured one found nothing; the structure did)."""
        target = self.parse_release_url(url)
        if target is None:
            raise ParseError(f"{url} is not a release address (release_pattern does not match it)")
        _, item_id, address = target
        tree = LexborHTMLParser(html)
        self._note_title(tree, address)
        meta = _meta(tree)
        _remove_chrome(tree)
        title, headline, title_path = self._headline(tree, meta)
        if not title:
            raise ParseError("no headline found (h1, og:title and <title> are all empty)")
        elements = list(tree.body.traverse()) if tree.body else []
        position = _index_of(elements, headline)
        blocks, body_path = self._body(tree, elements, position, headline)
        paragraphs = self._strip_non_body([text for text, _ in blocks], title, item_id)
        if not paragraphs:
            raise ParseError("no body paragraphs found after the headline")
        published, date_path = self._published(tree, elements, position, headline, meta)
        nodes = _unique_nodes(node for _, node in blocks)
        images = _unique(_absolute(address, src) for src in meta.images + [
            img.attributes.get("src") or "" for node in nodes for img in node.css("img")] if src and not src.startswith("data:"))
        links = _unique(
            _absolute(address, href) for node in nodes for a in node.css("a[href]")
            if (href := (a.attributes.get("href") or "").strip()) and not href.startswith(("#", "javascript:")))
        fell_back = "fallback" in (title_path, body_path, date_path)
        item = ParsedItem(id=item_id, lang=lang, url=address, title=title, published=published,
                          paragraphs=paragraphs, images=images, links=[link for link in links if link != address],
                          path="fallback" if fell_back else "selectors")
        configured = {"title": self.generic.item_title, "body": self.generic.item_body, "date": self.generic.item_date}
        found = {"title": title_path, "body": body_path, "date": date_path}
        return item, {key: "structure" if path == "selectors" and not configured[key] else path
                      for key, path in found.items()}

    def _headline(self, tree: LexborHTMLParser, meta: _Meta) -> tuple[str, LexborNode | None, str]:
        """The headline text, its element in the body (if any) and the path that found it."""
        path = "selectors"
        if self.generic.item_title:
            for node in css(tree, self.generic.item_title):
                raw = node.attributes.get("content") if node.tag == "meta" else _text(node)
                title = self.strip_title_suffix(clean_text(raw or ""))
                if title:
                    in_body = node if node.tag not in ("meta", "title") else _element_with_text(tree, title)
                    return title, in_body, "selectors"
            path = "fallback"
        for node in _headings(tree):
            title = self.strip_title_suffix(clean_text(_text(node)))
            if title:
                return title, node, path
        for raw in (meta.og_title, meta.title):
            title = self.strip_title_suffix(clean_text(raw))
            if title:
                return title, _element_with_text(tree, title), path
        return "", None, path

    def strip_title_suffix(self, title: str) -> str:
        """`title` without the site's name at its end: configured, or learned from two pages."""
        for suffix in self.generic.title_suffixes:
            if clean_text(suffix) == title:
                return ""
            for separator in _TITLE_SEPARATORS:
                if title.endswith(separator + clean_text(suffix)):
                    return title[: -len(separator + clean_text(suffix))].strip()
        for separator in _TITLE_SEPARATORS:
            head, found, tail = title.rpartition(separator)
            if found and len(self._suffix_pages.get(tail.strip(), ())) >= 2:
                return head.strip()
        # a headline that is the site's name alone (a logo's h1, a bare <title>) is none
        return "" if len(self._suffix_pages.get(title, ())) >= 2 else title

    def _note_title(self, tree: LexborHTMLParser, url: str) -> None:
        """Remember the tail of this page's <title>: a tail on two pages is the site's name."""
        node = tree.css_first("title")
        title = clean_text(node.text()) if node is not None else ""
        for separator in _TITLE_SEPARATORS:
            _, found, tail = title.rpartition(separator)
            tail = tail.strip()
            if not found or not tail:
                continue
            if tail not in self._suffix_pages and len(self._suffix_pages) >= _MAX_SUFFIXES:
                continue
            pages = self._suffix_pages.setdefault(tail, set())
            if len(pages) < 2:
                pages.add(_without_fragment(url))

    def _body(self, tree: LexborHTMLParser, elements: list[LexborNode], position: int,
              headline: LexborNode | None) -> tuple[list[tuple[str, LexborNode]], str]:
        """The body's blocks (text, the element holding it) and the path that found them."""
        if self.generic.item_body:
            selected = _outermost(css(tree, self.generic.item_body))
            blocks = [block for node in selected for block in _blocks_of(node)]
            if blocks:
                return blocks, "selectors"
            return _longest_run(elements, position, headline), "fallback"
        return _longest_run(elements, position, headline), "selectors"

    def _strip_non_body(self, paragraphs: list[str], title: str, item_id: int) -> list[str]:
        chrome = {clean_text(phrase).casefold() for phrase in self.generic.chrome_phrases}
        kept = []
        for paragraph in (clean_text(p) for p in paragraphs):
            if paragraph and paragraph != title and paragraph.casefold() not in chrome and not self._is_date_line(paragraph):
                kept.append(paragraph)
        while kept and self._cites_itself(kept[-1], item_id):
            kept.pop()
        return kept

    def _cites_itself(self, paragraph: str, item_id: int) -> bool:
        """A closing line that only gives the page's own address ("Source: https://…/4211"), on
        whatever host (a mirror's or the canonical one): the item's url, not body text."""
        match = _CITATION.fullmatch(paragraph)
        if not match:
            return False
        try:
            parts = urlsplit(match["address"])
        except ValueError:
            return False
        candidates = [parts.path, parts.path.rstrip("/")] + ([f"{parts.path}?{parts.query}"] if parts.query else [])
        found = (self._release.fullmatch(candidate) for candidate in candidates)
        return any(m is not None and m.groupdict().get("id") == str(item_id) for m in found)

    def _published(self, tree: LexborHTMLParser, elements: list[LexborNode], position: int,
                   headline: LexborNode | None, meta: _Meta) -> tuple[str | None, str]:
        """The release's date and the path that found it: `<time>`, the meta, then text."""
        path = "selectors"
        if self.generic.item_date:
            for node in css(tree, self.generic.item_date):
                date = self._node_date(node)
                if date:
                    return date, "selectors"
            path = "fallback"
        date = self._nearest(elements, position, headline, self._time_date)
        if date:
            return date, path
        for value in meta.published:
            date = dates.parse_timestamp(value, self.timezone, self.languages)
            if date:
                return date, path
        if headline is not None:
            date = self._adjacent_text_date(headline)
            if date:
                return date, path
        return self._nearest(elements, position, headline, self._date_line), path

    def _adjacent_text_date(self, headline: LexborNode) -> str | None:
        """A date written as bare text right before or after the headline (`22.05.2024<br><h1>`)."""
        for step in ("prev", "next"):
            node = getattr(headline, step)
            while node is not None and (node.tag == "br" or node.tag == "-text" and not (node.text_content or "").strip()):
                node = getattr(node, step)
            if node is not None and node.tag == "-text" and self._is_date_line(node.text_content or ""):
                return dates.parse_date(node.text_content or "", self.languages)
        return None

    def _nearest(self, elements: list[LexborNode], position: int, headline: LexborNode | None,
                 read: Any) -> str | None:
        """The first date `read` finds at the smallest distance from the headline (before it first)."""
        inside = {node.mem_id for node in headline.traverse()} if headline is not None else set()
        if position < 0:
            order: Iterable[int] = range(len(elements))
        else:
            order = (i for d in range(1, _DATE_REACH + 1) for i in (position - d, position + d))
        for index in order:
            if 0 <= index < len(elements) and elements[index].mem_id not in inside:
                date = read(elements[index])
                if date:
                    return date
        return None

    def _time_date(self, node: LexborNode) -> str | None:
        if node.tag != "time" or "datetime" not in node.attributes:
            return None
        return dates.parse_timestamp(node.attributes.get("datetime") or "", self.timezone, self.languages)

    def _node_date(self, node: LexborNode) -> str | None:
        """A selected date element: its datetime/content attribute, else its text."""
        for attribute in ("datetime", "content"):
            value = node.attributes.get(attribute)
            if value:
                date = dates.parse_timestamp(value, self.timezone, self.languages)
                if date:
                    return date
        return dates.parse_date(clean_text(_text(node)), self.languages)

    def _date_line(self, node: LexborNode) -> str | None:
        """The date of an element whose text is a short line holding one."""
        if node.tag in ("-text", "html", "body", "-document") or len(node.text()) > 4 * _DATE_LINE_LENGTH:
            return None
        text = clean_text(_text(node))
        if not text or len(text) > _DATE_LINE_LENGTH:
            return None
        return dates.parse_date(text, self.languages)

    def _is_date_line(self, text: str) -> bool:
        return dates.is_date_only(text, self.languages)


# --- settings checks -----------------------------------------------------------------------------
def _address_problems(settings: GenericSettings) -> list[tuple[str, str]]:
    found = []
    parts = urlsplit(settings.base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        found.append(("base_url", f"{settings.base_url!r} is not an http(s) address with a host"))
    for key, allowed, needed in (("list_url", {"lang", "page"}, {"page"}), ("first_page_url", {"lang"}, set()),
                                 ("item_url", {"lang", "id"}, {"id"})):
        template = getattr(settings, key)
        if key != "list_url" and not template:
            continue
        names = _placeholders(template)
        if names is None:
            found.append((key, f"{template!r} has unbalanced braces"))
        elif names - allowed:
            found.append((key, f"unknown placeholder {{{sorted(names - allowed)[0]}}} (known: "
                               f"{', '.join('{' + n + '}' for n in sorted(allowed))})"))
        elif needed - names:
            found.append((key, f"{template!r} has no {{{sorted(needed - names)[0]}}}"))
    return found


def _pattern_problems(pattern: str) -> list[tuple[str, str]]:
    if not pattern:
        return [("release_pattern", "empty: a release's address must be recognisable")]
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return [("release_pattern", f"not a regular expression: {exc}")]
    if "id" not in compiled.groupindex:
        return [("release_pattern", "has no group (?P<id>...) for the release's number")]
    return []


def _language_problems(languages: tuple[str, ...]) -> list[tuple[str, str]]:
    if not languages:
        return [("languages", "empty: at least one language code is needed")]
    for code in languages:
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            return [("languages", f"{code!r} is not a language code (letters, digits, - and _)")]
    if len(set(languages)) != len(languages):
        return [("languages", "a code is listed twice")]
    return []


def _timezone_problems(name: str) -> list[tuple[str, str]]:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return [("timezone", f"{name!r} is not an IANA time zone (e.g. Asia/Almaty)")]
    return []


def _selector_problems(settings: GenericSettings) -> list[tuple[str, str]]:
    probe = LexborHTMLParser("<html><body><p>x</p></body></html>")
    found = []
    for key in _SELECTOR_KEYS:
        selector = getattr(settings, key)
        if not selector.strip():
            continue
        try:
            probe.css(selector)
        except Exception:  # selectolax raises its own error type for a selector it cannot parse
            found.append((key, f"{selector!r} is not a CSS selector"))
    return found


def _placeholders(template: str) -> set[str] | None:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError:
        return None


# --- page helpers --------------------------------------------------------------------------------
@dataclass
class _Meta:
    """What a release page's <head> says, read before its chrome is removed."""

    title: str = ""
    og_title: str = ""
    images: list[str] = dataclasses.field(default_factory=list)
    published: list[str] = dataclasses.field(default_factory=list)


def _meta(tree: LexborHTMLParser) -> _Meta:
    title = tree.css_first("title")
    og_title = tree.css_first("meta[property='og:title']")
    published = [node.attributes.get("content") or "" for node in css(
        tree, "meta[property='article:published_time'], meta[itemprop='datePublished'], meta[name='pubdate']")]
    return _Meta(
        title=title.text() if title is not None else "",
        og_title=(og_title.attributes.get("content") or "") if og_title is not None else "",
        images=[node.attributes.get("content") or "" for node in tree.css("meta[property='og:image']")],
        published=[value for value in published if value],
    )


def _remove_chrome(tree: LexborHTMLParser) -> None:
    doomed = list(tree.css(_CHROME_TAGS)) + [node for node in tree.css(_FRAME_TAGS) if _is_frame(node)]
    ids = {node.mem_id for node in doomed}
    # a node inside one already removed is freed with it: removing it again would touch freed memory
    for node in [n for n in doomed if not any(a.mem_id in ids for a in _ancestors(n))]:
        node.decompose()


def _is_frame(node: LexborNode) -> bool:
    if node.css_first("h1, article, main") is not None:
        return False
    return not (node.tag in ("header", "footer") and any(a.tag in _CONTENT_TAGS for a in _ancestors(node)))


def _ancestors(node: LexborNode) -> Iterator[LexborNode]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _headings(tree: LexborHTMLParser) -> list[LexborNode]:
    """The h1 elements, those inside an article or main first."""
    found = list(tree.css("h1"))
    return sorted(found, key=lambda node: not any(a.tag in _CONTENT_TAGS for a in _ancestors(node)))


def _element_with_text(tree: LexborHTMLParser, text: str) -> LexborNode | None:
    """The innermost body element whose whole text is `text` (the headline when it has no h1)."""
    if tree.body is None:
        return None
    best = None
    squeezed = _SPACES.sub("", text)
    for element in tree.body.traverse():
        if element.tag not in ("p", "div", "h2", "h3", "span", "strong", "b"):
            continue
        # the fast text first (its lines glued): a page's nested divs would make the exact one quadratic
        if _SPACES.sub("", element.text()) == squeezed and clean_text(_text(element)) == text:
            best = element  # document order: a later match is nested deeper
    return best


def _longest_run(elements: list[LexborNode], position: int, headline: LexborNode | None) -> list[tuple[str, LexborNode]]:
    """After the headline: `<p>` elements that share a parent, or the `<br>`-separated text blocks
    of one container; the group with the most text."""
    groups: dict[int, list[tuple[str, LexborNode]]] = {}
    around_headline = {a.mem_id for a in _ancestors(headline)} if headline is not None else set()
    br_parents: dict[int, LexborNode] = {}
    for element in elements[position + 1:]:
        parent = element.parent
        if parent is None or (headline is not None and parent.mem_id == headline.mem_id):
            continue
        if element.tag == "p":
            text = clean_text(_text(element))
            if text:
                groups.setdefault(parent.mem_id, []).append((text, element))
        elif element.tag == "br":
            br_parents.setdefault(parent.mem_id, parent)
    # a container that also holds the headline counts: its blocks after the headline are the body
    for element in elements[: max(position, 0)]:
        if element.tag == "br" and element.parent is not None and element.parent.mem_id in around_headline:
            br_parents.setdefault(element.parent.mem_id, element.parent)
    for key, container in br_parents.items():
        blocks = _br_blocks(container)
        if len(blocks) >= 2 and sum(len(t) for t, _ in blocks) > sum(len(t) for t, _ in groups.get(key, [])):
            groups[key] = blocks
    if not groups:
        return []
    return max(groups.values(), key=lambda group: sum(len(text) for text, _ in group))


def _outermost(nodes: list[LexborNode]) -> list[LexborNode]:
    """The selected elements not inside another selected one (a selector like "div" nests)."""
    chosen = {node.mem_id for node in nodes}
    return [node for node in nodes if not any(a.mem_id in chosen for a in _ancestors(node))]


def _blocks_of(node: LexborNode) -> list[tuple[str, LexborNode]]:
    """A selected body element as paragraphs: its <p> elements, its <br> blocks, or its text."""
    paragraphs = [(clean_text(_text(p)), p) for p in node.css("p")]
    paragraphs = [(text, p) for text, p in paragraphs if text]
    if paragraphs:
        return paragraphs
    if node.css_first("br") is not None:
        return _br_blocks(node)
    text = clean_text(_text(node))
    return [(text, node)] if text else []


def _br_blocks(container: LexborNode) -> list[tuple[str, LexborNode]]:
    """The text directly inside `container` (and its inline elements), cut at <br>.

    When some break is doubled (`<br><br>`), only doubled breaks end a block and a single one is a
    line break inside it (a date line on its own is still split off); otherwise every <br> ends one.
    """
    pieces = list(_inline_pieces(container))
    marks = [piece for piece in pieces if piece.strip() or piece == "\n"]
    doubled = any(a == b == "\n" for a, b in zip(marks, marks[1:]))
    blocks: list[list[str]] = [[""]]  # blocks of lines
    breaks = 0
    for piece in pieces:
        if piece == "\n":
            breaks += 1
        elif piece == " " and breaks:
            continue  # the white space between two <br> does not join them
        else:
            if piece == "\f" or breaks >= (2 if doubled else 1):
                blocks.append([""])
            elif breaks:
                blocks[-1].append("")
            breaks = 0
            blocks[-1][-1] += piece.replace("\f", "")
    texts = [text for lines in blocks for text in _joined_lines(lines) if text]
    return [(text, container) for text in texts]


def _joined_lines(lines: list[str]) -> list[str]:
    """A block's lines as one paragraph, with a date line at its start or end as its own."""
    cleaned = [line for line in (clean_text(line) for line in lines) if line]
    head = cleaned[:1] if len(cleaned) > 1 and dates.is_date_only(cleaned[0]) else []
    rest = cleaned[len(head):]
    tail = rest[-1:] if len(rest) > 1 and dates.is_date_only(rest[-1]) else []
    middle = rest[: len(rest) - len(tail)]
    return head + ([" ".join(middle)] if middle else []) + tail


def _inline_pieces(container: LexborNode) -> Iterator[str]:
    """Text pieces directly in `container` and its inline elements: "\\n" for a <br>, "\\f" where a
    nested block interrupts, " " for white space alone. A stack, not recursion: markup nests deep."""
    stack = [container.iter(include_text=True)]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
        elif node.tag in _BLOCK_TAGS:
            yield "\f"
        elif node.tag == "br":
            yield "\n"
        elif node.tag == "-text":
            text = node.text_content or ""
            yield text if text.strip() else " " if text else ""
        else:
            stack.append(node.iter(include_text=True))


def _text(node: LexborNode) -> str:
    """An element's text with <br> as a line break (a bare text() would glue the lines)."""
    parts = []
    for child in node.traverse(include_text=True):
        if child.tag == "br":
            parts.append("\n")
        elif child.tag == "-text":
            parts.append(child.text_content or "")
    return "".join(parts)


def _card_title(card: LexborNode, anchor: LexborNode) -> str:
    """A title for an entry whose link has no text: a heading, the link's title, an image's alt."""
    for node in card.css("h1, h2, h3, h4, h5, h6"):
        text = clean_text(_text(node))
        if text:
            return text
    for value in (anchor.attributes.get("title"), *(img.attributes.get("alt") for img in anchor.css("img"))):
        if value and clean_text(value):
            return clean_text(value)
    return ""


class _ReleasesHeld:
    """For each element of a list page, the one release its anchors link to, or "several".

    Filled anchor by anchor, walking up; a walk stops where an earlier one already passed with the
    same release or found several, so a page of n entries costs about n times its depth, not n².
    """

    _SEVERAL = -1

    def __init__(self) -> None:
        self._held: dict[int, int] = {}

    def add(self, anchor: LexborNode, item_id: int) -> None:
        node: LexborNode | None = anchor
        while node is not None:
            held = self._held.get(node.mem_id)
            if held == item_id or held == self._SEVERAL:
                return
            self._held[node.mem_id] = item_id if held is None else self._SEVERAL
            node = node.parent

    def card(self, anchor: LexborNode) -> LexborNode:
        """The largest element around `anchor` that links to no other release: the entry's card."""
        card, parent = anchor, anchor.parent
        while parent is not None and parent.tag not in ("body", "html", "-document"):
            if self._held.get(parent.mem_id) == self._SEVERAL:
                break
            card, parent = parent, parent.parent
        return card


def _is_next_label(anchor: LexborNode) -> bool:
    for label in (_text(anchor), anchor.attributes.get("aria-label") or "", anchor.attributes.get("title") or ""):
        text = clean_text(label).casefold()
        if not text:
            continue
        words = clean_text("".join(" " if ch in _NEXT_ARROWS else ch for ch in text))
        if (not words and any(ch in _NEXT_ARROWS for ch in text)) or words in _NEXT_WORDS:
            return True
    return False


def _disabled(anchor: LexborNode) -> bool:
    if (anchor.attributes.get("aria-disabled") or "").lower() == "true" or "disabled" in anchor.attributes:
        return True
    for node in (anchor, anchor.parent):
        if node is not None and "disabled" in (node.attributes.get("class") or "").split():
            return True
    return False




def _index_of(elements: list[LexborNode], node: LexborNode | None) -> int:
    if node is None:
        return -1
    for index, element in enumerate(elements):
        if element.mem_id == node.mem_id:
            return index
    return -1


def _fill(template: str, **values: str) -> str:
    return template.format_map(values)


def _template_pattern(template: str, lang: str) -> re.Pattern[str]:
    """A regular expression of the addresses a template gives, with the page number as a group."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name == "page":
            parts.append(r"(?P<page>\d+)")
        elif name == "lang":
            parts.append(re.escape(lang))
    return re.compile("".join(parts))


def _absolute(base: str, href: str) -> str | None:
    try:
        return _without_fragment(urljoin(base, href.strip()))
    except ValueError:  # a malformed address ("http://[::1") in the page: left out, not a crash
        return None


def _without_fragment(url: str) -> str:
    try:
        return urlunsplit(urlsplit(url)._replace(fragment=""))
    except ValueError:
        return url


def _comparable(url: str) -> str:
    """An address as compared for "the same page": no fragment, no trailing slash."""
    parts = urlsplit(_without_fragment(url))
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") or "/"))


def _primary(code: str) -> str:
    return re.split(r"[-_]", code.lower())[0]


def _unique(values: Iterable[str | None]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value:
            seen.setdefault(value, None)
    return list(seen)


def _unique_nodes(nodes: Iterable[LexborNode]) -> list[LexborNode]:
    seen: dict[int, LexborNode] = {}
    for node in nodes:
        seen.setdefault(node.mem_id, node)
    return list(seen.values())
