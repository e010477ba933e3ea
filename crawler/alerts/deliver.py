"""Delivery: send what the outbox holds that is due, through Apprise, at least once.

A row leaves 'pending' only in the commit that follows a successful send, so a crash anywhere loses
nothing. The price is the duplicate window: a process that dies after a receiver accepted a message
and before that commit sends it again on the next pass. Every message carries a stable idempotency
key (an X-Idempotency-Key header for webhooks and e-mail, and a last line in the body) so the
receiver can drop the second copy. A route with several URLs records each URL that accepted the
message, so a retry goes only to those that did not.

One delivery pass runs at a time per store (a flock on `<store>.alerts.lock`, dropped by the kernel
when a process dies); a second one finds it taken and does nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from crawler.alerts import render
from crawler.alerts.outbox import FAILED, PENDING, SENT, notify_ops
from crawler.clock import exponential_backoff, iso, utc_now
from crawler.config import Config, RouteConfig
from crawler.lock import try_lock
from crawler.logs import redact
from crawler.sources import SourceBook, source_book
from crawler.store import Store

log = logging.getLogger("presswatch.alerts")

# Schemes whose Apprise plugin turns `+Name=value` URL arguments into headers.
HEADER_SCHEMES = {"json", "jsons", "form", "forms", "xml", "xmls", "mailto", "mailtos"}
IDEMPOTENCY_HEADER = "X-Idempotency-Key"
ERROR_MAX = 500


@dataclass
class DeliveryReport:
    messages_sent: int = 0
    alerts_sent: int = 0
    # rows whose send failed this pass and that wait for their next attempt
    retrying: int = 0
    # rows marked failed this pass (max_attempts reached, or their route is gone)
    failed: int = 0
    # pending rows not yet due: digests whose period is open, retries in backoff
    waiting: int = 0
    # another delivery pass holds the store's delivery lock: this one did nothing
    locked: bool = False
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        if self.locked:
            return "alerts: another delivery pass is running; nothing done"
        text = (f"alerts: {self.messages_sent} messages sent ({self.alerts_sent} alerts), "
                f"{self.retrying} to retry, {self.failed} failed, {self.waiting} waiting")
        return text + (f"; last error: {self.errors[-1]}" if self.errors else "")


@dataclass
class Outgoing:
    """One message to send: a single release (with its topics), a digest or an ops message."""

    route: RouteConfig
    rows: list[dict[str, Any]]
    key: str
    kind: str  # alert, digest, ops
    sources: SourceBook | None = None  # whose releases: each one's language names, time zone
    _views: list[render.ReleaseView] | None = None

    def messages(self, store: Store, channel: render.Channel) -> list[render.Message]:
        if self.kind == "ops":
            row = self.rows[0]
            return [render.render_ops(row["subject"] or "", row["body"] or "", channel, self.key)]
        views = self.views(store)
        if self.kind == "alert":
            return [render.render_alert(views[0], channel, self.key)]
        return render.render_digest(views, channel, self.key, self._digest_heading(views))

    def views(self, store: Store) -> list[render.ReleaseView]:
        # Read once per message, at send time: the languages known now, the matches as they are now.
        if self._views is None:
            topics: dict[tuple[str, int], list[str]] = {}
            for row in self.rows:
                topics.setdefault((row["source"], row["release_id"]), []).append(row["topic"])
            book = self.sources
            assert book is not None, "due_messages() gives every release message the sources"
            self._views = [render.release_view(store, rid, sorted(set(ts)), book.get(name, store.languages(name)))
                           for (name, rid), ts in topics.items()]
        return self._views

    def _digest_heading(self, views: list[render.ReleaseView]) -> str:
        zone = self._zone()
        period = dt.datetime.fromisoformat(self.rows[0]["period"]).astimezone(zone)
        noun = "release" if len(views) == 1 else "releases"
        return (f"presswatch {self.route.mode} digest ({self.route.name}): {len(views)} {noun} "
                f"until {period:%Y-%m-%d %H:%M} {_zone_label(zone)}")


    def _zone(self) -> dt.tzinfo:
        """The time zone of the releases' source (its digest hour); UTC for several sources' releases."""
        names = {row["source"] for row in self.rows}
        if self.sources is None or len(names) != 1:
            return dt.timezone.utc
        return self.sources.get(names.pop()).timezone


def _zone_label(zone: dt.tzinfo) -> str:
    """"Tashkent" for Asia/Tashkent: how a reader names the time zone."""
    name = zone.tzname(None) or str(zone)
    return name.rsplit("/", 1)[-1].replace("_", " ")


# --- URLs: never shown whole ----------------------------------------------------------------------
_URL_HEAD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)")
_HOSTNAME = re.compile(r"(?i)localhost|\[[0-9a-f:.]+\]|[a-z0-9-]+(\.[a-z0-9-]+)+")


def url_scheme(url: str) -> str:
    match = _URL_HEAD.match(url)
    return match.group(1).lower() if match else ""


def describe_url(url: str) -> str:
    """Scheme and host only; a host that is not a host name (Telegram's token, Slack's ids) is masked."""
    match = _URL_HEAD.match(url)
    if not match:
        return "(unparsable URL)"
    host = match.group(2)
    shown = host if _HOSTNAME.fullmatch(host) and redact(host) == host else "***"
    return f"{match.group(1).lower()}://{shown}"


def url_fingerprint(url: str) -> str:
    """Which URL of a route accepted a message, without storing the URL (it holds tokens)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def with_idempotency_key(url: str, key: str) -> str:
    scheme = url_scheme(url)
    if scheme not in HEADER_SCHEMES:
        return url
    base, hash_mark, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    value = quote(key, safe="")
    extra = f"+{IDEMPOTENCY_HEADER}={value}"
    if scheme in ("json", "jsons"):
        extra += f"&:idempotency_key={value}"
    return f"{base}{joiner}{extra}{hash_mark}{fragment}"


# --- Apprise ----------------------------------------------------------------------------------------
class _AppriseLogBridge(logging.Handler):
    """Apprise's and urllib3's log lines go through presswatch's (redacting) log, and the warnings of
    the send in progress become its error message. Neither reaches stderr on its own."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.captured: list[str] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = redact(record.getMessage())
        except Exception:  # a plugin's malformed log call must not break a delivery
            return
        if self.captured is not None and record.levelno >= logging.WARNING:
            self.captured.append(message)
        # Debug only: a failed send is logged once, by presswatch, with what was captured here.
        log.debug("apprise: %s", message)


_bridge = _AppriseLogBridge()


def _install_bridge() -> None:
    level = logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.WARNING
    for name in ("apprise", "urllib3"):
        logger = logging.getLogger(name)
        if _bridge not in logger.handlers:
            logger.addHandler(_bridge)
        logger.propagate = False
        logger.setLevel(level)


@contextlib.contextmanager
def _capture() -> Iterator[list[str]]:
    _install_bridge()
    _bridge.captured = []
    try:
        yield _bridge.captured
    finally:
        _bridge.captured = None


def _apprise_for(url: str):
    import apprise

    try:
        asset = apprise.AppriseAsset(storage_mode="memory")
    except TypeError:  # Apprise before persistent storage
        asset = apprise.AppriseAsset()
    instance = apprise.Apprise(asset=asset)
    return instance if instance.add(url) else None


def _resolved_format(plugin: Any, preferred: str) -> str:
    resolve = getattr(plugin, "resolve_format", None)
    fmt = resolve(preferred) if resolve else plugin.notify_format
    return str(getattr(fmt, "value", fmt))


@functools.cache
def known_schemes() -> frozenset[str]:
    """Every URL scheme Apprise has a plugin for (its own registry; plugins that lack an optional
    package count too: such a URL is refused when sent, with Apprise's reason)."""
    try:
        from apprise.manager_plugins import NotificationManager  # Apprise 1.7 and later
    except ImportError:  # pragma: no cover - older Apprise keeps a plain map
        from apprise.common import NOTIFY_SCHEMA_MAP

        return frozenset(scheme.lower() for scheme in NOTIFY_SCHEMA_MAP)
    return frozenset(scheme.lower() for scheme in NotificationManager().schemas(include_disabled=True))


def unknown_scheme(url: str) -> str | None:
    """Why Apprise could never send to `url` whatever its other parts, or None: a URL without a
    scheme, or one whose scheme no Apprise plugin handles. A URL whose scheme is still an unset
    ${VARIABLE} (a read-only command's config) is not judged."""
    scheme = url_scheme(url)
    if not scheme:
        if "${" in url.partition("://")[0]:
            return None
        return f"{describe_url(url)} is not an Apprise URL (expected scheme://...)"
    if scheme in known_schemes():
        return None
    return f"Apprise knows no scheme {scheme!r} ({describe_url(url)}); see https://appriseit.com for the URL of each service"


class BadURL(Exception):
    """Apprise refuses a route's URL; str() says why, redacted."""


def channel_of(url: str) -> render.Channel:
    """The channel (format, limit) Apprise's plugin for this URL asks for; BadURL if it has none."""
    with _capture() as warnings:
        instance = _apprise_for(url)
    if instance is None:
        why = "; ".join(dict.fromkeys(warnings)) or "unknown scheme or missing parts"
        raise BadURL(redact(f"{describe_url(url)}: Apprise does not accept this URL ({why})")[:ERROR_MAX])
    scheme = url_scheme(url)
    plugin = instance[0]
    return render.channel_for(scheme, _resolved_format(plugin, render.preferred_format(scheme)), plugin)


def send_message(url: str, message: render.Message, channel: render.Channel) -> str | None:
    """Send one rendered message to one URL; None on success, else a redacted error."""
    with _capture() as warnings:
        instance = _apprise_for(with_idempotency_key(url, message.key))
        if instance is None:
            return f"{describe_url(url)}: Apprise does not accept this URL"
        try:
            ok = instance.notify(
                body=message.body, title=message.title if channel.plain_title else "", body_format=channel.fmt
            )
        except Exception as exc:  # a plugin bug is a failed attempt, not a crashed daemon
            return redact(f"{describe_url(url)}: {type(exc).__name__}: {exc}")[:ERROR_MAX]
    if ok:
        return None
    detail = "; ".join(dict.fromkeys(warnings)) or "the service did not accept the message"
    return redact(f"{describe_url(url)}: {detail}")[:ERROR_MAX]


# --- the pass ---------------------------------------------------------------------------------------
def delivery_lock(store: Store) -> contextlib.AbstractContextManager[bool]:
    """True when this process may deliver for the store; False when another pass holds it."""
    in_memory = store.path is None or str(store.path) == ":memory:"
    return try_lock(None if in_memory else f"{store.path}.alerts.lock")


def deliver_pending(
    store: Store,
    config: Config,
    *,
    now: dt.datetime | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DeliveryReport:
    """Send every due message of the outbox once; record successes, schedule or fail the rest.

    `should_stop` is asked between two messages (a daemon stopping): what is left stays due.
    """
    moment = now or utc_now()
    report = DeliveryReport()
    with delivery_lock(store) as held:
        if not held:
            report.locked = True
            return report
        _fail_orphans(store, config, moment, report)
        # A URL that fails once in a pass is not tried again in it: a dead or hanging endpoint costs
        # one timeout per pass, and its other messages take the same failed attempt and backoff.
        dead: dict[str, str] = {}
        for outgoing in due_messages(store, config, moment):
            if should_stop and should_stop():
                break
            _deliver(store, config, outgoing, moment, report, dead)
        report.waiting = store.db.execute(
            "select count(*) from outbox where status = ? and due_at > ?", [PENDING, iso(moment)]
        ).fetchone()[0]
    if report.messages_sent or report.failed or report.retrying:
        log.info("%s", report.line())
    return report


def _rows(store: Store, where: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = store.db.execute(f"select * from outbox where {where} order by id", params)
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def due_messages(store: Store, config: Config, now: dt.datetime) -> list[Outgoing]:
    """Due rows grouped into messages: an ops row alone; an immediate release with all its due topics
    for one route; a digest route's rows of one period (in each case, rows that reached the same
    URLs so far). Keys depend only on the group's content, so
    the same group gets the same key again after a crash."""
    routes = {r.name: r for r in config.alerts.routes}
    book = source_book(config)
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in _rows(store, "status = ? and due_at <= ?", [PENDING, iso(now)]):
        if row["route"] not in routes:
            continue
        # Rows that reached different URLs already never share a message: a message goes to the
        # URLs none of its rows reached, so merging them would resend to some URL.
        reached = tuple(sorted(json.loads(row["done_urls"] or "[]")))
        if row["kind"] == "ops":
            group = ("ops", row["key"])
        elif row["period"]:
            group = ("digest", row["route"], row["period"], reached)
        else:
            group = ("alert", row["route"], row["source"], row["release_id"], reached)
        groups.setdefault(group, []).append(row)
    out = []
    for group, rows in groups.items():
        route = routes[rows[0]["route"]]
        out.append(Outgoing(route=route, rows=rows, key=_message_key(group[0], route.name, rows), kind=group[0],
                            sources=book))
    return out


def _message_key(kind: str, route: str, rows: list[dict[str, Any]]) -> str:
    if kind == "ops" or (kind == "alert" and len(rows) == 1):
        return rows[0]["key"]
    if kind == "alert":
        topics = "+".join(sorted(r["topic"] for r in rows))
        return f"presswatch:{rows[0]['source']}:{rows[0]['release_id']}:{topics}:{route}"
    period = dt.datetime.fromisoformat(rows[0]["period"]).strftime("%Y%m%dT%H%M")
    members = hashlib.sha256(",".join(str(r["id"]) for r in rows).encode()).hexdigest()[:8]
    return f"presswatch:digest:{route}:{period}:{members}"


def _done(rows: list[dict[str, Any]]) -> set[str]:
    sets = [set(json.loads(r["done_urls"] or "[]")) for r in rows]
    return set.intersection(*sets) if sets else set()


def _deliver(store: Store, config: Config, out: Outgoing, now: dt.datetime, report: DeliveryReport,
             dead: dict[str, str]) -> None:
    done = _done(out.rows)
    errors: list[str] = []
    for url in out.route.urls:
        fingerprint = url_fingerprint(url)
        if fingerprint in done:
            continue
        if fingerprint in dead:
            errors.append(f"not tried, failed earlier in this pass: {dead[fingerprint]}")
            continue
        error = _send_parts(store, out, url, fingerprint, done)
        if error:
            dead[fingerprint] = error
            errors.append(error)
    if errors:
        _record_failure(store, config, out, errors, now, report)
        return
    _record_progress(store, out, done, complete=True)
    report.messages_sent += 1
    report.alerts_sent += len(out.rows)


def _send_parts(store: Store, out: Outgoing, url: str, fingerprint: str, done: set[str]) -> str | None:
    try:
        channel = channel_of(url)
    except BadURL as exc:
        return str(exc)
    messages = out.messages(store, channel)
    for message in messages:
        part = f"{fingerprint}#{message.key}"
        if len(messages) > 1 and part in done:
            continue
        error = send_message(url, message, channel)
        if error:
            return error
        # Committed at once: the duplicate window is this send and this commit, one message wide.
        done.add(part if len(messages) > 1 else fingerprint)
        if len(messages) > 1 and message is messages[-1]:
            done.add(fingerprint)
        _record_progress(store, out, done, complete=set(map(url_fingerprint, out.route.urls)) <= done)
    return None


def _record_progress(store: Store, out: Outgoing, done: set[str], *, complete: bool) -> None:
    ids = [r["id"] for r in out.rows]
    marks = ",".join("?" for _ in ids)
    with store.atomic():
        if complete:
            store.db.execute(
                f"update outbox set status = ?, sent_at = coalesce(sent_at, ?), done_urls = ?, last_error = null, "
                f"message_key = ? where id in ({marks})",
                [SENT, iso(utc_now()), json.dumps(sorted(done)), out.key, *ids],
            )
        else:
            store.db.execute(
                f"update outbox set done_urls = ?, message_key = ? where id in ({marks})",
                [json.dumps(sorted(done)), out.key, *ids],
            )


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Wait after the n-th failed attempt: base, 2 base, 4 base, ... at most cap."""
    return exponential_backoff(attempts, base, cap)


def _record_failure(store: Store, config: Config, out: Outgoing, errors: list[str], now: dt.datetime,
                    report: DeliveryReport) -> None:
    settings = config.alerts
    attempts = max(r["attempts"] for r in out.rows) + 1
    error = "; ".join(errors)[:ERROR_MAX]
    report.errors.append(error)
    ids = [r["id"] for r in out.rows]
    marks = ",".join("?" for _ in ids)
    gave_up = attempts >= settings.max_attempts
    due = now + dt.timedelta(seconds=backoff_seconds(attempts, settings.retry_base_seconds, settings.retry_max_seconds))
    with store.atomic():
        store.db.execute(
            f"update outbox set attempts = ?, last_error = ?, last_attempt = ?, status = ?, due_at = ?, "
            f"message_key = ? where id in ({marks})",
            [attempts, error, iso(now), FAILED if gave_up else PENDING, iso(now if gave_up else due), out.key, *ids],
        )
        if gave_up and out.kind != "ops":  # an ops message that fails cannot report itself
            _tell_ops_about(store, config, out, attempts, error, now)
    if gave_up:
        report.failed += len(out.rows)
        log.error("alert %s to route %s failed after %d attempts: %s", out.key, out.route.name, attempts, error)
    else:
        report.retrying += len(out.rows)
        log.warning("alert %s to route %s: attempt %d failed, next at %s: %s",
                    out.key, out.route.name, attempts, iso(due), error)


def _tell_ops_about(store: Store, config: Config, out: Outgoing, attempts: int, error: str, now: dt.datetime) -> None:
    what = ", ".join(f"release {r['release_id']} / {r['topic']}" for r in out.rows[:10])
    more = f" and {len(out.rows) - 10} more" if len(out.rows) > 10 else ""
    body = (f"The alert {out.key} to route {out.route.name} ({what}{more}) failed after {attempts} attempts.\n"
            f"Last error: {error}\n"
            f"Send it again with: presswatch alerts retry --failed")
    notify_ops(store, config, f"alert delivery failed on route {out.route.name}", body, f"failed:{out.key}", now=now)


def _fail_orphans(store: Store, config: Config, now: dt.datetime, report: DeliveryReport) -> None:
    """Pending rows of a route no longer configured would wait forever: they fail, visibly."""
    names = [r.name for r in config.alerts.routes]
    marks = ",".join("?" for _ in names) or "''"
    orphans = _rows(store, f"status = ? and route not in ({marks})", [PENDING, *names])
    for route in sorted({r["route"] for r in orphans}):
        with store.atomic():
            cursor = store.db.execute(
                "update outbox set status = ?, last_error = ?, last_attempt = ? where status = ? and route = ?",
                [FAILED, f"the route {route} is not in the configuration any more", iso(now), PENDING, route],
            )
            notify_ops(store, config, f"alerts for a removed route: {route}",
                       f"{cursor.rowcount} pending alerts of route {route} were marked failed: the route is not "
                       "configured any more. Add it back and run: presswatch alerts retry --failed",
                       f"orphans:{route}:{iso(now)[:10]}", now=now)
        report.failed += cursor.rowcount
        log.error("%d pending alerts of route %s failed: the route is not configured any more",
                  cursor.rowcount, route)


# --- a sample through a route ------------------------------------------------------------------------
SAMPLE = render.ReleaseView(
    release_id=0,
    headline="presswatch test: a <b>headline</b> with *stars* and _underscores_ & an ampersand",
    date=dt.date.today().isoformat(),
    versions=[("en", "Sample release (not a real one)", "https://example.org/sample-release")],
    topics=[render.TopicHit("sample", "Sample topic", ["Kazakhstan", "Qozog'iston"],
                            "… a snippet with <i>markup</i>, *stars* and _underscores_ that must arrive "
                            "as text …")],
)


def send_test(config: Config, route_name: str,
              on_result: Callable[[str, str | None], None] | None = None) -> list[tuple[str, str | None]]:
    """Send a sample message through every URL of a route; [(URL shown redacted, error or None)]."""
    route = next((r for r in config.alerts.routes if r.name == route_name), None)
    if route is None:
        raise KeyError(route_name)
    key = f"presswatch:test:{route.name}:{utc_now().strftime('%Y%m%dT%H%M%S')}"
    results = []
    for url in route.urls:
        try:
            channel = channel_of(url)
        except BadURL as exc:
            error: str | None = str(exc)
        else:
            error = _send_sample(url, channel, key, ops=route.ops)
        results.append((describe_url(url), error))
        if on_result:
            on_result(describe_url(url), error)
    return results


def _send_sample(url: str, channel: render.Channel, key: str, *, ops: bool) -> str | None:
    if ops:
        message = render.render_ops("presswatch test message",
                                    "This is how health conditions and failed deliveries arrive.", channel, key)
    else:
        message = render.render_alert(SAMPLE, channel, key)
    return send_message(url, message, channel)
