"""Coverage of a slug site whose language versions each have their own id (devsites/presssite.py):
a gap is an id stored in no language, and since its addresses are not built from ids, `status`
never offers `backfill --gaps` and `backfill --gaps` refuses it, saying what to use instead."""

from __future__ import annotations

import json

import pytest
from test_sources_crawl import presssite_toml

from crawler.cli import main
from crawler.store import Store
from devsites.presssite import PressSite


@pytest.fixture
def crawled(tmp_path, capsys):
    with PressSite() as site:
        config = tmp_path / "presswatch.toml"
        config.write_text(presssite_toml(site.base_url) + f'\n[store]\npath = "{tmp_path / "s.db"}"\n', encoding="utf-8")
        assert main(["crawl", "--config", str(config)]) == 0
        capsys.readouterr()
        yield str(config), site


def status(config: str, capsys) -> tuple[str, dict]:
    main(["status", "--config", config])
    text = capsys.readouterr().out
    main(["status", "--format", "json", "--config", config])
    return text, json.loads(capsys.readouterr().out)


def test_ids_of_the_other_languages_are_no_gap(crawled, capsys):
    config, site = crawled
    text, report = status(config, capsys)
    ids = sorted(a.id for a in site.articles)
    assert report["coverage"] == {"any language": {
        "first_id": ids[0], "last_id": ids[-1], "stored": len(ids), "missing": 0, "missing_range_count": 0,
        "missing_ranges": [], "probed_absent": 0, "probed_pending": 0, "probe": None}}
    assert "no gaps" in text and "missing" not in text.replace("missing translations", "")
    assert "backfill --gaps" not in text


def test_a_slug_site_gap_is_reported_without_offering_backfill_gaps(crawled, capsys, tmp_path):
    config, site = crawled
    gone = sorted(a.id for a in site.articles)[5]
    with Store.open(tmp_path / "s.db") as store, store.atomic() as db:
        db.execute("delete from items where id = ?", [gone])
    text, report = status(config, capsys)
    assert report["coverage"]["any language"]["missing_ranges"] == [[gone, gone]]
    assert "backfill --gaps" not in text
    assert "backfill --pages N or --since DATE" in text


def test_backfill_gaps_refuses_a_source_whose_addresses_are_not_built_from_ids(crawled, capsys):
    config, site = crawled
    requests_before = len(site.requests)
    assert main(["backfill", "--gaps", "--config", config]) == 2
    err = capsys.readouterr().err
    assert "akorda" in err and "not built from ids" in err and "--pages N" in err
    assert len(site.requests) == requests_before  # refused before any request
