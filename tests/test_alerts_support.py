"""Shared pieces of the alert tests: a store filled without the network, and real receivers on 127.0.0.1
(a JSON webhook over http.server and an SMTP server from aiosmtpd), reached through Apprise's own
json:// and mailto:// URLs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import http.server
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from crawler.alerts import alerts_hook
from crawler.config import AlertsConfig, Config, RouteConfig
from crawler.model import ParsedItem, StoredVersion, StoreOutcome
from crawler.sources.presidentuz import TASHKENT
from crawler.store import Store

TODAY = dt.datetime.now(TASHKENT).date().isoformat()
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


# --- configuration -------------------------------------------------------------------------------
def make_config(*routes: RouteConfig, **alerts: Any) -> Config:
    settings = {"retry_base_seconds": 60.0, "retry_max_seconds": 600.0, "max_attempts": 5, **alerts}
    return Config(alerts=AlertsConfig(routes=tuple(routes), **settings))


def route(name: str, *urls: str, **fields: Any) -> RouteConfig:
    return RouteConfig(name=name, urls=tuple(urls), **fields)


# --- a store filled without the network ---------------------------------------------------------------
def open_store(tmp_path: Path, name: str = "s.db") -> Store:
    return Store.open(tmp_path / name)


def arm(store: Store) -> None:
    """A completed crawl run: the store is past its first crawl, so new releases alert."""
    run = store.start_run("crawl", "president.uz")
    store.finish_run(run, outcome="ok")


def item(release_id: int, lang: str, title: str, *, published: str | None = TODAY,
         paragraphs: Iterable[str] = ("Body text.",)) -> ParsedItem:
    return ParsedItem(
        source="president.uz",
        id=release_id, lang=lang, url=f"https://president.uz/{lang}/lists/view/{release_id}", title=title,
        published=published, paragraphs=list(paragraphs),
    )


class FakeTagger:
    """Stands in for crawler.tagging: writes `matches` rows for the topics a test gives each version."""

    def __init__(self) -> None:
        self.topics: dict[tuple[int, str], list[tuple[str, str, str]]] = {}

    def set(self, release_id: int, lang: str, *hits: tuple[str, str, str]) -> None:
        """hits: (topic, term, snippet)"""
        self.topics[(release_id, lang)] = list(hits)

    def __call__(self, store: Store, parsed: ParsedItem) -> list[SimpleNamespace]:
        store.db["matches"].delete_where("source = ? and id = ? and lang = ?", [parsed.source, parsed.id, parsed.lang])
        hits = self.topics.get((parsed.id, parsed.lang), [])
        for topic, term, snippet in hits:
            store.db["matches"].insert({
                "source": parsed.source, "id": parsed.id, "lang": parsed.lang, "topic": topic, "label": topic.title(), "term": term,
                "field": "body", "start": 0, "end": len(term), "text": term, "snippet": snippet,
                "tagged_at": NOW.isoformat(),
            })
        return [SimpleNamespace(topic=topic) for topic, _, _ in hits]


def save(store: Store, hooks: list[Callable], parsed: ParsedItem) -> str:
    """What the pipeline does with one fetched language version: store it, tag it (the first of
    `hooks` is the tagger), hand the stored version with its matches to the other hooks."""
    tagger, *others = hooks
    with store.atomic():
        outcome = store.save_item(parsed)
        if outcome != StoreOutcome.UNCHANGED:
            version = StoredVersion(parsed, outcome, tuple(tagger(store, parsed)))
            for hook in others:
                hook(store, version)
    return outcome


def hooks_for(config: Config, tagger: FakeTagger, clock: Callable[[], dt.datetime] | None = None) -> list[Callable]:
    return [tagger, alerts_hook(config, clock=clock)]


def outbox(store: Store, where: str = "1", params: Iterable[Any] = ()) -> list[dict[str, Any]]:
    return list(store.db["outbox"].rows_where(where, list(params), order_by="id"))


# --- receivers -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Webhook:
    """A JSON webhook on 127.0.0.1. `status` is what it answers (503: down); `delay_before` and
    `delay_after` slow it down before and after it accepts (records) a message."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.posts = 0  # every POST that arrived, whatever it was answered
        self.status = 200
        self.delay_before = 0.0
        self.delay_after = 0.0
        self.in_flight = 0
        # called in the handler's thread once an accepted message has been answered
        self.on_answered: Callable[[dict[str, Any]], None] | None = None
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                with owner.lock:
                    owner.in_flight += 1
                    owner.posts += 1
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    payload = self.rfile.read(length)
                    time.sleep(owner.delay_before)
                    status = owner.status
                    entry: dict[str, Any] = {}
                    if status == 200:
                        entry = {
                            "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                            "json": json.loads(payload), "at": time.monotonic(), "answered": None,
                        }
                        with owner.lock:
                            owner.received.append(entry)
                        time.sleep(owner.delay_after)
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    entry["answered"] = time.monotonic()
                    if entry and owner.on_answered:
                        owner.on_answered(entry)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with owner.lock:
                        owner.in_flight -= 1

            def log_message(self, *args: Any) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client killed mid-request is what some tests do on purpose: not worth a traceback.
                if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        # shutdown() waits for serve_forever's next poll: 0.5 s by default, at every test's teardown.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def keys(self, path: str | None = None) -> list[str]:
        return [r["headers"].get("x-idempotency-key") for r in self.received if path is None or r["path"] == path]

    def at(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.received if r["path"] == path]

    def quiet(self, timeout: float = 10.0) -> None:
        """Wait until no request is being handled."""
        end = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < end:
            time.sleep(0.01)

    def __enter__(self) -> "Webhook":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that accepts user/pass over plain SMTP."""

    def __init__(self, user: str = "user", password: str = "pass") -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list[email.message.EmailMessage] = []
        owner = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
                owner.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 Message accepted"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() \
                and auth_data.password == password.encode()
            return AuthResult(success=ok)

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     authenticator=authenticator, auth_require_tls=False)

    def url(self, to: str = "newsroom@example.org", user: str = "user", password: str = "pass") -> str:
        # mailto:// (not mailtos://) is plain SMTP; Apprise's mode=insecure says so explicitly.
        return (f"mailto://{user}:{password}@127.0.0.1:{self.port}"
                f"?mode=insecure&to={to}&from=presswatch@example.org")

    def __enter__(self) -> "Mailbox":
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def part(message: email.message.EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    return body.get_content() if body else ""


def later(moment: dt.datetime, **delta: float) -> dt.datetime:
    return moment + dt.timedelta(**delta)


def replace_alerts(config: Config, **changes: Any) -> Config:
    return dataclasses.replace(config, alerts=dataclasses.replace(config.alerts, **changes))
