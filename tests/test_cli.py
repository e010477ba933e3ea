"""The CLI end to end: crawl (replayed), show, status, help, failures in one line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.cli import main
from crawler.lock import StoreLock

ROOT = Path(__file__).resolve().parent.parent
CASSETTE = str(ROOT / "cassettes" / "crawl_twice.yaml")


@pytest.fixture
def store(tmp_path):
    return str(tmp_path / "presswatch.db")


@pytest.fixture
def crawled(store, capsys):
    assert main(["crawl", "--replay", CASSETTE, "--store", store]) == 0
    capsys.readouterr()
    return store


def test_crawl_replay_prints_a_summary(store, capsys):
    assert main(["crawl", "--replay", CASSETTE, "--store", store]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("crawl run 1: ok; 32 new, 0 changed, 0 missing translations, 0 errors")
    assert main(["crawl", "--replay", CASSETTE, "--store", store]) == 0
    assert "0 new" in capsys.readouterr().out  # the replayed cassette holds no second first-run


def test_show_prints_the_seed_release_as_clean_paragraphs(crawled, capsys):
    assert main(["show", "5782", "--lang", "uz", "--store", crawled]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "president.uz 5782/uz  2022-12-22  https://president.uz/uz/lists/view/5782"
    assert lines[2] == "Ўзбекистон ва Қозоғистон ўртасидаги иттифоқчилик муносабатлари мустаҳкамланмоқда"
    body = out.split(lines[2] + "\n\n", 1)[1].split("\n\nimages:")[0]
    paragraphs = body.split("\n\n")
    assert len(paragraphs) == 33
    assert all(p.strip() == p and "  " not in p and "\n" not in p for p in paragraphs)


def test_show_every_language_and_json(crawled, capsys):
    assert main(["show", "5782", "--store", crawled]) == 0
    out = capsys.readouterr().out
    for lang in ("uz", "oz", "ru", "en"):
        assert f"5782/{lang}  2022-12-22" in out
    assert main(["show", "5782", "--json", "--store", crawled]) == 0
    versions = json.loads(capsys.readouterr().out)
    assert [v["lang"] for v in versions] == ["uz", "oz", "ru", "en"]
    assert len(versions[0]["paragraphs"]) == 33


def test_show_unknown_release_and_missing_store(crawled, tmp_path, capsys):
    assert main(["show", "1", "--store", crawled]) == 1
    assert capsys.readouterr().err.strip() == "presswatch: release 1 is not in the store"
    assert main(["show", "1", "--store", str(tmp_path / "none.db")]) == 1
    assert "no store at" in capsys.readouterr().err


def test_status_counts_and_last_run(crawled, capsys):
    code = main(["status", "--store", crawled])
    out = capsys.readouterr().out
    assert "releases: 8 (32 language versions" in out
    assert "last run: #1 crawl ok" in out
    assert main(["status", "--json", "--store", crawled]) in (0, 1)
    report = json.loads(capsys.readouterr().out)
    assert report["releases"] == 8 and report["language_versions"] == 32
    assert report["per_language"] == {"en": 8, "oz": 8, "ru": 8, "uz": 8}
    assert code in (0, 1)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_no_network_means_a_plain_reason_a_summary_and_a_non_zero_exit(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        f'[source]\nbase_url = "http://127.0.0.1:{closed_port()}"\nbackoff_base = 0.01\nmax_attempts = 2\n'
        f'[store]\npath = "s.db"\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", "--config", str(config)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stdout.strip().splitlines() == [result.stdout.strip()]  # the summary: one line
    assert result.stdout.startswith("crawl run 1: failed;") and "Traceback" not in result.stderr
    # stderr: the start line, what failed in plain words, how to try without the site (tests/test_cli_ux.py)
    assert len(result.stderr.strip().splitlines()) == 3, result.stderr


def test_a_second_writer_is_refused(crawled, capsys):
    with StoreLock(crawled):
        assert main(["crawl", "--replay", CASSETTE, "--store", crawled]) == 3
    assert "is in use by presswatch" in capsys.readouterr().err


def test_replay_of_a_missing_cassette(store, capsys):
    assert main(["crawl", "--replay", "nope.yaml", "--store", store]) == 2
    assert "no cassette at nope.yaml" in capsys.readouterr().err


def test_replay_names_the_cassettes_there_when_one_is_missing(store, capsys):
    folder = str(Path(CASSETTE).parent)
    assert main(["crawl", "--replay", f"{folder}/nope", "--store", store]) == 2
    err = capsys.readouterr().err
    assert f"no cassette at {folder}/nope" in err and f"{folder}/crawl_twice" in err


def test_replay_takes_a_cassette_name_without_its_extension(store, capsys):
    assert main(["crawl", "--replay", CASSETTE.removesuffix(".yaml"), "--store", store]) == 0
    assert "32 new" in capsys.readouterr().out


@pytest.mark.parametrize("command", [[], ["crawl"], ["backfill"], ["show"], ["status"]])
def test_help_explains_every_command(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "usage: presswatch" in out
    if not command:
        assert "exit codes:" in out


def test_module_entry_point_runs_the_same_cli(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", "--replay", CASSETTE, "--store", str(tmp_path / "s.db")],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PRESSWATCH_CONFIG": ""},
    )
    assert result.returncode == 0, result.stderr
    assert "32 new" in result.stdout
