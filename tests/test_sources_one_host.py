"""Two sources on one host (the president.uz mirror, one source a language): each keeps its own
conditional GET state (a page one source was told is unchanged is still new to the other), and
each obeys the host's robots.txt for its own pages."""

from __future__ import annotations

import sqlite3

from twosources import FAST

from crawler.cli import main
from devsites.mirror import Mirror, sample_releases


def one_host_toml(base_url: str, store: str, *, robots: bool = False) -> str:
    fast = FAST.replace("obey_robots = false", "obey_robots = true") if robots else FAST
    return "".join(f"""
[[sources]]
name = "{name}"
base_url = "{base_url}"
languages = ["{lang}"]
{fast}""" for name, lang in (("uz-ru", "ru"), ("uz-en", "en"))) + f'\n[store]\npath = "{store}"\n'


def stored(store, source: str) -> int:
    return sqlite3.connect(store).execute("select count(*) from items where source = ?", [source]).fetchone()[0]


def test_a_list_page_unchanged_for_one_source_is_still_read_by_the_other(tmp_path, capsys):
    store = tmp_path / "store.db"
    with Mirror(sample_releases(4)) as mirror:
        both = tmp_path / "both.toml"
        both.write_text(one_host_toml(mirror.base_url, str(store)).replace('languages = ["en"]', 'languages = ["ru"]'),
                        encoding="utf-8")
        # the two sources read the same list pages: the first one's validators must not make the
        # second one's first read a 304 with nothing listed
        assert main(["crawl", "--source", "uz-ru", "--config", str(both)]) == 0
        assert main(["crawl", "--source", "uz-en", "--config", str(both)]) == 0
    assert stored(store, "uz-ru") == stored(store, "uz-en") == 4


def test_each_source_on_one_host_obeys_its_robots_txt_for_its_own_pages(tmp_path, capsys):
    store = tmp_path / "store.db"
    with Mirror(sample_releases(4)) as mirror:
        mirror.set_robots("User-agent: *\nDisallow: /en/\n")
        config = tmp_path / "presswatch.toml"
        config.write_text(one_host_toml(mirror.base_url, str(store), robots=True), encoding="utf-8")
        code = main(["crawl", "--config", str(config)])
        english = [path for path in mirror_paths(mirror) if path.startswith("/en/")]
    assert code != 0  # the English source's run failed: every page it has is disallowed
    assert english == []
    assert stored(store, "uz-ru") == 4 and stored(store, "uz-en") == 0
    outcomes = dict(sqlite3.connect(store).execute("select source, outcome from crawl_runs"))
    assert outcomes["uz-ru"] == "ok" and outcomes["uz-en"] != "ok"


def mirror_paths(mirror: Mirror) -> list[str]:
    return [getattr(request, "path", request) for request in mirror.requests]
