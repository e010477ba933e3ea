"""presswatch serve: Datasette over the store, its metadata, canned queries and front page."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from crawler.cli import main
from crawler.model import ParsedItem
from crawler.store import Store
from crawler.model import StoredVersion
from crawler.searchindex import search_hook

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
KAZAKH_TITLE = "Ўзбекистон ва Қозоғистон Президентлари учрашди"
MARKUP_TITLE = "Tariffs <b>cut</b> & water"

VERSIONS = [
    (5782, "uz", KAZAKH_TITLE, ["Давлатимиз раҳбари Қозоғистон Президенти билан чегарада учрашди."]),
    (5782, "oz", "O‘zbekiston va Qozogʻiston Prezidentlari uchrashdi", ["Qozogʻiston bilan chegara masalalari."]),
    (5782, "ru", "Президенты Узбекистана и Казахстана встретились", ["Обсуждены вопросы границы."]),
    (5782, "en", "Presidents of Uzbekistan and Kazakhstan meet", ["Border issues were discussed."]),
    (5790, "oz", "Qozog'iston delegatsiyasi", ["Prezident Qozog'iston delegatsiyasini qabul qildi."]),
    (5800, "en", MARKUP_TITLE, ["Irrigation reform."]),
]


def president_uz():
    from crawler.config import load_config
    from crawler.sources import source_for

    return source_for(load_config())


def build(path: Path) -> Path:
    with Store.open(path) as store:
        for item_id, lang, title, paragraphs in VERSIONS:
            item = ParsedItem(id=item_id, lang=lang, url=f"https://president.uz/{lang}/lists/view/{item_id}",
                              title=title, published=f"2026-03-{item_id % 100 // 10 + 10}", paragraphs=paragraphs)
            with store.atomic():
                search_hook(store, StoredVersion(item, store.save_item(item)))
        with store.atomic():
            store.db["matches"].insert({"id": 5782, "lang": "uz", "topic": "kazakhstan", "label": "Kazakhstan",
                                        "term": "қозоғистон*", "field": "body", "start": 19, "end": 29,
                                        "text": "Қозоғистон", "snippet": "", "tagged_at": "2026-03-10T00:00:00Z"})
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python -m crawler serve` on a free port; always terminated."""
    path = build(tmp_path_factory.mktemp("web") / "pw.db")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PRESSWATCH_CONFIG"}
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler", "serve", "--store", str(path), "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"presswatch serve exited with {process.returncode}: {process.stderr.read()}")
            try:
                if httpx.get(f"{base}/-/versions.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("presswatch serve did not answer within 30 s")
            time.sleep(0.2)
        yield base, path.stem
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_front_page_lists_releases_escaped(server):
    base, _ = server
    page = httpx.get(base + "/", timeout=10)
    assert page.status_code == 200
    assert KAZAKH_TITLE in page.text
    assert "Tariffs &lt;b&gt;cut&lt;/b&gt; &amp; water" in page.text


@pytest.mark.slow
def test_table_page_has_descriptions(server):
    base, db = server
    page = httpx.get(f"{base}/{db}/items", timeout=10)
    assert page.status_code == 200
    assert "One row per language version" in page.text


@pytest.mark.slow
@pytest.mark.parametrize("term", ["Qozog'iston", "Qozogʻiston", "Қозоғистон", "Qozog*"])
def test_term_query_finds_releases_in_any_script(server, term):
    base, db = server
    answer = httpx.get(f"{base}/{db}/mentioning.json?_shape=array&term={quote(term)}", timeout=10)
    assert answer.status_code == 200, answer.text
    assert {(r["id"], r["lang"]) for r in answer.json()} == {(5782, "uz"), (5782, "oz"), (5790, "oz")}


@pytest.mark.slow
def test_release_and_topic_queries(server):
    base, db = server
    rows = httpx.get(f"{base}/{db}/release.json?_shape=array&id=5782", timeout=10).json()
    assert [r["lang"] for r in rows] == ["uz", "oz", "ru", "en"]
    assert rows[0]["topics"] == "kazakhstan"
    latest = httpx.get(f"{base}/{db}/latest_by_topic.json?_shape=array", timeout=10).json()
    assert [(r["topic"], r["id"], r["title"]) for r in latest] == [("kazakhstan", 5782, KAZAKH_TITLE)]


@pytest.mark.slow
def test_fold_function_and_read_only(server):
    base, db = server
    sql = "select presswatch_fold('Қозоғистон') as uz, presswatch_fold('Ёлка', 'ru') as ru"
    rows = httpx.get(f"{base}/{db}.json", params={"sql": sql, "_shape": "array"}, timeout=10).json()
    assert rows == [{"uz": "qozogiston", "ru": "елка"}]
    refused = httpx.get(f"{base}/{db}.json", params={"sql": "delete from items"}, timeout=10)
    assert refused.status_code == 400
    count = httpx.get(f"{base}/{db}.json", params={"sql": "select count(*) as n from items", "_shape": "array"},
                      timeout=10).json()
    assert count == [{"n": len(VERSIONS)}]


@pytest.mark.slow
def test_front_page_renders_in_headless_chromium(server):
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is not installed (Debian package `chromium`)"
        if os.environ.get("CI"):
            pytest.fail(message + ": CI must install it")
        pytest.skip(message)
    base, _ = server
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--dump-dom", base + "/"],
            capture_output=True, text=True, timeout=90,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert KAZAKH_TITLE in result.stdout
    assert "<b>cut</b>" not in result.stdout  # a title is text, never markup


def test_metadata_describes_tables_columns_and_queries(tmp_path):
    from crawler.web import SCHEMA, build_metadata

    metadata = build_metadata("pw", president_uz())
    database = metadata["databases"]["pw"]
    assert database["tables"]["items"]["fts_table"] == "items_fts"
    assert set(database["queries"]) == {"latest_by_topic", "release", "mentioning"}
    assert all(not q.get("write") for q in database["queries"].values())
    with Store.open(tmp_path / "s.db") as store:
        for table in SCHEMA:
            columns = {c.name for c in store.db[table].columns} - {"rowid"}
            assert columns <= set(database["tables"][table]["columns"]), table


def test_canned_queries_in_process(tmp_path):
    """The same queries through Datasette's test client (no server, no port)."""
    pytest.importorskip("datasette")
    from crawler.web import make_datasette

    datasette = make_datasette(build(tmp_path / "pw.db"), president_uz())

    async def fetch():
        await datasette.invoke_startup()
        hits = await datasette.client.get("/pw/mentioning.json?_shape=array&term=" + quote("чегара*"))
        empty = await datasette.client.get("/pw/mentioning.json?_shape=array&term=" + quote('"(AND'))
        return hits.json(), empty

    hits, empty = asyncio.run(fetch())
    assert {(r["id"], r["lang"]) for r in hits} == {(5782, "uz"), (5782, "oz")}
    assert empty.status_code == 200


def test_serve_without_datasette_says_how_to_install(tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "datasette" else real(name, *a))
    monkeypatch.delenv("PRESSWATCH_CONFIG", raising=False)
    code = main(["serve", "--store", str(build(tmp_path / "pw.db"))])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "presswatch: Datasette is not installed: pip install 'presswatch[web]'\n"


def test_serve_rejects_a_bad_port(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--store", str(tmp_path / "x.db"), "--port", "99999"])
    assert exc.value.code == 2
    assert "port" in capsys.readouterr().err


def test_serve_on_a_taken_port_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("PRESSWATCH_CONFIG", raising=False)
    path = build(tmp_path / "pw.db")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code = main(["serve", "--store", str(path), "--port", str(taken.getsockname()[1])])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("presswatch: cannot serve on 127.0.0.1:") and err.count("\n") == 1
