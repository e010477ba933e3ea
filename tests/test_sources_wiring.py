"""Every reader shows a row as its own source's: two configured sources in one store, whose
releases share ids on purpose (the president.uz mirror and a generic press site, "akorda", in
Asia/Almaty). Alerts name the publisher and keep its time zone, feed entries carry its language
tag and zone, `show` its language names, `search`/`latest` its languages, `status` each source's
languages, pace and coverage, the web view the union of the languages and each row's own source."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_alerts_support import Webhook
from twosources import two_sources_toml as shared_toml

from crawler import app
from crawler.cli import main
from devsites.mirror import Mirror, sample_releases
from devsites.presssite import PressSite, sample_articles

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FIRST_ID = 9180
# January: Almaty is UTC+6 (Tashkent +5), so a date of one source is not read in the other's zone.
ARTICLES = sample_articles(3, first_id=FIRST_ID, newest=dt.date(2024, 1, 15))


def two_sources_toml(mirror: Mirror, site: PressSite, hook: str) -> str:
    return shared_toml(mirror.base_url, site.base_url, tail=f"""
[alerts]
horizon_days = 36500

[[alerts.routes]]
name = "newsroom"
urls = ["{hook}/hook"]

[[alerts.routes]]
name = "digest"
mode = "daily"
urls = ["{hook}/digest"]
""")


@pytest.fixture(scope="module")
def receiver():
    with Webhook() as hook:
        yield hook


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, receiver) -> Path:
    """Both sources crawled through the CLI into one store (the first crawl of each: its alerts are
    queued silenced)."""
    folder = tmp_path_factory.mktemp("wiring")
    with Mirror(sample_releases(4, first_id=FIRST_ID)) as mirror, PressSite(ARTICLES, per_page=10) as site:
        config = folder / "presswatch.toml"
        config.write_text(two_sources_toml(mirror, site, receiver.url("").rstrip("/")), encoding="utf-8")
        assert main(["crawl", "--config", str(config)]) == 0
    return config


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def outbox_ids(config: Path, source: str, route: str) -> list[int]:
    with sqlite3.connect(config.parent / "store.db") as db:
        return [row[0] for row in db.execute(
            "select id from outbox where source = ? and route = ? and release_id = "
            "(select min(release_id) from outbox where source = ? and route = ?) order by id",
            [source, route, source, route])]


def test_the_two_sources_share_ids(crawled):
    with sqlite3.connect(crawled.parent / "store.db") as db:
        holders = {row[0] for row in db.execute("select source from items where id = ?", [FIRST_ID + 1])}
    assert holders == {"president.uz", "akorda"}


# --- alerts ---------------------------------------------------------------------------------------
def delivered(capsys, crawled, receiver, source: str, route: str) -> str:
    ids = outbox_ids(crawled, source, route)
    assert ids, f"no {route} alert of {source}"
    before = len(receiver.received)
    assert run(capsys, "alerts", "retry", *map(str, ids), "--config", str(crawled))[0] == 0
    code, _, err = run(capsys, "alerts", "deliver", "--config", str(crawled))
    assert code == 0, err
    new = receiver.received[before:]
    assert new, "nothing delivered"
    return "\n".join(entry["json"]["title"] + "\n" + entry["json"]["message"] for entry in new)


def test_an_alert_of_the_second_source_names_its_publisher(crawled, receiver, capsys):
    theirs = delivered(capsys, crawled, receiver, "akorda", "newsroom")
    assert "Akorda" in theirs and "President of Uzbekistan" not in theirs
    ours = delivered(capsys, crawled, receiver, "president.uz", "newsroom")
    assert "President of Uzbekistan" in ours and "Akorda" not in ours


def test_a_digest_of_the_second_source_keeps_its_time_zone(crawled, receiver, capsys):
    theirs = delivered(capsys, crawled, receiver, "akorda", "digest")
    assert "Almaty" in theirs and "Tashkent" not in theirs
    ours = delivered(capsys, crawled, receiver, "president.uz", "digest")
    assert "Tashkent" in ours


# --- feed -----------------------------------------------------------------------------------------
def test_feed_entries_carry_their_own_sources_tag_publisher_and_zone(crawled, capsys):
    code, out, err = run(capsys, "feed", "--limit", "100", "--config", str(crawled))
    assert code == 0, err
    feed = ET.fromstring(out)
    entries = {entry.find(f"{ATOM}id").text.rsplit(":", 1)[1]: entry for entry in feed.iter(f"{ATOM}entry")}
    kazakh = next(entry for key, entry in entries.items() if key.startswith("akorda/") and key.endswith("/kk"))
    assert kazakh.get(XML_LANG) == "kk"
    assert kazakh.find(f"{ATOM}author/{ATOM}name").text == "Akorda"
    assert kazakh.find(f"{ATOM}published").text.endswith("+06:00")  # midnight in Almaty in January
    ours = entries[f"president.uz/{FIRST_ID + 1}/ru"]
    assert ours.find(f"{ATOM}author/{ATOM}name").text.startswith("President of Uzbekistan")
    assert ours.find(f"{ATOM}published").text.endswith("+05:00")
    # the feed of several sources names them all, and claims no one site's address
    assert "akorda" in feed.find(f"{ATOM}title").text and "president.uz" in feed.find(f"{ATOM}title").text
    assert feed.find(f"{ATOM}link") is None


# --- show, search, latest, status ---------------------------------------------------------------------
def test_show_of_the_second_source_knows_its_languages(crawled, capsys):
    kazakh_id = next(a.id for a in ARTICLES if a.lang == "kk")
    code, out, err = run(capsys, "show", str(kazakh_id), "--source", "akorda", "--lang", "kk", "--config", str(crawled))
    assert code == 0, err
    assert out.startswith(f"akorda {kazakh_id}/kk  ") and "language: Қазақша (kk)" in out
    code, out, _ = run(capsys, "show", str(kazakh_id), "--source", "akorda", "--json", "--config", str(crawled))
    assert [v["language_name"] for v in json.loads(out)] == ["Қазақша"]


def test_source_may_come_before_the_command(crawled, capsys):
    code, out, err = run(capsys, "--source", "akorda", "show", str(FIRST_ID + 1), "--config", str(crawled))
    assert code == 0, err
    assert out.startswith(f"akorda {FIRST_ID + 1}/")
    with pytest.raises(SystemExit) as refused:  # a command that reads no source's releases
        main(["--source", "akorda", "alerts", "routes", "--config", str(crawled)])
    assert refused.value.code == 2 and "does not take --source" in capsys.readouterr().err


def test_search_and_latest_reach_every_configured_sources_languages(crawled, capsys):
    code, out, err = run(capsys, "search", "Kazakhstan", "--lang", "kk", "--json", "--config", str(crawled))
    assert code == 0, err  # kk is the second source's: no --source needed
    code, _, err = run(capsys, "search", "x", "--lang", "zz", "--config", str(crawled))
    assert code == 2 and "kk" in err and "ru" in err
    code, out, err = run(capsys, "latest", "--format", "json", "-n", "100", "--config", str(crawled))
    assert code == 0, err
    rows = json.loads(out)
    assert {row["source"] for row in rows} == {"president.uz", "akorda"}
    kazakh = [row for row in rows if row["source"] == "akorda" and row["lang"] == "kk"]
    assert kazakh and all(row["languages"] == ["kk"] for row in kazakh)
    code, out, _ = run(capsys, "latest", "--source", "akorda", "--format", "json", "--config", str(crawled))
    assert {row["source"] for row in json.loads(out)} == {"akorda"}


def test_status_lists_each_sources_languages_pace_and_coverage(crawled, capsys):
    code, out, err = run(capsys, "status", "--json", "--config", str(crawled))
    report = json.loads(out)
    by_name = {entry["name"]: entry for entry in report["sources"]}
    assert by_name["akorda"]["languages"] == ["kk", "ru", "en"]
    assert by_name["president.uz"]["languages"] == ["ru", "en"]
    assert by_name["akorda"]["pace"] and by_name["president.uz"]["pace"]
    assert by_name["akorda"]["pace"]["host"] != by_name["president.uz"]["pace"]["host"]
    # akorda's versions each have their own id: one id sequence across its languages
    assert set(by_name["akorda"]["coverage"]) == {"any language"}
    assert set(by_name["president.uz"]["coverage"]) == {"ru", "en"}
    code, out, _ = run(capsys, "status", "--source", "akorda", "--json", "--config", str(crawled))
    report = json.loads(out)
    assert report["coverage_source"] == "akorda" and set(report["coverage"]) == {"any language"}
    assert report["pace"]["host"] == by_name["akorda"]["pace"]["host"]
    _, out, _ = run(capsys, "status", "--config", str(crawled))
    assert out.count("    languages: ") == 2 and out.count("    pace: 1 request every") == 2
    assert "    coverage any language: " in out and "    coverage ru: " in out


def test_latest_refuses_a_topic_the_topics_file_does_not_define(crawled, capsys):
    code, _, err = run(capsys, "latest", "--topic", "nope", "--config", str(crawled))
    assert code == 2 and "'nope'" in err and "uzbekistan" in err  # the defined topics are named
    # a defined topic that tagged nothing here is an empty answer, not an error
    code, out, err = run(capsys, "latest", "--topic", "uzbekistan", "--format", "json", "--config", str(crawled))
    assert code == 0 and json.loads(out) == [] and "no version is tagged" in err


# --- the web view ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def web(crawled):
    pytest.importorskip("datasette")
    from crawler.web import make_datasette

    config = app.load(crawled)

    def fetch(url: str, only: str | None = None):
        datasette = make_datasette(crawled.parent / "store.db", config=config, only_source=only)

        async def get():
            await datasette.invoke_startup()
            return await datasette.client.get(url)

        return asyncio.run(get())

    return fetch


def test_the_web_view_offers_every_language_and_shows_each_row_as_its_sources(web):
    home = web("/").text
    assert '<span class="what">2 sources</span>' in home
    switch = home.split('aria-label="Headline language"', 1)[1].split("</nav>", 1)[0]
    assert [code for code in ("ru", "en", "kk") if f"show={code}" in switch] == ["ru", "en", "kk"]
    assert switch.index("show=ru") < switch.index("show=en") < switch.index("show=kk")
    assert '<span class="source" title="akorda">Akorda</span>' in home
    kazakh = next(a for a in ARTICLES if a.lang == "kk")
    page = web(f"/release/{kazakh.id}?source=akorda").text
    assert 'lang="kk"' in page and "Қазақша" in page and 'by <span class="publisher">Akorda</span>' in page


def test_serve_source_opens_the_view_of_one_source(web):
    home = web("/", only="akorda").text
    assert '<span class="what">Akorda</span>' in home
    assert '<span class="source" title="akorda">' in home and 'title="president.uz"' not in home
    assert web(f"/release/{FIRST_ID + 1}", only="akorda").status_code == 200  # no ?source= needed


# --- the config and the replay of several sources ------------------------------------------------------
def test_a_source_table_beside_sources_says_how_to_write_it(tmp_path, capsys):
    config = tmp_path / "mixed.toml"
    config.write_text('[source]\nrequest_delay = 2.0\n\n[[sources]]\nname = "a"\n', encoding="utf-8")
    code, _, err = run(capsys, "status", "--config", str(config))
    assert code == 2
    assert "inherit nothing from [source]" in err and "each [[sources]] table" in err and "request_delay = 2.0" in err


def test_replay_of_several_sources_asks_which(crawled, capsys):
    code, _, err = run(capsys, "crawl", "--replay", str(crawled.parent / "none.yaml"), "--config", str(crawled))
    assert code == 2 and "--source" in err and "president.uz, akorda" in err
