"""One crawl pass, top to bottom: list pages → unseen (id, lang) → release pages → store.

Each release version is stored in its own transaction together with what hooks add to it (topic
tags, alert outbox rows), so a crash or a stop loses at most the release in hand, and never leaves
it half-written. What the lists showed is written to `listings` before anything else, so a list
answered later with 304 Not Modified cannot hide an id that a crashed run had seen but not fetched;
the validators of a crawl's list walk are saved only once the walk is complete, so a 304 on page 1
cannot hide a page 2 that failed. A backfill's list walk does not trust the site's pager: a full
page without a link onwards is followed by the next page number anyway, until a page is empty,
answers 404, or repeats the page before (a crawl follows the pager, and stops at the first page
without unseen ids).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from crawler.config import Config
from crawler.fetch import (
    Fetcher,
    FetchError,
    Interrupted,
    OffsiteError,
    Page,
    RefusedError,
    TooLargeError,
    TransportFailure,
)
from crawler.model import ListPage, ParsedItem, ParseError, RunOutcome, StoredVersion, StoreOutcome
from crawler.polling import lists_for_poll
from crawler.progress import Progress
from crawler.sources.base import Source
from crawler.store import Store

log = logging.getLogger("presswatch.crawl")

# Called inside the transaction that stores a new or changed release version, after tagging:
# the search index and the alert outbox hang here.
ReleaseHook = Callable[[Store, StoredVersion], None]


# Called with every page answer the crawl gets (list and release pages; not 304s, which carry no
# page): (store, kind "list" | "release", requested url, page, release id, lang). The archive of
# pages (crawler.archive) hangs here.
PageHook = Callable[[Store, str, str, Page, "int | None", "str | None"], None]


class Tagger(Protocol):
    """Tags a version in the transaction that stores it; returns its matches (crawler.tagging)."""

    def __call__(self, store: Store, item: ParsedItem) -> list[Any]: ...

# After this many release pages in a row fail to fetch, the site is taken to be down for this run.
_CONSECUTIVE_FAILURES = 3
_PENDING_RETRY_CAP_MINUTES = 12 * 60
# An interrupted `backfill --ids --refresh` resumes after the last id saved; saved every so many ids,
# since an unchanged release writes nothing.
_RESUME_MARK_EVERY = 10


@dataclass
class RunSummary:
    run_id: int
    kind: str
    outcome: str = RunOutcome.RUNNING
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
    # a failed run: what failed, in plain words ("cannot reach HOST: the name does not resolve")
    reason: str = ""
    stored: list[tuple[int, str, str]] = field(default_factory=list)
    # how each language's backfill list walk ended ("reached the end of the list after 8 pages")
    list_endings: dict[str, str] = field(default_factory=dict)
    # release pages the run set out to fetch, and how many it got to (a run that ends early skips some)
    planned: int = 0
    attempted: int = 0

    @property
    def skipped(self) -> int:
        return max(self.planned - self.attempted, 0)

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
        if self.list_endings:
            text += "; " + ", ".join(f"{lang} {ending}" for lang, ending in self.list_endings.items())
        if self.skipped:
            text += (f"; {self.skipped} of {self.planned} release pages skipped "
                     "(not fetched: the run ended before them)")
        return text + (f"; {self.message}" if self.message else "")


class RunAborted(Exception):
    """The site refused us, or is unreachable: stop this run, the next one tries again."""


def plain_reason(exc: BaseException) -> str:
    """What stopped a run, for someone who knows nothing of HTTP: the reason of the fetch error
    behind it, without the detail in parentheses when it is a failure to reach the site."""
    error: BaseException | None = exc
    for _ in range(6):  # the chain is short: RunAborted <- RefusedError (robots.txt) <- TransportFailure
        if error is None or isinstance(error, TransportFailure):
            break
        error = error.__cause__ or error.__context__
    if isinstance(error, TransportFailure):
        return error.reason.split(" (", 1)[0]
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, FetchError):
        return f"{urlsplit(cause.url).hostname or cause.url}: {cause.reason}"
    return str(exc)


class StopRequested(Exception):
    """stop() was called: the run ends between two releases."""


# How a list walk ends; "" goes on to the next page.
_GO_ON = ""
_END_OF_LIST = "end"  # an empty page, a 404 after page 1, the page before repeated, or a last page
_NOTHING_UNSEEN = "seen"  # a crawl stops at the first page without unseen ids
_NOT_MODIFIED = "304"
_SINCE_REACHED = "since"
_PAGE_FAILED = "failed"


@dataclass
class _ListWalk:
    """One language's walk through its list pages."""

    lang: str
    crawl: bool  # a crawl walk: conditional GET, stops at the first page without unseen ids
    since: dt.date | None = None
    last_page_with_items: int = 0
    full_size: int = 0
    previous_ids: frozenset[int] = frozenset()
    # whether the page before linked to the next one (False: the walk tries the next number itself)
    linked_onwards: bool = False
    # the address the page before linked onwards to (ListPage.next_url), fetched before the numbered one
    next_url: str | None = None
    validators: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def describe(self, ending: str, max_pages: int) -> str:
        if ending == _END_OF_LIST:
            return f"reached the end of the list after {self.last_page_with_items} pages"
        if ending == _SINCE_REACHED and self.since:
            return f"reached {self.since.isoformat()} after {self.last_page_with_items} pages"
        if ending == _PAGE_FAILED:
            return f"stopped at a failed list page after {self.last_page_with_items} pages"
        return f"stopped at the pages limit ({max_pages})"


class _ResumeMark:
    """Where an interrupted id-range refresh continues: after the last id all of whose versions
    were handled, saved every few ids and when the run ends."""

    def __init__(self, store: Store, source: str, job: str) -> None:
        self.store, self.source, self.job = store, source, job
        self.last_done: int | None = None
        self.unsaved = 0

    def passed(self, item_id: int) -> None:
        self.last_done, self.unsaved = item_id, self.unsaved + 1
        if self.unsaved >= _RESUME_MARK_EVERY:
            self.save()

    def save(self, *, done: bool = False) -> None:
        if self.last_done is not None and (self.unsaved or done):
            self.store.save_resume_id(self.source, self.job, self.last_done, done=done)
            self.unsaved = 0


class Crawler:
    """Runs crawl and backfill passes of one source into one store."""

    def __init__(
        self,
        config: Config,
        store: Store,
        fetcher: Fetcher | None = None,
        *,
        source: Source | None = None,
        tagger: Tagger | None = None,
        hooks: Iterable[ReleaseHook] = (),
        progress: bool = False,
        page_hook: PageHook | None = None,
    ) -> None:
        from crawler.sources import create_source

        self.config = config
        self.store = store
        self.fetcher = fetcher or Fetcher(config.source)
        self.source = source or create_source(config.source, config.selectors)
        self.tagger = tagger
        self.hooks = list(hooks)
        self.show_progress = progress
        self.page_hook = page_hook
        self._stopping = threading.Event()
        self._stop_reason = ""

    def stop(self, reason: str = "") -> None:
        """Take no new work; the release in hand commits or rolls back, then the run ends.
        `reason` ("SIGTERM") goes into the run's message."""
        self._stop_reason = self._stop_reason or reason
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
        that kept their headline (an edit stores a new version; an unchanged page writes nothing);
        an interrupted refresh continues after the last id it completed.
        """
        if ids is not None:
            first, last = ids
            languages = list(self.config.source.languages)
            mark = _ResumeMark(self.store, self.source.name, f"refresh:{first}-{last}:{','.join(languages)}") if refresh else None

            def discover(summary: RunSummary) -> list[tuple[int, str]]:
                start = self.store.resume_id(self.source.name, mark.job, first) if mark else first
                return self._only_listed(self.store.id_range_candidates(self.source.name, start, last, languages,
                                                                        refresh=refresh))

            return self._run("backfill", discover, limit=None, absent_is_pending=False, mark=mark)

        def walk(summary: RunSummary) -> list[tuple[int, str]]:
            self._walk_lists(summary, pages=pages or max_pages, since=since)
            return self._candidates(since=since)

        return self._run("backfill", walk, limit=None)

    def backfill_versions(self, keys: list[tuple[int, str]]) -> RunSummary:
        """Exactly these (id, lang) versions, e.g. the gaps crawler.coverage found; a 404 for an id
        known nowhere is settled as absent."""
        return self._run("backfill", lambda summary: list(keys), limit=None, absent_is_pending=False)

    def replay_versions(self, keys: list[tuple[int, str]]) -> RunSummary:
        """Exactly these (id, lang) versions from a fetcher that replays recorded pages
        (`import-warc`): a run of kind "import", whose versions alert as a crawl's do (the first-run
        and horizon rules), where a backfill's never do."""
        return self._run("import", lambda summary: list(keys), limit=None, absent_is_pending=False)

    # --- run frame ---------------------------------------------------------------------------
    def _run(self, kind: str, discover, *, limit: int | None, absent_is_pending: bool = True,
             mark: _ResumeMark | None = None) -> RunSummary:
        self.store.close_stale_runs(self.source.name)
        summary = RunSummary(run_id=self.store.start_run(kind, self.source.name), kind=kind)
        requests_before = self.fetcher.requests_made
        try:
            candidates = discover(summary)
            if limit is not None:
                candidates = candidates[:limit]
            summary.planned = len(candidates)
            self._fetch_releases(summary, candidates, absent_is_pending, mark)
            self.store.give_up_pending(self.source.name, self.config.source.pending_max_attempts, self.config.source.pending_max_age_days)
            summary.outcome = RunOutcome.OK if summary.errors == 0 else RunOutcome.PARTIAL
        except (Interrupted, StopRequested):
            summary.outcome = RunOutcome.INTERRUPTED
            by = f" by {self._stop_reason}" if self._stop_reason else ""
            summary.message = f"stopped{by} before the run was complete"
        except KeyboardInterrupt:
            summary.outcome = RunOutcome.INTERRUPTED
            summary.message = "interrupted at once (a second Ctrl-C)"
            raise
        except RunAborted as exc:
            summary.outcome = RunOutcome.FAILED
            summary.message = str(exc)
            summary.reason = plain_reason(exc)
        except BaseException as exc:
            summary.outcome = RunOutcome.FAILED
            summary.message = f"internal error: {type(exc).__name__}: {exc}"[:500]
            raise
        finally:
            summary.requests = self.fetcher.requests_made - requests_before
            summary.pending = len(self.store.pending(source=self.source.name))
            self.store.finish_run(
                summary.run_id,
                outcome=summary.outcome, pages_fetched=summary.pages_fetched, requests=summary.requests,
                new=summary.new, changed=summary.changed, errors=summary.errors,
                list_items=summary.list_items, list_path=summary.list_path or None, message=summary.message or None,
            )
            if summary.pages_fetched:  # else robots.txt may be unread: keep the pace last known
                self.store.record_pace(self.config.source.base_url, in_force=self.fetcher.crawl_delay_in_force,
                                       requested=self.fetcher.crawl_delay_requested,
                                       cap=self.config.source.max_crawl_delay_seconds,
                                       request_delay=self.config.source.request_delay)
        return summary

    # --- lists -------------------------------------------------------------------------------
    def _crawl_lists(self, summary: RunSummary) -> list[tuple[int, str]]:
        # The adaptive strategy reads one list a poll (crawler.polling); new ids are still fetched
        # in every language, below.
        languages = lists_for_poll(self.store, self.config.schedule, self.source.name, self.config.source.languages)
        failures = []
        for lang in languages:
            try:
                self._read_lists(summary, lang, max_pages=self.config.source.max_list_pages, only_while_unseen=True)
            except RefusedError as exc:
                raise RunAborted(str(exc)) from None
            except Interrupted:
                raise
            except FetchError as exc:
                failures.append(exc)
                self._error(summary, exc.url, "fetch", str(exc), lang=lang)
        if failures and len(failures) == len(languages):
            raise RunAborted(str(failures[0])) from failures[0]
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
                summary.list_endings[lang] = "stopped at a failed list page"

    def _read_lists(
        self,
        summary: RunSummary,
        lang: str,
        *,
        max_pages: int,
        only_while_unseen: bool,
        since: dt.date | None = None,
    ) -> None:
        """Walk one language's list pages; a backfill walk resumes where the last one stopped."""
        walk = _ListWalk(lang, crawl=only_while_unseen, since=since)
        job = f"lists:{since.isoformat() if since else 'all'}"
        first_page = 1 if walk.crawl else self.store.resume_page(self.source.name, job, lang)
        # A crawl reads list pages while they hold unseen releases: how many is not known ahead.
        progress = Progress(f"list pages {lang}", total=None if walk.crawl else max_pages, enabled=self.show_progress)
        ending = _GO_ON
        for page_number in range(first_page, max_pages + 1):
            self._check_stop()
            ending = self._read_list_page(summary, walk, page_number)
            if not walk.crawl:
                self.store.save_resume_page(self.source.name, job, lang, page_number, done=ending in (_END_OF_LIST, _SINCE_REACHED))
            progress.advance(1, f"page {page_number}")
            if ending:
                break
        progress.close()
        if walk.crawl and ending != _PAGE_FAILED:
            self.store.save_walk_validators(self.source.name, walk.validators)
        if not walk.crawl:
            summary.list_endings[lang] = walk.describe(ending, max_pages)

    def _read_list_page(self, summary: RunSummary, walk: _ListWalk, page_number: int) -> str:
        """Read one list page and record what it lists; returns how the walk ends there, or _GO_ON."""
        url = walk.next_url or self.source.list_url(walk.lang, page_number)
        etag, last_modified = self.store.validators(self.source.name, url) if walk.crawl else (None, None)
        page = self.fetcher.get(url, etag=etag, last_modified=last_modified)
        summary.pages_fetched += 1
        if page.not_modified:
            return _NOT_MODIFIED
        self._keep_page("list", url, page, None, walk.lang)
        if page.status != 200:
            # A page the walk tried on its own, past a page with no link onwards, may just not
            # exist: that is the end of the list. A page the pager linked to must exist.
            if page_number > 1 and page.status in (404, 410) and (not walk.crawl or not walk.linked_onwards):
                return _END_OF_LIST
            self._error(summary, url, "fetch", f"list page answered {page.status}", lang=walk.lang)
            return _PAGE_FAILED
        try:
            listing = self.source.parse_list(page.text, walk.lang, url)
        except ParseError as exc:  # a page past the parse budget: recorded, and the walk ends here
            self._error(summary, url, "parse", str(exc), lang=walk.lang)
            return _PAGE_FAILED
        ids = frozenset(entry.id for entry in listing.entries)
        if page_number > 1 and (not ids or ids == walk.previous_ids):
            return _END_OF_LIST  # past the end: an empty page, or the last one served again
        self._note_list(summary, url, listing)
        unseen = ids - self.store.stored_keys(self.source.name, walk.lang) if walk.crawl else ids
        self.store.record_listing(self.source.name, listing.entries)
        walk.validators.append((url, page.etag, page.last_modified))
        return self._after_list_page(walk, page_number, listing, unseen)

    def _note_list(self, summary: RunSummary, url: str, listing: ListPage) -> None:
        summary.list_paths.add(listing.path)
        summary.list_items += len(listing.entries)
        if listing.path != "selectors":
            log.warning("list %s: configured selectors found nothing; %s path used", url, listing.path)

    @staticmethod
    def _after_list_page(walk: _ListWalk, page_number: int, listing: ListPage, unseen: frozenset[int]) -> str:
        ids = frozenset(entry.id for entry in listing.entries)
        full = len(ids) >= walk.full_size
        walk.full_size = max(walk.full_size, len(ids))
        walk.previous_ids = ids
        walk.linked_onwards = bool(listing.next_page)
        walk.next_url = listing.next_url if listing.next_page else None
        if ids:
            walk.last_page_with_items = page_number
        # A pager may show a fixed window of page numbers, or none: only a short page without a link
        # onwards is the last one. A crawl goes on past such a page only while it is all news: a full
        # page of unseen releases may have more behind it.
        onwards = listing.next_page or (full and (not walk.crawl or unseen == ids))
        if not ids or not onwards:
            return _END_OF_LIST
        if walk.crawl and not unseen:
            return _NOTHING_UNSEEN
        dates = [entry.list_date for entry in listing.entries if entry.list_date]
        if walk.since and dates and min(dates) < walk.since.isoformat():
            return _SINCE_REACHED
        return _GO_ON

    # --- what to fetch ---------------------------------------------------------------------------
    def _candidates(self, since: dt.date | None = None) -> list[tuple[int, str]]:
        candidates = self.store.candidates(
            self.source.name, list(self.config.source.languages),
            retry_minutes=self.config.source.pending_retry_minutes,
            retry_cap_minutes=_PENDING_RETRY_CAP_MINUTES,
            since=since.isoformat() if since else None,
        )
        return self._only_listed(candidates)

    def _only_listed(self, candidates: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """Where each language version has its own id (shared_ids false), an id stands for one
        (id, lang), the one a list showed: never the same id tried in the other languages. Where
        addresses are not built from ids, only a listed version has an address to fetch."""
        if getattr(self.source, "shared_ids", True) and getattr(self.source, "item_urls_from_ids", True):
            return candidates
        listed = self.store.listed_keys(self.source.name)
        return [key for key in candidates if key in listed]

    def _item_url(self, item_id: int, lang: str) -> str:
        """The release's address: built by the source, else the one its list page gave (a site whose
        addresses carry a slug cannot build one from the id)."""
        try:
            return self.source.item_url(lang, item_id)
        except LookupError:
            url = self.store.listed_url(self.source.name, item_id, lang)
            if url is None:
                raise
            return url

    # --- releases ----------------------------------------------------------------------------
    def _fetch_releases(self, summary: RunSummary, candidates: list[tuple[int, str]], absent_is_pending: bool,
                        mark: _ResumeMark | None = None) -> None:
        progress = Progress("releases", total=len(candidates), enabled=self.show_progress)
        failures_in_a_row = 0
        previous: int | None = None
        try:
            for item_id, lang in candidates:
                self._check_stop()
                if mark and previous not in (None, item_id) and failures_in_a_row == 0:
                    mark.passed(previous)  # every version of the id before is handled
                previous = item_id
                failure = self._fetch_release(summary, item_id, lang, absent_is_pending)
                summary.attempted += 1  # not when the fetch was refused or interrupted: that page is skipped
                failures_in_a_row = failures_in_a_row + 1 if failure else 0
                if failures_in_a_row >= _CONSECUTIVE_FAILURES:
                    raise RunAborted(f"{failures_in_a_row} release pages in a row failed; last: {failure}")
                progress.advance(1, f"{item_id}/{lang}")
            if mark and previous is not None:
                mark.passed(previous)
                mark.save(done=True)
        finally:
            if mark:
                mark.save()
            progress.close()

    def _fetch_release(self, summary: RunSummary, item_id: int, lang: str, absent_is_pending: bool) -> str:
        """Fetch, check, parse and store one release version; returns why its fetch failed, or ""."""
        try:
            url = self._item_url(item_id, lang)
        except LookupError as exc:  # never listed, no address to build: nothing to fetch
            self._error(summary, "", "fetch", str(exc), item_id=item_id, lang=lang)
            return ""
        try:
            page = self.fetcher.get(url)
        except RefusedError as exc:
            raise RunAborted(str(exc)) from None
        except Interrupted:
            raise
        except (OffsiteError, TooLargeError) as exc:
            self._error(summary, url, "fetch", str(exc), item_id=item_id, lang=lang)
            return ""
        except FetchError as exc:
            self._error(summary, url, "fetch", str(exc), item_id=item_id, lang=lang)
            return str(exc)
        summary.pages_fetched += 1
        self._keep_page("release", url, page, item_id, lang)
        if page.status in (404, 410):
            self._note_missing(item_id, lang, url, absent_is_pending)
        elif not self._redirected(item_id, lang, url, page.url, absent_is_pending):
            self._parse_and_store(summary, item_id, lang, url, page.text, page.url)
        return ""

    def _keep_page(self, kind: str, url: str, page: Page, item_id: int | None, lang: str) -> None:
        if self.page_hook is not None and not page.not_modified:
            self.page_hook(self.store, kind, url, page, item_id, lang)

    def _redirected(self, item_id: int, lang: str, url: str, final_url: str, absent_is_pending: bool) -> bool:
        """A release page is that (id, lang) only when its final address names the same (id, lang).
        A redirect to another language of it, or to no release, is a version not there (yet); a
        redirect to another release is recorded as such. Neither is stored as this version."""
        if final_url == url:  # no redirect: the page asked for (an address may not name its language)
            return False
        key = self.source.release_key(final_url)
        if key == (item_id, lang):
            return False
        log.info("%s/%s: %s redirects to %s; not stored as this version", item_id, lang, url, final_url)
        if key is None or key[0] == item_id:
            self._note_missing(item_id, lang, url, absent_is_pending)
        else:
            self.store.note_redirect(self.source.name, item_id, lang, final_url)
        return True

    def _parse_and_store(self, summary: RunSummary, item_id: int, lang: str, url: str, html: str,
                         final_url: str) -> None:
        try:
            item = self.source.parse_item(html, lang, final_url)
        except ParseError as exc:
            self._error(summary, url, "parse", str(exc), item_id=item_id, lang=lang)
            return
        item = dataclasses.replace(item, source=self.source.name)
        if item.published is None:
            item = dataclasses.replace(item, published=self.store.listed_date(self.source.name, item_id))
        self._store(summary, item)

    def _note_missing(self, item_id: int, lang: str, url: str, absent_is_pending: bool) -> None:
        """A 404 for a release known in another language is 'not translated yet': retried later."""
        known = absent_is_pending or self.store.is_known(self.source.name, item_id)
        self.store.note_missing(self.source.name, item_id, lang, url, absent=not known)

    def _store(self, summary: RunSummary, item: ParsedItem) -> None:
        with self.store.atomic():
            outcome = self.store.save_item(item)
            if outcome != StoreOutcome.UNCHANGED:
                matches = self.tagger(self.store, item) if self.tagger else []
                version = StoredVersion(item, outcome, tuple(matches))
                for hook in self.hooks:
                    hook(self.store, version)
        if outcome == StoreOutcome.NEW:
            summary.new += 1
        elif outcome == StoreOutcome.CHANGED:
            summary.changed += 1
        else:
            summary.unchanged += 1
        if outcome != StoreOutcome.UNCHANGED:
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
