"""`reparse`: the current adapter and config over the archived release pages, without the network.

For each release version the archive holds a page of (the latest answer with status 2xx), the page
is parsed again; where the extraction differs from the stored version, a new version is stored (the
old one goes to item_versions as with any edit) and tagged, and the release hooks given run (the
search index; never the alert outbox: a re-read is not news). Commits in batches, so an interrupted
reparse keeps what it did.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from crawler import archive
from crawler.fetch import decode_html
from crawler.model import ParsedItem, ParseError, StoredVersion, StoreOutcome
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
    pages, else one a CPU (at most 4)."""
    result = ReparseResult()
    row_ids = archive.latest_release_ids(store, source.name, ids=ids, since=since)
    if jobs is None:
        jobs = min(os.cpu_count() or 1, _MAX_AUTO_JOBS) if len(row_ids) >= _PARALLEL_FROM else 1
    steps = _Steps(tagger, list(hooks))
    bar = Progress("reparse", total=len(row_ids), enabled=progress)
    with _Parser(source, steps, jobs) as parser:
        for pages, parsed in parser.batches(store, archive.in_batches(row_ids, batch)):
            with store.atomic():
                for page, outcome in zip(pages, parsed):
                    _store_outcome(store, page, outcome, result, steps)
            bar.advance(len(pages))
    bar.close()
    return result


class _Steps:
    """The tagger and the hooks, each split where it can be: `prepare(item)` is a pure function of
    the parsed version (run in a worker process when there are some), `store_prepared` writes."""

    def __init__(self, tagger: Tagger | None, hooks: list[ReleaseHook]) -> None:
        self.tagger = tagger
        self.hooks = hooks
        self.preparing = [step for step in (tagger, *hooks) if hasattr(step, "prepare")]

    def prepare(self, item: ParsedItem) -> tuple:
        return tuple(step.prepare(item) for step in self.preparing)

    def run(self, store: Store, item: ParsedItem, stored: StoreOutcome, prepared: tuple | None) -> None:
        """Tag the version just stored and run the hooks, with what `prepare` gave (None: prepare here)."""
        ready = dict(zip(map(id, self.preparing), prepared if prepared is not None else self.prepare(item)))
        matches = self._finish(self.tagger, ready, store, item) if self.tagger else []
        version = StoredVersion(item, stored, tuple(matches))
        for hook in self.hooks:
            self._finish(hook, ready, store, version)

    @staticmethod
    def _finish(step: Any, ready: dict[int, Any], store: Store, subject: Any) -> Any:
        if id(step) in ready:
            return step.store_prepared(store, subject, ready[id(step)])
        return step(store, subject)


# What parsing one archived page gave: ("item", ParsedItem, what the steps prepared or None),
# ("failed", reason, None) or (_REDIRECTED, None, None).
_REDIRECTED = "redirected"
Outcome = tuple[str, Any, Any]

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


def _parse_in_worker(job: tuple[str, int | None, str | None, bytes, str | None, str | None]) -> Outcome:
    """Parse, and where the version looks changed (its digest is not `stored_hash`) prepare its steps.
    A version without a date is prepared anyway: the store may date it from its listing."""
    final_url, item_id, lang, body, content_type, stored_hash = job
    source, steps = _WORKER
    kind, item, _ = _parse(source, final_url, item_id, lang, decode_html(body, content_type)[0])
    if kind != "item" or (item.published is not None and content_hash(item) == stored_hash):
        return kind, item, None
    return kind, item, steps.prepare(item)


class _Parser:
    """Parses batches of archived pages, here or in worker processes (one batch ahead)."""

    def __init__(self, source: Source, steps: _Steps, jobs: int) -> None:
        self.source = source
        self.pool = (concurrent.futures.ProcessPoolExecutor(jobs, initializer=_start_worker,
                                                            initargs=(source, _Steps(None, steps.preparing)))
                     if jobs > 1 else None)

    def __enter__(self) -> "_Parser":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def batches(self, store: Store, chunks: Iterator[list[int]]) -> Iterator[tuple[list[archive.ArchivedPage], list[Outcome]]]:
        if self.pool is None:
            for chunk in chunks:
                pages = archive.pages_by_id(store, chunk)
                yield pages, [_parse(self.source, p.final_url, p.item_id, p.lang, p.text) for p in pages]
            return
        ahead = None
        for chunk in chunks:
            pages = archive.pages_by_id(store, chunk)
            jobs = [(p.final_url, p.item_id, p.lang, p.body, p.header("Content-Type"), _stored_hash(store, p))
                    for p in pages]
            submitted = (pages, self.pool.map(_parse_in_worker, jobs, chunksize=max(len(jobs) // 8, 1)))
            if ahead is not None:
                yield ahead[0], list(ahead[1])
            ahead = submitted
        if ahead is not None:
            yield ahead[0], list(ahead[1])


def _stored_hash(store: Store, page: archive.ArchivedPage) -> str | None:
    row = store.db.execute("select content_hash from items where source = ? and id = ? and lang = ?",
                           [page.source, page.item_id, page.lang]).fetchone()
    return row[0] if row else None


def _store_outcome(store: Store, page: archive.ArchivedPage, outcome: Outcome, result: ReparseResult,
                   steps: _Steps) -> None:
    result.pages += 1
    kind, value, prepared = outcome
    if kind == _REDIRECTED:
        result.redirected += 1
        return
    if kind == "failed":
        result.failed += 1
        if len(result.failures) < _EXAMPLES:
            result.failures.append(f"{page.item_id}/{page.lang}: {value}")
        return
    item = dataclasses.replace(value, source=page.source)
    if item.published is None:
        item = dataclasses.replace(item, published=store.listed_date(item.source, item.id))
    stored = store.db.execute(
        "select title, published, paragraphs, content_hash from items where source = ? and id = ? and lang = ?",
        [item.source, item.id, item.lang]).fetchone()
    if stored is not None and stored[3] == content_hash(item):
        result.unchanged += 1
        return
    steps.run(store, item, store.save_item(item), prepared)
    if stored is None:
        result.new += 1
        return
    result.changed += 1
    _note_changes(result, item, stored)


def _note_changes(result: ReparseResult, item: ParsedItem, stored: tuple) -> None:
    before = {"title": stored[0], "published": stored[1], "paragraphs": json.loads(stored[2] or "[]")}
    for name in COMPARED:
        after = getattr(item, name)
        if before[name] != after:
            result.fields[name] += 1
            if len(result.examples) < _EXAMPLES:
                result.examples.append(Change(item.id, item.lang, name, before[name], after))
