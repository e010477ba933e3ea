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
from crawler.model import ParsedItem, ParseError, StoredVersion
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
    being stored; what is stored, and in which order, is the same. None: one process for a few
    pages, else one a CPU (at most 4)."""
    result = ReparseResult()
    row_ids = archive.latest_release_ids(store, source.name, ids=ids, since=since)
    if jobs is None:
        jobs = min(os.cpu_count() or 1, _MAX_AUTO_JOBS) if len(row_ids) >= _PARALLEL_FROM else 1
    bar = Progress("reparse", total=len(row_ids), enabled=progress)
    with _Parser(source, jobs) as parser:
        for pages, parsed in parser.batches(store, archive.in_batches(row_ids, batch)):
            with store.atomic():
                for page, outcome in zip(pages, parsed):
                    _store_outcome(store, page, outcome, result, tagger, hooks)
            bar.advance(len(pages))
    bar.close()
    return result


# What parsing one archived page gave: a ParsedItem, or the reason it gave none.
_REDIRECTED = "redirected"
Outcome = tuple[str, Any]  # ("item", ParsedItem) | ("failed", reason) | (_REDIRECTED, None)

_WORKER_SOURCE: Source | None = None


def _parse(source: Source, final_url: str, item_id: int | None, lang: str | None, text: str) -> Outcome:
    if source.release_key(final_url) != (item_id, lang):
        return _REDIRECTED, None
    try:
        return "item", source.parse_item(text, lang, final_url)
    except ParseError as exc:
        return "failed", str(exc)


def _start_worker(source: Source) -> None:
    global _WORKER_SOURCE
    _WORKER_SOURCE = source


def _parse_in_worker(job: tuple[str, int | None, str | None, bytes, str | None]) -> Outcome:
    final_url, item_id, lang, body, content_type = job
    return _parse(_WORKER_SOURCE, final_url, item_id, lang, decode_html(body, content_type)[0])


class _Parser:
    """Parses batches of archived pages, here or in worker processes (one batch ahead)."""

    def __init__(self, source: Source, jobs: int) -> None:
        self.source = source
        self.pool = (concurrent.futures.ProcessPoolExecutor(jobs, initializer=_start_worker, initargs=(source,))
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
            jobs = [(p.final_url, p.item_id, p.lang, p.body, p.header("Content-Type")) for p in pages]
            submitted = (pages, self.pool.map(_parse_in_worker, jobs, chunksize=max(len(jobs) // 8, 1)))
            if ahead is not None:
                yield ahead[0], list(ahead[1])
            ahead = submitted
        if ahead is not None:
            yield ahead[0], list(ahead[1])


def _store_outcome(store: Store, page: archive.ArchivedPage, outcome: Outcome, result: ReparseResult,
                   tagger: Tagger | None, hooks: list[ReleaseHook]) -> None:
    result.pages += 1
    kind, value = outcome
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
    outcome_stored = store.save_item(item)
    matches = tagger(store, item) if tagger else []
    version = StoredVersion(item, outcome_stored, tuple(matches))
    for hook in hooks:
        hook(store, version)
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
