"""The alert outbox: rows written in the transaction that stores a release, sent later by deliver.py.

One row per (source, release, topic, route), whatever the number of language versions and whenever they
arrive: the row's `key` is unique, so the first matching version creates it and every later one
(or an edit that keeps the same topics) finds it already there. A crash can only roll the row back
together with the release version it belongs to, and the next crawl stores both again.

No flood: a release stored by a backfill, by the very first crawl of a store, or published before
the horizon gets its rows with status 'silenced' instead of 'pending'.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from crawler.clock import iso, utc_now
from crawler.config import Config, RouteConfig
from crawler.logs import redact
from crawler.model import StoredVersion
from crawler.sources import source_book
from crawler.sources.base import language_order_sql
from crawler.store import Store

PENDING, SENT, FAILED, SILENCED = "pending", "sent", "failed", "silenced"
STATUSES = (PENDING, SENT, FAILED, SILENCED)

# Why a row was silenced (outbox.reason)
BACKFILL, FIRST_CRAWL, HORIZON = "backfill", "first_crawl", "horizon"

Clock = Callable[[], dt.datetime]


def release_key(source: str, release_id: int, topic: str, route: str) -> str:
    """The idempotency key of a release alert. Keys written before sources were plural
    (presswatch:ID:TOPIC:ROUTE) were rewritten to this form by migration m007."""
    return f"presswatch:{source}:{release_id}:{topic}:{route}"


def ops_key(key: str, route: str) -> str:
    return f"presswatch:ops:{key}:{route}"


# --- when a digest goes out ------------------------------------------------------------------------
def period_end(mode: str, created: dt.datetime, digest_hour: int, zone: dt.tzinfo) -> dt.datetime | None:
    """The moment the digest period holding `created` closes (hours of `zone`, the source's time
    zone); None for immediate routes."""
    if mode == "hourly":
        start = created.astimezone(zone).replace(minute=0, second=0, microsecond=0)
        return (start + dt.timedelta(hours=1)).astimezone(dt.timezone.utc)
    if mode == "daily":
        local = created.astimezone(zone)
        close = local.replace(hour=digest_hour, minute=0, second=0, microsecond=0)
        if close <= local:
            close += dt.timedelta(days=1)
        return close.astimezone(dt.timezone.utc)
    return None


# --- the no-flood rule -------------------------------------------------------------------------------
def horizon_date(now: dt.datetime, horizon_days: float, zone: dt.tzinfo) -> str:
    """The oldest date still alerted on (`published` is a date in the source's time zone `zone`)."""
    return (now.astimezone(zone) - dt.timedelta(days=horizon_days)).date().isoformat()


def silence_reason(store: Store, source: str, published: str | None, now: dt.datetime, horizon_days: float,
                   zone: dt.tzinfo) -> str | None:
    # The pipeline closes the source's stale runs before starting one, so its only run in progress
    # is ours; a version stored outside any run counts as a crawl's.
    if store.current_run_kind(source) == "backfill":
        return BACKFILL
    # Until a run of the source has completed, its part of the store is being filled for the first
    # time (however many interrupted attempts that takes) and nothing it finds is news.
    if not store.has_completed_run(source):
        return FIRST_CRAWL
    # An unknown date alerts: a missed alert is worse than an old one, and backfills never get here.
    if published and published < horizon_date(now, horizon_days, zone):
        return HORIZON
    return None


# --- writing rows ------------------------------------------------------------------------------------
def topic_routes(config: Config, topic: str) -> list[RouteConfig]:
    return [r for r in config.alerts.routes if not r.ops and (not r.topics or topic in r.topics)]


def ops_routes(config: Config) -> list[RouteConfig]:
    return [r for r in config.alerts.routes if r.ops]


def _insert(store: Store, row: dict[str, Any]) -> bool:
    """INSERT OR IGNORE on the unique key: True when the row is new."""
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    cursor = store.db.execute(f"insert or ignore into outbox ({columns}) values ({marks})", list(row.values()))
    return cursor.rowcount == 1


def enqueue_release(
    store: Store,
    config: Config,
    source: str,
    release_id: int,
    lang: str,
    published: str | None,
    topics: list[str],
    now: dt.datetime,
    zone: dt.tzinfo,
) -> int:
    """Rows for every (topic, route) this version brings that the release has no row for yet;
    `zone` is the source's time zone (its dates, the digest hours).

    Call inside the transaction that stores the version. Returns the number of new rows.
    """
    if not topics:
        return 0
    reason = silence_reason(store, source, published, now, config.alerts.horizon_days, zone)
    created = 0
    for topic in topics:
        for route in topic_routes(config, topic):
            close = period_end(route.mode, now, config.alerts.digest_hour, zone)
            created += _insert(store, {
                "key": release_key(source, release_id, topic, route.name), "kind": "release",
                "source": source, "route": route.name,
                "mode": route.mode, "release_id": release_id, "topic": topic, "trigger_lang": lang,
                "published": published, "status": SILENCED if reason else PENDING, "reason": reason,
                "period": iso(close) if close else None, "created_at": iso(now),
                "due_at": iso(close or now), "attempts": 0, "done_urls": "[]",
            })
    return created


def alerts_hook(config: Config, *, clock: Clock | None = None) -> Callable[[Store, StoredVersion], None]:
    """A pipeline ReleaseHook: queue the alerts a stored version brings, from its topic matches."""
    now_of = clock or utc_now
    # Each version's dates and digest hours are in its own source's time zone. The crawler of one
    # source hands its view of the config (Config.for_source), whose one source is the version's.
    sources = source_book(config)

    def hook(store: Store, version: StoredVersion) -> None:
        topics = version.topics
        if not topics or not config.alerts.routes:
            return
        item = version.item
        published = item.published or store.any_published(item.source, item.id)
        zone = sources.get(item.source).timezone
        enqueue_release(store, config, item.source, item.id, item.lang, published, topics, now_of(), zone)

    return hook


def notify_ops(
    store: Store, config: Config, subject: str, body: str, key: str, *, now: dt.datetime | None = None
) -> int:
    """Queue a message for every ops route, once per `key` (a condition that starts, clears, ...).

    Commits its own transaction unless called inside one. Returns the number of rows queued (0 when
    the key was queued before or no ops route is configured).
    """
    moment = now or utc_now()
    created = 0
    with store.atomic():
        for route in ops_routes(config):
            created += _insert(store, {
                "key": ops_key(key, route.name), "kind": "ops", "route": route.name, "mode": "immediate",
                "subject": subject, "body": body, "status": PENDING, "created_at": iso(moment),
                "due_at": iso(moment), "attempts": 0, "done_urls": "[]",
            })
    return created


# --- reading and re-queueing (alerts list / retry) ----------------------------------------------------
def list_rows(store: Store, status: str | None, limit: int | None,
              headline_preference: tuple[str, ...], source: str | None = None) -> list[dict[str, Any]]:
    """The newest outbox rows (all when `limit` is None; of one `source` if given: its release
    alerts), each with its release's headline in the most widely read language stored; texts
    redacted, delivery bookkeeping left out."""
    clauses, params = ["1"], []
    if status:
        clauses.append("o.status = ?")
        params.append(status)
    if source:
        clauses.append("o.source = ?")
        params.append(source)
    order = language_order_sql("lang", headline_preference)
    sql = (f"select o.*, (select title from items i where i.source = o.source and i.id = o.release_id "
           f"order by {order} limit 1) as title "
           f"from outbox o where {' and '.join(clauses)} order by o.id desc" + (" limit ?" if limit else ""))
    cursor = store.db.execute(sql, params + ([limit] if limit else []))
    names = [c[0] for c in cursor.description]
    rows = [dict(zip(names, r)) for r in cursor.fetchall()]
    for row in rows:
        row.pop("done_urls", None)
        for name in ("last_error", "subject", "body"):  # ops messages carry text from the daemon
            if row.get(name):
                row[name] = redact(row[name])
    return rows


def requeue(store: Store, *, failed: bool = False, ids: list[int] = ()) -> tuple[list[int], list[tuple[int, str]]]:
    """Make failed rows (or the rows `ids`, silenced ones included) due now with a fresh count of
    attempts. Returns (requeued ids, [(id, why not)])."""
    now = iso(utc_now())
    retried, refused = [], []
    with store.atomic() as db:
        if failed:
            targets = [r[0] for r in db.execute("select id from outbox where status = ?", [FAILED])]
        else:
            targets = list(dict.fromkeys(ids))
        for alert_id in targets:
            row = db.execute("select status from outbox where id = ?", [alert_id]).fetchone()
            if row is None or row[0] == SENT:
                refused.append((alert_id, "not in the outbox" if row is None else "already sent"))
                continue
            db.execute(
                "update outbox set status = ?, attempts = 0, due_at = ?, last_error = null, reason = null "
                "where id = ?", [PENDING, now, alert_id])
            retried.append(alert_id)
    return retried, refused
