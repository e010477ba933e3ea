"""WARC (ISO 28500) out and in, through warcio, the web-archiving field's own library.

Out: `write_warc` writes a `warcinfo` record, then one `response` record per archived answer,
oldest first, with the answer's address, time, status, headers and body; warcio sets the
WARC-Block-Digest and WARC-Payload-Digest. No `request` records: presswatch does not keep the
request it sent, and a made-up one would be no evidence. The body is the one the crawl decoded
(after gzip), so Content-Encoding and Transfer-Encoding are left out of the record's HTTP headers and
Content-Length is that body's length: a replay tool serves exactly the bytes in the record.

In: `load` reads the response records of WARC files (any tool's: Heritrix, wget --warc-file,
Browsertrix, warcio) into the archive, one transaction per file (a bad or truncated file adds
nothing and is one line of error); pages of another site, and pages of this one that are neither
list nor release pages, are counted and left out. `replay` then sends them through the crawl's own
pipeline: list pages record what they list, release pages are fetched from the archive by an
`ArchiveFetcher` through `Crawler.replay_versions` (runs of kind "import"), so they are parsed,
stored, tagged and alerted about (the first-run and horizon rules of a crawl) exactly as fetched ones. A page recorded more than once is
replayed in the order of its WARC-Date, so an edit becomes a new version as in a crawl.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http
import io
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urljoin, urlsplit

import httpx

from crawler import __version__, archive
from crawler.clock import iso, now_utc
from crawler.fetch import MAX_REDIRECTS, REDIRECT_STATUSES, FetchError, Page, decode_html
from crawler.model import ParseError, PresswatchError, UsageError
from crawler.pipeline import Crawler, RunSummary
from crawler.sources.base import Source
from crawler.store import Store

# Headers that describe the bytes on the wire, not the body kept.
_WIRE_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})


def _warcio() -> Any:
    try:
        import warcio  # noqa: F401  (checked here so the message names the package)
    except ImportError:  # pragma: no cover - a core dependency; only a broken install lacks it
        raise PresswatchError("WARC needs the warcio package: pip install warcio") from None
    import warcio.archiveiterator
    import warcio.exceptions
    import warcio.statusandheaders
    import warcio.warcwriter

    return warcio


# --- out ------------------------------------------------------------------------------------------

def warc_date(stored: str) -> str:
    """A stored time (ISO with +00:00) as WARC-Date wants it (...Z)."""
    moment = dt.datetime.fromisoformat(stored)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _http_headers(page: archive.ArchivedPage) -> Any:
    warcio = _warcio()
    try:
        phrase = http.HTTPStatus(page.status).phrase
    except ValueError:
        phrase = ""
    headers = [(k, v) for k, v in page.headers if k.lower() not in _WIRE_HEADERS]
    headers.append(("Content-Length", str(len(page.body))))
    return warcio.statusandheaders.StatusAndHeaders(f"{page.status} {phrase}".strip(), headers, protocol="HTTP/1.1")


def write_warc(store: Store, out: BinaryIO, *, filename: str, source: str | None = None,
               progress: Any = None) -> int:
    """Write the archive (of `source`, or all) as a gzipped WARC to `out`; returns the response records."""
    warcio = _warcio()
    writer = warcio.warcwriter.WARCWriter(out, gzip=True)
    writer.write_record(writer.create_warcinfo_record(filename, {
        "software": f"presswatch/{__version__}",
        "format": "WARC File Format 1.1",
        "description": "list and release pages as presswatch fetched them; bodies as decoded (no Content-Encoding)",
        "isPartOf": source or "presswatch archive",
        "written": warc_date(now_utc()),
        "pages": str(archive.response_count(store, source)),
    }))
    count = 0
    for batch in archive.in_batches(archive.all_ids(store, source)):
        for page in archive.pages_by_id(store, batch):
            record = writer.create_warc_record(
                page.final_url, "response", payload=io.BytesIO(page.body), http_headers=_http_headers(page),
                warc_headers_dict={"WARC-Date": warc_date(page.fetched_at)})
            writer.write_record(record)
            count += 1
        if progress is not None:
            progress.advance(len(batch))
    return count


# --- in -------------------------------------------------------------------------------------------

@dataclass
class Loaded:
    """What `load` put into the archive, for `replay`."""

    files: int = 0
    records: int = 0  # response records read
    list_pages: list[tuple[int, str]] = field(default_factory=list)  # (archive row id, lang), in date order
    releases: dict[tuple[int, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    redirects: dict[str, str] = field(default_factory=dict)  # recorded 3xx: address -> Location
    other_site: int = 0
    other_hosts: Counter = field(default_factory=Counter)  # the other sites' records, by host
    other_pages: int = 0  # on the site, neither a list nor a release page
    not_pages: int = 0  # records that are no HTTP response (request, revisit, metadata, ...)
    row_ids: list[int] = field(default_factory=list)

    def of_none(self, sites: set[str]) -> int:
        """Records of a host none of `sites` (hosts, as `site_of` gives them) is on."""
        return sum(count for host, count in self.other_hosts.items() if host not in sites)


def site_of(source: Source) -> str:
    """The host (and port) a source's pages are on: a record of another is of another site."""
    return urlsplit(source.base_url).netloc


@dataclass
class _Record:
    url: str
    fetched_at: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _stored_time(warc_date_value: str | None) -> str:
    if not warc_date_value:
        return now_utc()
    try:
        return iso(dt.datetime.fromisoformat(warc_date_value.replace("Z", "+00:00")))
    except ValueError:
        return now_utc()


def _starts_as_warc(stream: BinaryIO) -> bool:
    """A WARC file starts with a record's version line, gzipped (one member per record) or not."""
    head = stream.read(4096)
    stream.seek(0)
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, 16)
        except zlib.error:
            return False
    return head.startswith(b"WARC/")


def _records(path: Path, loaded: Loaded) -> Iterator[_Record]:
    """The HTTP response records of one WARC file (gzipped or not)."""
    warcio = _warcio()
    with open(path, "rb") as stream:
        if not _starts_as_warc(stream):
            raise ValueError("it does not start with a WARC record")
        # check_digests: a record whose digest headers do not match its bytes is refused
        records = warcio.archiveiterator.ArchiveIterator(stream, check_digests="raise")
        with contextlib.redirect_stderr(io.StringIO()):  # warcio writes its warnings there; counted below
            for record in records:
                if records.err_count:
                    raise ValueError(f"a record ends before its Content-Length ({records.err_count} damaged)")
                if record.rec_type != "response" or record.http_headers is None:
                    loaded.not_pages += record.rec_type not in ("warcinfo", "request")
                    continue
                yield _response(record)
        if records.err_count:
            raise ValueError(f"a record ends before its Content-Length ({records.err_count} damaged)")


def _response(record: Any) -> _Record:
    status = record.http_headers.get_statuscode()
    body = record.content_stream().read()
    if getattr(record.raw_stream, "limit", 0) > 0:  # the file ended inside this record
        raise EOFError(f"the file ends inside the record of {record.rec_headers.get_header('WARC-Target-URI')}")
    return _Record(
        url=record.rec_headers.get_header("WARC-Target-URI") or "",
        fetched_at=_stored_time(record.rec_headers.get_header("WARC-Date")),
        status=int(status) if str(status).isdigit() else 0,
        headers=[(str(k), str(v)) for k, v in record.http_headers.headers],
        body=body,
    )


def _list_addresses(source: Source, pages: int) -> dict[str, str]:
    """The address of every list page up to `pages`, in every language of the source: its language."""
    return {source.list_url(lang, number): lang for lang in source.languages for number in range(1, pages + 1)}


def load(store: Store, source: Source, paths: list[str], *, keep: str = "all") -> Loaded:
    """Read WARC files into the archive (see the module doc). A file that cannot be read is a
    PresswatchError naming it; the files before it stay loaded."""
    loaded = Loaded()
    site = site_of(source)
    for name in paths:
        path = Path(name)
        if not path.is_file():
            raise UsageError(f"no WARC file at {path}")
        try:
            with store.atomic():
                _load_file(store, source, path, site, loaded, keep)
        except (OSError, EOFError, ValueError, zlib.error, TypeError) as exc:
            raise PresswatchError(f"cannot import {path}: not a readable WARC file ({_reason(exc)}); "
                                  "nothing of it was imported") from None
        except Exception as exc:
            if type(exc).__name__ != "ArchiveLoadFailed":
                raise
            raise PresswatchError(f"cannot import {path}: not a readable WARC file ({_reason(exc)}); "
                                  "nothing of it was imported") from None
        loaded.files += 1
    return loaded


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _ListAddresses:
    """Which list page an address is (its language), for list pages 1..n; n grows with the records
    read, since a file cannot hold more list pages than records."""

    def __init__(self, source: Source) -> None:
        self.source, self.pages, self.languages = source, 0, {}

    def lang(self, url: str, records: int) -> str | None:
        if records > self.pages:
            self.pages = max(2 * self.pages, records, 64)
            self.languages = _list_addresses(self.source, self.pages)
        return self.languages.get(url)


def _load_file(store: Store, source: Source, path: Path, site: str, loaded: Loaded, keep: str) -> None:
    """Stream the file's records into the archive (a large WARC is never held in memory); the
    replay order (by WARC-Date) is settled once the whole file is read."""
    lists = _ListAddresses(source)
    releases: dict[tuple[int, str], list[tuple[str, int]]] = defaultdict(list)
    list_pages: list[tuple[str, int, str]] = []
    for record in _records(path, loaded):
        loaded.records += 1
        host = urlsplit(record.url).netloc
        if host != site:
            loaded.other_site += 1
            loaded.other_hosts[host] += 1
            continue
        location = dict((k.lower(), v) for k, v in record.headers).get("location")
        if record.status in REDIRECT_STATUSES and location:
            loaded.redirects[record.url] = urljoin(record.url, location.strip())
            continue
        key = source.release_key(record.url)
        lang = None if key else lists.lang(record.url, loaded.records)
        if key is None and lang is None:
            loaded.other_pages += 1
            continue
        row_id = archive.add_response(
            store, source=source.name, kind=archive.RELEASE if key else archive.LIST, url=record.url,
            final_url=record.url, status=record.status, headers=record.headers, body=record.body,
            fetched_at=record.fetched_at, item_id=key[0] if key else None, lang=key[1] if key else lang, keep=keep)
        loaded.row_ids.append(row_id)
        if key:
            releases[key].append((record.fetched_at, row_id))
        else:
            list_pages.append((record.fetched_at, row_id, lang))
    for key, answers in releases.items():
        loaded.releases[key].extend(row_id for _, row_id in sorted(answers))
    loaded.list_pages.extend((row_id, lang) for _, row_id, lang in sorted(list_pages))


class ArchiveFetcher:
    """A stand-in for crawler.fetch.Fetcher that answers release pages from the archive rows `load`
    made, each recorded answer once, in date order; it never touches the network."""

    def __init__(self, store: Store, source: Source, loaded: Loaded) -> None:
        self.store, self.source, self.loaded = store, source, loaded
        still = archive.kept(store, loaded.row_ids)
        self.queues = {key: [i for i in ids if i in still] for key, ids in loaded.releases.items()}
        self.requests_made = 0
        pace = store.pace(source.base_url) or {}
        # The pace a run records is the one last kept with the site: a replay keeps none.
        self.crawl_delay_in_force = pace.get("delay_in_force") or 0.0
        self.crawl_delay_requested = pace.get("crawl_delay_requested")
        self.interrupted = False

    def interrupt(self) -> None:
        self.interrupted = True

    def close(self) -> None:
        pass

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Page:
        for _ in range(MAX_REDIRECTS + 1):
            key = self.source.release_key(url)
            queue = self.queues.get(key) if key else None
            if queue:
                return self._page(queue.pop(0))
            if url not in self.loaded.redirects:
                break
            url = self.loaded.redirects[url]
        raise FetchError(url, "not in the WARC files")

    def _page(self, row_id: int) -> Page:
        found = archive.pages_by_id(self.store, [row_id])
        if not found:
            raise FetchError(str(row_id), "archived answer no longer kept")
        page = found[0]
        headers = httpx.Headers(page.headers)
        text, codec, charset_source = decode_html(page.body, headers.get("Content-Type"))
        return Page(url=page.final_url, status=page.status, text=text, encoding=codec,
                    charset_source=charset_source, etag=headers.get("ETag"),
                    last_modified=headers.get("Last-Modified"), headers=headers, body=page.body,
                    fetched_at=page.fetched_at)


@dataclass
class Replayed:
    list_pages: int = 0
    listed: int = 0
    list_failures: int = 0
    runs: list[RunSummary] = field(default_factory=list)


def replay(store: Store, source: Source, crawler: Crawler, fetcher: ArchiveFetcher) -> Replayed:
    """The loaded pages through the pipeline: list pages first (what they list is recorded, so a
    release page without a date takes the list's), then the release pages, round by round."""
    done = Replayed()
    for batch in archive.in_batches(row_id for row_id, _ in fetcher.loaded.list_pages):
        for page in archive.pages_by_id(store, batch):
            done.list_pages += 1
            if page.status != 200:
                continue
            try:
                listing = source.parse_list(page.text, page.lang, page.final_url)
            except ParseError:  # a page past the parse budget: the release pages still import
                done.list_failures += 1
                continue
            with store.atomic():
                store.record_listing(source.name, listing.entries)
            done.listed += len(listing.entries)
    rounds = max((len(queue) for queue in fetcher.queues.values()), default=0)
    for _ in range(rounds):  # round n: the n-th recorded answer of each page
        keys = sorted(key for key, queue in fetcher.queues.items() if queue)
        if not keys:
            break
        summary = crawler.replay_versions(keys)
        done.runs.append(summary)
        if summary.outcome in ("failed", "interrupted"):
            break
    return done
