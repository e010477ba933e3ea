"""`reparse`: the current adapter and config over the archived release pages, without the network.

For each release version the archive holds a page of (the latest answer with status 2xx), the page
is parsed again; where the extraction differs from the stored version, a new version is stored (the
old one goes to item_versions as with any edit) and tagged, and the release hooks given run (the
search index; never the alert outbox: a re-read is not news). Commits in batches, so an interrupted
reparse keeps what it did.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from crawler import archive
from crawler.clock import now_utc
from crawler.fetch import decode_html
from crawler.model import ParsedItem, ParseError, StoredVersion, StoreOutcome
from crawler.normalize import join_body
from crawler.pipeline import ReleaseHook, Tagger
from crawler.progress import Progress
from crawler.sources.base import Source
from crawler.store import Store, content_hash

# What makes an edit (crawler.store.content_hash): the fields compared and reported.
COMPARED = ("title", "published", "paragraphs")
_EXAMPLES = 5
_BATCH = 500
# Worker processes pay for themselves from a few thousand pages on (each page is sent to one).
_PARALLEL_FROM, _MAX_AUTO_JOBS = 2000, 4


@dataclass
class Change:
    item_id: int
    lang: str
    field: str
    before: Any
    after: Any


@dataclass
class ReparseResult:
    pages: int = 0  # archived release pages read
    changed: int = 0  # versions stored anew
    new: int = 0  # versions the store lacked (an archived page never parsed into the store)
    unchanged: int = 0
    failed: int = 0  # pages the adapter refused (ParseError)
    redirected: int = 0  # answers whose final address is another page: not that version
    fields: Counter = field(default_factory=Counter)
    examples: list[Change] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def reparse(store: Store, source: Source, *, tagger: Tagger | None = None, hooks: list[ReleaseHook] = (),
            ids: tuple[int, int] | None = None, since: str | None = None, progress: bool = False,
            batch: int = _BATCH, jobs: int | None = None) -> ReparseResult:
    """Re-derive the stored versions from the archived pages of `source`; see the module doc.

    With `jobs` > 1 the pages are parsed in that many worker processes, a batch ahead of the one
    being stored; so are the tagger's matching and each hook's preparation where they offer it
    (`prepare(item)`, then `store_prepared(...)` here: the search index's folding), so this process
    mostly writes. What is stored, and in which order, is the same. None: one process for a few
    pages, else one a CPU (at most 4).

    A version stored anew with the title and body it had (a date-only fix), whose tags and search
    entry were made by today's topics and folding (every step's `current_keys`), is not matched or
    folded again: each step's `text_unchanged` keeps what it holds."""
    result = ReparseResult()
    row_ids = archive.latest_release_ids(store, source.name, ids=ids, since=since)
    if jobs is None:
        jobs = min(os.cpu_count() or 1, _MAX_AUTO_JOBS) if len(row_ids) >= _PARALLEL_FROM else 1
    steps = _Steps(tagger, list(hooks))
    bar = Progress("reparse", total=len(row_ids), enabled=progress)
    # One rebuild of the full-text indexes costs what rewriting about a tenth of their entries
    # one by one does (BENCHMARKS.md): past that, they are put off and rebuilt at the end.
    defer_from, reindexed = store.version_count() // _REBUILD_SHARE, 0
    try:
        with _Parser(source, steps, jobs) as parser:
            for parsed in parser.batches(store, archive.in_batches(row_ids, batch)):
                reindexed += sum(map(_rewrites_text, parsed))
                now = now_utc()
                with store.atomic():
                    if reindexed > defer_from:
                        store.defer_full_text()
                    # The stored rows were read a batch ahead, outside this transaction: right,
                    # since the one-writer lock is held and no version is in two batches.
                    for page, stored, outcome in parsed:
                        _store_outcome(store, page, stored, outcome, result, steps, now)
                bar.advance(len(parsed))
    except BaseException:
        if store.full_text_deferred():
            # Best effort: what went wrong may also stop the rebuild; the next writer repairs.
            with contextlib.suppress(Exception):
                store.rebuild_full_text()
        raise
    finally:
        bar.close()
    if store.full_text_deferred():
        store.rebuild_full_text()
    return result


_REBUILD_SHARE = 10


def _rewrites_text(parsed: tuple[archive.ArchivedPage, dict | None, "Outcome"]) -> bool:
    """Will storing this page write a full-text entry (a version new, or changed and not SAME_TEXT)?"""
    _, stored, (kind, _, ready) = parsed
    return kind == "item" and ready[1] != SAME_TEXT and (stored is None or ready[0] != stored["content_hash"])


# What a step keeps when a version is stored anew with the text it had (see `reparse`).
SAME_TEXT = "same text"


class _Steps:
    """The tagger and the hooks, each split where it can be: `prepare(item)` is a pure function of
    the parsed version (run in a worker process when there are some), `store_prepared` writes."""

    def __init__(self, tagger: Tagger | None, hooks: list[ReleaseHook]) -> None:
        self.tagger = tagger
        self.hooks = hooks
        self.preparing = [step for step in (tagger, *hooks) if hasattr(step, "prepare")]
        self.every = [step for step in (tagger, *hooks) if step is not None]

    def prepare(self, item: ParsedItem) -> tuple:
        return tuple(step.prepare(item) for step in self.preparing)

    def current_keys(self, store: Store, source: str, ids: list[int], stored: set[tuple[int, str]]) -> set[tuple[int, str]]:
        """Of the `stored` versions of these releases, those every step has derived from the text
        stored (none when a step cannot tell)."""
        current = set(stored)
        for step in self.every:
            if not (hasattr(step, "current_keys") and hasattr(step, "text_unchanged")):
                return set()
            current &= step.current_keys(store, source, ids)
        return current

    def run(self, store: Store, item: ParsedItem, stored: StoreOutcome, digest: str, prepared: tuple | str) -> None:
        """Tag the version just stored and run the hooks, with what `prepare` gave (or SAME_TEXT)."""
        if prepared == SAME_TEXT:
            if self.tagger:
                self.tagger.text_unchanged(store, item)
            for hook in self.hooks:
                hook.text_unchanged(store, StoredVersion(item, stored, (), digest))
            return
        ready = dict(zip(map(id, self.preparing), prepared))
        matches = self._finish(self.tagger, ready, store, item) if self.tagger else []
        version = StoredVersion(item, stored, tuple(matches), digest)
        for hook in self.hooks:
            self._finish(hook, ready, store, version)

    @staticmethod
    def _finish(step: Any, ready: dict[int, Any], store: Store, subject: Any) -> Any:
        if id(step) in ready:
            return step.store_prepared(store, subject, ready[id(step)])
        return step(store, subject)


# What parsing one archived page gave: ("item", ParsedItem, (digest or None, prepared or SAME_TEXT
# or None when unchanged)), ("failed", reason, None) or (_REDIRECTED, None, None).
_REDIRECTED = "redirected"
Outcome = tuple[str, Any, Any]
# One page to parse: final address, release id, language, source name, codec, kept body, Content-Type,
# the stored digest (None: not stored), the stored (title, body) where every step is current, else None.
Job = tuple[str, int | None, str | None, str, str, bytes, str | None, str | None, tuple[str, str] | None]

_WORKER: tuple[Source, _Steps] | None = None


def _parse(source: Source, final_url: str, item_id: int | None, lang: str | None, text: str) -> Outcome:
    if source.release_key(final_url) != (item_id, lang):
        return _REDIRECTED, None, None
    try:
        return "item", source.parse_item(text, lang, final_url), None
    except ParseError as exc:
        return "failed", str(exc), None


def _start_worker(source: Source, steps: _Steps) -> None:
    global _WORKER
    _WORKER = (source, steps)


def _parse_in_worker(job: Job) -> Outcome:
    return _parse_job(*_WORKER, job)


def _parse_job(source: Source, steps: _Steps, job: Job) -> Outcome:
    """Parse, and where the version looks changed (its digest is not the stored one) prepare its
    steps, unless its title and body are the stored ones and every step is current (SAME_TEXT). A
    version without a date has no digest yet: the store may date it from its listing."""
    final_url, item_id, lang, source_name, codec, data, content_type, stored_hash, stored_text = job
    kind, item, _ = _parse(source, final_url, item_id, lang, decode_html(archive.decompress(codec, data), content_type)[0])
    if kind != "item":
        return kind, item, None
    item = dataclasses.replace(item, source=source_name)
    digest = content_hash(item) if item.published is not None else None
    if digest is not None and digest == stored_hash:
        return kind, item, (digest, None)
    if stored_text is not None and stored_text == (item.title, join_body(item.paragraphs)):
        return kind, item, (digest, SAME_TEXT)
    return kind, item, (digest, steps.prepare(item))


class _Parser:
    """Parses batches of archived pages, here or in worker processes (one batch ahead)."""

    def __init__(self, source: Source, steps: _Steps, jobs: int) -> None:
        self.source = source
        self.steps = steps
        self.pool = (concurrent.futures.ProcessPoolExecutor(jobs, initializer=_start_worker,
                                                            initargs=(source, _Steps(None, steps.preparing)))
                     if jobs > 1 else None)

    def __enter__(self) -> "_Parser":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def batches(self, store: Store, chunks: Iterator[list[int]]) -> Iterator[list[tuple[archive.ArchivedPage, dict | None, Outcome]]]:
        """(page, its version's stored row or None, what parsing it gave), a batch at a time."""
        ahead = None
        for chunk in chunks:
            pages = archive.pages_by_id(store, chunk)
            rows, current = self._stored(store, pages)
            stored = [rows.get((page.item_id, page.lang)) for page in pages]
            jobs = [self._job(page, row, (page.item_id, page.lang) in current) for page, row in zip(pages, stored)]
            if self.pool is None:
                yield list(zip(pages, stored, [_parse_job(self.source, self.steps, job) for job in jobs]))
                continue
            submitted = (pages, stored, self.pool.map(_parse_in_worker, jobs, chunksize=max(len(jobs) // 8, 1)))
            if ahead is not None:
                yield list(zip(*ahead))
            ahead = submitted
        if ahead is not None:
            yield list(zip(*ahead))

    def _stored(self, store: Store, pages: list[archive.ArchivedPage]) -> tuple[dict, set[tuple[int, str]]]:
        """The stored versions of these pages' releases, and which of them every step derived from."""
        ids = sorted({page.item_id for page in pages if page.item_id is not None})
        rows = store.stored_rows(self.source.name, ids)
        return rows, self.steps.current_keys(store, self.source.name, ids, set(rows))

    def _job(self, page: archive.ArchivedPage, stored: dict | None, current: bool) -> Job:
        return (page.final_url, page.item_id, page.lang, self.source.name, page.codec, page.data,
                page.header("Content-Type"), stored["content_hash"] if stored else None,
                (stored["title"], stored["body"]) if stored and current else None)


def _store_outcome(store: Store, page: archive.ArchivedPage, stored: Mapping[str, Any] | None, outcome: Outcome,
                   result: ReparseResult, steps: _Steps, now: str) -> None:
    result.pages += 1
    kind, item, ready = outcome
    if kind == _REDIRECTED:
        result.redirected += 1
        return
    if kind == "failed":
        result.failed += 1
        if len(result.failures) < _EXAMPLES:
            result.failures.append(f"{page.item_id}/{page.lang}: {item}")
        return
    digest, prepared = ready
    if item.published is None:
        item = dataclasses.replace(item, published=store.listed_date(item.source, item.id))
        digest = content_hash(item)
    if stored is not None and stored["content_hash"] == digest:
        result.unchanged += 1
        return
    steps.run(store, item, store.save_item(item, now, digest=digest, existing=stored), digest, prepared)
    if stored is None:
        result.new += 1
        return
    result.changed += 1
    _note_changes(result, item, stored)


def _note_changes(result: ReparseResult, item: ParsedItem, stored: Mapping[str, Any]) -> None:
    before = {"title": stored["title"], "published": stored["published"],
              "paragraphs": json.loads(stored["paragraphs"] or "[]")}
    for name in COMPARED:
        after = getattr(item, name)
        if before[name] != after:
            result.fields[name] += 1
            if len(result.examples) < _EXAMPLES:
                result.examples.append(Change(item.id, item.lang, name, before[name], after))
