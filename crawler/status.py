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
from crawler.alerts import alerts_summary
from crawler.config import Config
from crawler.coverage import coverage_report
from crawler.lock import last_write_failure, pid_alive, writer_active
from crawler.polling import describe_poll
from crawler.schedule import schedule_interval
from crawler.sources import SourceBook, source_book
from crawler.store import Store
from crawler.tagging import untagged_languages

# A live daemon refreshes its heartbeat every minute and during runs; silence this long is death.
_MIN_STALE_SECONDS = 15 * 60


def collect_status(store: Store, config: Config, now: dt.datetime | None = None,
                   source: str | None = None) -> dict[str, Any]:
    """The report; with `source`, the counts, runs and coverage are that source's alone."""
    now = now or dt.datetime.now(dt.timezone.utc)
    book = source_book(config)
    configured = book.get(source, store.languages(source)) if source else book.first
    per_lang = store.versions_per_language(source)
    today = configured.today().isoformat()
    runs = store.last_runs(1, source)
    covered = configured.name
    covered_languages = crawled_languages(store, book, covered)
    last_success = health.last_success(store)
    conditions = _conditions(store, config, now)
    daemon = _daemon(store, config, now)
    problems = [f"{c['label']}: {c['detail']}" for c in conditions if c["active"]]
    if daemon and daemon["status"] == "dead":
        problems.append(f"daemon: {daemon['detail']}")
    store_problems = _store_problems(store, runs[0] if runs else None)
    problems += [f"store: {problem}" for problem in store_problems]
    return {
        "store": str(store.path),
        "source": source,
        "releases": store.release_count(source),
        "language_versions": sum(per_lang.values()),
        "per_language": per_lang,
        "sources": _per_source(store, source, book),
        "stored_today": store.stored_on(today, source),
        "pending_translations": len(store.pending(source=source)),
        "last_run": runs[0] if runs else None,
        "last_success": last_success,
        "last_success_age_seconds": _round(health.age_seconds(last_success, now)),
        "consecutive_failures": health.consecutive_failures(store),
        # the last failed crawl's reason, shown from the first failure on (runs_failing waits for a
        # streak); crawl runs, like last_success and consecutive_failures
        "last_error": store.last_failed_run("crawl", source),
        "last_page_error": store.last_page_error(source),
        # written by the crawler after each run: status runs in another process
        "pace": store.pace(configured.base_url) if configured.base_url else None,
        # which schedule strategy runs, and its budget (crawler.polling)
        "schedule": describe_poll(store, config.schedule, configured.name, configured.languages),
        "coverage_source": covered,
        "coverage": _coverage(store, book, covered, covered_languages),
        "conditions": conditions,
        "health_events": health.recent_events(store, 10),
        "daemon": daemon,
        "alerts": alerts_summary(store, config),
        "store_problems": store_problems,
        # languages of a source no topic it is tagged with can fire on (reported, not a health problem)
        "untagged_languages": _untagged(config),
        "problems": problems,
        "healthy": not problems,
    }


def crawled_languages(store: Store, book: SourceBook, name: str) -> tuple[str, ...]:
    """The languages a source is crawled in (configured), else those the store holds of it."""
    return book.get(name).languages if book.is_configured(name) else store.languages(name)


def _per_source(store: Store, only: str | None, book: SourceBook) -> list[dict[str, Any]]:
    """Each source in the store: its releases, versions per language, its last run and success,
    the languages it is crawled in, their coverage, and the pace its host kept (None when the
    source is no longer configured)."""
    report = []
    for name in store.sources():
        if only and name != only:
            continue
        runs = store.last_runs(1, name)
        per_lang = store.versions_per_language(name)
        report.append({
            "name": name, "releases": store.release_count(name), "language_versions": sum(per_lang.values()),
            "per_language": per_lang, "last_run": runs[0] if runs else None,
            "last_success": store.last_success("crawl", name),
            **_source_detail(store, book, name),
        })
    return report


def _source_detail(store: Store, book: SourceBook, name: str) -> dict[str, Any]:
    languages = crawled_languages(store, book, name)
    source = book.get(name)
    return {"languages": list(languages), "coverage": _coverage(store, book, name, languages),
            "pace": store.pace(source.base_url) if book.is_configured(name) else None}


def _coverage(store: Store, book: SourceBook, name: str, languages: tuple[str, ...]) -> dict[str, Any]:
    """The source's coverage as its ids work: per language, or across them (ids not shared)."""
    source = book.get(name)
    return coverage_report(store, name, languages, shared_ids=getattr(source, "shared_ids", True),
                           item_urls_from_ids=getattr(source, "item_urls_from_ids", True))


def _store_problems(store: Store, last_run: dict[str, Any] | None) -> list[str]:
    """A write that failed (a full disk: the store may not hold the failed run, so the lock file
    beside it says it) and a run left 'running' although no process writes to the store."""
    problems = []
    failure = last_write_failure(store.path)
    if failure:
        problems.append(f"the last write failed: {failure}")
    if last_run and last_run["outcome"] == "running" and not writer_active(store.path):
        problems.append(f"{last_run['kind']} run {last_run['id']} started {last_run['started']} was left "
                        "running: its process ended without recording how (killed, or the disk full)")
    return problems


def _untagged(config: Config) -> list[dict[str, str]]:
    try:
        return untagged_languages(config)
    except Exception as exc:  # a broken topics file is `topics lint`'s to report; status still answers
        return [{"source": "", "lang": "", "message": f"topics not checked: {exc}"}]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _conditions(store: Store, config: Config, now: dt.datetime) -> list[dict[str, Any]]:
    opened = health.open_conditions(store)
    return [
        {
            "name": condition.name,
            "source": condition.source or None,  # with several sources, each has its own conditions
            "label": condition.label,
            "active": condition.active,
            "detail": condition.detail,
            # when the daemon recorded it starting (None if only this evaluation sees it)
            "since": opened[condition.key]["at"] if condition.active and condition.key in opened else None,
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
    elif same_host and not pid_alive(beat["pid"]):
        status, detail = "dead", f"pid {beat['pid']} is gone without a clean stop (last beat {beat['last_beat']})"
    elif age is not None and age > _stale_after(config):
        status, detail = "dead", f"no heartbeat for {health.describe_age(age)} (pid {beat['pid']} on {beat['host']})"
    else:
        status, detail = "running", f"{beat['state']}, last beat {health.describe_age(age)} ago"
    return {**beat, "status": status, "detail": detail, "last_beat_age_seconds": _round(age)}


def _stale_after(config: Config) -> float:
    try:
        interval = schedule_interval(config.schedule)
    except ValueError:
        interval = config.schedule.interval_minutes * 60
    return max(3 * interval, _MIN_STALE_SECONDS)
