"""`presswatch status`: what the store holds, how the last runs went, and whether it is healthy.

Unhealthy (exit 1, so monitoring can call it) when a health condition is active (crawler.health:
layout drift, source silent, runs failing) or when a daemon was running on the store and is gone
without a clean stop (its process is dead, or its heartbeat is older than three schedule intervals
and at least 15 minutes). `--json` gives the same report for scripts.
"""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any

from crawler import health
from crawler.config import Config
from crawler.normalize import today_tashkent
from crawler.store import Store

# A live daemon refreshes its heartbeat every minute and during runs; silence this long is death.
_MIN_STALE_SECONDS = 15 * 60


def collect_status(store: Store, config: Config, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.timezone.utc)
    db = store.db
    per_lang = {lang: count for lang, count in db.execute("select lang, count(*) from items group by lang")}
    today = today_tashkent().isoformat()
    runs = store.last_runs(1)
    last_error = db.execute("select at, url, reason from crawl_errors order by id desc limit 1").fetchone()
    last_success = health.last_success(store)
    conditions = _conditions(store, config, now)
    daemon = _daemon(store, config, now)
    problems = [f"{c['label']}: {c['detail']}" for c in conditions if c["active"]]
    if daemon and daemon["status"] == "dead":
        problems.append(f"daemon: {daemon['detail']}")
    return {
        "store": str(store.path),
        "releases": db.execute("select count(distinct id) from items").fetchone()[0],
        "language_versions": sum(per_lang.values()),
        "per_language": per_lang,
        "stored_today": db.execute(
            "select count(*) from items where substr(first_seen, 1, 10) = ? or published = ?", [today, today]
        ).fetchone()[0],
        "pending_translations": len(store.pending()),
        "last_run": runs[0] if runs else None,
        "last_success": last_success,
        "last_success_age_seconds": _round(health.age_seconds(last_success, now)),
        "consecutive_failures": health.consecutive_failures(store),
        "last_error": {"at": last_error[0], "url": last_error[1], "reason": last_error[2]} if last_error else None,
        "conditions": conditions,
        "health_events": health.recent_events(store, 10),
        "daemon": daemon,
        "alerts": _alerts(store, config),
        "problems": problems,
        "healthy": not problems,
    }


def _alerts(store: Store, config: Config) -> dict[str, Any] | None:
    """Outbox counts and routes, when crawler.alerts is part of the build."""
    try:
        from crawler.alerts import alerts_summary
    except ImportError:
        return None
    return alerts_summary(store, config)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _conditions(store: Store, config: Config, now: dt.datetime) -> list[dict[str, Any]]:
    opened = health.open_conditions(store)
    return [
        {
            "name": condition.name,
            "label": health.LABELS[condition.name],
            "active": condition.active,
            "detail": condition.detail,
            # when the daemon recorded it starting (None if only this evaluation sees it)
            "since": opened[condition.name]["at"] if condition.active and condition.name in opened else None,
        }
        for condition in health.evaluate(store, config, now)
    ]


def _daemon(store: Store, config: Config, now: dt.datetime) -> dict[str, Any] | None:
    beat = health.last_heartbeat(store)
    if beat is None:
        return None
    age = health.age_seconds(beat["last_beat"], now)
    same_host = beat["host"] == socket.gethostname()
    if beat["state"] == "stopped":
        status, detail = "stopped", f"stopped cleanly at {beat['last_beat']}"
    elif same_host and not health.pid_alive(beat["pid"]):
        status, detail = "dead", f"pid {beat['pid']} is gone without a clean stop (last beat {beat['last_beat']})"
    elif age is not None and age > _stale_after(config):
        status, detail = "dead", f"no heartbeat for {health.describe_age(age)} (pid {beat['pid']} on {beat['host']})"
    else:
        status, detail = "running", f"{beat['state']}, last beat {health.describe_age(age)} ago"
    return {**beat, "status": status, "detail": detail, "last_beat_age_seconds": _round(age)}


def _stale_after(config: Config) -> float:
    from crawler.daemon import schedule_interval

    try:
        interval = schedule_interval(config.schedule)
    except ValueError:
        interval = config.schedule.interval_minutes * 60
    return max(3 * interval, _MIN_STALE_SECONDS)


def print_status(report: dict[str, Any]) -> None:
    print(f"store: {report['store']}")
    langs = ", ".join(f"{lang} {count}" for lang, count in sorted(report["per_language"].items()))
    print(f"releases: {report['releases']} ({report['language_versions']} language versions: {langs or 'none'})")
    print(f"stored today: {report['stored_today']}; missing translations waiting: {report['pending_translations']}")
    run = report["last_run"]
    if run:
        print(f"last run: #{run['id']} {run['kind']} {run['outcome']} at {run['finished'] or run['started']}: "
              f"{run['new']} new, {run['changed']} changed, {run['errors']} errors")
    else:
        print("last run: none yet")
    if report["last_success"]:
        age = health.describe_age(report["last_success_age_seconds"])
        print(f"last success: {report['last_success']} ({age} ago)")
    else:
        print("last success: never")
    print(f"failed runs in a row: {report['consecutive_failures']}")
    if report["last_error"]:
        error = report["last_error"]
        print(f"last error: {error['at']} {error['url']}: {error['reason']}")
    daemon = report["daemon"]
    if daemon:
        where = f"pid {daemon['pid']} on {daemon['host']}"
        next_run = f", next run {daemon['next_run']}" if daemon["status"] == "running" and daemon["next_run"] else ""
        print(f"daemon: {daemon['status']} ({where}): {daemon['detail']}{next_run}")
    else:
        print("daemon: never ran on this store")
    alerts = report.get("alerts")
    if alerts:
        counts = ", ".join(f"{status} {count}" for status, count in sorted(alerts["outbox"].items()))
        print(f"alerts: {len(alerts['routes'])} routes; outbox: {counts or 'empty'}")
    print(f"health: {'ok' if report['healthy'] else 'UNHEALTHY'}")
    for condition in report["conditions"]:
        if condition["active"]:
            since = f" since {condition['since']}" if condition["since"] else ""
            print(f"  {condition['label']}: ACTIVE{since}: {condition['detail']}")
        else:
            print(f"  {condition['label']}: ok")
    if daemon and daemon["status"] == "dead":
        print(f"  daemon: DEAD: {daemon['detail']}")
