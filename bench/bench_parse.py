"""Release-page parsing throughput: presswatch against lexbor baselines and a BeautifulSoup rewrite.

    python bench/bench_parse.py [--releases 50] [--rounds 7]
    python bench/bench_parse.py --hostile      # CPU seconds per hostile page, now and before

The pages are what the local mirror renders (devsites.mirror.render_item_page): `--releases`
sample releases in all four languages plus the seed release (president.uz/uz/lists/view/5782, 33
paragraphs) in all four, with site chrome and a sidebar of five other releases, so about 200
pages. Measured side by side in one process, interleaved round by round; each figure is the best
round (the least disturbed by the machine):

- presswatch: `PresidentUz.parse_item` (selectolax/lexbor, chrome strip, headline, date line,
  largest <p> run after the headline, normalization, images and links).
- lexbor extraction: `LexborHTMLParser(html)`, the text of the h1, of `div.date` and of the `<p>`
  children of the main column: title, date line and paragraphs with the mirror's markup hard-coded,
  no search and no normalization. The target: presswatch at 0.2 of its rate or better.
- lexbor floor: `LexborHTMLParser(html)` and the text of every `<p>`: parsing alone, no logic.
- BeautifulSoup: the same extraction written with bs4, what one would write without presswatch
  (html.parser, and lxml: `pip install -e '.[bench]'`). It uses the same normalizer and configured
  phrases, and is checked to give the same title, date and paragraphs as presswatch on every page.
  The target: presswatch 10 times as fast as BeautifulSoup with lxml.

--hostile parses the generated pages of tests/test_parse_hostile.py (and pages that nest as deep
as the bound lets them) with presswatch and, with --before, with the adapter as it was
(tests/data/presidentuz_frozen.py; a page it has not finished after --before-limit CPU seconds is
reported as such, in a child process that is then stopped).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Tag
from common import machine  # noqa: E402  (bench/ is on sys.path when run as a script)
from selectolax.lexbor import LexborHTMLParser

from crawler.config import SelectorsConfig, SourceConfig
from crawler.model import ParseError
from crawler.normalize import clean_paragraphs, clean_text
from crawler.sources.presidentuz import PresidentUz, is_date_line, parse_item_date
from devsites.mirror import LANGS, render_item_page, sample_releases, seed_release  # noqa: E402  (common puts the checkout on sys.path)

BASE = "https://president.uz"
Page = tuple[str, str, str]  # html, lang, url
Parsed = tuple[str, str | None, list[str]]  # title, published, paragraphs


def pages(count: int) -> list[Page]:
    releases = sample_releases(count) + [seed_release()]
    out = []
    for index, release in enumerate(releases):
        others = releases[max(0, index - 5) : index]
        for lang in LANGS:
            html = render_item_page(release, lang, others=others)
            out.append((html, lang, f"{BASE}/{lang}/lists/view/{release.id}"))
    return out


# --- the three implementations ------------------------------------------------------------------

ADAPTER = PresidentUz(SourceConfig(), SelectorsConfig())


def presswatch(page: Page) -> Parsed:
    item = ADAPTER.parse_item(*page)
    return item.title, item.published, item.paragraphs


def lexbor_floor(page: Page) -> list[str]:
    tree = LexborHTMLParser(page[0])
    return [node.text() for node in tree.css("p")]


def lexbor_extraction(page: Page) -> tuple[str, str | None, list[str]]:
    """Title, date line and paragraphs with lexbor and the mirror's own markup hard-coded (h1,
    div.date, the <p> children of the main column): no search, no normalization."""
    tree = LexborHTMLParser(page[0])
    h1, date = tree.css_first("h1"), tree.css_first("div.date")
    return (h1.text() if h1 else "", date.text() if date else None,
            [node.text() for node in tree.css("div.col-md-8 > p")])


class Bs4Parser:
    """The extraction presswatch does, written with BeautifulSoup: strip chrome, find the headline
    (h1, og:title, <title> minus the site suffix), the DD.MM.YYYY line nearest it, the largest run
    of sibling <p> after it, then drop chrome phrases, the headline, date lines and the closing
    source line."""

    CHROME_TAGS = ["script", "style", "noscript", "template", "header", "footer", "nav", "form", "iframe"]
    SEPARATORS = (" - ", " | ", " — ", " – ", " :: ")

    def __init__(self, parser: str, selectors: SelectorsConfig = SelectorsConfig()) -> None:
        self.parser = parser
        self.suffixes = selectors.title_suffixes
        self.chrome = {clean_text(p).casefold() for p in selectors.chrome_phrases}
        labels = "|".join(re.escape(label) for label in selectors.source_labels)
        self.source_line = re.compile(rf"(?:(?:{labels})\s*[:：]?\s*)?(https?://\S+)?", re.IGNORECASE)
        self.item_path = re.compile(r"/[a-z]{2}/lists/view/\d+/?$")

    def __call__(self, page: Page) -> Parsed:
        html = re.sub(r"<br\s*/?>", "\n", page[0], flags=re.IGNORECASE)
        soup = BeautifulSoup(html, self.parser)
        for node in soup.find_all(self.CHROME_TAGS):
            node.decompose()
        title, headline = self.headline(soup)
        elements = [node for node in soup.body.descendants if isinstance(node, Tag)] if soup.body else []
        position = next((i for i, node in enumerate(elements) if node is headline), -1)
        run = self.paragraph_run(elements, position, headline)
        paragraphs = self.strip(clean_paragraphs([p.get_text() for p in run]), title)
        return title, self.date_near(elements, position), paragraphs

    def headline(self, soup: BeautifulSoup) -> tuple[str, Tag | None]:
        for h1 in soup.find_all("h1"):
            if text := self.strip_suffix(clean_text(h1.get_text())):
                return text, h1
        og = soup.find("meta", attrs={"property": "og:title"})
        raw = og.get("content", "") if og else (soup.title.get_text() if soup.title else "")
        title = self.strip_suffix(clean_text(raw))
        best = None
        for node in soup.body.find_all(["p", "div", "h1", "h2", "h3", "span", "strong", "b"]) if soup.body else []:
            if clean_text(node.get_text()) == title:
                best = node
        return title, best

    def strip_suffix(self, title: str) -> str:
        for suffix in self.suffixes:
            for separator in self.SEPARATORS:
                if title.endswith(separator + suffix):
                    return title[: -len(separator + suffix)].strip()
            if title == suffix:
                return ""
        return title

    @staticmethod
    def paragraph_run(elements: list[Tag], start: int, headline: Tag | None) -> list[Tag]:
        groups: dict[int, list[Tag]] = {}
        for node in elements[start + 1 :]:
            if node.name != "p" or not clean_text(node.get_text()) or node.parent is None:
                continue
            if headline is not None and node.parent is headline:
                continue
            groups.setdefault(id(node.parent), []).append(node)
        if not groups:
            return []
        return max(groups.values(), key=lambda nodes: sum(len(n.get_text()) for n in nodes))

    @staticmethod
    def date_near(elements: list[Tag], position: int) -> str | None:
        def own_date(node: Tag) -> bool:
            text = node.get_text()
            return len(text) < 40 and is_date_line(text)

        if position < 0:
            found = [node for node in elements if own_date(node)]
            return parse_item_date(found[0].get_text()) if found else None
        for distance in range(1, 13):
            for index in (position - distance, position + distance):
                if 0 <= index < len(elements) and own_date(elements[index]):
                    return parse_item_date(elements[index].get_text())
        return None

    def strip(self, paragraphs: list[str], title: str) -> list[str]:
        kept = [p for p in paragraphs if p.casefold() not in self.chrome and p != title and not is_date_line(p)]
        while kept and self.is_source_line(kept[-1]):
            kept.pop()
        return kept

    def is_source_line(self, text: str) -> bool:
        match = self.source_line.fullmatch(text)
        if not match or not text.strip():
            return False
        return match.group(1) is None or self.item_path.match(urlsplit(match.group(1)).path) is not None


# --- measuring ---------------------------------------------------------------------------------------

def rate(fn: Callable[[Page], object], corpus: list[Page], passes: int) -> float:
    """Pages per second over `passes` passes of the corpus."""
    started = time.perf_counter()
    for _ in range(passes):
        for page in corpus:
            fn(page)
    return passes * len(corpus) / (time.perf_counter() - started)


def passes_for(fn: Callable[[Page], object], corpus: list[Page], seconds: float = 0.3) -> int:
    """Enough passes for one measurement to last `seconds`: a 10 ms pass is mostly noise."""
    return max(1, round(seconds * rate(fn, corpus, 1) / len(corpus)))


# --- hostile pages -------------------------------------------------------------------------------

def hostile_pages() -> dict[str, tuple[str, str, str, str]]:
    """name → (kind, html, lang, url): the test's pages and the worst shapes within the bound."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import test_parse_hostile as hostile

    seed = hostile.SEED
    url = f"{BASE}/uz/lists/view/{seed.id}"
    title_only = "<html><head><title>T</title></head><body>"
    depth = "<div>" * (hostile.MAX_DEPTH - 1)
    return {
        "40,000 nested <div> around a release": ("item", hostile.deep_release(), "uz", url),
        "2.4 MB release, a <div> left open per block, no h1": (
            "item", hostile.sloppy_release(), "ru", f"{BASE}/ru/lists/view/{seed.id}"),
        "4.4 MB list page, 10,680 releases (fallback path)": (
            "list", hostile.big_list(4_400_000), "oz", f"{BASE}/oz/lists/news"),
        "4.8 MB: 255 deep, then 400,000 <div>x</div>, no h1": (
            "item", title_only + depth + "<div>x</div>" * 400_000, "uz", url),
        "4.2 MB: 255 deep, then 300,000 <ul><li>x</ul>": (
            "item", "<h1>T</h1>" + depth + "<ul><li>x</ul>" * 300_000, "uz", url),
        "2.7 MB: 150,000 x <p><table><tr><td> (quirks)": (
            "item", "<h1>T</h1>" + "<p><table><tr><td>" * 150_000, "uz", url),
        "2.9 MB: 150,000 paragraphs, no h1": (
            "item", title_only + "<div>" + "<p>01.02.2023 x</p>" * 150_000, "uz", url),
    }


def time_hostile(name: str, before: bool) -> str:
    kind, html, lang, url = hostile_pages()[name]
    if before:
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "frozen", Path(__file__).resolve().parents[1] / "tests" / "data" / "presidentuz_frozen.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        adapter = module.PresidentUz(SourceConfig(), SelectorsConfig())
    else:
        adapter = ADAPTER
    started = time.thread_time()
    try:
        result = (adapter.parse_list if kind == "list" else adapter.parse_item)(html, lang, url)
        outcome = f"{len(result.entries)} entries" if kind == "list" else f"{len(result.paragraphs)} paragraphs"
    except ParseError as exc:
        outcome = f"ParseError: {exc}"
    return f"{time.thread_time() - started:.2f}|{outcome}"


def hostile(before: bool, limit: float) -> None:
    print(f"machine: {machine()}")
    print(f"{'page':52} {'size':>7} {'presswatch':>11} {'before':>11}  outcome")
    for name, (_, html, _, _) in hostile_pages().items():
        now, outcome = time_hostile(name, False).split("|", 1)
        old = "-"
        if before:
            child = subprocess.run([sys.executable, __file__, "--hostile-one", name], capture_output=True,
                                   text=True, timeout=None if limit <= 0 else limit * 3 + 60,
                                   preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CPU, (int(limit), int(limit) + 1)))
            old = child.stdout.strip().split("|", 1)[0] + " s" if child.returncode == 0 else f"> {limit:.0f} s"
        size = len(html.encode()) / 1e6
        print(f"{name:52} {size:5.1f}MB {now + ' s':>11} {old:>11}  {outcome[:60]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--releases", type=int, default=50, help="sample releases (x4 languages, plus the seed)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--hostile", action="store_true", help="time the hostile pages instead")
    parser.add_argument("--before", action="store_true", help="with --hostile: the adapter as it was, too")
    parser.add_argument("--before-limit", type=float, default=120, help="CPU seconds the old adapter gets a page")
    parser.add_argument("--hostile-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hostile_one:
        print(time_hostile(args.hostile_one, before=True))
        return
    if args.hostile:
        hostile(args.before, args.before_limit)
        return

    corpus = pages(args.releases)
    size = sum(len(page[0].encode()) for page in corpus) / len(corpus)
    print(f"bench_parse: {len(corpus)} release pages (4 languages, seed included), {size / 1024:.1f} KiB on average")
    print(f"machine: {machine()}")

    implementations: dict[str, Callable[[Page], object]] = {
        "presswatch (PresidentUz.parse_item)": presswatch,
        "lexbor extraction (title, date, <p>s)": lexbor_extraction,
        "lexbor floor (parse + <p> text)": lexbor_floor,
        "BeautifulSoup, html.parser": Bs4Parser("html.parser"),
    }
    if importlib.util.find_spec("lxml") is not None:
        implementations["BeautifulSoup, lxml"] = Bs4Parser("lxml")
    else:
        print("(lxml is not installed: the BeautifulSoup + lxml line is left out)")

    for name, fn in implementations.items():
        if name.startswith("BeautifulSoup"):
            agree = sum(fn(page) == presswatch(page) for page in corpus)
            print(f"check: {name} gives the same title, date and paragraphs on {agree}/{len(corpus)} pages")

    # interleaved: one round of each in turn, so drift in machine speed hits all alike
    passes = {name: passes_for(fn, corpus) for name, fn in implementations.items()}
    rates = {name: 0.0 for name in implementations}
    for _ in range(args.rounds):
        for name, fn in implementations.items():
            rates[name] = max(rates[name], rate(fn, corpus, passes[name]))

    ours = rates["presswatch (PresidentUz.parse_item)"]
    print()
    print(f"{'implementation':40} {'pages/s':>10} {'ms/page':>9} {'vs presswatch':>14}")
    for name, pages_per_s in rates.items():
        print(f"{name:40} {pages_per_s:10.0f} {1000 / pages_per_s:9.3f} {pages_per_s / ours:13.2f}x")
    print()
    extraction = rates["lexbor extraction (title, date, <p>s)"]
    floor = rates["lexbor floor (parse + <p> text)"]
    verdict = "target 0.2: met" if ours / extraction >= 0.2 else "target 0.2: NOT met"
    print(f"presswatch runs at {ours / extraction:.2f} of the lexbor extraction's rate ({verdict})")
    print(f"presswatch runs at {ours / floor:.2f} of the lexbor floor ({floor / ours:.1f}x the floor's time per page)")
    for name, pages_per_s in rates.items():
        if name.startswith("BeautifulSoup"):
            target = "" if "lxml" not in name else (" (target 10: met)" if ours / pages_per_s >= 10 else
                                                    " (target 10: NOT met)")
            print(f"presswatch is {ours / pages_per_s:.1f}x as fast as {name}{target}")


if __name__ == "__main__":
    main()
