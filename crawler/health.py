"""Health of a store, computed from `crawl_runs` and `items`; transitions kept in `health_events`.

Three conditions, thresholds from [health]:

- layout_drift: `drift_runs` crawl runs in a row whose list pages parsed zero items or needed the
  structural fallback. A run whose lists all answered 304 Not Modified parsed nothing: it carries
  the state of the last run that did, since a drifted page that stops changing is still drifted.
- source_silent: no new release stored for `silent_hours` (the newest id's first store time; with
  an empty store, the first crawl run's start).
- runs_failing: `failing_runs` crawl runs in a row ended `failed` (interrupted runs do not count
  either way).

`record_transitions()` runs after each crawl: a condition that starts or clears gets one row in
`health_events`, so each is reported once when it starts and once when it clears, never per run.

With several sources ([[sources]]), each source has its own three conditions, computed from its
own runs and releases and named with it (`runs_failing:akorda`); a config with one source keeps
the plain names. (Runs are told apart by `crawl_runs.source`, which the source-identity migration
adds; a store without it has one history for all.)

The daemon's heartbeat (`heartbeat` table: one row per daemon process) lives here too.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crawler.alerts.outbox import notify_ops as queue_for_ops
from crawler.clock import now_utc, parse_stored_time, utc_now
from crawler.config import Config
from crawler.store import Store

log = logging.getLogger("presswatch.health")

CONDITIONS = ("layout_drift", "source_silent", "runs_failing")
LABELS = {"layout_drift": "layout drift", "source_silent": "source silent", "runs_failing": "runs failing"}
# How many crawl runs back the drift streak is looked for; more than any sane drift_runs.
_DRIFT_LOOKBACK = 500
_HEARTBEATS_KEPT = 20


@dataclass(frozen=True)
class Condition:
    name: str
    active: bool
    detail: str
    source: str = ""  # the source it is about; "" with one source configured

    @property
    def key(self) -> str:
        """How health_events names it: the condition, with the source when there are several."""
        return f"{self.name}:{self.source}" if self.source else self.name

    @property
    def label(self) -> str:
        return LABELS[self.name] + (f" ({self.source})" if self.source else "")


def condition_label(key: str) -> str:
    """A health_events condition ("runs_failing:akorda") as a reader sees it ("runs failing (akorda)")."""
    name, _, source = key.partition(":")
    return LABELS.get(name, name) + (f" ({source})" if source else "")


def health_sources(config: Config) -> list[str]:
    """The sources health is kept for: [""] (the whole store, plain names) with one source, else their names."""
    names = [entry.name for entry in config.sources]
    return names if len(names) > 1 else [""]


@dataclass(frozen=True)
class HealthEvent:
    id: int
    condition: str
    state: str  # "started" or "cleared"
    at: str
    detail: str

    def line(self) -> str:
        return f"health: {condition_label(self.condition)} {self.state}: {self.detail}"


# --- facts from the store ---------------------------------------------------------------------
def consecutive_failures(store: Store, source: str = "") -> int:
    """Failed crawl runs (of `source`, when given) since the last one that succeeded (ok or partial)."""
    return store.failures_since_success("crawl", source or None)


def last_success(store: Store, source: str = "") -> str | None:
    return store.last_success("crawl", source or None)


def last_failure_message(store: Store, source: str = "") -> str:
    return store.last_failure_message("crawl", source or None)


def _drifted(list_path: str | None, list_items: int | None) -> bool | None:
    """True: the list needed the fallback or parsed nothing; False: selectors found items;
    None: no list was parsed (all 304, or the run failed before reading one)."""
    if not list_path:
        return None
    return list_path != "selectors" or not list_items


def drift_streak(store: Store, source: str = "") -> tuple[int, str]:
    """Crawl runs in a row, newest first, seeing a drifted list; and the last drifted list_path."""
    rows = store.list_results("crawl", _DRIFT_LOOKBACK, source or None)
    streak, carried, path = 0, 0, ""
    for list_path, list_items, outcome in rows:
        drifted = _drifted(list_path, list_items)
        if drifted is None:
            # Lists unchanged since the last parse: the layout seen then still holds. A failed
            # run says nothing about the layout.
            carried += outcome != "failed"
            continue
        if not drifted:
            break
        streak += carried + 1
        carried = 0
        path = path or list_path
    return streak, path


def newest_release(store: Store, source: str = "") -> tuple[int, str] | None:
    """The newest release id and when it was first stored (ids rise with publication)."""
    return store.newest_release(source or None)


def age_seconds(text: str | None, now: dt.datetime | None = None) -> float | None:
    moment = parse_stored_time(text)
    if moment is None:
        return None
    return ((now or utc_now()) - moment).total_seconds()


def describe_age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


# --- conditions --------------------------------------------------------------------------------
def evaluate(store: Store, config: Config, now: dt.datetime | None = None, *,
             source: str | None = None) -> list[Condition]:
    """The three conditions as they stand now, each with a one-line detail: of every source
    (health_sources), or of the one named `source`."""
    now = now or dt.datetime.now(dt.timezone.utc)
    names = health_sources(config) if source is None else [source if len(config.sources) > 1 else ""]
    return [condition for name in names for condition in (
        _layout_drift(store, config, name), _source_silent(store, config, now, name), _runs_failing(store, config, name))]


def _layout_drift(store: Store, config: Config, source: str) -> Condition:
    streak, path = drift_streak(store, source)
    if streak >= config.health.drift_runs:
        how = "parsed no items" if path in ("selectors", "empty") else f"needed the {path} path"
        return Condition("layout_drift", True, f"the list pages {how} in the last {streak} runs "
                         "(the configured selectors find nothing; check [selectors])", source)
    return Condition("layout_drift", False, "the configured list selectors find the releases again", source)


def _source_silent(store: Store, config: Config, now: dt.datetime, source: str) -> Condition:
    limit = config.health.silent_hours * 3600
    newest = newest_release(store, source)
    if newest is not None:
        since, what = newest[1], f"newest release {newest[0]} first stored {newest[1]}"
    else:
        since, what = store.first_run_started("crawl", source or None), "nothing stored yet"
    age = age_seconds(since, now)
    if age is not None and age > limit:
        return Condition("source_silent", True, f"no new release for {describe_age(age)} ({what})", source)
    return Condition("source_silent", False, f"a new release was stored ({what})" if newest else "no release expected yet",
                     source)


def _runs_failing(store: Store, config: Config, source: str) -> Condition:
    failures = consecutive_failures(store, source)
    if failures >= config.health.failing_runs:
        last = last_failure_message(store, source) or "no message"
        return Condition("runs_failing", True, f"{failures} crawl runs in a row failed; last: {last}", source)
    return Condition("runs_failing", False, "a crawl run succeeded again", source)


def open_conditions(store: Store) -> dict[str, dict[str, Any]]:
    """condition -> its 'started' event, for every condition whose last event is 'started'."""
    rows = store.db.execute(
        "select id, condition, state, at, detail from health_events where id in "
        "(select max(id) from health_events group by condition)"
    ).fetchall()
    return {
        row[1]: {"id": row[0], "condition": row[1], "state": row[2], "at": row[3], "detail": row[4]}
        for row in rows
        if row[2] == "started"
    }


def record_transitions(store: Store, config: Config, now: dt.datetime | None = None, *,
                       source: str | None = None) -> list[HealthEvent]:
    """Compare the conditions (of every source, or of `source`) with the last recorded events;
    record and return what changed."""
    conditions = evaluate(store, config, now, source=source)
    at = (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
    events: list[HealthEvent] = []
    with store.atomic() as db:
        opened = open_conditions(store)  # inside the transaction: two sources' jobs record one at a time
        for condition in conditions:
            was_active = condition.key in opened
            if condition.active == was_active:
                continue
            state = "started" if condition.active else "cleared"
            table = db["health_events"]
            table.insert({"condition": condition.key, "state": state, "at": at, "detail": condition.detail})
            events.append(HealthEvent(int(table.last_pk), condition.key, state, at, condition.detail))
    return events


def report_transitions(store: Store, config: Config, notify_ops: Callable | None | bool = True,
                       now: dt.datetime | None = None, *, source: str | None = None) -> list[HealthEvent]:
    """Record the transitions after a run, log each in one line and queue it for the ops routes.

    `notify_ops`: True queues through the alert outbox, None or False sends nothing, a callable is
    used as is.
    """
    if notify_ops is True:
        notify_ops = queue_for_ops
    events = record_transitions(store, config, now, source=source)
    for event in events:
        level = logging.WARNING if event.state == "started" else logging.INFO
        log.log(level, "%s", event.line(), extra={"event": f"health_{event.state}", "condition": event.condition})
        if notify_ops:
            subject = f"presswatch: {condition_label(event.condition)} {event.state}"
            body = f"{event.line()}\nat {event.at}\nstore {store.path} on {socket.gethostname()}"
            try:
                notify_ops(store, config, subject, body, f"health:{event.condition}:{event.id}")
            except Exception as exc:  # an alert problem must not stop the crawl
                log.error("ops notification failed: %s: %s", type(exc).__name__, exc, extra={"event": "alerts_error"})
    return events


def recent_events(store: Store, limit: int = 10) -> list[dict[str, Any]]:
    return list(store.db["health_events"].rows_where(order_by="id desc", limit=limit))


# --- heartbeat ---------------------------------------------------------------------------------
def start_heartbeat(store: Store, state: str = "starting") -> int:
    """A new heartbeat row for this process; older rows beyond the last few are pruned."""
    now = now_utc()
    with store.atomic() as db:
        table = db["heartbeat"]
        table.insert({"pid": os.getpid(), "host": socket.gethostname(), "started": now, "last_beat": now,
                      "state": state})
        beat_id = int(table.last_pk)
        db.execute("delete from heartbeat where id <= ?", [beat_id - _HEARTBEATS_KEPT])
    return beat_id


def beat(store: Store, beat_id: int, state: str | None = None, next_run: str | None = None) -> None:
    """Refresh the heartbeat; inside a transaction already open it joins it, else it commits."""
    sets, values = ["last_beat = ?"], [now_utc()]
    if state is not None:
        sets.append("state = ?")
        values.append(state)
    if next_run is not None:
        sets.append("next_run = ?")
        values.append(next_run)
    with store.atomic() as db:
        db.execute(f"update heartbeat set {', '.join(sets)} where id = ?", [*values, beat_id])


def last_heartbeat(store: Store) -> dict[str, Any] | None:
    rows = list(store.db["heartbeat"].rows_where(order_by="id desc", limit=1))
    return rows[0] if rows else None
