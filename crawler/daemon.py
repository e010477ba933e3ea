"""`presswatch run`: the background service around `Crawler.crawl`.

- Schedule ([schedule]): a crawl at start, then every `interval_minutes` delayed by up to
  `jitter_seconds`, or on a `cron` expression (5 fields, the host's time zone, 0 or 7 = Sunday);
  or, under the adaptive strategy, by the plan crawler.polling learns from the store for each
  source (renewed after each of its runs; the backoff below then counts in its mean interval).
  One crawl at a time per source (max_instances=1, coalesce=True); a run missed by up to
  `misfire_grace_seconds` (a suspended host) still happens once on wake-up.
- Several sources ([[sources]]): one job per source, on the schedule or the source's own
  `interval_minutes`, each in its own scheduler thread with its own store connection, fetcher
  and backoff, so a source that fails, refuses, hangs or drifts never stops or delays another.
  Their fetchers share one PaceRegistry: sources on one host keep one pace.
- SIGTERM / SIGINT: no new run starts, the crawl stops between two releases (the release in hand
  commits or rolls back: each is its own transaction), and the process exits 0 within
  `stop_timeout_seconds`. If the run has not ended by then (a request stuck in a read), the
  process exits anyway, still 0: SQLite rolls back the open transaction, nothing is half-written.
- SIGHUP: the config file is read again. A config that does not load (or names another store) is
  refused with one log line and the running config stays in force; a good one applies from the next
  run, with the new schedule.
- One daemon per store (StoreLock): a second one exits 3. A lock left by a killed daemon is
  recovered by the kernel, and the run it left `running` is marked `interrupted`.
- A failed run (site down, DNS, refused) logs one line, no traceback, and the daemon goes on.
  After `health.failing_runs` failures in a row, runs are spaced out: the next attempt waits
  2, 4, 8... schedule intervals, at most an hour (or one interval if that is longer). The first
  run that succeeds ends the backoff.
- After each run: health transitions (crawler.health) are logged and sent to the ops route, and
  pending alerts are delivered.
- Under systemd (Type=notify, crawler/service.py): READY=1 once the scheduler runs, STATUS= what
  it does, WATCHDOG=1 from the main loop while the scheduler runs jobs and every running source's
  crawl sends requests (one hung source stops the pings, however busy the others), STOPPING=1
  on the way out. Without $NOTIFY_SOCKET none of this happens.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from crawler import app, health, polling, service
from crawler.alerts import deliver_pending, notify_ops
from crawler.clock import exponential_backoff
from crawler.config import Config, ScheduleConfig, SourceEntry
from crawler.fetch import Fetcher, PaceRegistry
from crawler.logs import run_fields
from crawler.pipeline import Crawler
from crawler.schedule import describe_schedule, make_plan_trigger, make_trigger, schedule_interval, strategy_in_force
from crawler.store import Store
from crawler.tagging import load_topicset

log = logging.getLogger("presswatch.daemon")

BACKOFF_CAP_SECONDS = 3600.0
# While no crawl runs, the heartbeat is refreshed this often, so `status` can tell a live daemon.
BEAT_SECONDS = 60.0
# Warnings held back during one run at most (a failed run drops them; a good run prints them).
_HELD_WARNINGS = 200
_CRAWL_LOGGERS = ("presswatch.crawl", "presswatch.fetch")


# --- backoff after failed runs (the schedule itself: crawler/schedule.py) ----------------------------


def backoff_delay(failures: int, threshold: int, interval: float, cap: float = BACKOFF_CAP_SECONDS) -> float:
    """Seconds to wait before the next attempt after `failures` failed runs in a row; 0: no backoff.

    From the `threshold`-th failure on: 2, 4, 8... intervals, capped at `cap` (or at one interval,
    when the schedule itself is sparser than the cap).
    """
    if failures < threshold:
        return 0.0
    return exponential_backoff(failures - threshold + 2, interval, max(cap, interval))


# --- logging during a run --------------------------------------------------------------------------
class _HeldWarnings(logging.Filter):
    """Holds the crawl thread's warnings until the run ends, so a failed run logs one line instead of
    one per retry and language; a run that did not fail prints them afterwards."""

    def __init__(self, handlers: list[logging.Handler]) -> None:
        super().__init__()
        self.thread = threading.get_ident()
        self.handlers = handlers
        self.held: list[logging.LogRecord] = []
        self.dropped = 0
        for handler in handlers:
            handler.addFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.thread != self.thread or record.levelno != logging.WARNING or record.name not in _CRAWL_LOGGERS:
            return True
        if len(self.held) < _HELD_WARNINGS:
            self.held.append(record)
        else:
            self.dropped += 1
        return False

    def release(self, show: bool) -> None:
        for handler in self.handlers:
            handler.removeFilter(self)
        if not show:
            return
        for record in self.held:
            for handler in self.handlers:
                handler.handle(record)
        if self.dropped:
            log.warning("%d more warnings from this run not shown", self.dropped)


@dataclasses.dataclass(frozen=True)
class _SourceParts:
    """What a run of one source uses."""

    entry: SourceEntry
    config: Config  # the config as this source's crawl sees it (Config.for_source)
    source: Any
    tagger: Any
    hooks: tuple[Callable, ...]


@dataclasses.dataclass(frozen=True)
class _Active:
    """What the runs use, swapped as one piece on SIGHUP so a run never mixes two configs."""

    config: Config
    parts: dict[str, _SourceParts]


def _activate(config: Config) -> _Active:
    # Built here, so a reload with a bad topics file or source is refused before anything changes.
    topics = load_topicset(config)
    parts = {}
    for entry in config.sources:
        view = config.for_source(entry)
        view = dataclasses.replace(view, schedule=_source_schedule(config.schedule, entry), origin=view.origin)
        parts[entry.name] = _SourceParts(entry, view, app.source(config, entry), app.tagger_for(config, entry, topics),
                                         tuple(app.release_hooks(view)))
    return _Active(config=config, parts=parts)


class _Job:
    """One source's crawls: its own lock, fetcher, store connection and backoff."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.busy = threading.Lock()  # held while a run of this source uses its store connection
        self.store: Store | None = None
        self.fetcher: Fetcher | None = None
        self.fetcher_source: Any = None
        self.crawler: Crawler | None = None
        self.resume_at = 0.0  # wall clock: a suspended host must not extend the backoff
        self.plan_trigger: Any = None  # the adaptive strategy's trigger, whose plan each run renews

    def close(self) -> None:
        if self.fetcher is not None:
            self.fetcher.close()
        if self.store is not None:
            self.store.close()


def _job_id(name: str) -> str:
    return f"crawl:{name}"


# --- the daemon -----------------------------------------------------------------------------------
class Daemon:
    """Crawls `store` on the schedule of `config` until stop() or a stop signal."""

    def __init__(self, config: Config, store: Store, *, reload: Callable[[], Config] | None = None) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.store = store
        self.active = _activate(config)
        self._reload_config = reload
        self._scheduler = BackgroundScheduler()
        # Held while a job uses `store` (heartbeat): its connection serves one thread at a time.
        self._busy = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._reload_requested = False
        self._stop_reason = ""
        self._jobs: dict[str, _Job] = {}
        self._paces = PaceRegistry()  # sources on one host keep one pace
        self._beat_id = 0
        self._systemd = service.SystemdService()

    @property
    def config(self) -> Config:
        return self.active.config

    # --- lifecycle ---------------------------------------------------------------------------
    def serve(self) -> int:
        """Run until stopped; returns the exit status (0)."""
        from apscheduler.triggers.interval import IntervalTrigger

        self._install_signals()
        _route_scheduler_logs()
        schedule = self.config.schedule
        self._beat_id = health.start_heartbeat(self.store)
        log.info("presswatch daemon started (pid %d): store %s, %s, %s, stop timeout %g s",
                 os.getpid(), self.store.path, describe_schedule(schedule), _describe_sources(self.config),
                 schedule.stop_timeout_seconds, extra={"event": "daemon_start"})
        self._scheduler.start()
        self._schedule_sources(self.active)
        self._scheduler.add_job(self._idle_beat, IntervalTrigger(seconds=BEAT_SECONDS), id="beat",
                                max_instances=1, coalesce=True)
        self._systemd.started(self._scheduler, "started, first crawl now")
        while not self._stop.is_set():
            self._wake.wait(self._systemd.wake_seconds(1.0))
            self._wake.clear()
            # The watchdog is fed from here: a hung main loop, scheduler or crawl stops it.
            self._systemd.keepalive(self._crawl_progress())
            if self._reload_requested:
                self._reload_requested = False
                self.reload()
        return self._shutdown()

    def stop(self, reason: str = "stop requested") -> None:
        """Ask the daemon to stop (safe from any thread and from a signal handler)."""
        self._stop_reason = self._stop_reason or reason
        self._stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        self._reload_requested = True
        self._wake.set()

    def _install_signals(self) -> None:
        def on_stop(signum: int, frame: Any) -> None:
            self.stop(signal.Signals(signum).name)

        def on_hup(signum: int, frame: Any) -> None:
            self.request_reload()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_hup)

    def _shutdown(self) -> int:
        timeout = self.config.schedule.stop_timeout_seconds
        started = time.monotonic()
        self._systemd.stopping(f"stopping ({self._stop_reason})")
        log.info("stopping (%s): no new runs; the release in hand commits or rolls back (at most %g s)",
                 self._stop_reason, timeout, extra={"event": "daemon_stopping"})
        self._scheduler.pause()
        self._interrupt_crawl()
        jobs = list(self._jobs.values())
        held = [lock for lock in (self._busy, *(job.busy for job in jobs))
                if lock.acquire(timeout=max(0.0, started + timeout - time.monotonic()))]
        if len(held) < len(jobs) + 1:
            log.warning("the run did not end within %g s; exiting now (SQLite rolls back the release in hand)",
                        timeout, extra={"event": "daemon_stop_forced"})
            logging.shutdown()
            os._exit(0)
        try:
            self._scheduler.shutdown(wait=False)
            health.beat(self.store, self._beat_id, "stopped")
            for job in jobs:
                job.close()
        finally:
            for lock in held:
                lock.release()
        log.info("stopped in %.1f s", time.monotonic() - started, extra={"event": "daemon_stop"})
        return 0

    def _interrupt_crawl(self) -> None:
        for job in list(self._jobs.values()):
            crawler = job.crawler
            if crawler is not None:
                crawler.stop()

    def _crawl_progress(self) -> dict[str, service.CrawlProgress]:
        """Each source's crawl in hand as the watchdog sees it: each must send requests within its
        own source's bound (a hung source is not hidden by another that still sends)."""
        parts = self.active.parts
        progress = {}
        for job in list(self._jobs.values()):
            crawler, fetcher = job.crawler, job.fetcher
            if crawler is None or fetcher is None:
                continue
            stall = (service.crawl_stall_seconds(parts[job.name].config.source) if job.name in parts
                     else service.CRAWL_STALL_FLOOR)
            progress[job.name] = service.CrawlProgress(crawler, fetcher.requests_made, stall)
        return progress

    def _schedule_sources(self, active: _Active, *, reloading: bool = False) -> None:
        """One job per source (added, rescheduled or removed to match `active`). On a reload the
        adaptive plans start even: a run may hold the store now; each run renews its source's."""
        schedule = active.config.schedule
        wanted = set(active.parts)
        for job in self._scheduler.get_jobs():
            if job.id.startswith("crawl:") and job.id.removeprefix("crawl:") not in wanted:
                job.remove()
        for name, parts in active.parts.items():
            job = self._jobs.setdefault(name, _Job(name))
            trigger = self._trigger(job, parts, learn=not reloading)
            if self._scheduler.get_job(_job_id(name)) is None:
                self._scheduler.add_job(
                    self._tick, trigger, args=(name,), id=_job_id(name), name=_job_id(name), max_instances=1,
                    coalesce=True, misfire_grace_time=_grace(schedule), next_run_time=dt.datetime.now(dt.timezone.utc))
            else:
                self._scheduler.reschedule_job(_job_id(name), trigger=trigger)
                self._scheduler.modify_job(_job_id(name), misfire_grace_time=_grace(schedule))

    # --- SIGHUP ------------------------------------------------------------------------------
    def reload(self) -> bool:
        """Read the config again; apply it, or refuse it and keep the running one."""
        if self._reload_config is None:
            return False
        try:
            config = self._reload_config()
            old, new = self.config.resolve(self.config.store.path), config.resolve(config.store.path)
            if old.resolve() != new.resolve():
                raise ValueError(f"store.path changed ({old} -> {new}); restart the daemon to change stores")
            make_trigger(config.schedule)
            active = _activate(config)
        except Exception as exc:  # ConfigError, a bad topics file, a cron APScheduler rejects
            log.error("config reload refused, the running config stays in force: %s", exc,
                      extra={"event": "reload_refused"})
            return False
        self.active = active
        self._schedule_sources(active, reloading=True)
        log.info("config reloaded from %s: %s, %s", config.origin, describe_schedule(config.schedule),
                 _describe_sources(config), extra={"event": "reload"})
        return True

    def _trigger(self, job: _Job, parts: _SourceParts, *, learn: bool = True) -> Any:
        """One source's schedule as a trigger; the adaptive one fires by a plan learned from the
        source's releases in the store (without `learn`, the budget spread evenly), renewed after
        each of its runs (crawler.polling)."""
        schedule = parts.config.schedule
        if strategy_in_force(schedule) != "adaptive":
            job.plan_trigger = None
            return make_trigger(schedule)
        zone = parts.source.timezone
        with self._busy:  # the daemon's own connection serves one thread at a time
            plan = (polling.interval_plan(self.store, job.name, schedule, zone) if learn
                    else polling.even_plan(schedule, zone))
        job.plan_trigger = make_plan_trigger(plan, schedule.jitter_seconds)
        return job.plan_trigger

    # --- jobs (scheduler threads) ----------------------------------------------------------------
    def _tick(self, name: str) -> None:
        job = self._jobs.get(name)
        if self._stop.is_set() or job is None or name not in self.active.parts:
            return
        if time.time() < job.resume_at:
            log.debug("run of %s skipped: backing off after failed runs", name)
            return
        if not job.busy.acquire(timeout=30):
            return
        try:
            if not self._stop.is_set():
                self._run_once(job)
        except Exception as exc:  # never let a run take the scheduler down
            log.error("crawl run of %s crashed: %s: %s", name, type(exc).__name__, exc, extra={"event": "run_error"})
        finally:
            job.busy.release()

    def _idle_beat(self) -> None:
        if self._stop.is_set() or not self._busy.acquire(blocking=False):
            return  # a run in progress beats on its own
        try:
            health.beat(self.store, self._beat_id)
        except Exception as exc:
            log.warning("heartbeat not written: %s", exc)
        finally:
            self._busy.release()

    def _run_once(self, job: _Job) -> None:
        active = self.active
        parts = active.parts[job.name]
        store = self._job_store(job)
        crawler = self._make_crawler(job, parts, store)
        job.crawler = crawler
        if self._stop.is_set():  # a stop signal that came while the crawler was being made
            crawler.stop()
        health.beat(store, self._beat_id, "crawling")
        self._systemd.status("crawling")
        log.info("crawl starting%s", self._of(job), extra={"event": "run_start", "source": job.name})
        started = time.monotonic()
        held = _HeldWarnings(logging.getLogger("presswatch").handlers)
        summary, failed = None, True
        try:
            summary = crawler.crawl()
            failed = summary.outcome == "failed"
        except Exception as exc:  # the run is recorded 'failed' by the pipeline; one line here
            log.error("crawl run%s failed: internal error: %s: %s", self._of(job), type(exc).__name__, exc,
                      extra={"event": "run_end", "outcome": "failed", "source": job.name})
        finally:
            job.crawler = None
            held.release(show=not failed)
        self._after_run(job, active, store, summary, time.monotonic() - started)

    def _of(self, job: _Job) -> str:
        """" of NAME" in a log line when there are several sources."""
        return f" of {job.name}" if len(self.active.parts) > 1 else ""

    def _job_store(self, job: _Job) -> Store:
        """The job's own connection to the store (WAL: the jobs and the heartbeat write one short
        transaction at a time; this process holds the one-writer lock for all of them)."""
        if job.store is None:
            job.store = Store.open(self.store.path, write=True, migrate=False)
        return job.store

    def _make_crawler(self, job: _Job, parts: _SourceParts, store: Store) -> Crawler:
        # interrupt() is final, and a reload may change the source: then a new Fetcher. Otherwise
        # keep it, with its robots.txt and connections, from run to run.
        if job.fetcher is None or job.fetcher.interrupted or job.fetcher_source != parts.config.source:
            if job.fetcher is not None:
                job.fetcher.close()
            job.fetcher = app.fetcher(parts.config, store, paces=self._paces)
            job.fetcher_source = parts.config.source
        beat_id = self._beat_id

        def beat_hook(store: Store, version: Any) -> None:
            health.beat(store, beat_id)

        return Crawler(parts.config, store, job.fetcher, source=parts.source, tagger=parts.tagger,
                       hooks=[*parts.hooks, beat_hook], page_hook=app.page_keeper(parts.config, parts.source))

    def _after_run(self, job: _Job, active: _Active, store: Store, summary: Any, seconds: float) -> None:
        config, parts = active.config, active.parts[job.name]
        source = job.name if len(active.parts) > 1 else ""
        failures = health.consecutive_failures(store, source)
        interval = schedule_interval(parts.config.schedule)
        delay = backoff_delay(failures, config.health.failing_runs, interval)
        job.resume_at = time.time() + delay if delay else 0.0
        if summary is not None:
            self._log_run_end(job, summary, seconds, failures, delay)
        if job.plan_trigger is not None:  # in the run's thread, which holds the job's store connection
            job.plan_trigger.plan = polling.interval_plan(store, job.name, parts.config.schedule, parts.source.timezone)
        health.report_transitions(store, config, notify_ops, source=job.name)
        if not self._stop.is_set():
            try:
                deliver_pending(store, config, should_stop=self._stop.is_set)
            except Exception as exc:
                log.error("alert delivery failed: %s: %s", type(exc).__name__, exc, extra={"event": "alerts_error"})
        scheduled = self._scheduler.get_job(_job_id(job.name))
        next_run = scheduled.next_run_time if scheduled else None
        if delay:
            next_run = dt.datetime.fromtimestamp(job.resume_at, dt.timezone.utc)
        health.beat(store, self._beat_id, "backing_off" if delay else "idle",
                    next_run=next_run.isoformat(timespec="seconds") if next_run else None)
        self._systemd.status(service.idle_status(next_run, backing_off=bool(delay)))

    def _log_run_end(self, job: _Job, summary: Any, seconds: float, failures: int, delay: float) -> None:
        line = f"{summary.line()} ({seconds:.1f} s)"
        if len(self.active.parts) > 1:
            line = f"{job.name}: {line}"
        if summary.outcome == "failed":
            line += f"; {failures} failed run{'s' if failures != 1 else ''} in a row"
            if delay:
                at = dt.datetime.fromtimestamp(job.resume_at).strftime("%H:%M:%S")
                line += f"; backing off: next attempt not before {at} (in {health.describe_age(delay)})"
        level = logging.WARNING if summary.outcome == "failed" else logging.INFO
        # The counts go into a JSON line as numbers, for a log collector to graph without parsing the text.
        log.log(level, "%s", line, extra={"event": "run_end", **run_fields(summary), "seconds": round(seconds, 1)})


def _source_schedule(schedule: ScheduleConfig, entry: SourceEntry) -> ScheduleConfig:
    """The schedule of one source: [schedule], or every `interval_minutes` of its own (with the jitter)."""
    if not entry.interval_minutes:
        return schedule
    return dataclasses.replace(schedule, interval_minutes=entry.interval_minutes, cron="", strategy="fixed")


def _describe_sources(config: Config) -> str:
    if len(config.sources) == 1:
        return f"languages {','.join(config.source.languages)}"
    return "sources " + ", ".join(f"{entry.name} ({','.join(entry.languages)})" for entry in config.sources)


def _grace(schedule: ScheduleConfig) -> int:
    # APScheduler counts whole seconds, and 0 would drop any run that starts a millisecond late.
    return max(1, int(schedule.misfire_grace_seconds))


def _route_scheduler_logs() -> None:
    """APScheduler's own lines (a skipped overlapping run, a missed fire) are not events for the
    operator; its errors go through presswatch's handlers, one line each."""
    scheduler_log = logging.getLogger("apscheduler")
    scheduler_log.handlers[:] = logging.getLogger("presswatch").handlers
    scheduler_log.setLevel(logging.ERROR)
    scheduler_log.propagate = False
