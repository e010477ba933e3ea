"""`status`: the last failed run's reason, the coverage of the id range, the pace in force;
`backfill --gaps` probes the missing ids. Against the local mirror, through the CLI."""

from __future__ import annotations

import json

import pytest

from crawler.cli import main
from crawler.store import Store
from devsites.mirror import Mirror, Status, sample_releases

# Ids rise in steps of 1, 2, 1, 1, 3, ...: the steps leave gaps (ids the site used elsewhere).
RELEASES = sample_releases(12, first_id=9180)
IDS = [r.id for r in RELEASES]
LANGS = ("ru", "en")


@pytest.fixture
def mirror():
    with Mirror(RELEASES, per_page=20) as running:
        yield running


def write_config(tmp_path, base_url: str, **source: object) -> str:
    settings = {"request_delay": 0.0, "backoff_base": 0.01, "max_attempts": 2, **source}
    lines = "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
    path = tmp_path / "presswatch.toml"
    path.write_text(
        f'[source]\nbase_url = "{base_url}"\nlanguages = {json.dumps(list(LANGS))}\n{lines}'
        f'[store]\npath = "store.db"\n',
        encoding="utf-8",
    )
    return str(path)


def status(config: str, capsys) -> tuple[str, dict]:
    main(["status", "--config", config])
    text = capsys.readouterr().out
    main(["status", "--format", "json", "--config", config])
    return text, json.loads(capsys.readouterr().out)


def store_rows(tmp_path, sql: str, params=()) -> list[tuple]:
    with Store.open(tmp_path / "store.db") as store:
        return [tuple(row) for row in store.db.execute(sql, params)]


def forget(tmp_path, item_id: int, lang: str | None = None) -> None:
    """Take versions out of the store, as if the crawl had never seen them."""
    with Store.open(tmp_path / "store.db") as store, store.atomic() as db:
        for table in ("items", "listings"):
            db.execute(f"delete from {table} where id = ? and (? is null or lang = ?)", [item_id, lang, lang])


def natural_gaps() -> list[int]:
    return sorted(set(range(IDS[0], IDS[-1] + 1)) - set(IDS))


# --- 1. the last failed run, from the first failure on -----------------------------------------------
def test_status_shows_the_first_failed_runs_reason_and_the_last_success(tmp_path, mirror, capsys):
    config = write_config(tmp_path, mirror.base_url)
    broken = f"/en/lists/view/{IDS[3]}"
    mirror.add_fault(lambda path: path == broken, Status(500))
    assert main(["crawl", "--config", config]) == 0  # partial: one page failed, a success all the same
    mirror.set_down()
    assert main(["crawl", "--config", config]) == 1
    capsys.readouterr()

    text, report = status(config, capsys)
    failure = report["last_error"]
    assert (failure["run_id"], failure["kind"]) == (2, "crawl")
    # robots.txt is kept in the store from run 1, so run 2 fails at its first list page
    assert "cannot reach 127.0.0.1" in failure["message"] and failure["at"]
    assert report["consecutive_failures"] == 1 and report["healthy"]  # runs_failing waits for three
    assert f"last failure: {failure['at']} crawl run #2: {failure['message']}" in text
    assert f"last success: {report['last_success']}" in text and report["last_success"]
    page_error = report["last_page_error"]
    # run 2 could not reach its list page (run 1's last page error was the broken release page)
    assert "/lists/news" in page_error["url"] and page_error["run_id"] == 2
    assert f"last page error: {page_error['at']} {page_error['url']}" in text


# --- 2. coverage of the id range, and backfill --gaps ------------------------------------------------
def test_status_reports_gaps_and_backfill_gaps_probes_exactly_them(tmp_path, mirror, capsys):
    config = write_config(tmp_path, mirror.base_url)
    assert main(["backfill", "--pages", "1", "--config", config]) == 0
    missed, untranslated_later, en_only_missed = IDS[4], IDS[7], IDS[-2]  # none between IDS[-2] and IDS[-1]
    forget(tmp_path, missed)  # a release the crawl never reached
    forget(tmp_path, en_only_missed, "en")  # a version the crawl never reached
    forget(tmp_path, untranslated_later, "en")
    mirror.remove(untranslated_later, "en")  # ... and the site has no English for it (yet)
    capsys.readouterr()

    text, report = status(config, capsys)
    gaps = natural_gaps()
    ru, en = report["coverage"]["ru"], report["coverage"]["en"]
    assert (ru["first_id"], ru["last_id"], ru["stored"]) == (IDS[0], IDS[-1], len(IDS) - 1)
    assert ru["missing"] == len(gaps) + 1
    assert en["missing"] == len(gaps) + 3
    assert en["missing_range_count"] >= len(en["missing_ranges"]) and len(en["missing_ranges"]) <= 5
    assert en["missing_ranges"][0] == [gaps[0], gaps[0]]
    assert (en["probed_absent"], en["probed_pending"]) == (0, 0)
    assert f"coverage en: ids {IDS[0]}-{IDS[-1]}, {len(IDS) - 3} stored; {en['missing']} missing in" in text
    assert "presswatch backfill --gaps" in text

    # With a limit, only the newest missing id is probed, in the one language it is missing in.
    mirror.requests.clear()
    assert main(["backfill", "--gaps", "1", "--config", config]) == 0
    assert [p for p in mirror.requests.paths() if "/lists/view/" in p] == [f"/en/lists/view/{en_only_missed}"]

    mirror.requests.clear()
    assert main(["backfill", "--gaps", "--config", config]) == 0
    line = capsys.readouterr().out
    assert line.startswith("backfill run") and "skipped" not in line
    probed = sorted(p for p in mirror.requests.paths() if "/lists/view/" in p)
    expected = [f"/{lang}/lists/view/{i}" for i in [*gaps, missed] for lang in LANGS]
    expected.append(f"/en/lists/view/{untranslated_later}")
    assert probed == sorted(expected)
    assert store_rows(tmp_path, "select lang from items where id = ? order by lang", [missed]) == [("en",), ("ru",)]
    states = dict(((i, lang), state) for i, lang, state in store_rows(
        tmp_path, "select id, lang, state from pending_translations"))
    assert states == {**{(i, lang): "absent" for i in gaps for lang in LANGS}, (untranslated_later, "en"): "pending"}

    text, report = status(config, capsys)
    en = report["coverage"]["en"]
    assert (en["missing"], en["probed_absent"], en["probed_pending"]) == (0, len(gaps), 1)
    assert f"no gaps; probed: {len(gaps)} absent, 1 not translated yet" in text

    # Settled gaps are not probed again.
    mirror.requests.clear()
    assert main(["backfill", "--gaps", "--config", config]) == 0
    assert [p for p in mirror.requests.paths() if "/lists/view/" in p] == []


def test_an_id_404_in_its_first_language_but_found_in_a_later_one_is_a_missing_translation(tmp_path, mirror, capsys):
    config = write_config(tmp_path, mirror.base_url)
    assert main(["backfill", "--pages", "1", "--config", config]) == 0
    target = IDS[5]
    forget(tmp_path, target)
    mirror.remove(target, "ru")  # probed ru first (404, known nowhere yet), then en (found)
    assert main(["backfill", "--gaps", "--config", config]) == 0
    assert store_rows(tmp_path, "select state from pending_translations where id = ?", [target]) == [("pending",)]


def test_a_gaps_run_that_ends_early_counts_the_versions_it_skipped(tmp_path, mirror, capsys):
    config = write_config(tmp_path, mirror.base_url)
    assert main(["backfill", "--pages", "1", "--config", config]) == 0
    mirror.add_fault(lambda path: "/lists/view/" in path, Status(403))  # refused: the run stops at once
    capsys.readouterr()
    assert main(["backfill", "--gaps", "--config", config]) == 1
    line = capsys.readouterr().out
    probes = 2 * len(natural_gaps())
    assert "failed" in line and "0 errors" in line
    assert f"{probes} of {probes} release pages skipped (not fetched" in line


# --- 3. the pace in force -------------------------------------------------------------------------------
def test_status_shows_the_pace_robots_txt_set(tmp_path, mirror, capsys):
    mirror.set_robots("User-agent: *\nCrawl-delay: 5\n")
    config = write_config(tmp_path, mirror.base_url, max_crawl_delay_seconds=0.02)
    assert main(["backfill", "--ids", f"{IDS[0]}-{IDS[1]}", "--config", config]) == 0
    capsys.readouterr()
    text, report = status(config, capsys)
    pace = report["pace"]
    assert (pace["delay_in_force"], pace["crawl_delay_requested"], pace["max_crawl_delay"]) == (0.02, 5.0, 0.02)
    assert pace["host"] == mirror.base_url.split("//")[1].rstrip("/") and pace["at"]
    assert ("pace: 1 request every 0.02 s (robots.txt asks 5 s, capped at 0.02 s by "
            "source.max_crawl_delay_seconds)") in text

    # A run that could not even read robots.txt keeps the pace last known.
    mirror.set_down()
    assert main(["crawl", "--config", config]) == 1
    capsys.readouterr()
    assert status(config, capsys)[1]["pace"] == pace


def test_status_before_any_run_says_the_pace_is_not_known(tmp_path, capsys):
    config = write_config(tmp_path, "http://127.0.0.1:9")
    Store.open(tmp_path / "store.db").close()
    text, report = status(config, capsys)
    assert report["pace"] is None and "pace: not known yet" in text
    assert report["last_error"] is None and report["last_page_error"] is None
    assert report["coverage"]["en"]["missing"] == 0 and "coverage en" not in text
