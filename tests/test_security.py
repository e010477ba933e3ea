"""Security: only the configured host is ever requested, responses are capped, secrets never reach
a log, and the store is private to its owner.

"Another host" is a second mirror on 127.0.0.2 that records every hit. In-process crawls count
every request at the transport (before any socket, so pytest's network block cannot hide an
attempt); crawls in a subprocess (which that block does not cover) must leave the second server
with zero hits, and a positive control shows that a request to it would have been seen.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import re
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from forked_cli import CliProcess

from crawler.config import Config, SourceConfig
from crawler.fetch import Fetcher, OffsiteError, TooLargeError
from crawler.pipeline import Crawler
from crawler.store import Store
from devsites.mirror import Fault, Mirror, Oversized, Redirect, Response, sample_releases

LANGS = ("ru", "en")
RELEASES = sample_releases(4, first_id=9180)
EXPECTED = {(r.id, lang) for r in RELEASES for lang in LANGS}
OFFSITE_ID = 999  # only ever linked from other hosts


@pytest.fixture
def mirror():
    with Mirror(RELEASES) as running:
        yield running


@pytest.fixture
def elsewhere():
    """Another host: a loopback address that is not the mirror's. Every hit is recorded."""
    try:
        other = Mirror(RELEASES, host="127.0.0.2").start()
    except OSError as exc:  # pragma: no cover - a host without the 127/8 loopback range
        pytest.skip(f"cannot listen on 127.0.0.2: {exc}")
    yield other
    other.stop()


class RecordingTransport(httpx.HTTPTransport):
    """Sees every request the fetcher sends, whatever host it names, before any connection."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[httpx.URL] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.url)
        return super().handle_request(request)


def config_for(base_url: str, **source: object) -> Config:
    settings: dict[str, object] = dict(base_url=base_url, languages=LANGS, request_delay=0.0, backoff_base=0.01,
                                       max_attempts=2, read_timeout=2.0)
    settings.update(source)
    return Config(source=SourceConfig(**settings))


def crawl(tmp_path: Path, config: Config) -> tuple[Store, RecordingTransport, object]:
    transport = RecordingTransport()
    store = Store.open(tmp_path / "store.db")
    with Fetcher(config.source, transport=transport) as fetcher:
        summary = Crawler(config, store, fetcher).crawl()
    return store, transport, summary


def assert_only_the_mirror(transport: RecordingTransport, mirror: Mirror) -> None:
    origins = {(url.scheme, url.host, url.port) for url in transport.seen}
    assert origins == {("http", "127.0.0.1", mirror.port)}


@dataclass
class OffsiteLinks(Fault):
    """The normal page, with anchors, images and a body link pointing at other hosts, in every form
    a page can write an address (absolute, protocol-relative, another port, userinfo tricks)."""

    other: str  # "127.0.0.2:PORT"
    mirror_port: int

    def offsite(self, lang: str, item_id: int) -> list[str]:
        """Addresses on other hosts."""
        path = f"/{lang}/lists/view/{item_id}"
        return [
            f"http://other.example{path}",
            f"http://{self.other}{path}",
            f"//{self.other}{path}",
            f"http://127.0.0.1:{self.mirror_port}@{self.other}{path}",  # userinfo: the host is the other
        ]

    def same_host(self, lang: str, item_id: int) -> list[str]:
        """Addresses the adapter takes as this site's (same host name), which the crawl turns into
        an id and then fetches from base_url, never from the address written in the page."""
        path = f"/{lang}/lists/view/{item_id}"
        return [
            f"https://127.0.0.1:{self.mirror_port}{path}",
            f"http://127.0.0.1:{self.mirror_port + 1}{path}",
            f"http://{self.other}\\@127.0.0.1:{self.mirror_port}{path}",  # parsers disagree on this host
        ]

    def apply(self, handler) -> None:
        response = handler.normal_response()
        if response.status != 200 or b"<!DOCTYPE html>" not in response.body[:20]:
            handler.send(response)
            return
        lang = handler.path.split("/")[1]
        anchors = "".join(
            f'<div class="events_box"><a class="events_title" href="{url}">Offsite {n}</a>'
            f'<div class="date_text">01-05-2026 | 10:00</div></div>'
            for n, url in enumerate(self.offsite(lang, OFFSITE_ID) + self.same_host(lang, RELEASES[0].id)))
        extras = (f'<p>See <a href="http://{self.other}/en/lists/view/1">this</a> and '
                  f'<img src="http://{self.other}/uploads/x.jpg"></p>'
                  f'<meta property="og:image" content="http://{self.other}/uploads/og.jpg">')
        body = response.body.replace(b'<div class="events_list">\n', f'<div class="events_list">\n{anchors}'.encode(), 1)
        body = body.replace(b"</h1>", b"</h1>" + extras.encode(), 1)
        headers = {**response.headers, "ETag": '"offsite"'}
        headers.pop("Content-Length", None)
        handler.send(Response(200, headers, body))


# --- never another host -------------------------------------------------------------------------

def test_links_to_other_hosts_are_never_requested(tmp_path, mirror, elsewhere):
    mirror.add_fault(lambda path: "/lists/" in path, OffsiteLinks(f"127.0.0.2:{elsewhere.port}", mirror.port))
    store, transport, summary = crawl(tmp_path, config_for(mirror.base_url))
    assert summary.outcome == "ok", summary.line()
    assert_only_the_mirror(transport, mirror)
    assert len(elsewhere.requests) == 0
    assert {(r[0], r[1]) for r in store.db.execute("select id, lang from items")} == EXPECTED
    # No id was taken from an anchor to another host, and nothing but the site's pages was asked for.
    assert {r[0] for r in store.db.execute("select distinct id from listings")} == {r.id for r in RELEASES}
    requested = set(mirror.requests.paths())
    # Page 1 held nothing but news, so the crawl looks at page 2 too (the pager may not link it).
    assert requested == {"/robots.txt"} | {f"/{lang}/lists/news" for lang in LANGS} | {
        f"/{lang}/lists/news?page=2" for lang in LANGS} | {f"/{lang}/lists/view/{i}" for i, lang in EXPECTED}
    store.close()


REDIRECTS = [
    "http://127.0.0.2:{other}/en/lists/view/9180",
    "//127.0.0.2:{other}/en/lists/view/9180",
    "http://other.example/en/lists/view/9180",
    "https://127.0.0.1:{port}/en/lists/view/9180",
    "http://127.0.0.1:{port}@127.0.0.2:{other}/en/lists/view/9180",
    "http://localhost:{port}/en/lists/view/9180",  # the same machine by another name is another host
]


@pytest.mark.parametrize("location", REDIRECTS)
def test_a_redirect_to_another_host_is_refused(tmp_path, mirror, elsewhere, location):
    target = location.format(other=elsewhere.port, port=mirror.port)
    mirror.add_fault(lambda path: path == "/en/lists/view/9181", Redirect(target, 301))
    store, transport, summary = crawl(tmp_path, config_for(mirror.base_url))
    assert summary.outcome == "partial"
    errors = list(store.db["crawl_errors"].rows_where())
    assert len(errors) == 1 and "redirect to another host refused" in errors[0]["reason"]
    assert_only_the_mirror(transport, mirror)
    assert len(elsewhere.requests) == 0
    store.close()


def test_a_redirect_within_the_site_is_followed(tmp_path, mirror):
    """The guard is about hosts, not redirects: a same-site redirect still works."""
    mirror.add_fault(lambda path: path == "/en/lists/view/9181", Redirect("/en/lists/view/9181/", 301), times=1)
    store, transport, summary = crawl(tmp_path, config_for(mirror.base_url))
    assert summary.outcome == "ok" and summary.errors == 0
    assert mirror.requests.count("/en/lists/view/9181/") == 1
    store.close()


def test_the_fetcher_refuses_an_offsite_url_without_a_request(mirror):
    transport = RecordingTransport()
    with Fetcher(config_for(mirror.base_url).source, transport=transport) as fetcher:
        for url in ("http://other.example/", "http://127.0.0.2/", f"https://127.0.0.1:{mirror.port}/",
                    f"http://127.0.0.1:{mirror.port + 1}/", "ftp://127.0.0.1/"):
            with pytest.raises(OffsiteError):
                fetcher.get(url)
    assert transport.seen == []


@pytest.mark.slow
def test_a_crawl_process_sends_nothing_to_another_host(tmp_path, mirror, elsewhere):
    """In a subprocess nothing blocks the network: the second server would see any request."""
    # rules are consulted in order: the redirect first, then offsite links on every other page
    mirror.add_fault(lambda path: path == "/en/lists/view/9181",
                     Redirect(f"http://127.0.0.2:{elsewhere.port}/en/lists/view/9181"))
    mirror.add_fault(lambda path: "/lists/" in path, OffsiteLinks(f"127.0.0.2:{elsewhere.port}", mirror.port))
    config = tmp_path / "presswatch.toml"
    config.write_text(f'[source]\nbase_url = "{mirror.base_url}"\nrequest_delay = 0.0\nlanguages = ["ru", "en"]\n'
                      f'[store]\npath = "store.db"\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--config", str(config)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "redirect to another host refused" in result.stderr
    assert len(elsewhere.requests) == 0
    assert mirror.requests.count("/en/lists/view/") > 0
    # Positive control: a request to the other server from a process is seen.
    probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.2:{elsewhere.port}/robots.txt').read()"
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=30)
    assert elsewhere.requests.paths() == ["/robots.txt"]


# --- response size --------------------------------------------------------------------------------

@dataclass
class Endless(Fault):
    """A body of `n_bytes` sent without Content-Length; counts what the client took before leaving."""

    n_bytes: int
    sent: int = 0

    def apply(self, handler) -> None:
        handler.start_response(200, {"Content-Type": "text/html; charset=utf-8", "Connection": "close"})
        chunk = b"<p>" + b"x" * 65533
        try:
            while self.sent < self.n_bytes:
                handler.write(chunk)
                self.sent += len(chunk)
        except OSError:
            pass
        handler.drop()


@dataclass
class GzipBomb(Fault):
    """A few KB on the wire that decompress to `n_bytes`."""

    n_bytes: int

    def apply(self, handler) -> None:
        body = gzip.compress(b"<!DOCTYPE html><p>" + b"\x00" * self.n_bytes, compresslevel=9)
        handler.send(Response(200, {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"}, body))


CAP = 100_000


@pytest.mark.parametrize("fault, reason", [
    (Oversized(50 * CAP, declared=True), "Content-Length"),
    (Oversized(50 * CAP, declared=False), "more than"),
    (GzipBomb(100 * CAP), "more than"),
], ids=["declared", "undeclared", "gzip-bomb"])
def test_a_response_over_the_cap_is_cut_off(mirror, fault, reason):
    mirror.add_fault("/en/lists/view/9181", fault)
    with Fetcher(config_for(mirror.base_url, max_response_bytes=CAP).source) as fetcher:
        with pytest.raises(TooLargeError) as caught:
            fetcher.get("/en/lists/view/9181")
        assert reason in str(caught.value) and str(CAP) in str(caught.value)
        assert fetcher.retries == 0  # too large is not worth another attempt
        # the same fetcher goes on working
        assert fetcher.get("/en/lists/view/9180").status == 200


def test_the_client_stops_reading_at_the_cap(mirror):
    """200 MB offered, the client reads a little past the cap and hangs up: the server could not
    push more than the cap plus what socket buffers hold."""
    endless = Endless(200_000_000)
    mirror.add_fault("/en/lists/view/9181", endless)
    started = time.monotonic()
    with Fetcher(config_for(mirror.base_url, max_response_bytes=CAP).source) as fetcher:
        with pytest.raises(TooLargeError):
            fetcher.get("/en/lists/view/9181")
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 5
    while endless.sent < CAP and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # the server thread notices the closed socket
    assert CAP <= endless.sent < 20_000_000


def test_a_crawl_with_an_oversized_page_loses_only_that_page(tmp_path, mirror):
    mirror.add_fault("/ru/lists/view/9183", Oversized(10 * CAP, declared=False))
    store, transport, summary = crawl(tmp_path, config_for(mirror.base_url, max_response_bytes=CAP))
    assert summary.outcome == "partial" and summary.errors == 1
    assert {(r[0], r[1]) for r in store.db.execute("select id, lang from items")} == EXPECTED - {(9183, "ru")}
    store.close()


# --- secrets ---------------------------------------------------------------------------------------

SECRET = "pw-S3cr3t-7c1f9a2b44e0"


@pytest.mark.slow
def test_no_secret_in_any_output(tmp_path, mirror):
    """Two crawls (the second finds a fresh release on a topic, so an alert is queued and its
    delivery to a dead endpoint fails), then the alert commands, all with JSON logs at debug
    level: the token from the environment appears nowhere in stdout or stderr.

    The first crawl and the first Apprise use (`alerts test hook`) are `python -m crawler`, so
    Python's start-up and every import, Apprise's too, run with the token in the environment and
    their output is read; the other commands are forked with those imports done (tests/forked_cli.py),
    their whole output read likewise."""
    config = tmp_path / "presswatch.toml"
    config.write_text(
        f'[source]\nbase_url = "{mirror.base_url}"\nrequest_delay = 0.0\nbackoff_base = 0.01\nmax_attempts = 2\n'
        f'languages = ["ru", "en"]\ncontact = "mailto:newsroom@example.org"\n'
        f'[store]\npath = "store.db"\n'
        f'[alerts]\nmax_attempts = 1\n'
        # the token as a query argument apprise drops, one it sends, and a header it sends
        f'[[alerts.routes]]\nname = "hook"\nurls = ["json://127.0.0.1:9/hook?token=${{PW_SECRET_TOKEN}}", '
        f'"json://127.0.0.1:9/q?-token=${{PW_SECRET_TOKEN}}&+X-Token=${{PW_SECRET_TOKEN}}"]\n'
        f'[[alerts.routes]]\nname = "ops"\nops = true\n'
        f'urls = ["json://user:${{PW_SECRET_TOKEN}}@127.0.0.1:9/ops"]\n',
        encoding="utf-8",
    )
    env = {**os.environ, "PW_SECRET_TOKEN": SECRET, "PRESSWATCH_CONFIG": ""}

    def run(*command: str) -> tuple[int, str]:
        result = subprocess.run(
            [sys.executable, "-m", "crawler", *command, "--config", str(config), "--log-format", "json", "-v"],
            capture_output=True, text=True, timeout=120, env=env,
        )
        assert "Traceback" not in result.stderr, (command, result.stderr)
        return result.returncode, result.stdout + result.stderr

    def forked(*command: str) -> tuple[int, str]:
        name = "-".join(command)
        out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        process = CliProcess([*command, "--config", str(config), "--log-format", "json", "-v"], env=env,
                             stdout=out, stderr=err)
        code = process.wait(timeout=120)
        stdout, stderr = out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8")
        assert "Traceback" not in stderr, (command, stderr)
        return code, stdout + stderr

    outputs = {"crawl 1": run("crawl")}
    # A release published today about Kazakhstan (the first story of the samples): alert-worthy.
    mirror.publish(sample_releases(1, first_id=9400, first_date=dt.date.today())[0])
    outputs["crawl 2"] = forked("crawl")
    for command in (["status", "--json"], ["alerts", "routes"], ["alerts", "test", "hook"],
                    ["alerts", "test", "ops"], ["alerts", "retry", "--failed"], ["alerts", "deliver"],
                    ["alerts", "list", "--json"]):
        outputs[" ".join(command)] = (run if command[-1] == "hook" else forked)(*command)

    assert outputs["crawl 1"][0] == 0 and "crawl run 1: ok" in outputs["crawl 1"][1]
    assert '"level": "debug"' in outputs["crawl 2"][1] or '"level": "info"' in outputs["crawl 2"][1]
    leaks = [name for name, (_, text) in outputs.items() if SECRET in text or SECRET.lower() in text.lower()]
    assert leaks == []
    # The secret was really in use: the alert went to the hook route and its delivery failed.
    assert "9400" in outputs["alerts list --json"][1] and "hook" in outputs["alerts list --json"][1]
    assert outputs["alerts test hook"][0] != 0 and "127.0.0.1" in outputs["alerts test hook"][1]


# --- the store's permissions --------------------------------------------------------------------------

def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_store_and_its_wal_files_are_private(tmp_path):
    """Created owner-only even under the most permissive umask; SQLite gives -wal and -shm the
    main file's mode."""
    (tmp_path / "data").mkdir()
    old = os.umask(0)
    try:
        store = Store.open(tmp_path / "data" / "store.db")
        with store.atomic() as db:
            db.execute("insert into http_cache (source, url, etag) values ('s', 'x', 'y')")
        files = [tmp_path / "data" / name for name in ("store.db", "store.db-wal", "store.db-shm")]
        assert all(f.exists() for f in files)  # WAL mode, a connection open: all three exist
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
        store.close()
    finally:
        os.umask(old)


@pytest.mark.slow
def test_a_crawl_process_creates_a_private_store(tmp_path, mirror):
    config = tmp_path / "presswatch.toml"
    config.write_text(f'[source]\nbase_url = "{mirror.base_url}"\nrequest_delay = 0.0\nlanguages = ["en"]\n'
                      f'[store]\npath = "store.db"\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--config", str(config)],
                            capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.umask(0o002))
    assert result.returncode == 0, result.stderr
    created = [p for p in tmp_path.iterdir() if p.name.startswith("store.db")]
    assert tmp_path / "store.db" in created
    assert {p.name: _mode(p) for p in created} == {p.name: 0o600 for p in created}


# --- the web view (docs/WEB.md): a hostile address gets a 400 page, never SQL, a traceback or a path ---
HOSTILE_ADDRESSES = [
    "/?topic=%27%20or%201=1--", "/?page=99999999999999999999", "/?since=%00", "/?lang=ru&lang=en",
    "/search?q=" + "x" * 501, "/search?q=a&page=%27", "/topic/%27;drop", "/release/5782?show=%3Cscript%3E",
    "/raw/%2Fetc%2Fpasswd/5782/ru", "/raw/president.uz%27%3B--/5782/ru",
]


def test_hostile_web_addresses_get_400_pages_without_sql_or_traceback(tmp_path):
    """The security side of the web view: tests/test_web_pages.py::test_a_hostile_parameter_gets_a_400_page
    runs the full list of hostile parameters; here a handful through every kind of page."""
    import asyncio

    from test_web import build, president_uz

    from crawler.web import make_datasette

    datasette = make_datasette(build(tmp_path / "pw.db"), president_uz())

    async def fetch_all():
        return [await datasette.client.get(address) for address in HOSTILE_ADDRESSES]

    for address, answer in zip(HOSTILE_ADDRESSES, asyncio.run(fetch_all())):
        assert answer.status_code == 400, address
        assert "Bad request" in answer.text, address
        assert not re.search(r"Traceback|select |sqlite|\.py\b|/tmp/|/work/", answer.text, re.IGNORECASE), address
