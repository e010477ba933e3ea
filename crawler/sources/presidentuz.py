"""The president.uz adapter: every site-specific address and markup rule lives here.

What is known about the site, and how sure, is in docs/SITE.md, with the assumptions this module
makes. The parser tries the configured selectors first and falls back to the page's structure when they find nothing; every parse says which path it used, so a layout change
shows up in `crawl_runs` and in `presswatch status` instead of as silence.

The work per page is bounded (BENCHMARKS.md, "Hostile pages"): markup nested deeper than
`MAX_DEPTH` is flattened before lexbor sees it (the parser's cost grows with depth × elements), no
step walks every element of the page in Python or asks an element for its text once per ancestor,
and a parse that still runs past its time budget raises ParseError, so the page is recorded as a
parse failure instead of holding up the crawl.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.model import ListEntry, ListPage, ParsedItem, ParseError
from crawler.normalize import clean_text
from crawler.sources.base import Source, SourceSettings
from crawler.sources.markup import css, css_first

NAME = "president.uz"
TASHKENT = dt.timezone(dt.timedelta(hours=5), "Asia/Tashkent")
_LIST_DATE = re.compile(r"\b(\d{2})-(\d{2})-(\d{4})\b")
_ITEM_DATE = re.compile(r"\b(\d{2})\.(\d{2})\.(\d{4})\b")
# Markup that is never part of a release.
_CHROME_TAGS = "script, style, noscript, template, header, footer, nav, form, iframe"
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_DATE_LINE = re.compile(r"\s*\d{2}\.\d{2}\.\d{4}\s*")
_PAGE_PARAM = re.compile(r"[?&]page=(\d+)")
_RELEASE_PATH = re.compile(r"/lists/view/(\d+)")
# Elements whose whole text may be the headline when the page has no h1.
_HEADLINE_TAGS = frozenset(("p", "div", "h1", "h2", "h3", "span", "strong", "b"))
# An attribute the parse sets on the headline to find the <p> after it in one selector query.
_HEADLINE_MARK = "data-presswatch-headline"
# Deeper markup is flattened (browsers stop nesting at 512; real pages stay under 40).
MAX_DEPTH = 256
# Below this many "<" the markup cannot nest deep enough to cost anything; it is not scanned.
_DEPTH_SCAN_FROM = 2000
# Seconds one page may take to parse before it counts as a parse failure.
PARSE_BUDGET = 5.0
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

    def __init__(self, source: SourceSettings, selectors: Any, name: str = "", parse_budget: float = PARSE_BUDGET) -> None:
        super().__init__(source, name or NAME)
        self.source = source
        self.selectors = selectors
        self.parse_budget = parse_budget
        self._phrases: tuple[Any, frozenset[str], re.Pattern[str], tuple[str, ...]] | None = None
        self._hostname = urlsplit(self.base_url).hostname
        # An address that starts so and goes on plainly is on this site as it is written.
        plain_base = re.fullmatch(r"https?://[A-Za-z0-9.-]+(?::\d+)?", self.base_url)
        self._site_prefix = self.base_url + "/" if plain_base else ""
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

    def parse_item_url(self, href: str, page_url: str | None = None) -> tuple[str, int] | None:
        """(lang, id) when `href` points to a release on this site, else None."""
        href = href.strip()
        if self._site_prefix and href.startswith(self._site_prefix) and _PLAIN_PATH.fullmatch(href, len(self.base_url)):
            # what urljoin and urlsplit below make of it, without them: on this site, that path
            return self._release_at(href[len(self.base_url) :])
        try:
            absolute = urljoin(page_url or self.base_url + "/", href)
            parts = urlsplit(absolute)
            if parts.hostname != self._hostname:
                return None
        except ValueError:  # a malformed href ("http://[::1") is no release of ours, not a crash
            return None
        return self._release_at(parts.path)

    def _release_at(self, path: str) -> tuple[str, int] | None:
        match = self._item_path.match(path)
        if not match or int(match["id"]) > _MAX_ID:
            return None
        return match["lang"], int(match["id"])

    def release_key(self, url: str) -> tuple[int, str] | None:
        target = self.parse_item_url(url)
        return (target[1], target[0]) if target else None

    # --- list pages ------------------------------------------------------------------------
    def parse_list(self, html: str, lang: str, page_url: str) -> ListPage:
        budget = _Budget(self.parse_budget)
        tree = LexborHTMLParser(bounded_markup(html))
        budget.check()
        anchors = tree.css("a[href]")
        entries = self._list_by_selectors(tree, lang, page_url, budget)
        path = "selectors"
        if not entries:
            entries = self._list_by_structure(html, anchors, lang, page_url, budget)
            path = "fallback" if entries else "empty"
        return ListPage(entries=entries, path=path, next_page=_links_past(anchors, _page_number(page_url)))

    def _list_by_selectors(
        self, tree: LexborHTMLParser, lang: str, page_url: str, budget: _Budget
    ) -> list[ListEntry]:
        sel = self.selectors
        entries: dict[int, ListEntry] = {}
        for box in css(tree, sel.list_item):
            budget.check()
            link = css_first(box, sel.list_link)
            target = self.parse_item_url(link.attributes.get("href") or "", page_url) if link else None
            if not target or target[0] != lang:
                continue
            date_node = css_first(box, sel.list_date)
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

    def _list_by_structure(
        self, html: str, anchors: list[LexborNode], lang: str, page_url: str, budget: _Budget
    ) -> list[ListEntry]:
        """Anchors to releases, merged by id (the thumbnail's anchor has no text), nearest date after."""
        titles: dict[int, str] = {}
        for anchor in anchors:
            budget.check()
            target = self.parse_item_url(anchor.attributes.get("href") or "", page_url)
            if not target or target[0] != lang:
                continue
            text = clean_text(anchor.text())
            if text or target[1] not in titles:
                titles[target[1]] = titles.get(target[1]) or text
        dates = _DatesAfterLinks(html, budget) if titles else None
        entries = []
        for item_id, title in titles.items():
            entries.append(
                ListEntry(
                    id=item_id,
                    lang=lang,
                    url=self.item_url(lang, item_id),
                    title=title,
                    list_date=dates.after(item_id) if dates else None,
                )
            )
        return entries

    # --- release pages ---------------------------------------------------------------------
    def parse_item(self, html: str, lang: str, url: str) -> ParsedItem:
        target = self.parse_item_url(url)
        if target is None:
            raise ParseError(f"{url} is not a release address")
        item_id = target[1]
        budget = _Budget(self.parse_budget)
        tree = LexborHTMLParser(bounded_markup(_BR.sub("\n", html)))
        budget.check()
        og_images = [m.attributes.get("content") or "" for m in tree.css("meta[property='og:image']")]
        for node in tree.css(_CHROME_TAGS):
            node.decompose()
        page = _Page(tree, budget)
        title, headline, title_path = self._headline(page)
        if not title:
            raise ParseError("no headline found (h1, og:title and <title> are all empty)")
        body = tree.body
        in_body = _within(headline, body)

        run, body_path = self._body_run(tree, body, headline, in_body, budget)
        paragraphs = self._strip_non_body([cleaned for _, cleaned in run], title, lang, url)
        if not paragraphs:
            raise ParseError("no body paragraphs found after the headline")

        published = _date_near(page, headline, in_body)
        paragraphs_nodes = [node for node, _ in run]
        container = paragraphs_nodes[0].parent
        images = _unique(
            _absolute(url, src)
            for src in og_images + [img.attributes.get("src") or "" for img in (container.css("img") if container else [])]
            if "/uploads/" in src
        )
        links = _unique(
            _absolute(url, href)
            for href in _hrefs_in(paragraphs_nodes, container)
            if href.strip() and not href.startswith(("#", "javascript:"))
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

    def _body_run(
        self, tree: LexborHTMLParser, body: LexborNode | None, headline: LexborNode | None, in_body: bool,
        budget: _Budget,
    ) -> tuple[list[tuple[LexborNode, str]], str]:
        """The body's paragraphs as (element, clean text): the configured selector's, else the
        largest run of <p> after the headline; and the path that found them."""
        if not self.selectors.item_body:
            return _largest_paragraph_run(body, headline, in_body, budget), "selectors"
        run = []
        for node in css(tree, self.selectors.item_body):
            budget.check()
            cleaned = clean_text(node.text())
            if cleaned:
                run.append((node, cleaned))
        if run:
            return run, "selectors"
        return _largest_paragraph_run(body, headline, in_body, budget), "fallback"

    def _headline(self, page: _Page) -> tuple[str, LexborNode | None, str]:
        """The headline text, its element in the body (if any) and the path that found it."""
        for rank, selector in enumerate(self.selectors.item_title):
            for node in css(page.tree, selector):
                raw = node.attributes.get("content") if node.tag == "meta" else node.text()
                title = self.strip_title_suffix(clean_text(raw or ""))
                if not title:
                    continue
                in_body = node if node.tag not in ("meta", "title") else _element_with_text(page, title)
                return title, in_body, "selectors" if rank == 0 else "fallback"
        return "", None, "fallback"

    def strip_title_suffix(self, title: str) -> str:
        endings = self._configured_phrases()[2]
        if not title.endswith(endings):  # neither a suffix nor the site's name alone
            return title
        for suffix in self.selectors.title_suffixes:
            for separator in _TITLE_SEPARATORS:
                if title.endswith(separator + suffix):
                    return title[: -len(separator + suffix)].strip()
            if title == suffix:
                return ""
        return title

    def _strip_non_body(self, paragraphs: list[str], title: str, lang: str, url: str) -> list[str]:
        chrome = self._configured_phrases()[0]
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

    def _configured_phrases(self) -> tuple[frozenset[str], re.Pattern[str], tuple[str, ...]]:
        """The chrome phrases, folded, the source line pattern and the endings of a title with the
        site's name: made once per selectors."""
        if self._phrases is None or self._phrases[0] is not self.selectors:
            chrome = frozenset(clean_text(p).casefold() for p in self.selectors.chrome_phrases)
            labels = "|".join(re.escape(label) for label in self.selectors.source_labels)
            source_line = re.compile(rf"(?:(?:{labels})\s*[:：]?\s*)?(https?://\S+)?", flags=re.IGNORECASE)
            suffixes = tuple(self.selectors.title_suffixes)
            endings = tuple(separator + suffix for suffix in suffixes for separator in _TITLE_SEPARATORS) + suffixes
            self._phrases = (self.selectors, chrome, source_line, endings)
        return self._phrases[1], self._phrases[2], self._phrases[3]

    def _is_source_line(self, text: str) -> bool:
        source_line = self._configured_phrases()[1]
        match = source_line.fullmatch(text)
        if not match or not text.strip():
            return False
        address = match.group(1)
        # The address cites a release page; its host may be a mirror's or the canonical one.
        return address is None or self._item_path.match(urlsplit(address).path) is not None


# --- bounded work ----------------------------------------------------------------------------
class _Budget:
    """The time one parse may take: past it the page is a parse failure, not a stuck crawl."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.thread_time() + seconds

    def check(self) -> None:
        if time.thread_time() >= self.deadline:
            raise ParseError(f"parsing took longer than its budget of {self.seconds:g} s; page left unparsed")


# A tag as the nesting bound sees it: end tag?, name, the rest up to ">" (a "<" ends it early, so a
# stray "<" never makes the scan look ahead twice).
_TAG = re.compile(r"<(/?)([A-Za-z][^\s/<>]*)([^<>]*)>?")
# Elements that add no depth: those without an end tag, and those a new one of their kind (or its
# container's end) closes.
_FLAT_ELEMENTS = frozenset(
    "area base br col embed hr img input link meta param source track wbr keygen basefont bgsound frame image"
    " p li dt dd option tr td th thead tbody tfoot html head body".split()
)
# Kept past the limit, where they add no depth of their own (a new one closes the open one): the
# headline and links of a page that nests too deep still read as such.
_KEPT_PAST_LIMIT = frozenset("h1 h2 h3 h4 h5 h6 a".split())


class _NestingBound:
    """Counts open elements tag by tag (an end tag closes only a name that is open) and drops the
    tags that would open one past the limit, with their end tags: their text stays, in the
    element at the limit. A model of the parser's stack, not the parser: it can only count more
    depth than lexbor builds, except for the flat elements, which never nest on their own."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.depth = 0
        self.open: dict[str, int] = {}
        self.dropped: dict[str, int] = {}
        self.unwrapped = 0

    def __call__(self, match: re.Match[str]) -> str:
        name = match[2].lower()
        if name in _FLAT_ELEMENTS:
            return match[0]
        if match[1]:
            return self._end(name, match[0])
        if match[3].endswith("/") and (self.open.get("svg") or self.open.get("math")):
            return match[0]  # self-closing, in SVG or MathML only
        if self.depth >= self.limit:
            if name in _KEPT_PAST_LIMIT:
                return match[0]
            self.dropped[name] = self.dropped.get(name, 0) + 1
            self.unwrapped += 1
            return ""
        self.open[name] = self.open.get(name, 0) + 1
        self.depth += 1
        return match[0]

    def drops_any(self, html: str) -> bool:
        """Whether a tag of `html` would be dropped."""
        for match in _TAG.finditer(html):
            self(match)
            if self.unwrapped:
                return True
        return False

    def _end(self, name: str, tag: str) -> str:
        if self.dropped.get(name):
            self.dropped[name] -= 1
            return ""
        if self.open.get(name):
            self.open[name] -= 1
            self.depth -= 1
        return tag


def bounded_markup(html: str) -> str:
    """`html` itself, or, when it nests elements deeper than MAX_DEPTH, with the tags past that
    depth left out (their text kept): lexbor's tree building costs depth × elements."""
    if html.count("<") < _DEPTH_SCAN_FROM:
        return html
    lowered = html.encode("utf-8", "ignore").lower()
    if b"<svg" in lowered or b"<math" in lowered:  # "/>" closes an element there: the full count
        too_deep = _NestingBound(MAX_DEPTH).drops_any(html)
    else:
        too_deep = _too_deep(lowered)
    if not too_deep:
        return html
    bound = _NestingBound(MAX_DEPTH)
    flattened = _TAG.sub(bound, html)
    return flattened if bound.unwrapped else html


# The tags _NestingBound counts, in markup as lowercased bytes: the regex engine skips the flat ones.
_COUNTED_TAG = re.compile(rb"<(/?)(?!(?:%s)[\s/>])([a-z][^\s/<>]*)" % "|".join(sorted(_FLAT_ELEMENTS)).encode())


def _too_deep(lowered: bytes) -> bool:
    """Whether _NestingBound would drop a tag of markup without SVG or MathML: the same count,
    in bytes and without rewriting anything."""
    depth = 0
    open_by_name: dict[bytes, int] = {}
    for slash, name in _COUNTED_TAG.findall(lowered):
        if slash:
            if open_by_name.get(name):
                open_by_name[name] -= 1
                depth -= 1
        elif depth >= MAX_DEPTH:
            return True
        else:
            open_by_name[name] = open_by_name.get(name, 0) + 1
            depth += 1
    return False


# Characters clean_text() may drop or fold away: white space (what re's \s matches) and the
# invisible marks crawler.normalize removes. What is left, the "core", NFC shrinks at most
# fourfold (no character decomposes canonically into more than 4; a test checks this).
_NOT_CORE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u200b\u200c\u200d\u2060\ufeff\u00ad"
)
_NOT_CORE_CHARS = re.compile(f"[{_NOT_CORE}]")
_CORE_CHAR = re.compile(f"[^{_NOT_CORE}]")
_NFC_SHRINK = 4


class _TextIndex:
    """The text of every element under `root`, each a slice of the root's text, from one walk of
    the tree: asking each element for its text walks its subtree again, once per ancestor."""

    def __init__(self, root: LexborNode, budget: _Budget) -> None:
        pieces: list[str] = []
        self.nodes: list[LexborNode] = []
        self.spans: list[list[int]] = []  # start, end, core chars before start, core chars before end
        offset = core = 0
        open_elements: list[tuple[int, list[int]]] = []
        for count, node in enumerate(root.traverse(include_text=True)):
            if not count & 1023:
                budget.check()
            parent = node.parent
            parent_id = parent.mem_id if parent is not None else None
            while open_elements and open_elements[-1][0] != parent_id:
                _, span = open_elements.pop()
                span[1], span[3] = offset, core
            if node.is_text_node:
                text = node.text()
                pieces.append(text)
                offset += len(text)
                core += len(_NOT_CORE_CHARS.sub("", text))
            else:
                span = [offset, offset, core, core]
                self.nodes.append(node)
                self.spans.append(span)
                open_elements.append((node.mem_id, span))
        for _, span in open_elements:
            span[1], span[3] = offset, core
        self.text = "".join(pieces)

    def first_date_line(self) -> str | None:
        """The date of the first element, in document order, whose whole text is a date line."""
        for start, end, _, _ in self.spans:
            if end - start < 40 and is_date_line(self.text[start:end]):
                return parse_item_date(self.text[start:end])
        return None

    def last_with_text(self, text: str, tags: frozenset[str]) -> LexborNode | None:
        """The last element, in document order, of one of `tags` whose clean text is `text`."""
        most = _NFC_SHRINK * len(_NOT_CORE_CHARS.sub("", text))
        for node, (start, end, core_start, core_end) in zip(reversed(self.nodes), reversed(self.spans)):
            if core_end - core_start <= most and node.tag in tags and clean_text(self.text[start:end]) == text:
                return node
        return None


class _Page:
    """One release page being parsed: its tree, its budget, and the text index when needed."""

    def __init__(self, tree: LexborHTMLParser, budget: _Budget) -> None:
        self.tree = tree
        self.body = tree.body
        self.budget = budget
        self._texts: _TextIndex | None = None

    @property
    def texts(self) -> _TextIndex:
        if self._texts is None:
            self._texts = _TextIndex(self.body, self.budget)
        return self._texts


# --- helpers ---------------------------------------------------------------------------------
# A path urljoin and urlsplit take as it is: no query, fragment, parameters or white space.
_PLAIN_PATH = re.compile(r"(?:/[A-Za-z0-9._~%!$&'()*+,=:@-]*)+")
# An absolute address urljoin returns as it is, whatever the base.
_PLAIN_ADDRESS = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._~%!$&'()*+,=:@-]*)*")




def _page_number(url: str) -> int:
    match = re.search(r"[?&]page=(\d+)", url)
    return int(match.group(1)) if match else 1


def _hrefs_in(paragraphs: list[LexborNode], container: LexborNode | None) -> list[str]:
    """The href of every anchor in `paragraphs` (siblings under `container`), in document order:
    one query of the container, each anchor kept when its paragraph is one of them."""
    container_id = container.mem_id if container is not None else None
    if container is None or any(_parent_id(node) != container_id for node in paragraphs):
        return [a.attributes.get("href") or "" for node in paragraphs for a in node.css("a[href]")]
    wanted = {node.mem_id for node in paragraphs}
    hrefs = []
    for anchor in container.css("a[href]"):
        node = anchor
        while node is not None and node.mem_id not in wanted and node.mem_id != container_id:
            node = node.parent
        if node is not None and node.mem_id in wanted:
            hrefs.append(anchor.attributes.get("href") or "")
    return hrefs


def _parent_id(node: LexborNode) -> int | None:
    parent = node.parent
    return parent.mem_id if parent is not None else None


def _links_past(anchors: list[LexborNode], page: int) -> bool:
    """Whether any anchor points to a list page after `page`."""
    for anchor in anchors:
        match = _PAGE_PARAM.search(anchor.attributes.get("href") or "")
        if match and int(match.group(1)) > page:
            return True
    return False


class _DatesAfterLinks:
    """The list date after each release address in a page's markup, by release id: the page is
    scanned for addresses once, not once per release."""

    def __init__(self, html: str, budget: _Budget) -> None:
        self.html = html
        self.budget = budget
        self.ends: dict[str, list[int]] = {}
        for match in _RELEASE_PATH.finditer(html):
            self.ends.setdefault(match.group(1), []).append(match.end())

    def after(self, item_id: int) -> str | None:
        for position in reversed(self.ends.get(str(item_id), ())):
            self.budget.check()
            window = re.sub(r"<[^>]*>", " ", self.html[position : position + _LIST_DATE_REACH])
            date = parse_list_date(window)
            if date:
                return date
        return None


def _within(node: LexborNode | None, root: LexborNode | None) -> bool:
    """Whether `node` is `root` or inside it."""
    if node is None or root is None:
        return False
    root_id = root.mem_id
    while node is not None:
        if node.mem_id == root_id:
            return True
        node = node.parent
    return False


def _element_with_text(page: _Page, text: str) -> LexborNode | None:
    """The innermost body element whose whole text is `text` (the headline when it has no h1):
    in document order a later match is nested deeper, so the last one."""
    return page.texts.last_with_text(text, _HEADLINE_TAGS) if page.body is not None else None


def _paragraphs_after(body: LexborNode | None, headline: LexborNode | None, in_body: bool) -> list[LexborNode]:
    """The <p> elements after the headline in document order (its own descendants included); all
    of them when the headline is not in the body."""
    if body is None:
        return []
    if headline is None or not in_body or headline.mem_id == body.mem_id:
        return body.css("p")
    headline.attrs[_HEADLINE_MARK] = ""
    found = body.css(f"p, [{_HEADLINE_MARK}]")  # document order; an element matching both comes twice
    headline_id = headline.mem_id
    start = next((index for index, node in enumerate(found) if node.mem_id == headline_id), len(found))
    seen = {headline_id}
    after = []
    for node in found[start + 1 :]:
        if node.tag == "p" and node.mem_id not in seen:
            seen.add(node.mem_id)
            after.append(node)
    return after


def _largest_paragraph_run(
    body: LexborNode | None, headline: LexborNode | None, in_body: bool, budget: _Budget
) -> list[tuple[LexborNode, str]]:
    """The <p> elements after the headline that share a parent, the group with the most text, as
    (element, clean text)."""
    groups: dict[int, list[tuple[LexborNode, str]]] = {}
    headline_id = headline.mem_id if headline is not None else None
    for element in _paragraphs_after(body, headline, in_body):
        raw = element.text()
        if not _CORE_CHAR.search(raw):  # clean_text would leave nothing of it
            continue
        parent = element.parent
        if parent is None or parent.mem_id == headline_id:
            continue
        groups.setdefault(parent.mem_id, []).append((element, raw))
    budget.check()
    if not groups:
        return []
    run = max(groups.values(), key=lambda group: sum(len(raw) for _, raw in group))
    return [(element, clean_text(raw)) for element, raw in run]


def _date_near(page: _Page, headline: LexborNode | None, in_body: bool) -> str | None:
    """The DD.MM.YYYY line nearest the headline (counted in elements of the body in document
    order): before it (7 pages in 10) or after it; without a headline in the body, the first."""
    if page.body is None:
        return None
    if headline is None or not in_body:
        return page.texts.first_date_line()
    before, after = _preceding(headline, page.body), _following(headline, page.body)
    for _ in range(_DATE_REACH):
        for element in (next(before, None), next(after, None)):
            if element is not None and _own_date(element):
                return parse_item_date(element.text())
    return None


def _preceding(node: LexborNode, root: LexborNode) -> Iterator[LexborNode]:
    """The nodes before `node` in document order, nearest first, back to `root`; no text nodes."""
    root_id = root.mem_id
    while node.mem_id != root_id:
        previous = node.prev
        if previous is None:
            node = node.parent
            if node is None:
                return
        else:
            while (last := previous.last_child) is not None:
                previous = last
            node = previous
        if not node.is_text_node:
            yield node


def _following(node: LexborNode, root: LexborNode) -> Iterator[LexborNode]:
    """The nodes after `node` in document order inside `root`; no text nodes."""
    root_id = root.mem_id
    while True:
        following = node.first_child
        while following is None:
            if node.mem_id == root_id:
                return
            following = node.next
            if following is None:
                node = node.parent
                if node is None:
                    return
        node = following
        if not node.is_text_node:
            yield node


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
    return _DATE_LINE.fullmatch(text) is not None and parse_item_date(text) is not None


def _absolute(base: str, href: str) -> str | None:
    if _PLAIN_ADDRESS.fullmatch(href):
        return href
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
