"""Every source a reader of the store may meet, by name: the configured ones, and a stand-in for a
name stored but no longer configured.

A store holds releases of several sources; whoever shows a row (an alert, a feed entry, `show`,
the web view) asks the book for that row's source: its display name, time zone, languages and
their names and tags. A name no longer configured still reads: its display name is the name, its
time zone UTC, its languages those the store holds of it (in the order given).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from crawler.model import UsageError
from crawler.sources.base import Source


class UnconfiguredSource(Source):
    """A source the store names and the config no longer describes: enough to show its rows, no
    crawling (its addresses and parsers are unknown)."""

    kind = "unconfigured"
    supported_languages: tuple[str, ...] = ()
    language_names: Mapping[str, str] = {}
    language_tags: Mapping[str, str] = {}
    timezone: dt.tzinfo = dt.timezone.utc

    def __init__(self, name: str, languages: Sequence[str] = ()) -> None:  # noqa: D107 - no settings
        self.name = name
        self.base_url = ""
        self.settings = None  # type: ignore[assignment]
        self.languages = self.supported_languages = tuple(languages)
        self.language_names = {lang: lang for lang in languages}
        self.language_tags = {lang: lang for lang in languages}
        self.headline_preference = self.supported_languages

    @property
    def display_name(self) -> str:
        return self.name

    def _not_here(self, *_: object) -> None:
        raise UsageError(f"source {self.name!r} is not configured: its releases can be read, not crawled")

    list_url = item_url = release_key = parse_list = parse_item = _not_here  # type: ignore[assignment]

    def parse_date(self, text: str) -> str | None:
        return None


class SourceBook:
    """The configured sources by name, in the order configured; `get` also answers for a name
    stored but not configured (UnconfiguredSource)."""

    def __init__(self, configured: Iterable[Source]) -> None:
        self.configured: tuple[Source, ...] = tuple(configured)
        self._by_name: dict[str, Source] = {source.name: source for source in self.configured}

    @classmethod
    def of(cls, sources: Source | SourceBook) -> SourceBook:
        """`sources` itself, or a book of the one Source given."""
        return sources if isinstance(sources, SourceBook) else cls([sources])

    def __len__(self) -> int:
        return len(self.configured)

    @property
    def first(self) -> Source:
        return self.configured[0]

    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def is_configured(self, name: str) -> bool:
        return name in self._by_name

    def get(self, name: str | None, stored_languages: Sequence[str] = ()) -> Source:
        """The source called `name` (None: the first configured); one not configured is an
        UnconfiguredSource with `stored_languages` (what the store holds of it)."""
        if name is None:
            return self.first
        found = self._by_name.get(name)
        if found is None:
            found = UnconfiguredSource(name, stored_languages)
            self._by_name[name] = found
        return found

    def languages(self, stored: Sequence[str] = ()) -> tuple[str, ...]:
        """Every configured source's languages, each in its display order, sources in config order;
        then `stored` ones none of them has (languages only other stored sources hold)."""
        found = [lang for source in self.configured for lang in source.supported_languages]
        return tuple(dict.fromkeys([*found, *stored]))

    def language_names(self) -> dict[str, str]:
        """A name for each configured language (the first source naming it wins)."""
        names: dict[str, str] = {}
        for source in self.configured:
            for lang, name in source.language_names.items():
                names.setdefault(lang, name)
        return names

    def language_tags(self) -> dict[str, str]:
        tags: dict[str, str] = {}
        for source in self.configured:
            for lang, tag in source.language_tags.items():
                tags.setdefault(lang, tag)
        return tags

    @property
    def title(self) -> str:
        """The one source's display name, or "N sources"."""
        return self.first.display_name if len(self.configured) == 1 else f"{len(self.configured)} sources"
