"""presswatch serve: Datasette over the store, its metadata, canned queries and front page."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import psutil
import pytest

from crawler.cli import main
from crawler.model import ParsedItem, StoredVersion
from crawler.searchindex import search_hook
from crawler.store import Store

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
            item = ParsedItem(source="president.uz",
                              id=item_id, lang=lang, url=f"https://president.uz/{lang}/lists/view/{item_id}",
                              title=title, published=f"2026-03-{item_id % 100 // 10 + 10}", paragraphs=paragraphs)
            with store.atomic():
                search_hook(store, StoredVersion(item, store.save_item(item)))
        with store.atomic():
            store.db["matches"].insert({"source": "president.uz", "id": 5782, "lang": "uz", "topic": "kazakhstan", "label": "Kazakhstan",
                                        "term": "қозоғистон*", "field": "body", "start": 19, "end": 29,
                                        "text": "Қозоғистон", "snippet": "", "tagged_at": "2026-03-10T00:00:00Z"})
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SERVER_MEMORY_CAP = 3 * 2**30  # address space of a test server: a runaway query cannot take the machine
SMALL_MB = 500  # the most a server may ever have resident


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (SERVER_MEMORY_CAP, SERVER_MEMORY_CAP))


@contextlib.contextmanager
def serving(path: Path, *options: str):
    """`python -m crawler serve` on a free port, answering; always terminated."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PRESSWATCH_CONFIG"}
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler", "serve", "--store", str(path), "--port", str(port), *options],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_cap_memory,  # noqa: PLW1509 - only setrlimit runs in the child, no lock is taken
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
        yield Server(base, path.stem, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Server:
    base: str
    db: str
    process: subprocess.Popen

    def __iter__(self):  # base, db = server
        return iter((self.base, self.db))

    def peak_mb(self) -> float:
        """The most the server has had resident since it started (VmHWM), in MB."""
        status = Path(f"/proc/{self.process.pid}/status")
        if status.exists():
            line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
            return int(line.split()[1]) / 1024
        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def sql(self, sql: str) -> httpx.Response:
        return httpx.get(f"{self.base}/{self.db}.json", params={"sql": sql, "_shape": "array"}, timeout=60)

    def assert_small_and_answering(self) -> None:
        assert self.process.poll() is None, "the server died"
        assert self.peak_mb() < SMALL_MB
        release = httpx.get(f"{self.base}/{self.db}/release.json?_shape=array&id=5782", timeout=10)
        assert release.status_code == 200 and len(release.json()) == 4


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The default: no arbitrary SQL."""
    with serving(build(tmp_path_factory.mktemp("web") / "pw.db")) as running:
        yield running


@pytest.fixture(scope="module")
def sql_server(tmp_path_factory):
    """`serve --sql`: Datasette's SQL box, within the limits of crawler/web_limits.py."""
    with serving(build(tmp_path_factory.mktemp("websql") / "pw.db"), "--sql") as running:
        yield running


@pytest.mark.slow
def test_front_page_lists_releases_escaped(server):
    base, _ = server
    page = httpx.get(base + "/", timeout=10)
    assert page.status_code == 200
    assert KAZAKH_TITLE in page.text
    assert "Tariffs &lt;b&gt;cut&lt;/b&gt; &amp; water" in page.text


@pytest.mark.slow
def test_serve_listens_on_loopback_only_by_default(server):
    """The fixture starts `serve` without --host: every socket it listens on is 127.0.0.1's."""
    process = psutil.Process(server.process.pid)
    connections = getattr(process, "net_connections", process.connections)(kind="inet")
    listening = {c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN}
    assert listening == {"127.0.0.1"}


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
def test_fold_function_and_read_only(sql_server):
    base, db = sql_server
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


# Limits of the web view (crawler/web_limits.py; docs/QUERY.md). Each test sends the request an
# issue reported, and checks that the answer is an error, the server never grew, and it answers next.

ZEROBLOB = "select zeroblob(1000000000)"


@pytest.mark.slow
def test_arbitrary_sql_is_off_by_default(server):
    refused = server.sql(ZEROBLOB)
    assert refused.status_code == 403
    page = httpx.get(f"{server.base}/{server.db}/items", timeout=10)
    assert page.status_code == 200 and "View and edit SQL" not in page.text
    server.assert_small_and_answering()  # canned queries still run


@pytest.mark.slow
def test_a_huge_value_is_refused_by_the_length_limit(sql_server):
    answer = sql_server.sql(ZEROBLOB)
    assert answer.status_code == 400
    assert answer.json()["error"] == "string or blob too big"
    sql_server.assert_small_and_answering()


@pytest.mark.slow
@pytest.mark.parametrize("sql", [
    "select presswatch_fold(hex(zeroblob(75000000)))",  # 150 M characters: over the value limit
    "select presswatch_fold(hex(zeroblob(1001)))",  # 2,002 characters: over the folding limit
    "select presswatch_query(hex(zeroblob(251)), 'uz')",
])
def test_folding_functions_refuse_huge_input(sql_server, sql):
    answer = sql_server.sql(sql)
    assert answer.status_code == 400
    sql_server.assert_small_and_answering()


@pytest.mark.slow
def test_a_result_over_the_budget_is_refused(sql_server):
    answer = sql_server.sql(
        "with recursive n(i) as (select 1 union all select i + 1 from n limit 1000) select randomblob(1000000) from n")
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("result too large")
    sql_server.assert_small_and_answering()


@pytest.mark.slow
@pytest.mark.parametrize("sql", [
    "select hex(fts3_tokenizer('simple'))",  # a native address
    "select fts3_tokenizer('evil', x'4141414141414141')",  # a made-up one
    "select load_extension('/tmp/x.so')",
    "select printf('%.*c', 2000000000, 'x')",  # 20 s in one SQLite instruction
])
def test_dangerous_functions_are_not_callable(sql_server, sql):
    answer = sql_server.sql(sql)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("not authorized to use function")
    sql_server.assert_small_and_answering()


PAGES = ["/", "/{db}", "/{db}.json", "/{db}/items", "/{db}/items.json", "/{db}/release?id=5782",
         "/-/databases", "/-/databases.json", "/-/versions.json", "/-/settings.json", "/-/metadata.json",
         "/-/plugins.json", "/-/threads", "/-/threads.json", "/-/actor.json",
         "/{db}.json?sql=select+*+from+pragma_database_list",
         "/search?q=Qozog%27iston", "/release/5782", "/topic/kazakhstan", "/health", "/feeds/all.atom",
         "/?page=0", "/release/1", "/?topic=%27%3Bdrop", "/raw/president.uz/5782/ru", "/raw/president.uz/1/ru",
         "/raw/%2Fetc%2Fpasswd/5782/ru", "/raw/president.uz/5782/..%2F..%2Fetc"]


@pytest.mark.slow
def test_no_page_shows_a_server_path(sql_server):
    store_dir = str(Path(sql_server.process.args[sql_server.process.args.index("--store") + 1]).parent)
    paths = {store_dir, str(REPO), sys.prefix, sys.base_prefix, str(Path(asyncio.__file__).parent)}
    for page in PAGES:
        answer = httpx.get(sql_server.base + page.format(db=sql_server.db), timeout=10)
        assert answer.status_code in (200, 400, 403, 404), page
        assert not [path for path in paths if path in answer.text], page
    assert httpx.get(f"{sql_server.base}/-/databases.json", timeout=10).status_code == 403


@pytest.mark.slow
@pytest.mark.parametrize("headers, status", [
    ({"Host": "rebound.example:8001"}, 403),  # DNS rebinding: a site's name resolving to 127.0.0.1
    ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, 403),
    ({"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}, 403),
    ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 200),
    ({"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}, 200),
    ({"Host": "localhost:8001"}, 200),
])
def test_a_browser_on_this_machine_cannot_query_for_another_site(server, headers, status):
    answer = httpx.get(f"{server.base}/{server.db}/release.json?id=5782", headers=headers, timeout=10)
    assert answer.status_code == status


LINEAR_CASES = [
    "instr('hello', 'll')", "instr('héllo', 'l')", "instr(x'0102ff03', x'ff')", "instr('abc', x'62')",
    "instr(null, 'a')", "instr(12345, 34)", "instr('abc', '')", "replace('aXbXc', 'X', 'YY')",
    "replace('abc', '', 'z')", "replace(null, 'a', 'b')", "replace('aé', 'é', 1)", "replace(x'616263', 'b', 'z')",
    "ltrim('xxabcxx', 'x')", "rtrim('xxabcxx', 'x')", "trim('xxabcxx', 'xa')", "trim(x'0102030201', x'01')",
    "trim('  a  ')", "trim(12300, 0)", "trim('abc', '')",
]


def test_linear_stand_ins_answer_like_sqlite():
    import sqlite3

    from crawler.web_limits import limit_connection

    limited, plain = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    limit_connection(limited)
    for case in LINEAR_CASES:
        assert limited.execute(f"select {case}").fetchone()[0] == plain.execute(f"select {case}").fetchone()[0], case


@pytest.mark.parametrize("sql, args", [
    ("instr(?, ?)", ["a" * 2**20, "a" * (2**19 - 1) + "b"]),  # SQLite's own: 15 s
    ("ltrim(?, ?)", ["a" * 2**19, "b" * (2**19 - 1) + "a"]),  # SQLite's own: hours
])
def test_no_single_function_call_runs_long(sql, args):
    import sqlite3

    from crawler.web_limits import limit_connection

    conn = sqlite3.connect(":memory:")
    limit_connection(conn)
    started = time.process_time()
    conn.execute(f"select {sql}", args).fetchone()
    assert time.process_time() - started < 2  # measured: 5 ms and 74 ms


def test_folding_functions_check_their_input_size():
    from crawler.web_limits import MAX_FOLD_CHARS, MAX_QUERY_CHARS, InputTooLong
    from crawler.web_plugin import folder, fts_query

    fold = folder("uz")
    assert fold("Қозоғистон" * 10) == "qozogiston" * 10
    assert fts_query("чегара* " * 50, "uz").count('"chegara" *') == 50
    for function, limit in ((fold, MAX_FOLD_CHARS), (fts_query, MAX_QUERY_CHARS)):
        assert function("x" * limit, "uz")
        with pytest.raises(InputTooLong):
            function("x" * (limit + 1), "uz")


def _datasette_pages(tmp_path, *addresses: str) -> list:
    from crawler.web import make_datasette

    datasette = make_datasette(build(tmp_path / "pw.db"), president_uz())

    async def fetch():
        await datasette.invoke_startup()
        return [await datasette.client.get(address) for address in addresses]

    return asyncio.run(fetch())


def test_canned_query_pages_are_titled_by_their_title_not_their_sql(tmp_path):
    import re

    from crawler.web import canned_queries

    queries = canned_queries(president_uz())
    assert all(query.get("title") for query in queries.values())
    assert not any(re.search(r":\w", query["description"]) for query in queries.values())  # no ":id" shown
    pages = _datasette_pages(tmp_path, "/pw/release?id=5782", "/pw/latest_by_topic",
                             "/pw/mentioning?term=" + quote("чегара*"))
    for page, name in zip(pages, ("release", "latest_by_topic", "mentioning")):
        assert page.status_code == 200
        title = re.search(r"<title>(.*?)</title>", page.text, re.S).group(1)
        assert title == f"{queries[name]['title']} · pw", title
        assert "select" not in title.lower()


def test_table_search_matches_whole_words_and_raw_mode_gives_prefixes(tmp_path):
    """Datasette quotes each word of ?_search= (so `*` is no prefix); ?_searchmode=raw passes FTS5
    syntax, prefixes included, in any script (docs/QUERY.md)."""
    from crawler.web import SCHEMA

    whole, escaped_prefix, raw_prefix = _datasette_pages(
        tmp_path, "/pw/items.json?_shape=array&_search=" + quote("Қозоғистон"),
        "/pw/items.json?_shape=array&_search=" + quote("Қозоғ*"),
        "/pw/items.json?_shape=array&_searchmode=raw&_search=" + quote("Қозоғ*"))
    assert [(r["id"], r["lang"]) for r in whole.json()] == [(5782, "uz")]
    assert escaped_prefix.json() == []
    assert [(r["id"], r["lang"]) for r in raw_prefix.json()] == [(5782, "uz")]
    assert "_searchmode=raw" in SCHEMA["items"][0]  # the table page says how
