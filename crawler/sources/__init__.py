"""Source adapters, found by `kind`: one module a site. A second site is one new module here
plus its entry in KINDS."""

from __future__ import annotations

from typing import Any

from crawler.model import PresswatchError
from crawler.sources.base import Source, SourceSettings
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
    """The source a loaded config describes ([source] and [selectors])."""
    kind = getattr(config.source, "kind", DEFAULT_KIND)
    return create_source(config.source, config.selectors, kind=kind, name=getattr(config.source, "name", ""))


def create_source(settings: SourceSettings, selectors: Any, *, kind: str = DEFAULT_KIND, name: str = "") -> Source:
    return source_class(kind)(settings, selectors, name=name)


__all__ = ["KINDS", "DEFAULT_KIND", "FIRST_SOURCE_NAME", "Source", "SourceSettings", "PresidentUz", "create_source", "source_class", "source_for"]
