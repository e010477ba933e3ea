"""A frozen copy of crawler/sources/presidentuz.py as of commit 1a440e9, before the parse was made
bounded and fast: tests/test_parse_equivalence.py checks that the new parse extracts exactly what
this one did. Do not edit (only this docstring differs from the original).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.model import ListEntry, ListPage, ParsedItem, ParseError
from crawler.normalize import clean_paragraphs, clean_text
from crawler.sources.base import Source, SourceSettings

NAME = "president.uz"
TASHKENT = dt.timezone(dt.timedelta(hours=5), "Asia/Tashkent")
_LIST_DATE = re.compile(r"\b(\d{2})-(\d{2})-(\d{4})\b")
_ITEM_DATE = re.compile(r"\b(\d{2})\.(\d{2})\.(\d{4})\b")
# Markup that is never part of a release.
_CHROME_TAGS = "script, style, noscript, template, header, footer, nav, form, iframe"
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TITLE_SEPARATORS = (" - ", " | ", " — ", " – ", " :: ")
# How far from the headline (in elements) the date line may stand.
_DATE_REACH = 12
# SITE.md: "a date follows it within a few hundred characters".
_LIST_DATE_REACH = 600
# The store keys releases by a SQLite INTEGER (64-bit); a larger "id" in an anchor is no release.
_MAX_ID = 2**63 - 1


class PresidentUz(Source):
    """Addresses and parsers for president.uz, driven by the [source] and [selectors] config."""

    kind = "presidentuz"
    supported_languages = ("uz", "oz", "ru", "en")
    language_names = {"uz": "Ўзбекча", "oz": "O'zbekcha", "ru": "Русский", "en": "English"}
    language_tags = {"uz": "uz-Cyrl", "oz": "uz-Latn", "ru": "ru", "en": "en"}
    timezone = TASHKENT
    # alerts go to readers abroad: English, then Russian, then Uzbek in Latin letters
    headline_preference = ("en", "ru", "oz", "uz")
    # the [source] defaults crawler.config offers for this site
    defaults = {
        "base_url": "https://president.uz",
        "languages_doc": "uz = Uzbek (Cyrillic), oz = Uzbek (Latin), ru = Russian, en = English",
        "list_path": "/{lang}/lists/news",
        "item_path": "/{lang}/lists/view/{id}",
    }
    # the [selectors] defaults: what docs/SITE.md records of the markup
    selector_defaults = {
        "list_item": "div.events_box",
        "list_link": "a.events_title",
        "list_date": "div.date_text",
        "item_title": ("h1", "meta[property='og:title']", "title"),
        "item_body": "",
        "title_suffixes": (
            "Official website of the President of the Republic of Uzbekistan",
            "Official web-site of the President of Uzbekistan",
            "Ўзбекистон Республикаси Президентининг расмий веб-сайти",
            "O'zbekiston Respublikasi Prezidentining rasmiy veb-sayti",
            "Официальный веб-сайт Президента Республики Узбекистан",
            "Официальный сайт Президента Республики Узбекистан",
        ),
        "chrome_phrases": (
            "Official web-site of the President of Uzbekistan",
            "Official website of the President of the Republic of Uzbekistan",
            "Official pages in social networks",
            "Search on site",
            "Font size",
            "Ўзбекистон Республикаси Президентининг расмий веб-сайти",
            "Ижтимоий тармоқлардаги расмий саҳифалар",
            "Сайт бўйича қидириш",
            "Шрифт ўлчами",
            "O'zbekiston Respublikasi Prezidentining rasmiy veb-sayti",
            "Ijtimoiy tarmoqlardagi rasmiy sahifalar",
            "Sayt bo'yicha qidirish",
            "Shrift o'lchami",
            "Официальный веб-сайт Президента Республики Узбекистан",
            "Официальные страницы в социальных сетях",
            "Поиск по сайту",
            "Размер шрифта",
        ),
        "source_labels": ("Манба", "Manba", "Источник", "Source"),
    }

    def __init__(self, source: SourceSettings, selectors: Any, name: str = "") -> None:
        super().__init__(source, name or NAME)
        self.source = source
        self.selectors = selectors
        self._item_path = re.compile(
            re.escape(source.item_path).replace(r"\{lang\}", r"(?P<lang>[a-z]{2})").replace(r"\{id\}", r"(?P<id>\d+)")
            + r"/?$"
        )

    @property
    def display_name(self) -> str:
        return f"President of Uzbekistan ({self.name})"

    def parse_date(self, text: str) -> str | None:
        """`DD.MM.YYYY` (release pages) or `DD-MM-YYYY` (list pages) → ISO date, or None."""
        return parse_item_date(text) or parse_list_date(text)

    # --- addresses -------------------------------------------------------------------------
    def list_url(self, lang: str, page: int = 1) -> str:
        url = self.base_url + self.source.list_path.format(lang=lang)
        if page > 1:
            url += ("&" if "?" in url else "?") + f"page={page}"
        return url

    def item_url(self, lang: str, item_id: int) -> str:
        return self.base_url + self.source.item_path.format(lang=lang, id=item_id)

    def release_key(self, url: str) -> tuple[int, str] | None:
        # Not part of the extraction this copy freezes: the Source interface asks for it since.
        target = self.parse_item_url(url)
        return (target[1], target[0]) if target else None

    def parse_item_url(self, href: str, page_url: str | None = None) -> tuple[str, int] | None:
        """(lang, id) when `href` points to a release on this site, else None."""
        try:
            absolute = urljoin(page_url or self.base_url + "/", href.strip())
            parts = urlsplit(absolute)
            if parts.hostname != urlsplit(self.base_url).hostname:
                return None
        except ValueError:  # a malformed href ("http://[::1") is no release of ours, not a crash
            return None
        match = self._item_path.match(parts.path)
        if not match or int(match["id"]) > _MAX_ID:
            return None
        return match["lang"], int(match["id"])

    # --- list pages ------------------------------------------------------------------------
    def parse_list(self, html: str, lang: str, page_url: str) -> ListPage:
        tree = LexborHTMLParser(html)
        entries = self._list_by_selectors(tree, lang, page_url)
        path = "selectors"
        if not entries:
            entries = self._list_by_structure(html, tree, lang, page_url)
            path = "fallback" if entries else "empty"
        has_next = any(
            re.search(r"[?&]page=(\d+)", a.attributes.get("href") or "")
            and int(re.search(r"[?&]page=(\d+)", a.attributes["href"]).group(1)) > _page_number(page_url)
            for a in tree.css("a[href]")
        )
        return ListPage(entries=entries, path=path, next_page=has_next)

    def _list_by_selectors(self, tree: LexborHTMLParser, lang: str, page_url: str) -> list[ListEntry]:
        sel = self.selectors
        entries: dict[int, ListEntry] = {}
        for box in _css(tree, sel.list_item):
            link = _css_first(box, sel.list_link)
            target = self.parse_item_url(link.attributes.get("href") or "", page_url) if link else None
            if not target or target[0] != lang:
                continue
            date_node = _css_first(box, sel.list_date)
            entries.setdefault(
                target[1],
                ListEntry(
                    id=target[1],
                    lang=lang,
                    url=self.item_url(lang, target[1]),
                    title=clean_text(link.text()),
                    list_date=parse_list_date(date_node.text()) if date_node else None,
                ),
            )
        return list(entries.values())

    def _list_by_structure(self, html: str, tree: LexborHTMLParser, lang: str, page_url: str) -> list[ListEntry]:
        """Anchors to releases, merged by id (the thumbnail's anchor has no text), nearest date after."""
        titles: dict[int, str] = {}
        for anchor in tree.css("a[href]"):
            target = self.parse_item_url(anchor.attributes.get("href") or "", page_url)
            if not target or target[0] != lang:
                continue
            text = clean_text(anchor.text())
            if text or target[1] not in titles:
                titles[target[1]] = titles.get(target[1]) or text
        entries = []
        for item_id, title in titles.items():
            entries.append(
                ListEntry(
                    id=item_id,
                    lang=lang,
                    url=self.item_url(lang, item_id),
                    title=title,
                    list_date=_date_after_link(html, item_id),
                )
            )
        return entries

    # --- release pages ---------------------------------------------------------------------
    def parse_item(self, html: str, lang: str, url: str) -> ParsedItem:
        target = self.parse_item_url(url)
        if target is None:
            raise ParseError(f"{url} is not a release address")
        item_id = target[1]
        tree = LexborHTMLParser(_BR.sub("\n", html))
        og_images = [m.attributes.get("content") or "" for m in tree.css("meta[property='og:image']")]
        for node in tree.css(_CHROME_TAGS):
            node.decompose()
        title, headline, title_path = self._headline(tree)
        if not title:
            raise ParseError("no headline found (h1, og:title and <title> are all empty)")
        elements = list(tree.body.traverse()) if tree.body else []
        position = _index_of(elements, headline)

        paragraphs_nodes: list[LexborNode] = []
        body_path = "selectors"
        if self.selectors.item_body:
            paragraphs_nodes = [n for n in _css(tree, self.selectors.item_body) if clean_text(n.text())]
            if not paragraphs_nodes:
                body_path = "fallback"
        if not paragraphs_nodes:
            paragraphs_nodes = _largest_paragraph_run(elements, position, headline)

        paragraphs = self._strip_non_body(clean_paragraphs([n.text() for n in paragraphs_nodes]), title, lang, url)
        if not paragraphs:
            raise ParseError("no body paragraphs found after the headline")

        published = _date_near(elements, position)
        container = paragraphs_nodes[0].parent if paragraphs_nodes else None
        images = _unique(
            _absolute(url, src)
            for src in og_images + [img.attributes.get("src") or "" for img in (container.css("img") if container else [])]
            if "/uploads/" in src
        )
        links = _unique(
            _absolute(url, a.attributes.get("href") or "")
            for node in paragraphs_nodes
            for a in node.css("a[href]")
            if (a.attributes.get("href") or "").strip() and not (a.attributes.get("href") or "").startswith(("#", "javascript:"))
        )
        links = [link for link in links if self.parse_item_url(link) != (lang, item_id)]
        path = "selectors" if title_path == "selectors" and body_path == "selectors" else "fallback"
        return ParsedItem(
            id=item_id,
            lang=lang,
            url=self.item_url(lang, item_id),
            title=title,
            published=published,
            paragraphs=paragraphs,
            images=images,
            links=links,
            path=path,
        )

    def _headline(self, tree: LexborHTMLParser) -> tuple[str, LexborNode | None, str]:
        """The headline text, its element in the body (if any) and the path that found it."""
        for rank, selector in enumerate(self.selectors.item_title):
            for node in _css(tree, selector):
                raw = node.attributes.get("content") if node.tag == "meta" else node.text()
                title = self.strip_title_suffix(clean_text(raw or ""))
                if not title:
                    continue
                in_body = node if node.tag not in ("meta", "title") else _element_with_text(tree, title)
                return title, in_body, "selectors" if rank == 0 else "fallback"
        return "", None, "fallback"

    def strip_title_suffix(self, title: str) -> str:
        for suffix in self.selectors.title_suffixes:
            for separator in _TITLE_SEPARATORS:
                if title.endswith(separator + suffix):
                    return title[: -len(separator + suffix)].strip()
            if title == suffix:
                return ""
        return title

    def _strip_non_body(self, paragraphs: list[str], title: str, lang: str, url: str) -> list[str]:
        chrome = {clean_text(p).casefold() for p in self.selectors.chrome_phrases}
        kept = [
            p
            for p in paragraphs
            if p.casefold() not in chrome and p != title and not is_date_line(p)
        ]
        # The closing source line ("Манба: https://president.uz/uz/lists/view/5782") cites the page
        # itself: it is the item's url, not body text.
        while kept and self._is_source_line(kept[-1]):
            kept.pop()
        return kept

    def _is_source_line(self, text: str) -> bool:
        labels = "|".join(re.escape(label) for label in self.selectors.source_labels)
        match = re.fullmatch(rf"(?:(?:{labels})\s*[:：]?\s*)?(https?://\S+)?", text, flags=re.IGNORECASE)
        if not match or not text.strip():
            return False
        address = match.group(1)
        # The address cites a release page; its host may be a mirror's or the canonical one.
        return address is None or self._item_path.match(urlsplit(address).path) is not None


# --- helpers ---------------------------------------------------------------------------------
def _css(tree: LexborHTMLParser | LexborNode, selector: str) -> list[LexborNode]:
    if not selector.strip():
        return []
    try:
        return list(tree.css(selector))
    except Exception:  # selectolax raises its own error type for a selector it cannot parse
        return []


def _css_first(node: LexborNode, selector: str) -> LexborNode | None:
    found = _css(node, selector)
    return found[0] if found else None


def _page_number(url: str) -> int:
    match = re.search(r"[?&]page=(\d+)", url)
    return int(match.group(1)) if match else 1


def _date_after_link(html: str, item_id: int) -> str | None:
    positions = [m.end() for m in re.finditer(rf"/lists/view/{item_id}(?!\d)", html)]
    for position in reversed(positions):
        window = re.sub(r"<[^>]*>", " ", html[position : position + _LIST_DATE_REACH])
        date = parse_list_date(window)
        if date:
            return date
    return None


def _index_of(elements: list[LexborNode], node: LexborNode | None) -> int:
    if node is None:
        return -1
    for index, element in enumerate(elements):
        if element.mem_id == node.mem_id:
            return index
    return -1


def _element_with_text(tree: LexborHTMLParser, text: str) -> LexborNode | None:
    """The innermost body element whose whole text is `text` (the headline when it has no h1)."""
    if tree.body is None:
        return None
    best = None
    for element in tree.body.traverse():
        if element.tag in ("p", "div", "h1", "h2", "h3", "span", "strong", "b") and clean_text(element.text()) == text:
            best = element  # document order: a later match is nested deeper
    return best


def _largest_paragraph_run(elements: list[LexborNode], start: int, headline: LexborNode | None) -> list[LexborNode]:
    """The <p> elements after the headline that share a parent, the group with the most text."""
    groups: dict[int, list[LexborNode]] = {}
    for element in elements[start + 1 :]:
        if element.tag != "p" or not clean_text(element.text()):
            continue
        parent = element.parent
        if parent is None or (headline is not None and parent.mem_id == headline.mem_id):
            continue
        groups.setdefault(parent.mem_id, []).append(element)
    if not groups:
        return []
    return max(groups.values(), key=lambda nodes: sum(len(n.text()) for n in nodes))


def _date_near(elements: list[LexborNode], position: int) -> str | None:
    """The DD.MM.YYYY line nearest the headline: before it (7 pages in 10) or after it."""
    if position < 0:
        candidates = [e for e in elements if _own_date(e)]
        return parse_item_date(candidates[0].text()) if candidates else None
    for distance in range(1, _DATE_REACH + 1):
        for index in (position - distance, position + distance):
            if 0 <= index < len(elements) and _own_date(elements[index]):
                return parse_item_date(elements[index].text())
    return None


def _own_date(element: LexborNode) -> bool:
    text = element.text()
    return len(text) < 40 and is_date_line(text)


def _to_date(day: str, month: str, year: str) -> dt.date | None:
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def parse_list_date(text: str) -> str | None:
    """`DD-MM-YYYY` (list pages) → ISO date, or None."""
    match = _LIST_DATE.search(text)
    date = _to_date(*match.groups()) if match else None
    return date.isoformat() if date else None


def parse_item_date(text: str) -> str | None:
    """`DD.MM.YYYY` (release pages) → ISO date, or None."""
    match = _ITEM_DATE.search(text)
    date = _to_date(*match.groups()) if match else None
    return date.isoformat() if date else None


def is_date_line(text: str) -> bool:
    """A line that is a release date and nothing else (SITE.md: a separate DD.MM.YYYY line)."""
    return bool(re.fullmatch(r"\s*\d{2}\.\d{2}\.\d{4}\s*", text)) and parse_item_date(text) is not None


def _absolute(base: str, href: str) -> str | None:
    try:
        return urljoin(base, href)
    except ValueError:  # a malformed address ("http://[::1") in the page: left out, not a crash
        return None


def _unique(values) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value is not None:
            seen.setdefault(value, None)
    return list(seen)
