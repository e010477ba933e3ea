"""One crawl pass, top to bottom: list pages → unseen (id, lang) → release pages → store.

Each release version is stored in its own transaction together with what hooks add to it (topic
tags, alert outbox rows), so a crash or a stop loses at most the release in hand, and never leaves
it half-written. What the lists showed is written to `listings` before anything else, so a list
answered later with 304 Not Modified cannot hide an id that a crashed run had seen but not fetched.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from crawler.config import Config
from crawler.fetch import FetchError, Fetcher, Interrupted, OffsiteError, RefusedError, TooLargeError
from crawler.normalize import now_utc
from crawler.progress import Progress
from crawler.sources.presidentuz import ParsedItem, ParseError, PresidentUz
from crawler.store import Store

log = logging.getLogger("presswatch.crawl")

# Called inside the transaction that stores one release version, with its outcome
# ("new", "changed" or "unchanged"): topic tagging and the alert outbox hang here.
ReleaseHook = Callable[[Store, ParsedItem, str], None]

# After this many release pages in a row fail to fetch, the site is taken to be down for this run.
_CONSECUTIVE_FAILURES = 3
_PENDING_RETRY_CAP_MINUTES = 12 * 60


@dataclass
class RunSummary:
    run_id: int
    kind: str
    outcome: str = "running"
    pages_fetched: int = 0
    requests: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: int = 0
    pending: int = 0
    list_items: int = 0
    list_paths: set[str] = field(default_factory=set)
    message: str = ""
    stored: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def list_path(self) -> str:
        if not self.list_paths:
            return ""
        return next(iter(self.list_paths)) if len(self.list_paths) == 1 else "mixed"

    def line(self) -> str:
        text = (
            f"{self.kind} run {self.run_id}: {self.outcome}; {self.new} new, {self.changed} changed, "
            f"{self.pending} missing translations, {self.errors} errors; "
            f"{self.pages_fetched} pages fetched in {self.requests} requests"
        )
        if "fallback" in self.list_paths or "empty" in self.list_paths:
            text += "; list layout drift: the configured selectors found nothing"
        return text + (f"; {self.message}" if self.message else "")


class RunAborted(Exception):
    """The site refused us, or is unreachable: stop this run, the next one tries again."""


class StopRequested(Exception):
    """stop() was called: the run ends between two releases."""


class Crawler:
    """Runs crawl and backfill passes of one source into one store."""

    def __init__(
        self,
        config: Config,
        store: Store,
        fetcher: Fetcher | None = None,
        *,
        hooks: Iterable[ReleaseHook] = (),
        progress: bool = False,
    ) -> None:
        self.config = config
        self.store = store
        self.fetcher = fetcher or Fetcher(config.source)
        self.source = PresidentUz(config.source, config.selectors)
        self.hooks = list(hooks)
        self.show_progress = progress
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Take no new work; the release in hand commits or rolls back, then the run ends."""
        self._stopping.set()
        self.fetcher.interrupt()

    # --- the passes --------------------------------------------------------------------------
    def crawl(self) -> RunSummary:
        """List page 1 of each language, further pages while they hold unseen ids, then the releases."""
        return self._run("crawl", self._crawl_lists, limit=self.config.source.max_releases_per_run)

    def backfill(
        self,
        *,
        pages: int | None = None,
        ids: tuple[int, int] | None = None,
        since: dt.date | None = None,
        max_pages: int = 2000,
        refresh: bool = False,
    ) -> RunSummary:
        """Older releases: by list pages, by an id range, or back to a date. Resumable.

        With `refresh`, an id range is fetched again even where it is stored, to catch edits
        that kept their headline (an edit stores a new version; an unchanged page stores nothing).
        """
        if ids is not None:
            first, last = ids

            def discover(summary: RunSummary) -> list[tuple[int, str]]:
                return self._id_range_candidates(first, last, refresh=refresh)

            return self._run("backfill", discover, limit=None, absent_is_pending=False)

        def walk(summary: RunSummary) -> list[tuple[int, str]]:
            self._walk_lists(summary, pages=pages or max_pages, since=since)
            return self._candidates(since=since)

        return self._run("backfill", walk, limit=None)

    # --- run frame ---------------------------------------------------------------------------
    def _run(self, kind: str, discover, *, limit: int | None, absent_is_pending: bool = True) -> RunSummary:
        self._close_stale_runs()
        summary = RunSummary(run_id=self.store.start_run(kind), kind=kind)
        requests_before = self.fetcher.requests_made
        try:
            candidates = discover(summary)
            if limit is not None:
                candidates = candidates[:limit]
            self._fetch_releases(summary, candidates, absent_is_pending)
            self.store.give_up_pending(self.config.source.pending_max_attempts, self.config.source.pending_max_age_days)
            summary.outcome = "ok" if summary.errors == 0 else "partial"
        except (Interrupted, StopRequested):
            summary.outcome = "interrupted"
            summary.message = "stopped before the run was complete"
        except RunAborted as exc:
            summary.outcome = "failed"
            summary.message = str(exc)
        except BaseException as exc:
            summary.outcome = "failed"
            summary.message = f"internal error: {type(exc).__name__}: {exc}"[:500]
            raise
        finally:
            summary.requests = self.fetcher.requests_made - requests_before
            summary.pending = len(self.store.pending())
            self.store.finish_run(
                summary.run_id,
                outcome=summary.outcome, pages_fetched=summary.pages_fetched, requests=summary.requests,
                new=summary.new, changed=summary.changed, errors=summary.errors,
                list_items=summary.list_items, list_path=summary.list_path or None, message=summary.message or None,
            )
        return summary

    def _close_stale_runs(self) -> None:
        """A run left 'running' belongs to a process that died (we hold the store's lock)."""
        with self.store.atomic() as db:
            db.execute(
                "update crawl_runs set outcome = 'interrupted', finished = coalesce(finished, ?), "
                "message = coalesce(message, 'the process ended during the run') where outcome = 'running'",
                [now_utc()],
            )

    # --- lists -------------------------------------------------------------------------------
    def _crawl_lists(self, summary: RunSummary) -> list[tuple[int, str]]:
        failures = []
        for lang in self.config.source.languages:
            try:
                self._read_lists(summary, lang, max_pages=self.config.source.max_list_pages, only_while_unseen=True)
            except RefusedError as exc:
                raise RunAborted(str(exc)) from None
            except Interrupted:
                raise
            except FetchError as exc:
                failures.append(str(exc))
                self._error(summary, exc.url, "fetch", str(exc), lang=lang)
        if failures and len(failures) == len(self.config.source.languages):
            raise RunAborted(failures[0])
        return self._candidates()

    def _walk_lists(self, summary: RunSummary, *, pages: int, since: dt.date | None) -> None:
        for lang in self.config.source.languages:
            try:
                self._read_lists(summary, lang, max_pages=pages, only_while_unseen=False, since=since)
            except RefusedError as exc:
                raise RunAborted(str(exc)) from None
            except Interrupted:
                raise
            except FetchError as exc:
                self._error(summary, exc.url, "fetch", str(exc), lang=lang)

    def _read_lists(
        self,
        summary: RunSummary,
        lang: str,
        *,
        max_pages: int,
        only_while_unseen: bool,
        since: dt.date | None = None,
    ) -> None:
        job = f"lists:{since.isoformat() if since else 'all'}"
        first_page = 1 if only_while_unseen else self._resume_page(job, lang)
        progress = Progress(f"list pages {lang}", total=max_pages, enabled=self.show_progress and not only_while_unseen)
        for page_number in range(first_page, max_pages + 1):
            self._check_stop()
            url = self.source.list_url(lang, page_number)
            etag, last_modified = self.store.validators(url) if only_while_unseen else (None, None)
            page = self.fetcher.get(url, etag=etag, last_modified=last_modified)
            summary.pages_fetched += 1
            if page.not_modified:
                break
            if page.status != 200:
                self._error(summary, url, "fetch", f"list page answered {page.status}", lang=lang)
                break
            listing = self.source.parse_list(page.text, lang, url)
            summary.list_paths.add(listing.path)
            summary.list_items += len(listing.entries)
            if listing.path != "selectors":
                log.warning("list %s: configured selectors found nothing; %s path used", url, listing.path)
            stored = self.store.stored_keys(lang)
            unseen = [e for e in listing.entries if e.id not in stored]
            self.store.record_listing(listing.entries)
            self.store.save_validators(url, page.etag, page.last_modified)
            if not only_while_unseen:
                self._save_resume_page(job, lang, page_number, done=not listing.next_page)
            progress.advance(1, f"page {page_number}, {len(listing.entries)} items")
            if not listing.entries or not listing.next_page:
                break
            if only_while_unseen and not unseen:
                break
            dates = [e.list_date for e in listing.entries if e.list_date]
            if since and dates and min(dates) < since.isoformat():
                break
        progress.close()

    def _resume_page(self, job: str, lang: str) -> int:
        row = self.store.db.execute(
            "select last_page, done from backfill_progress where job = ? and lang = ?", [job, lang]
        ).fetchone()
        if not row or row[1]:
            return 1
        return row[0] + 1

    def _save_resume_page(self, job: str, lang: str, page: int, *, done: bool) -> None:
        with self.store.atomic() as db:
            db["backfill_progress"].upsert(
                {"job": job, "lang": lang, "last_page": page, "done": int(done), "updated": now_utc()},
                pk=("job", "lang"),
            )

    # --- what to fetch ---------------------------------------------------------------------------
    def _candidates(self, since: dt.date | None = None) -> list[tuple[int, str]]:
        """(id, lang) to fetch: every id listed or stored in any language, in each configured
        language that is neither stored nor a missing translation whose retry is not yet due."""
        languages = list(self.config.source.languages)
        placeholders = ",".join("?" for _ in languages)
        since_clause = "and list_date >= ?" if since else ""
        rows = self.store.db.execute(
            f"""
            with ids(id) as (
                select id from listings where 1 {since_clause}
                union select id from items
            ),
            langs(lang) as (select value from json_each(?))
            select ids.id, langs.lang from ids, langs
            where (not exists (select 1 from items i where i.id = ids.id and i.lang = langs.lang)
                   or exists (select 1 from listings l where l.id = ids.id and l.lang = langs.lang and l.recheck))
              and not exists (
                select 1 from pending_translations p
                where p.id = ids.id and p.lang = langs.lang
                  and (p.state != 'pending'
                       or (julianday(?) - julianday(p.last_attempt)) * 1440.0
                          < min(? * (1 << (p.attempts - 1)), ?))
              )
              and langs.lang in ({placeholders})
            order by ids.id, langs.lang
            """,
            ([since.isoformat()] if since else [])
            + [
                json.dumps(languages),
                now_utc(),
                self.config.source.pending_retry_minutes,
                _PENDING_RETRY_CAP_MINUTES,
                *languages,
            ],
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def _id_range_candidates(self, first: int, last: int, *, refresh: bool = False) -> list[tuple[int, str]]:
        stored = set() if refresh else {(r[0], r[1]) for r in self.store.db.execute(
            "select id, lang from items where id between ? and ?", [first, last])}
        settled = {(r[0], r[1]) for r in self.store.db.execute(
            "select id, lang from pending_translations where id between ? and ? and state != 'pending'", [first, last])}
        return [
            (item_id, lang)
            for item_id in range(first, last + 1)
            for lang in self.config.source.languages
            if (item_id, lang) not in stored and (item_id, lang) not in settled
        ]

    # --- releases ----------------------------------------------------------------------------
    def _fetch_releases(self, summary: RunSummary, candidates: list[tuple[int, str]], absent_is_pending: bool) -> None:
        progress = Progress("releases", total=len(candidates), enabled=self.show_progress)
        failures_in_a_row = 0
        missing: dict[int, list[str]] = {}
        for item_id, lang in candidates:
            self._check_stop()
            url = self.source.item_url(lang, item_id)
            try:
                page = self.fetcher.get(url)
            except RefusedError as exc:
                raise RunAborted(str(exc)) from None
            except Interrupted:
                raise
            except (OffsiteError, TooLargeError) as exc:
                self._error(summary, url, "fetch", str(exc), item_id=item_id, lang=lang)
                continue
            except FetchError as exc:
                self._error(summary, url, "fetch", str(exc), item_id=item_id, lang=lang)
                failures_in_a_row += 1
                if failures_in_a_row >= _CONSECUTIVE_FAILURES:
                    raise RunAborted(f"{failures_in_a_row} release pages in a row failed; last: {exc}") from None
                continue
            failures_in_a_row = 0
            summary.pages_fetched += 1
            progress.advance(1, f"{item_id}/{lang}")
            if page.status in (404, 410):
                missing.setdefault(item_id, []).append(lang)
                self._note_missing(item_id, lang, url, absent_is_pending)
                continue
            try:
                item = self.source.parse_item(page.text, lang, page.url)
            except ParseError as exc:
                self._error(summary, url, "parse", str(exc), item_id=item_id, lang=lang)
                continue
            if item.published is None:
                item = dataclasses.replace(item, published=self.store.listed_date(item_id))
            self._store(summary, item)
        progress.close()

    def _note_missing(self, item_id: int, lang: str, url: str, absent_is_pending: bool) -> None:
        """A 404 for a release known in another language is 'not translated yet': retried later."""
        known = absent_is_pending or self.store.db.execute(
            "select 1 from items where id = ? union select 1 from listings where id = ?", [item_id, item_id]
        ).fetchone()
        with self.store.atomic() as db:
            self.store.mark_pending(item_id, lang, url)
            if not known:
                db["pending_translations"].update((item_id, lang), {"state": "absent"})

    def _store(self, summary: RunSummary, item: ParsedItem) -> None:
        with self.store.atomic():
            outcome = self.store.save_item(item)
            for hook in self.hooks:
                hook(self.store, item, outcome)
        if outcome == "new":
            summary.new += 1
        elif outcome == "changed":
            summary.changed += 1
        else:
            summary.unchanged += 1
        if outcome != "unchanged":
            summary.stored.append((item.id, item.lang, outcome))
            log.info("%s %s/%s: %s", outcome, item.id, item.lang, item.title[:100])

    def _error(self, summary: RunSummary, url: str, kind: str, reason: str, *, item_id: int | None = None,
               lang: str | None = None) -> None:
        summary.errors += 1
        log.warning("%s error at %s: %s", kind, url, reason)
        self.store.record_error(summary.run_id, url, kind, reason, item_id=item_id, lang=lang)

    def _check_stop(self) -> None:
        if self._stopping.is_set():
            raise StopRequested()
