"""`presswatch run`: the background service around `Crawler.crawl`.

- Schedule ([schedule]): a crawl at start, then every `interval_minutes` delayed by up to
  `jitter_seconds`, or on a `cron` expression (5 fields, the host's time zone, 0 or 7 = Sunday).
  One crawl at a time (max_instances=1, coalesce=True); a run missed by up to
  `misfire_grace_seconds` (a suspended host) still happens once on wake-up.
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
  it does, WATCHDOG=1 from the main loop while the scheduler and a running crawl make progress,
  STOPPING=1 on the way out. Without $NOTIFY_SOCKET none of this happens.
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

from crawler import app, health, service
from crawler.alerts import deliver_pending, notify_ops
from crawler.clock import exponential_backoff
from crawler.config import Config, ScheduleConfig
from crawler.fetch import Fetcher
from crawler.logs import run_fields
from crawler.pipeline import Crawler
from crawler.schedule import describe_schedule, make_trigger, schedule_interval
from crawler.store import Store
from crawler.tagging import Tagger

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
class _Active:
    """What a run uses, swapped as one piece on SIGHUP so a run never mixes two configs."""

    config: Config
    source: Any
    tagger: Any
    hooks: tuple[Callable, ...]


def _activate(config: Config) -> _Active:
    # Built here, so a reload with a bad topics file is refused before anything changes.
    return _Active(config=config, source=app.source(config), tagger=Tagger.from_config(config),
                   hooks=tuple(app.release_hooks(config)))


# --- the daemon -----------------------------------------------------------------------------------
class Daemon:
    """Crawls `store` on the schedule of `config` until stop() or a stop signal."""

    def __init__(self, config: Config, store: Store, *, reload: Callable[[], Config] | None = None) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.store = store
        self.active = _activate(config)
        self._reload_config = reload
        self._scheduler = BackgroundScheduler()
        # Held while a job uses the store: the store's connection serves one thread at a time.
        self._busy = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._reload_requested = False
        self._stop_reason = ""
        self._crawler = None
        self._fetcher = None
        self._fetcher_source = None
        self._resume_at = 0.0  # wall clock: a suspended host must not extend the backoff
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
        log.info("presswatch daemon started (pid %d): store %s, %s, languages %s, stop timeout %g s",
                 os.getpid(), self.store.path, describe_schedule(schedule),
                 ",".join(self.config.source.languages), schedule.stop_timeout_seconds,
                 extra={"event": "daemon_start"})
        self._scheduler.start()
        self._scheduler.add_job(
            self._tick, make_trigger(schedule), id="crawl", name="crawl", max_instances=1, coalesce=True,
            misfire_grace_time=_grace(schedule), next_run_time=dt.datetime.now(dt.timezone.utc),
        )
        self._scheduler.add_job(self._idle_beat, IntervalTrigger(seconds=BEAT_SECONDS), id="beat",
                                max_instances=1, coalesce=True)
        self._systemd.started(self._scheduler, "started, first crawl now")
        while not self._stop.is_set():
            self._wake.wait(self._systemd.wake_seconds(1.0))
            self._wake.clear()
            # The watchdog is fed from here: a hung main loop, scheduler or crawl stops it.
            self._systemd.keepalive(service.crawl_progress(self._crawler, self._fetcher, self.config.source))
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
        if not self._busy.acquire(timeout=timeout):
            log.warning("the run did not end within %g s; exiting now (SQLite rolls back the release in hand)",
                        timeout, extra={"event": "daemon_stop_forced"})
            logging.shutdown()
            os._exit(0)
        try:
            self._scheduler.shutdown(wait=False)
            health.beat(self.store, self._beat_id, "stopped")
            if self._fetcher is not None:
                self._fetcher.close()
        finally:
            self._busy.release()
        log.info("stopped in %.1f s", time.monotonic() - started, extra={"event": "daemon_stop"})
        return 0

    def _interrupt_crawl(self) -> None:
        crawler = self._crawler
        if crawler is not None:
            crawler.stop()

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
            trigger = make_trigger(config.schedule)
            active = _activate(config)
        except Exception as exc:  # ConfigError, a bad topics file, a cron APScheduler rejects
            log.error("config reload refused, the running config stays in force: %s", exc,
                      extra={"event": "reload_refused"})
            return False
        self.active = active
        self._scheduler.reschedule_job("crawl", trigger=trigger)
        self._scheduler.modify_job("crawl", misfire_grace_time=_grace(config.schedule))
        log.info("config reloaded from %s: %s, languages %s", config.origin, describe_schedule(config.schedule),
                 ",".join(config.source.languages), extra={"event": "reload"})
        return True

    # --- jobs (scheduler threads) ----------------------------------------------------------------
    def _tick(self) -> None:
        if self._stop.is_set():
            return
        if time.time() < self._resume_at:
            log.debug("run skipped: backing off after failed runs")
            return
        if not self._busy.acquire(timeout=30):
            return
        try:
            if not self._stop.is_set():
                self._run_once()
        except Exception as exc:  # never let a run take the scheduler down
            log.error("crawl run crashed: %s: %s", type(exc).__name__, exc, extra={"event": "run_error"})
        finally:
            self._busy.release()

    def _idle_beat(self) -> None:
        if self._stop.is_set() or not self._busy.acquire(blocking=False):
            return  # a run in progress beats on its own
        try:
            health.beat(self.store, self._beat_id)
        except Exception as exc:
            log.warning("heartbeat not written: %s", exc)
        finally:
            self._busy.release()

    def _run_once(self) -> None:
        active = self.active
        crawler = self._make_crawler(active)
        self._crawler = crawler
        if self._stop.is_set():  # a stop signal that came while the crawler was being made
            crawler.stop()
        health.beat(self.store, self._beat_id, "crawling")
        self._systemd.status("crawling")
        log.info("crawl starting", extra={"event": "run_start"})
        started = time.monotonic()
        held = _HeldWarnings(logging.getLogger("presswatch").handlers)
        summary, failed = None, True
        try:
            summary = crawler.crawl()
            failed = summary.outcome == "failed"
        except Exception as exc:  # the run is recorded 'failed' by the pipeline; one line here
            log.error("crawl run failed: internal error: %s: %s", type(exc).__name__, exc,
                      extra={"event": "run_end", "outcome": "failed"})
        finally:
            self._crawler = None
            held.release(show=not failed)
        self._after_run(active, summary, time.monotonic() - started)

    def _make_crawler(self, active: _Active) -> Crawler:
        # interrupt() is final, and a reload may change the source: then a new Fetcher. Otherwise
        # keep it, with its robots.txt and connections, from run to run.
        if self._fetcher is None or self._fetcher.interrupted or self._fetcher_source != active.config.source:
            if self._fetcher is not None:
                self._fetcher.close()
            self._fetcher = Fetcher(active.config.source)
            self._fetcher_source = active.config.source
        beat_id = self._beat_id

        def beat_hook(store: Store, version: Any) -> None:
            health.beat(store, beat_id)

        return Crawler(active.config, self.store, self._fetcher, source=active.source, tagger=active.tagger,
                       hooks=[*active.hooks, beat_hook], page_hook=app.page_keeper(active.config, active.source))

    def _after_run(self, active: _Active, summary: Any, seconds: float) -> None:
        config = active.config
        failures = health.consecutive_failures(self.store)
        delay = backoff_delay(failures, config.health.failing_runs, schedule_interval(config.schedule))
        self._resume_at = time.time() + delay if delay else 0.0
        if summary is not None:
            self._log_run_end(summary, seconds, failures, delay)
        health.report_transitions(self.store, config, notify_ops)
        if not self._stop.is_set():
            try:
                deliver_pending(self.store, config, should_stop=self._stop.is_set)
            except Exception as exc:
                log.error("alert delivery failed: %s: %s", type(exc).__name__, exc, extra={"event": "alerts_error"})
        job = self._scheduler.get_job("crawl")
        next_run = job.next_run_time if job else None
        if delay:
            next_run = dt.datetime.fromtimestamp(self._resume_at, dt.timezone.utc)
        health.beat(self.store, self._beat_id, "backing_off" if delay else "idle",
                    next_run=next_run.isoformat(timespec="seconds") if next_run else None)
        self._systemd.status(service.idle_status(next_run, backing_off=bool(delay)))

    def _log_run_end(self, summary: Any, seconds: float, failures: int, delay: float) -> None:
        line = f"{summary.line()} ({seconds:.1f} s)"
        if summary.outcome == "failed":
            line += f"; {failures} failed run{'s' if failures != 1 else ''} in a row"
            if delay:
                at = dt.datetime.fromtimestamp(self._resume_at).strftime("%H:%M:%S")
                line += f"; backing off: next attempt not before {at} (in {health.describe_age(delay)})"
        level = logging.WARNING if summary.outcome == "failed" else logging.INFO
        # The counts go into a JSON line as numbers, for a log collector to graph without parsing the text.
        log.log(level, "%s", line, extra={"event": "run_end", **run_fields(summary), "seconds": round(seconds, 1)})


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
