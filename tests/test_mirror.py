"""The president.uz mirror: markup, live changes, conditional GET, faults, down/up, stop.

Real sockets on 127.0.0.1 only; httpx is the client, BeautifulSoup checks the markup.
"""

from __future__ import annotations

import datetime as dt
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup

from devsites.mirror import (
    LANGS,
    SITE_NAMES,
    Charset,
    Hang,
    Latency,
    Mirror,
    Oversized,
    Redirect,
    Release,
    Reset,
    Status,
    Truncated,
    Version,
    render_item_page,
    render_list_page,
    sample_releases,
    sample_topics,
    seed_release,
)

SEED = Path(__file__).parent / "data" / "seed_5782_uz.txt"
VIEW = re.compile(r"^/(uz|oz|ru|en)/lists/view/(\d+)$")


@pytest.fixture
def mirror():
    with Mirror() as m:
        yield m


@pytest.fixture
def client(mirror):
    with httpx.Client(base_url=mirror.base_url, timeout=5.0) as c:
        yield c


def soup(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def list_ids(page: BeautifulSoup) -> list[int]:
    return [int(VIEW.match(a["href"]).group(2)) for a in page.select("div.events_box a.events_title")]


def body_paragraphs(page: BeautifulSoup) -> list[str]:
    """The <p> between the headline and the source line, as raw text."""
    h1 = page.find("h1")
    paragraphs = []
    for p in h1.find_all_next("p"):
        if p.find("a", href=re.compile(r"^https://president\.uz/")):
            break
        paragraphs.append(p.get_text())
    return paragraphs


# ---------------------------------------------------------------------------------------------
# data


def test_sample_releases_are_deterministic_and_site_like():
    releases = sample_releases()
    assert releases == sample_releases()
    assert len(releases) == 24
    ids = [r.id for r in releases]
    assert ids == sorted(set(ids)) and ids[0] == 9180
    # SITE.md anchor: 9207 = 14.05.2026, ids rising about 3 a day.
    assert next(r.date for r in releases if r.id == 9207) == dt.date(2026, 5, 14)
    span_days = (releases[-1].date - releases[0].date).days
    assert 2.5 <= (ids[-1] - ids[0]) / span_days <= 4
    assert sum(r.date_after_title for r in releases) in (7, 8)  # ~3 in 10
    assert all(set(r.versions) == set(LANGS) for r in releases)
    assert len({r.versions["en"].title for r in releases}) == 24


def test_sample_releases_mention_topics_in_every_language():
    words = {"uz": "Қозоғистон", "oz": "Qozog", "ru": "Казахстан", "en": "Kazakhstan"}
    with_kz = [r for r in sample_releases() if "kazakhstan" in sample_topics(r)]
    without = [r for r in sample_releases() if not sample_topics(r)]
    assert with_kz and without
    for release in with_kz:
        for lang, word in words.items():
            v = release.versions[lang]
            assert word in v.title + " ".join(v.paragraphs), (release.id, lang)
    for release in without:
        for lang, word in words.items():
            v = release.versions[lang]
            assert word not in v.title + " ".join(v.paragraphs), (release.id, lang)
    water_words = {"uz": "сув", "oz": "suv", "ru": "вод", "en": "water"}
    water = [r for r in sample_releases() if "water" in sample_topics(r)]
    assert water
    for release in water:
        for lang, word in water_words.items():
            v = release.versions[lang]
            assert word in (v.title + " ".join(v.paragraphs)).lower(), (release.id, lang)


def test_sample_titles_need_escaping_and_oz_uses_every_apostrophe():
    titles = [v.title for r in sample_releases() for v in r.versions.values()]
    assert any('"' in t for t in titles) and any("&" in t for t in titles) and any("<b>" in t for t in titles)
    oz_text = " ".join(r.versions["oz"].title + " ".join(r.versions["oz"].paragraphs) for r in sample_releases())
    for apostrophe in ("ʻ", "’", "'", "‘"):
        assert apostrophe in oz_text


def test_seed_file_has_33_body_blocks():
    # Counted independently of the mirror: blocks between blank lines, minus headline and address.
    blocks = [b for b in re.split(r"\n[ \t]*\n", SEED.read_text(encoding="utf-8")) if b.strip()]
    assert blocks[-1].strip() == "https://president.uz/uz/lists/view/5782"
    assert blocks[-2].endswith("\n Манба")
    assert len(blocks) - 2 == 33


def test_seed_release_keeps_raw_blocks():
    release = seed_release()
    assert release.id == 5782 and release.date == dt.date(2022, 12, 22)
    uz = release.versions["uz"]
    assert uz.title == "Ўзбекистон ва Қозоғистон ўртасидаги иттифоқчилик муносабатлари мустаҳкамланмоқда"
    assert len(uz.paragraphs) == 33
    text = SEED.read_text(encoding="utf-8")
    assert all(p in text for p in uz.paragraphs)  # verbatim, wraps and doubled spaces included
    assert "\n" in uz.paragraphs[0] and "  " in uz.paragraphs[0]
    assert not any("Манба" in p or "https://" in p for p in uz.paragraphs)
    assert uz.paragraphs[-1].endswith("деди сўзининг якунида Шавкат Мирзиёев.")
    assert set(release.versions) == set(LANGS)
    assert "Kazakhstan" in " ".join(release.versions["en"].paragraphs)


# ---------------------------------------------------------------------------------------------
# list pages


def test_list_page_shape(client):
    r = client.get("/uz/lists/news")
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    page = soup(r)
    boxes = page.select("div.events_box")
    assert len(boxes) == 12
    ids = list_ids(page)
    assert ids == sorted(ids, reverse=True) and ids[0] == 9215
    for box in boxes:
        thumb, title = box.select_one("a.events_img"), box.select_one("a.events_title")
        assert thumb["href"] == title["href"] and VIEW.match(title["href"]).group(1) == "uz"
        rid = VIEW.match(title["href"]).group(2)
        assert re.fullmatch(rf"/uploads/[0-9a-f-]{{36}}_lists_{rid}\.jpg", thumb.img["src"])
        assert title.get_text(strip=True)
        assert re.fullmatch(r"\d{2}-\d{2}-\d{4} \| \d{2}:\d{2}", box.select_one("div.date_text").get_text())
    assert page.select_one("ul.pagination a[href='/uz/lists/news?page=2']")
    text = page.get_text()
    assert SITE_NAMES["uz"] in text and "Ижтимоий тармоқлардаги расмий саҳифалар" in text
    assert SITE_NAMES["uz"] in page.title.get_text()


def test_list_pagination_covers_everything_once(client):
    seen = []
    for n in (1, 2, 3, 4):
        seen.append(list_ids(soup(client.get(f"/en/lists/news?page={n}"))))
    assert [len(s) for s in seen] == [12, 12, 1, 0]
    flat = [i for s in seen for i in s]
    assert flat == sorted(set(flat), reverse=True) and flat[-1] == 5782
    with_menu = soup(client.get("/uz/lists/news?menu_id=12&page=2"))
    assert list_ids(with_menu) == list_ids(soup(client.get("/uz/lists/news?page=2")))
    assert with_menu.select_one("ul.pagination a[href='/uz/lists/news?menu_id=12&page=3']")


def test_list_is_per_language_and_escapes_titles(client, mirror):
    mirror.remove(9215, "ru")
    assert 9215 not in list_ids(soup(client.get("/ru/lists/news")))
    assert 9215 in list_ids(soup(client.get("/en/lists/news")))
    page = soup(client.get("/en/lists/news"))
    titles = [a.get_text() for a in page.select("a.events_title")]
    assert '"Digital Uzbekistan – 2030": IT park & start-ups in Andijan region' in titles
    assert "President meets <b>young entrepreneurs</b> of Surkhandarya region" in titles
    assert not page.select("a.events_title b")  # the <b> is text, not markup


def test_drifted_and_empty_list_layouts(client, mirror):
    mirror.set_layout("drifted")
    r = client.get("/oz/lists/news")
    page = soup(r)
    assert not page.select("div.events_box") and not page.select("a.events_title") and not page.select("div.date_text")
    anchors = [m for m in re.finditer(r'<a href="(/oz/lists/view/(\d+))">([^<]+)</a>', r.text)]
    assert len(anchors) == 12
    for m in anchors:
        assert re.search(r"\d{2}-\d{2}-\d{4}", r.text[m.end() : m.end() + 300])
    mirror.set_layout("empty")
    page = soup(client.get("/oz/lists/news"))
    assert not page.find_all("a", href=re.compile(r"/lists/view/\d+"))
    assert SITE_NAMES["oz"] in page.get_text()


# ---------------------------------------------------------------------------------------------
# item pages


def test_item_page_shape(client, mirror):
    release = next(r for r in mirror.releases if not r.date_after_title)
    version = release.versions["ru"]
    r = client.get(f"/ru/lists/view/{release.id}")
    assert r.status_code == 200
    page = soup(r)
    assert page.title.get_text() == f"{version.title} - {SITE_NAMES['ru']}"
    assert page.find("meta", property="og:title")["content"] == version.title
    assert page.find("meta", property="og:image")["content"].startswith("https://president.uz/uploads/")
    h1 = page.find("h1")
    assert h1.get_text() == version.title
    date = h1.find_previous_sibling()
    assert date.get_text() == release.date.strftime("%d.%m.%Y") and "date" in date["class"]
    assert re.fullmatch(r"/uploads/[0-9a-f-]{36}\.jpg", page.find("div", class_="news_image").img["src"])
    assert body_paragraphs(page) == version.paragraphs
    source = f"https://president.uz/ru/lists/view/{release.id}"
    assert f'<p>Источник: <a href="{source}">{source}</a></p>' in r.text
    assert not page.find_all(["article", "main", "time"])
    sidebar = [a["href"] for a in page.select(".sidebar a")]
    assert sidebar and all(VIEW.match(h) and not h.endswith(f"/{release.id}") for h in sidebar)
    for text in ("Поиск по сайту", "Размер шрифта", "Официальные страницы в социальных сетях"):
        assert text in page.get_text()


def test_item_date_after_title(client, mirror):
    release = next(r for r in mirror.releases if r.date_after_title)
    page = soup(client.get(f"/en/lists/view/{release.id}"))
    assert page.find("h1").find_next_sibling().get_text() == release.date.strftime("%d.%m.%Y")
    assert not page.find("h1").find_previous_sibling("div", class_="date")


def test_seed_item_page(client):
    r = client.get("/uz/lists/view/5782")
    page = soup(r)
    assert page.find("h1").get_text() == "Ўзбекистон ва Қозоғистон ўртасидаги иттифоқчилик муносабатлари мустаҳкамланмоқда"
    assert page.find("h1").find_previous_sibling().get_text() == "22.12.2022"
    paragraphs = body_paragraphs(page)
    assert len(paragraphs) == 33
    assert paragraphs == seed_release().versions["uz"].paragraphs  # inner wraps and double spaces kept
    assert "Манба: " in r.text and r.text.count("https://president.uz/uz/lists/view/5782</a>") == 1
    for lang in ("oz", "ru", "en"):
        assert client.get(f"/{lang}/lists/view/5782").status_code == 200


def test_drifted_and_empty_item_layouts(client, mirror):
    mirror.set_layout("drifted")
    release = mirror.release(9213)
    r = client.get("/en/lists/view/9213")
    page = soup(r)
    assert not page.find("h1") and not page.find_all(["article", "main", "time"])
    title = release.versions["en"].title
    assert page.find("meta", property="og:title")["content"] == title
    assert page.title.get_text().startswith(title)
    assert title not in page.body.get_text()  # the headline only in <title>/og:title
    assert "15.05.2026" in page.body.get_text()
    assert [p.get_text() for p in page.find_all("p")][: len(release.versions["en"].paragraphs)] == release.versions["en"].paragraphs
    mirror.set_layout("empty")
    page = soup(client.get("/en/lists/view/9213"))
    assert not page.find("h1") and len(page.find_all("p")) == 1  # only the footer copyright


def test_missing_translation_is_404(client, mirror):
    mirror.remove(9215, "en")
    assert client.get("/en/lists/view/9215").status_code == 404
    assert client.get("/uz/lists/view/9215").status_code == 200
    r = client.get("/en/lists/view/1")
    assert r.status_code == 404 and "Page not found" in r.text


def test_other_paths(client, mirror):
    assert client.get("/ru/rss").status_code == 404
    assert client.get("/xx/lists/news").status_code == 404
    assert client.get("/").status_code == 404
    img = client.get("/uploads/abc_lists_9215.jpg")
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg" and img.content[:2] == b"\xff\xd8"
    robots = client.get("/robots.txt")
    assert robots.status_code == 200 and "Disallow:\n" in robots.text and "Disallow: /" not in robots.text
    mirror.set_robots("User-agent: *\nDisallow: /uz/\n")
    assert client.get("/robots.txt").text == "User-agent: *\nDisallow: /uz/\n"
    head = client.head("/uz/lists/news")
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(client.get("/uz/lists/news").content)
    assert head.content == b""


def test_pure_renderers_reject_unknowns():
    release = sample_releases(1)[0]
    with pytest.raises(ValueError):
        render_list_page([release], "de", 1)
    with pytest.raises(ValueError):
        render_item_page(release, "uz", layout="fancy")
    html = render_list_page([release], "en", 1, base_path="/en/lists/news?menu_id=12")
    assert html.count('class="events_box"') == 1 and "pagination" not in html


# ---------------------------------------------------------------------------------------------
# live changes and conditional GET


def test_publish_edit_remove_are_visible_at_once(client, mirror):
    mirror.publish(Release(9300, dt.date(2026, 5, 17), {"en": Version("Brand new release", ["First.", "Second."])}))
    assert list_ids(soup(client.get("/en/lists/news")))[0] == 9300
    assert 9300 not in list_ids(soup(client.get("/uz/lists/news")))
    assert client.get("/uz/lists/view/9300").status_code == 404  # not translated yet
    mirror.publish(Release(9300, dt.date(2026, 5, 17), {"uz": Version("Янги хабар", ["Биринчи."])}))
    assert client.get("/uz/lists/view/9300").status_code == 200
    assert client.get("/en/lists/view/9300").status_code == 200  # the late translation kept en

    mirror.edit(9300, "en", title="Edited title")
    assert soup(client.get("/en/lists/view/9300")).find("h1").get_text() == "Edited title"
    mirror.edit(9300, "en", paragraphs=["Only one now."])
    assert body_paragraphs(soup(client.get("/en/lists/view/9300"))) == ["Only one now."]

    mirror.remove(9300)
    assert client.get("/en/lists/view/9300").status_code == 404
    assert 9300 not in list_ids(soup(client.get("/en/lists/news")))
    with pytest.raises(KeyError):
        mirror.edit(9300, "en", title="x")


def test_etag_and_last_modified_answer_304(client, mirror):
    first = client.get("/uz/lists/news")
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    again = client.get("/uz/lists/news", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get("/uz/lists/news", headers={"If-Modified-Since": last_modified}).status_code == 304
    mirror.edit(9215, "uz", title="Янгиланган сарлавҳа")
    changed = client.get("/uz/lists/news", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert client.get("/uz/lists/news", headers={"If-Modified-Since": last_modified}).status_code == 200


def test_changes_while_crawling_from_threads(mirror):
    errors: list[object] = []

    def crawl() -> None:
        with httpx.Client(base_url=mirror.base_url, timeout=5.0) as c:
            for n in range(15):
                r = c.get(f"/ru/lists/news?page={n % 3 + 1}")
                if r.status_code != 200:
                    errors.append(r.status_code)

    threads = [threading.Thread(target=crawl) for _ in range(6)]
    for t in threads:
        t.start()
    for n in range(20):
        mirror.publish(Release(9400 + n, dt.date(2026, 5, 20), {"ru": Version(f"Новость {n}", ["Текст."])}))
    for t in threads:
        t.join(10)
    assert not errors
    assert mirror.requests.count("/ru/lists/news") == 90


def test_keep_alive_is_fast(client):
    client.get("/en/lists/news")
    took = []
    for _ in range(30):
        start = time.perf_counter()
        client.get("/en/lists/view/9215")
        took.append(time.perf_counter() - start)
    # Nagle + delayed ACK would stall every request ~40 ms; a busy machine slows some, not the fastest.
    assert min(took) < 0.03, took


def test_request_log(client, mirror):
    client.get("/en/lists/news", headers={"User-Agent": "presswatch-test"})
    client.get("/en/lists/view/1")
    assert mirror.requests.count("/en/") == 2 and mirror.requests.count("/en/lists/view") == 1
    method, path, status, headers = mirror.requests[0]
    assert (method, path, status) == ("GET", "/en/lists/news", 200)
    assert headers["User-Agent"] == "presswatch-test"
    assert mirror.requests.last.status == 404
    mirror.requests.clear()
    assert len(mirror.requests) == 0


# ---------------------------------------------------------------------------------------------
# faults


def test_status_faults(client, mirror):
    mirror.add_fault("/uz/lists/news", Status(429, {"Retry-After": "2"}), times=2)
    mirror.add_fault("/ru/", Status(503))
    mirror.add_fault(lambda path: path.endswith("/9215"), Status(403))
    for _ in range(2):
        r = client.get("/uz/lists/news?page=1")
        assert r.status_code == 429 and r.headers["retry-after"] == "2"
    assert client.get("/uz/lists/news").status_code == 200  # spent after two
    r = client.get("/ru/lists/news")
    assert r.status_code == 503 and "retry-after" not in r.headers
    assert client.get("/en/lists/view/9215").status_code == 403
    assert [e.status for e in mirror.requests][:3] == [429, 429, 200]
    mirror.clear_faults()
    assert client.get("/ru/lists/news").status_code == 200


@pytest.mark.parametrize("code", [500, 502])
def test_server_errors(client, mirror, code):
    mirror.add_fault("/", Status(code), times=1)
    assert client.get("/oz/lists/news").status_code == code
    assert client.get("/oz/lists/news").status_code == 200


def test_latency(client, mirror):
    mirror.add_fault("/en/lists/news", Latency(0.3), times=1)
    start = time.perf_counter()
    assert client.get("/en/lists/news").status_code == 200
    assert time.perf_counter() - start >= 0.3


def test_reset_sends_rst(mirror):
    mirror.add_fault("/", Reset())
    with socket.create_connection(("127.0.0.1", mirror.port), timeout=2) as s:
        s.sendall(b"GET /uz/lists/news HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            s.recv(1024)
    with httpx.Client(base_url=mirror.base_url, timeout=2) as c:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            c.get("/uz/lists/news")
    assert mirror.requests.last.status == 0


def test_hang_outlasts_read_timeout_and_stop_is_bounded():
    mirror = Mirror().start()
    mirror.add_fault("/", Hang(20))
    with httpx.Client(base_url=mirror.base_url, timeout=httpx.Timeout(5.0, read=0.3)) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.get("/uz/lists/news")
    caught: list[BaseException] = []

    def patient() -> None:
        try:
            httpx.get(mirror.url("/uz/lists/news"), timeout=25)
        except httpx.HTTPError as exc:
            caught.append(exc)

    t = threading.Thread(target=patient)
    t.start()
    time.sleep(0.2)
    start = time.perf_counter()
    mirror.stop()
    t.join(5)
    assert time.perf_counter() - start < 2.0 and not t.is_alive()
    assert caught  # the hung request ended with no response


def test_truncated_body(client, mirror):
    mirror.add_fault("/en/lists/view/9215", Truncated(0.5))
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/en/lists/view/9215")
    with httpx.Client(base_url=mirror.base_url, timeout=5.0) as fresh:
        assert fresh.get("/en/lists/news").status_code == 200


@pytest.mark.parametrize(
    ("mode", "content_type"),
    [
        ("header", "text/html; charset=windows-1251"),
        ("wrong-header", "text/html; charset=utf-8"),
        ("meta", "text/html"),
        ("none", "text/html"),
    ],
)
def test_charset_faults(client, mirror, mode, content_type):
    mirror.add_fault("/ru/", Charset(mode))
    r = client.get("/ru/lists/view/9215")
    assert r.headers["content-type"] == content_type
    with pytest.raises(UnicodeDecodeError):
        r.content.decode("utf-8")
    text = r.content.decode("windows-1251")
    assert "В Джизакской области повышается качество" in text
    meta = {
        "header": '<meta charset="windows-1251">',
        "wrong-header": '<meta charset="windows-1251">',
        "meta": 'content="text/html; charset=windows-1251"',
        "none": "<meta name=",
    }[mode]
    assert meta in text and ('charset="utf-8"' not in text)
    if mode == "none":
        assert "1251" not in text
    assert int(r.headers["content-length"]) == len(r.content)


def test_charset_fault_keeps_uzbek_letters_as_references(client, mirror):
    mirror.add_fault("/uz/", Charset("header"))
    text = client.get("/uz/lists/view/5782").content.decode("windows-1251")
    assert "&#1179;" in text  # қ is not in windows-1251
    assert "Ўзбекистон" in text  # Ў is
    assert BeautifulSoup(text, "html.parser").find("h1").get_text().startswith("Ўзбекистон ва Қозоғистон")


def test_redirect(client, mirror):
    mirror.add_fault("/en/lists/news", Redirect("https://evil.example/en/lists/news"))
    r = client.get("/en/lists/news")
    assert r.status_code == 302 and r.headers["location"] == "https://evil.example/en/lists/news"


@pytest.mark.parametrize("declared", [True, False])
def test_oversized(mirror, declared):
    mirror.add_fault("/en/lists/news", Oversized(2_000_000, declared=declared))
    r = httpx.get(mirror.url("/en/lists/news"), timeout=5)
    assert len(r.content) == 2_000_000
    assert ("content-length" in r.headers) == declared


def test_down_then_up_on_the_same_port(mirror):
    port = mirror.port
    with httpx.Client(base_url=mirror.base_url, timeout=2) as c:
        assert c.get("/uz/lists/news").status_code == 200
        mirror.set_down(True)
        assert mirror.is_down
        with pytest.raises(httpx.TransportError):
            c.get("/uz/lists/news")  # the pooled keep-alive connection is gone too
    with pytest.raises(httpx.ConnectError):
        httpx.get(mirror.url("/uz/lists/news"), timeout=2)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    mirror.set_down(False)
    assert mirror.port == port
    assert httpx.get(mirror.url("/uz/lists/news"), timeout=2).status_code == 200


def test_stop_and_restart():
    mirror = Mirror(sample_releases(3))
    with mirror:
        with httpx.Client(base_url=mirror.base_url, timeout=2) as c:
            assert len(list_ids(soup(c.get("/oz/lists/news")))) == 3
            start = time.perf_counter()
            mirror.stop()
            assert time.perf_counter() - start < 2.0
    with pytest.raises(httpx.ConnectError):
        httpx.get(mirror.url("/oz/lists/news"), timeout=2)


def test_demo_entry_point_runs_and_stops_on_ctrl_c():
    command = [sys.executable, "-m", "devsites.mirror", "--port", "0", "--releases", "5"]
    root = Path(__file__).resolve().parent.parent
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=root) as proc:
        try:
            base = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline()).group(0)
            assert len(list_ids(soup(httpx.get(base + "/en/lists/news", timeout=5)))) == 6  # 5 + seed
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=5) == 0
        finally:
            proc.kill()
