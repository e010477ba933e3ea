"""What presswatch is about, independent of any site: list entries, releases, outcomes, errors.

The bottom layer: it imports nothing of presswatch. Sources produce these objects, the store
keeps them, hooks and commands read them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class ParseError(Exception):
    """A page that holds no release (or no list); str() says why in one line."""


class ListPath(enum.StrEnum):
    """How a list page was read: a layout change shows up as something other than SELECTORS."""

    SELECTORS = "selectors"
    FALLBACK = "fallback"  # the configured selectors found nothing; the page's structure did
    EMPTY = "empty"  # nothing at all


@dataclass(frozen=True)
class ListEntry:
    id: int
    lang: str
    url: str
    title: str
    list_date: str | None


@dataclass(frozen=True)
class ListPage:
    entries: list[ListEntry]
    path: str
    next_page: bool = False
    # the absolute address of the next page, when the page links to it on the site's own host: the
    # walk fetches it rather than the page number's address (a pager the template cannot express)
    next_url: str | None = None


@dataclass(frozen=True)
class ParsedItem:
    """One language version of a release, as read from its page."""

    id: int
    lang: str
    url: str
    title: str
    published: str | None
    paragraphs: list[str]
    images: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    # "selectors" or "fallback", as for lists
    path: str = "selectors"
    # the name of the source it came from (Source.name): a release is (source, id), a version
    # (source, id, lang). Parsers leave it empty; the pipeline sets it before storing.
    source: str = ""


class StoreOutcome(enum.StrEnum):
    """What storing one language version did."""

    NEW = "new"
    CHANGED = "changed"  # the old text is kept in item_versions
    UNCHANGED = "unchanged"


class RunOutcome(enum.StrEnum):
    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"  # some pages failed; the summary counts them
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class StoredVersion:
    """What the pipeline hands to release hooks: the version as stored, its outcome and its topic
    matches (empty when tagging is off), so no hook needs to read back what another one wrote."""

    item: ParsedItem
    outcome: StoreOutcome
    matches: tuple[Any, ...] = ()
    digest: str = ""  # its content_hash where the caller had it at hand ("": not given)

    @property
    def topics(self) -> list[str]:
        return sorted({match.topic for match in self.matches})


class PresswatchError(Exception):
    """A failure the user must be told about in one line. The CLI maps `kind` to an exit code."""

    kind = "failed"


class UsageError(PresswatchError):
    """Bad arguments or configuration."""

    kind = "usage"


class StoreUnusable(PresswatchError):
    """The store cannot be used as asked, and trying again will not change that: its folder is
    missing, it is not a presswatch store, a newer presswatch wrote it, it cannot be created."""

    kind = "unusable"


class StoreReadOnly(StoreUnusable):
    """A command that writes was pointed at a store on read-only media or in a read-only file."""


class StoreFull(PresswatchError):
    """The disk (or SQLite's size limit) is full: this run failed, a later one may succeed."""


class NotFound(PresswatchError):
    """Something asked for is not in the store."""
