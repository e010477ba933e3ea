"""The interface every source adapter implements, and the registry that finds one by `kind`.

A source knows one site: its addresses, languages (in display order), time zone, date formats and
markup. Nothing outside `crawler/sources/` hard-codes any of these; it asks the source.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol

from crawler.model import ListPage, ParsedItem


class SourceSettings(Protocol):
    """What an adapter reads from the [source] section (crawler.config.SourceConfig has it)."""

    base_url: str
    languages: tuple[str, ...]
    list_path: str
    item_path: str


class Source(abc.ABC):
    """One site's addresses and parsers."""

    kind: ClassVar[str]
    # every language the site publishes in, in the order a reader expects them
    supported_languages: ClassVar[tuple[str, ...]]
    # how each language is named to a reader, in that language
    language_names: ClassVar[Mapping[str, str]]
    # BCP 47 tags (feeds, HTML lang attributes)
    language_tags: ClassVar[Mapping[str, str]]
    timezone: ClassVar[dt.tzinfo]
    # the defaults crawler.config offers for this kind: [source] keys, and [selectors]
    defaults: ClassVar[Mapping[str, Any]] = {}
    selector_defaults: ClassVar[Mapping[str, Any]] = {}
    # languages most widely read first: the headline an alert shows (default: display order)
    headline_preference: ClassVar[tuple[str, ...]] = ()
    # whether the language versions of one release share its id (coverage: gaps per language, or
    # ids stored in no language)
    shared_ids: bool = True
    # whether item_url builds a release's address from its id (false: only addresses a list page
    # gave are known, so an id never listed cannot be probed: no `backfill --gaps`)
    item_urls_from_ids: bool = True

    def __init__(self, settings: SourceSettings, name: str = "") -> None:
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.name = name or self.host
        self.languages = tuple(settings.languages)
        if not self.headline_preference:
            self.headline_preference = self.supported_languages

    @property
    def host(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.base_url).hostname or ""

    @property
    @abc.abstractmethod
    def display_name(self) -> str:
        """A short human title: who publishes here."""

    def language_rank(self, lang: str) -> int:
        """Position of `lang` in display order; unknown languages last."""
        order = self.supported_languages
        return order.index(lang) if lang in order else len(order)

    def ordered(self, languages: Sequence[str]) -> list[str]:
        return sorted(languages, key=self.language_rank)

    def today(self) -> dt.date:
        return dt.datetime.now(self.timezone).date()


    @abc.abstractmethod
    def list_url(self, lang: str, page: int = 1) -> str: ...

    @abc.abstractmethod
    def item_url(self, lang: str, item_id: int) -> str: ...

    @abc.abstractmethod
    def release_key(self, url: str) -> tuple[int, str] | None:
        """(id, lang) of the release version `url` addresses on this site; None for any other page."""

    @abc.abstractmethod
    def parse_list(self, html: str, lang: str, page_url: str) -> ListPage: ...

    @abc.abstractmethod
    def parse_item(self, html: str, lang: str, url: str) -> ParsedItem: ...

    @abc.abstractmethod
    def parse_date(self, text: str) -> str | None:
        """A date as the site writes it → ISO date, or None."""


def language_order_sql(column: str, languages: Sequence[str]) -> str:
    """An SQL expression that sorts `column` in the given language order (others last)."""
    cases = " ".join(f"when '{lang}' then {rank}" for rank, lang in enumerate(languages) if lang.isalnum())
    return f"case {column} {cases} else {len(languages)} end" if cases else "null"

