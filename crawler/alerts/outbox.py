"""The alert outbox: rows written in the transaction that stores a release, sent later by deliver.py.

One row per (release, topic, route), whatever the number of language versions and whenever they
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

from crawler.config import Config, RouteConfig
from crawler.normalize import TASHKENT
from crawler.store import Store

PENDING, SENT, FAILED, SILENCED = "pending", "sent", "failed", "silenced"
STATUSES = (PENDING, SENT, FAILED, SILENCED)

# Why a row was silenced (outbox.reason)
BACKFILL, FIRST_CRAWL, HORIZON = "backfill", "first_crawl", "horizon"

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    """UTC, to the second, in the same shape as crawler.normalize.now_utc(): rows compare as text."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.timezone.utc)


def release_key(release_id: int, topic: str, route: str) -> str:
    return f"presswatch:{release_id}:{topic}:{route}"


def ops_key(key: str, route: str) -> str:
    return f"presswatch:ops:{key}:{route}"


# --- when a digest goes out ------------------------------------------------------------------------
def period_end(mode: str, created: dt.datetime, digest_hour: int) -> dt.datetime | None:
    """The moment the digest period holding `created` closes; None for immediate routes."""
    if mode == "hourly":
        start = created.astimezone(TASHKENT).replace(minute=0, second=0, microsecond=0)
        return (start + dt.timedelta(hours=1)).astimezone(dt.timezone.utc)
    if mode == "daily":
        local = created.astimezone(TASHKENT)
        close = local.replace(hour=digest_hour, minute=0, second=0, microsecond=0)
        if close <= local:
            close += dt.timedelta(days=1)
        return close.astimezone(dt.timezone.utc)
    return None


# --- the no-flood rule -------------------------------------------------------------------------------
def current_run_kind(store: Store) -> str:
    """The kind of the run storing this release. The pipeline closes stale runs before starting one,
    so the only 'running' row is ours; a hook called outside any run counts as a crawl."""
    row = store.db.execute(
        "select kind from crawl_runs where outcome = 'running' order by id desc limit 1"
    ).fetchone()
    return row[0] if row else "crawl"


def store_is_armed(store: Store) -> bool:
    """True once a crawl or backfill run has completed: until then the store is being filled for the
    first time (however many interrupted attempts that takes) and nothing it finds is news."""
    row = store.db.execute(
        "select 1 from crawl_runs where outcome in ('ok', 'partial') and finished is not null limit 1"
    ).fetchone()
    return row is not None


def horizon_date(now: dt.datetime, horizon_days: float) -> str:
    """The oldest Tashkent date still alerted on (`published` is a Tashkent date)."""
    return (now.astimezone(TASHKENT) - dt.timedelta(days=horizon_days)).date().isoformat()


def silence_reason(store: Store, published: str | None, now: dt.datetime, horizon_days: float) -> str | None:
    if current_run_kind(store) == "backfill":
        return BACKFILL
    if not store_is_armed(store):
        return FIRST_CRAWL
    # An unknown date alerts: a missed alert is worse than an old one, and backfills never get here.
    if published and published < horizon_date(now, horizon_days):
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
    release_id: int,
    lang: str,
    published: str | None,
    topics: list[str],
    now: dt.datetime,
) -> int:
    """Rows for every (topic, route) this version brings that the release has no row for yet.

    Call inside the transaction that stores the version. Returns the number of new rows.
    """
    if not topics:
        return 0
    reason = silence_reason(store, published, now, config.alerts.horizon_days)
    created = 0
    for topic in topics:
        for route in topic_routes(config, topic):
            close = period_end(route.mode, now, config.alerts.digest_hour)
            created += _insert(store, {
                "key": release_key(release_id, topic, route.name), "kind": "release", "route": route.name,
                "mode": route.mode, "release_id": release_id, "topic": topic, "trigger_lang": lang,
                "published": published, "status": SILENCED if reason else PENDING, "reason": reason,
                "period": iso(close) if close else None, "created_at": iso(now),
                "due_at": iso(close or now), "attempts": 0, "done_urls": "[]",
            })
    return created


def version_topics(store: Store, release_id: int, lang: str) -> list[str]:
    """Topics the tagging hook just wrote for this language version (it runs before ours)."""
    rows = store.db.execute(
        "select distinct topic from matches where id = ? and lang = ? order by topic", [release_id, lang]
    ).fetchall()
    return [row[0] for row in rows]


def alerts_hook(config: Config, *, clock: Clock | None = None) -> Callable[[Store, Any, str], None]:
    """A pipeline ReleaseHook: after tagging, queue the alerts a stored version brings."""
    now_of = clock or utc_now

    def hook(store: Store, item, outcome: str) -> None:
        if outcome == "unchanged" or not config.alerts.routes:
            return
        topics = version_topics(store, item.id, item.lang)
        if topics:
            published = item.published or _any_published(store, item.id)
            enqueue_release(store, config, item.id, item.lang, published, topics, now_of())

    return hook


def _any_published(store: Store, release_id: int) -> str | None:
    row = store.db.execute(
        "select published from items where id = ? and published is not null limit 1", [release_id]
    ).fetchone()
    return row[0] if row else None


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
