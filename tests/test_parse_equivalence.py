"""The bounded, faster parse extracts exactly what the parse before it did.

tests/data/presidentuz_frozen.py is the adapter as it was before the parse was rewritten (commit
1a440e9). Both parse every release and list page the mirror renders (sample releases and the seed,
every language, every layout), every page in the cassettes, and seeded generated pages: random
structures of the shapes the parse cares about (headlines or none, date lines near and far, runs of
<p> under different parents, comments, chrome, odd text) and mirror pages mutated. Each result,
item, list or the ParseError's message, must be equal. Pages the nesting bound changes are the one
place the two may differ (tests/test_parse_hostile.py); the generators stay under it, and a check
says so.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import random
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.config import SelectorsConfig, SourceConfig
from crawler.model import ParseError
from crawler.normalize import clean_text
from crawler.sources.presidentuz import PresidentUz, bounded_markup
from devsites.mirror import LANGS, LAYOUTS, render_item_page, render_list_page, sample_releases, seed_release

ROOT = Path(__file__).resolve().parent.parent
BASE = "https://president.uz"


def _load_frozen():
    spec = importlib.util.spec_from_file_location("presidentuz_frozen", ROOT / "tests" / "data" / "presidentuz_frozen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FROZEN = _load_frozen()
SELECTORS = {
    "default": SelectorsConfig(),
    "item_body": dataclasses.replace(SelectorsConfig(), item_body="div.col-md-8 > p"),
    "item_body_missing": dataclasses.replace(SelectorsConfig(), item_body="div.no-such-thing p"),
    "title_by_class": dataclasses.replace(SelectorsConfig(), item_title=("h2.title", "div.headline", "title")),
    "every_p_and_div": dataclasses.replace(SelectorsConfig(), item_body="p, div.x"),
}
ADAPTERS = {name: (PresidentUz(SourceConfig(), sel), FROZEN.PresidentUz(SourceConfig(), sel))
            for name, sel in SELECTORS.items()}


def outcome(parse, *args):
    try:
        return parse(*args)
    except ParseError as exc:
        return ("ParseError", str(exc))


def assert_items_same(pages, adapters=("default",)) -> int:
    """Both parses of every (html, lang, url); the number of pages that gave a release."""
    parsed = 0
    for name in adapters:
        new, old = ADAPTERS[name]
        for html, lang, url in pages:
            expected = outcome(old.parse_item, html, lang, url)
            assert outcome(new.parse_item, html, lang, url) == expected, (name, url, html[:2000])
            parsed += not isinstance(expected, tuple)
    return parsed


def assert_lists_same(pages) -> int:
    new, old = ADAPTERS["default"]
    entries = 0
    for html, lang, url in pages:
        expected = outcome(old.parse_list, html, lang, url)
        assert outcome(new.parse_list, html, lang, url) == expected, (url, html[:2000])
        entries += len(expected.entries) if not isinstance(expected, tuple) else 0
    return entries


# --- the mirror --------------------------------------------------------------------------------

RELEASES = sample_releases(40) + [seed_release()]


def mirror_item_pages() -> list[tuple[str, str, str]]:
    pages = []
    for index, release in enumerate(RELEASES):
        others = RELEASES[max(0, index - 5) : index]
        for lang in LANGS:
            if lang not in release.versions:
                continue
            for layout in LAYOUTS:
                pages.append((render_item_page(release, lang, layout=layout, others=others), lang,
                              f"{BASE}/{lang}/lists/view/{release.id}"))
    return pages


def mirror_list_pages() -> list[tuple[str, str, str]]:
    pages = []
    for lang in LANGS:
        for layout in LAYOUTS:
            for page in (1, 2, 3, 4, 5):
                url = f"{BASE}/{lang}/lists/news" + (f"?page={page}" if page > 1 else "")
                pages.append((render_list_page(RELEASES, lang, page, per_page=10, layout=layout), lang, url))
    return pages


def test_every_mirror_release_page_in_every_layout_parses_the_same():
    pages = mirror_item_pages()
    assert len(pages) >= 41 * 4 * 3
    assert assert_items_same(pages, adapters=tuple(ADAPTERS)) >= 41 * 4 * 2 * len(ADAPTERS) - 41 * 4


def test_every_mirror_list_page_in_every_layout_parses_the_same():
    assert assert_lists_same(mirror_list_pages()) > 0


# --- the cassettes -----------------------------------------------------------------------------

def cassette_pages() -> tuple[list, list]:
    items, lists = [], []
    for path in sorted((ROOT / "cassettes").glob("*.yaml")):
        for interaction in yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]:
            uri, body = interaction["request"]["uri"], interaction["response"]["body"]["string"]
            texts = [body] if isinstance(body, str) else [body.decode("utf-8", "replace"),
                                                           body.decode("cp1251", "replace")]
            lang = uri.split("/")[3] if uri.count("/") >= 4 else "uz"
            for text in texts:
                if "/lists/view/" in uri:
                    items.append((text, lang, uri))
                elif "/lists/news" in uri:
                    lists.append((text, lang, uri))
    return items, lists


def test_every_cassette_page_parses_the_same():
    items, lists = cassette_pages()
    assert len(items) > 100 and len(lists) > 20
    assert assert_items_same(items, adapters=tuple(ADAPTERS)) > 100
    assert assert_lists_same(lists) > 0


# --- generated pages ---------------------------------------------------------------------------

WORDS = ("Президент", "Prezident", "water", "вода", "e\u0301", "\u00a0", "\u200b", "ʻ", "’", "&amp;", "&nbsp;",
         "x-\n y", "  ", "\n", "Official pages in social networks", "Font size", "01.02.2023", "01.02.2023 ")
DATES = ("06.05.2026", " 06.05.2026 ", "31.02.2026", "29.02.2024", "1.1.2026", "06-05-2026", "06.05.2026 10:00",
         "\n01.01.2020\n", "00.00.0000")
TITLE = "Water-saving technologies in Syrdarya"
SUFFIX = "Official website of the President of the Republic of Uzbekistan"
WRAPPERS = ("div", "section", "span", "td", "li", "article", "b", "strong", "blockquote", "font")


class PageMaker:
    """Random release pages built from the pieces the parse looks at, in random structures."""

    def __init__(self, rng: random.Random, item_id: int, lang: str) -> None:
        self.rng = rng
        self.item_id = item_id
        self.lang = lang

    def words(self, n: int = 6) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(0, n)))

    def text_block(self) -> str:
        rng = self.rng
        pick = rng.random()
        if pick < 0.35:
            return f"<p>{self.words(12)}</p>"
        if pick < 0.45:
            return f"<p>{self.words(3)}<br>{self.words(3)}<a href='{self.link()}'>{self.words(2)}</a></p>"
        if pick < 0.55:
            return f"<{rng.choice(('div', 'span', 'p', 'b'))} class='date'>{rng.choice(DATES)}</{rng.choice(('div', 'span', 'p', 'b'))}>"
        if pick < 0.62:
            return f"<!-- {rng.choice(DATES)} <p>x</p> -->"
        if pick < 0.68:
            return f"<img src='{rng.choice(('/uploads/a.jpg', '/img/b.png', 'http://[::1', '/uploads/c.jpg', self.link()))}'>"
        if pick < 0.73:
            return f"<p>{rng.choice(('Source', 'Манба', 'Источник'))}: {BASE}/{self.lang}/lists/view/{self.item_id}</p>"
        if pick < 0.78:
            return f"<{rng.choice(('p', 'div', 'span', 'strong', 'h2'))}>{TITLE}</{rng.choice(('p', 'div', 'span'))}>"
        if pick < 0.82:
            return f"<{rng.choice(('header', 'footer', 'nav', 'form', 'script', 'noscript'))}><p>{self.words()}</p></{rng.choice(('header', 'footer', 'nav', 'form'))}>"
        if pick < 0.86:
            return rng.choice(("<p></p>", "<p> \u00a0 </p>", "<p>", "</p>", "</div>", "<table><tr><td><p>x</p>", "<svg><p>y</svg>"))
        if pick < 0.9:
            return f"<h1>{rng.choice((TITLE, '', ' ', TITLE + ' - ' + SUFFIX))}<p>{self.words()}</p></h1>"
        return self.words(4)

    def link(self) -> str:
        own = f"/{self.lang}/lists/view/{self.item_id}"
        return self.rng.choice((
            "#top", "javascript:void(0)", own, "/en/lists/view/77", "https://other.example/a", "http://[::1", " ",
            "doc.pdf", BASE + own, BASE + own + "/", BASE + own + "?x=1", BASE + own + "#p", BASE + own + ";p",
            " " + BASE + own + " ", "HTTPS://president.uz" + own, "https://PRESIDENT.uz" + own, "http://president.uz" + own,
            "https://president.uz:443" + own, "https://user@president.uz" + own, "//president.uz" + own,
            BASE + "/en//lists/view/5", BASE + "/en/lists/view/0005", BASE + "/en/lists/view/99999999999999999999",
            BASE + "/uploads/../a.jpg", "../uploads/a.jpg", "./x", BASE + "/uploads/a b.jpg", BASE + "?",
            BASE, BASE + "/", "https://president.uz.evil.example" + own, BASE + "/en/lists/view/5%2F6",
            "https://xn--80a.example/uploads/a.jpg", "mailto:a@b.c", "https://president.uz/uploads/(1).jpg",
            "HTTPS://president.uz/uploads/a.jpg", "HTTP://other.example/x",
        ))

    def block(self, depth: int) -> str:
        if depth > 5 or self.rng.random() < 0.45:
            return self.text_block()
        tag = self.rng.choice(WRAPPERS)
        inner = "\n".join(self.block(depth + 1) for _ in range(self.rng.randint(0, 6)))
        return f"<{tag} class='{self.rng.choice(('col-md-8', 'x', 'headline', 'title'))}'>{inner}</{tag}>"

    def head(self) -> str:
        rng = self.rng
        parts = ["<meta charset='utf-8'>"]
        if rng.random() < 0.7:
            parts.append(f"<title>{rng.choice((TITLE + ' - ' + SUFFIX, SUFFIX, TITLE, ''))}</title>")
        if rng.random() < 0.6:
            parts.append(f"<meta property='og:title' content='{rng.choice((TITLE, '', SUFFIX))}'>")
        for _ in range(rng.randint(0, 2)):
            parts.append(f"<meta property='og:image' content='{rng.choice(('https://president.uz/uploads/o.jpg', '/x.png'))}'>")
        return "".join(parts)

    def page(self) -> str:
        blocks = "\n".join(self.block(0) for _ in range(self.rng.randint(1, 12)))
        doctype = "<!DOCTYPE html>" if self.rng.random() < 0.8 else ""  # quirks mode too
        return f"{doctype}<html><head>{self.head()}</head><body>{blocks}</body></html>"


def generated_item_pages(count: int, seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    pages = []
    for _ in range(count):
        lang = rng.choice(LANGS)
        item_id = rng.randint(1, 9999)
        pages.append((PageMaker(rng, item_id, lang).page(), lang, f"{BASE}/{lang}/lists/view/{item_id}"))
    return pages


SNIPPETS = ("<p>", "</p>", "<div>", "</div>", "<h1>", "</h1>", "<!-- c -->", "<br>", "<b>", "</b>", "<table><tr><td>",
            "<template>", "<span>06.05.2026</span>", "<p>Source: </p>", "&nbsp;", "\u200b", "<svg>", "<h2>x</h2>",
            "<p>" + TITLE + "</p>", "31.02.2026", "<a href='/en/lists/view/5'>", "<div class='date_text'>05-05-2026</div>")


def mutated(page: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 4)):
        n = len(page)
        i, j = sorted((rng.randrange(n + 1), rng.randrange(n + 1)))
        kind = rng.random()
        if kind < 0.3:
            page = page[:i] + page[j:]
        elif kind < 0.5:
            page = page[:j] + page[i:j] + page[j:]
        else:
            page = page[:i] + "".join(rng.choices(SNIPPETS, k=rng.randint(1, 3))) + page[i:]
    return page


def test_generated_release_pages_parse_the_same():
    pages = generated_item_pages(700, seed=20261203)
    assert all(bounded_markup(html) == html for html, _, _ in pages)
    parsed = assert_items_same(pages, adapters=("default", "title_by_class", "every_p_and_div"))
    assert parsed > 200  # the generator gives releases, not only pages without one


def test_mutated_mirror_pages_parse_the_same():
    rng = random.Random(5782)
    base = mirror_item_pages()
    pages = [(mutated(html, rng), lang, url) for html, lang, url in rng.choices(base, k=1200)]
    assert all(bounded_markup(html) == html for html, _, _ in pages)
    assert assert_items_same(pages) > 300
    lists = mirror_list_pages()
    assert assert_lists_same([(mutated(html, rng), lang, url) for html, lang, url in rng.choices(lists, k=300)]) > 0


@pytest.mark.parametrize("html", [
    "",
    "<p>01.02.2023</p><h1>T</h1><p>body</p>",
    "<body><h1>T<p>inside</p><span><p>deeper</p></span></h1><p>after</p></body>",
    "<title>T</title><body><p>T</p><p>01.02.2023</p><div><p>a</p><p>b</p></div></body>",
    "<title>T</title><body><!-- --><div>01.02.2023</div><p>x</p></body>",
    "<h1>T</h1>" + "<!-- c -->" * 11 + "<div>01.02.2023</div><p>x</p>",
    "<h1>T</h1>" + "<!-- c -->" * 12 + "<div>01.02.2023</div><p>x</p>",
    "<div>01.02.2023<h1>T</h1></div><p>x</p>",
    "<h1 data-presswatch-headline>T</h1><p data-presswatch-headline>x</p><p>y</p>",
    # date lines of 39 and 40 characters, by the headline and without one in the body
    "<h1>T</h1><div>" + " " * 14 + "01.02.2023" + " " * 15 + "</div><p>x</p>",
    "<h1>T</h1><div>" + " " * 15 + "01.02.2023" + " " * 15 + "</div><p>x</p>",
    "<title>T</title><body><div>" + " " * 14 + "01.02.2023" + " " * 15 + "</div><p>x</p>",
    "<title>T</title><body><div>" + " " * 15 + "01.02.2023" + " " * 15 + "</div><p>x</p>",
    # a headline in decomposed letters, with white space and invisible marks around it
    "<title>Cafe\u0301 \u00e9</title><body><div><span>\u200b Cafe\u0301\n\u00a0e\u0301 </span></div><p>x</p>",
    "<title>\u1f82</title><body><b>\u03b1\u0313\u0300\u0345</b><p>x</p>",
])
def test_edge_cases_parse_the_same(html):
    assert_items_same([(html, "en", f"{BASE}/en/lists/view/1")], adapters=tuple(ADAPTERS))


# --- the normalizer ----------------------------------------------------------------------------

def clean_text_before(text: str) -> str:
    """crawler.normalize.clean_text as it was (commit 1a440e9), with str.translate."""
    import re
    import unicodedata

    space_like = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u2009\u200a\u3000\t\r\f\v"), " ")
    invisible = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
    text = unicodedata.normalize("NFC", text).translate(space_like).translate(invisible)
    text = re.sub(r"(?<=\w)-[ ]*\n[ ]*(?=\w)", "-", text)
    return re.sub(r"\s+", " ", text).strip()


# Every character \s matches, in code point order: one regex pass over all of them (matching them one
# by one costs a second).
WHITESPACE = "".join(re.findall(r"\s", "".join(map(chr, range(0x110000)))))
ODD_CHARACTERS = WHITESPACE + (
    "\u200b\u200c\u200d\u2060\ufeff\u00ad-‐\u0301\u0313\u0345e\u00e9\u1f82ᄀ\u1161\u11a8Ўў\u0439\u0438\u0306 \nxX1_")


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(ODD_CHARACTERS), max_size=30) | st.text(max_size=30))
def test_clean_text_is_what_it_was(text):
    assert clean_text(text) == clean_text_before(text)


def test_clean_text_on_every_paragraph_of_the_pages():
    for html, _, _ in mirror_item_pages()[:200] + generated_item_pages(200, seed=7):
        for part in re.split(r"<[^>]*>", html):
            assert clean_text(part) == clean_text_before(part)


def test_the_core_characters_bound_holds():
    """The text index skips an element whose non-space characters are more than _NFC_SHRINK
    times the title's: sound while no character decomposes into more, and the not-core set is
    what clean_text may drop (white space as \\s matches it, and the invisible marks)."""
    import sys
    import unicodedata

    from crawler.sources import presidentuz

    longest = max(len(unicodedata.normalize("NFD", chr(c))) for c in range(sys.maxunicode + 1)
                  if not 0xD800 <= c < 0xE000)
    assert longest <= presidentuz._NFC_SHRINK
    assert sys.maxunicode + 1 == 0x110000
    assert set(presidentuz._NOT_CORE) == set(WHITESPACE) | set("\u200b\u200c\u200d\u2060\ufeff\u00ad")
