"""Source adapters, found by `kind`: one module a site. A second site is one new module here
plus its entry in KINDS."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlsplit

from crawler.model import PresswatchError
from crawler.sources.base import Source, SourceSettings
from crawler.sources.book import SourceBook, UnconfiguredSource
from crawler.sources.generic import Generic
from crawler.sources.presidentuz import NAME as PRESIDENT_UZ_NAME
from crawler.sources.presidentuz import PresidentUz

KINDS: dict[str, type[Source]] = {PresidentUz.kind: PresidentUz, Generic.kind: Generic}
DEFAULT_KIND = PresidentUz.kind
# The source every row of a store made before sources were plural belongs to (migration m007).
FIRST_SOURCE_NAME = PRESIDENT_UZ_NAME


class UnknownSourceKind(PresswatchError):
    kind = "usage"


def source_class(kind: str) -> type[Source]:
    try:
        return KINDS[kind]
    except KeyError:
        raise UnknownSourceKind(f"unknown source kind {kind!r} (known: {', '.join(sorted(KINDS))})") from None


def source_for(config: Any) -> Source:
    """The source a loaded config describes: its `source` (a [source] table, or one [[sources]]
    entry as Config.for_source gives it) and [selectors]."""
    return source_of_entry(config.source, config.selectors)


def source_book(config: Any) -> SourceBook:
    """Every configured source of a loaded config (Config.sources) by name; `get` also answers for
    a name the store holds and the config no longer has."""
    return SourceBook(source_of_entry(entry) for entry in config.sources)


def source_of_entry(entry: Any, selectors: Any = None) -> Source:
    """The Source of one configured source: the kind's adapter, named by the entry (or the default's name).
    A generic entry's own [sources.generic] table, with its base_url and languages, is its settings."""
    kind = getattr(entry, "kind", DEFAULT_KIND)
    name = getattr(entry, "name", "") or _default_name(kind)
    generic = getattr(entry, "generic", None)
    if kind == Generic.kind and generic is not None:
        settings = dataclasses.replace(generic, base_url=entry.base_url, languages=tuple(entry.languages))
        return Generic(settings, name=name)
    return create_source(entry, getattr(entry, "selectors", None) or selectors, kind=kind, name=name)


def _default_name(kind: str) -> str:
    """A [source] table names no source: it is the default site's, named by its host."""
    defaults = source_class(kind).defaults
    return defaults.get("name") or urlsplit(defaults.get("base_url", "")).hostname or ""


def create_source(settings: SourceSettings, selectors: Any, *, kind: str = DEFAULT_KIND, name: str = "") -> Source:
    return source_class(kind)(settings, selectors, name=name)


__all__ = ["KINDS", "DEFAULT_KIND", "FIRST_SOURCE_NAME", "Source", "SourceSettings", "PresidentUz", "create_source",
           "source_class", "source_for", "source_of_entry", "source_book", "SourceBook",
           "UnconfiguredSource"]
