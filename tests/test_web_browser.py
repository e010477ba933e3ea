"""The web view in a real browser: headless Chromium driven over the DevTools protocol
(devsites/cdp.py), against `presswatch serve` on 127.0.0.1.

One scenario a reader would follow, then the basics of accessibility on every page: each input has a
label, text contrast is at least 4.5:1 (computed from the styles the browser applied), and nothing
overflows a 375 px wide screen.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest
from test_web import CHROMIUM, KAZAKH_TITLE, build, serving
from test_web_pages import add_edit

pytestmark = pytest.mark.slow

PAGES = ["/", "/search?q=" + quote("Qozog'iston"), "/release/5782", "/topic/kazakhstan", "/topics", "/health"]

# WCAG 2 contrast of every element's own text against the first opaque background behind it.
CONTRAST_JS = r"""
(() => {
  const rgb = s => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
                                    .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!own || style.visibility === "hidden" || style.display === "none" || el.closest("svg, .skip")) continue;
    if (!el.getClientRects().length) continue;
    const fg = rgb(style.color).slice(0, 3), bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) bad.push(`${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return bad;
})()
"""

UNLABELLED_JS = """
[...document.querySelectorAll("input, select, textarea")]
  .filter(el => el.type !== "hidden" && !el.labels.length && !el.getAttribute("aria-label"))
  .map(el => el.outerHTML)
"""


@pytest.fixture(scope="module")
def browser():
    from devsites.cdp import Browser

    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is not installed (Debian package `chromium`)"
        if os.environ.get("CI"):
            pytest.fail(message + ": CI must install it")
        pytest.skip(message)
    with Browser() as running:
        yield running


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with serving(add_edit(build(tmp_path_factory.mktemp("browser") / "pw.db"))) as server:
        yield server.base


def test_a_reader_follows_a_topic_a_search_a_release_and_its_edits(browser, site):
    browser.viewport(1280)
    browser.open(site + "/")
    assert browser.evaluate("document.querySelectorAll('li.release').length") == 6

    # filter by a topic with the form: the address keeps the filter
    browser.navigate_by("document.querySelector('select[name=topic]').value = 'kazakhstan';"
                        "document.querySelector('form.filters').requestSubmit()")
    assert "topic=kazakhstan" in browser.evaluate("location.search")
    assert browser.evaluate("document.querySelectorAll('li.release').length") == 4

    # search in Latin script, find the Cyrillic release
    browser.open(site + "/search")
    browser.navigate_by("document.querySelector('input[name=q]').value = \"Qozog'iston\";"
                        "document.querySelector('select[name=topic]').value = '';"
                        "document.querySelector('form.filters').requestSubmit()")
    marked = browser.evaluate("[...document.querySelectorAll('.snippet mark')].map(m => m.textContent)")
    assert "Қозоғистон" in marked

    # open it from the result: every version, the topic's words highlighted, the edit as a diff
    browser.navigate_by("document.querySelector('a.headline[href^=\"/release/5782\"]').click()")
    assert browser.evaluate("location.pathname") == "/release/5782"
    assert browser.evaluate("document.querySelectorAll('article.version').length") == 4
    assert browser.evaluate("getComputedStyle(document.querySelector('article.version mark')).backgroundColor") \
        != "rgba(0, 0, 0, 0)"
    assert browser.evaluate("document.querySelector('article.version h2').textContent") == KAZAKH_TITLE
    inserted = browser.evaluate("[...document.querySelectorAll('.diff ins')].map(e => e.textContent.trim())")
    assert "и воды" in inserted and "в Ташкенте" in inserted
    # side by side on a wide screen
    tops = browser.evaluate("[...document.querySelectorAll('article.version')].map(a => a.getBoundingClientRect().top)")
    assert len(set(tops)) < len(tops)

    # a badge shows the words that fired when it has the keyboard focus
    terms = "document.querySelector('a.badge .terms').getBoundingClientRect().width"
    assert browser.evaluate(terms) <= 1
    browser.evaluate("document.querySelector('a.badge').focus()")
    assert browser.evaluate(terms) > 10
    assert "Қозоғистон" in browser.evaluate("document.querySelector('a.badge').innerText")

    # the topic's chart: one mark per period, as many as rows in its table
    browser.navigate_by("document.querySelector('a.badge').click()")
    assert browser.evaluate("location.pathname") == "/topic/kazakhstan"
    marks = browser.evaluate("document.querySelectorAll('svg.chart rect.mark').length")
    rows = browser.evaluate("document.querySelectorAll('table.counts tbody tr').length")
    assert marks == rows == 3
    heights = browser.evaluate("[...document.querySelectorAll('svg.chart rect.mark')].map(r => r.getBBox().height)")
    assert heights[0] > heights[2] > heights[1] == 0


def test_narrow_screen_shows_the_versions_as_tabs(browser, site):
    browser.viewport(375, mobile=True)
    browser.open(site + "/release/5782")
    shown = "[...document.querySelectorAll('article.version')].filter(a => a.offsetParent !== null).map(a => a.id)"
    assert browser.evaluate(shown) == ["v-uz"]
    browser.evaluate("document.querySelector('label[for=tab-ru]').click()")
    assert browser.evaluate(shown) == ["v-ru"]


@pytest.mark.parametrize("path", PAGES)
def test_every_input_is_labelled_and_text_is_legible(browser, site, path):
    browser.viewport(1280)
    browser.open(site + path)
    assert browser.evaluate(UNLABELLED_JS) == []
    assert browser.evaluate(CONTRAST_JS) == []


@pytest.mark.parametrize("path", PAGES)
def test_usable_at_375_px(browser, site, path):
    browser.viewport(375, mobile=True)
    browser.open(site + path)
    assert browser.evaluate("document.scrollingElement.scrollWidth") <= 375
    assert browser.evaluate(CONTRAST_JS) == []
