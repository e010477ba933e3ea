"""Configuration: the defaults, a user's TOML file on top, validated on load.

Every section is a frozen dataclass; its fields are the only keys allowed in that section, their
type hints are what the loader checks, and their defaults (with each key's comment, as field
metadata) are the one place the defaults are written: default_toml() renders them as the
commented config/default.toml. A user file only needs the keys it changes.
A mistake raises ConfigError naming the file, the key and what is wrong; config_warnings() names
settings that are valid but unkind to a public site.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import math
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from crawler.logs import redact, register_secret
from crawler.model import UsageError
from crawler.schedule import FIXED_SCHEDULE_KEYS, STRATEGIES, make_trigger
from crawler.sources import DEFAULT_KIND, KINDS, source_class
from crawler.sources.generic import GenericSettings

ENV_VAR = "PRESSWATCH_CONFIG"
# The site-specific defaults (address, languages, markup) are the default source adapter's own.
_SITE = source_class(DEFAULT_KIND)
LANGUAGES = _SITE.supported_languages
DEFAULT_NAME = "<embedded default config>"
# What a config with one [source] table means: one source of this name (the default site's host).
LEGACY_SOURCE_NAME = _SITE.defaults.get("name") or urlsplit(_SITE.defaults["base_url"]).hostname or DEFAULT_KIND
# The generic kind's keys that a [[sources]] entry gives itself, not its [sources.generic] table.
_ENTRY_OWNS = ("base_url", "languages")


class ConfigError(UsageError):
    """A configuration mistake; str() is the one line shown to the user.

    The message goes through the logs' redaction: a value that came from ${ENV} (registered as a
    secret on expansion) shows as *** wherever a check quotes it.
    """

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file, self.key, self.problem = file, key, redact(problem)
        super().__init__(redact(f"config error in {file}: {key}: {problem}"))


def setting(default: Any, doc: str = "") -> Any:
    """A config key: its default, and the comment default_toml() writes above it (lines joined by \\n)."""
    return field(default=default, metadata={"doc": doc})


# Not a key in the file: set by the loader, never read from TOML.
_NOT_A_KEY = {"key": False}


@dataclass(frozen=True)
class SourceConfig:
    kind: str = setting(DEFAULT_KIND, "the source adapter (crawler/sources/): how the site's pages are read")
    base_url: str = setting(
        _SITE.defaults["base_url"], "The site's root. Only this host is ever requested; redirects elsewhere are refused.")
    languages: tuple[str, ...] = setting(_SITE.supported_languages, _SITE.defaults["languages_doc"])
    request_delay: float = setting(1.0, "seconds between two requests to the site")
    contact: str = setting(
        "https://github.com/presswatch/presswatch", "put in the User-Agent so the site's operators can reach you")
    connect_timeout: float = setting(10.0)
    read_timeout: float = setting(30.0)
    request_deadline_seconds: float = setting(
        300.0, "one request ends after this many seconds however slowly its answer trickles in (read_timeout is\n"
        "per read); it counts as a transport failure and is retried like one")
    max_response_bytes: int = setting(5_000_000, "a larger response is cut off and counted as an error")
    max_attempts: int = setting(4, "attempts per request on transport errors, 429 and 5xx")
    max_retry_wait: float = setting(
        120.0, "longest wait honoured from Retry-After, and the cap of exponential backoff (seconds)")
    backoff_base: float = setting(2.0)
    obey_robots: bool = setting(True)
    max_crawl_delay_seconds: float = setting(
        60.0, "a robots.txt Crawl-delay above this many seconds is obeyed only up to it (logged as a warning)")
    list_path: str = setting(_SITE.defaults["list_path"])
    item_path: str = setting(_SITE.defaults["item_path"])
    max_list_pages: int = setting(5, "list pages read per language and run while they still hold unseen ids")
    pending_max_attempts: int = setting(
        20, "a missing translation (404) is retried on later runs, this many times and this many days at most")
    pending_max_age_days: int = setting(30)
    pending_retry_minutes: float = setting(
        15.0, "first retry of a missing translation after this many minutes, doubling each time (at most 12 h)")
    max_releases_per_run: int = setting(
        500, "release pages fetched in one crawl run at most (a backfill has no such cap)")


@dataclass(frozen=True)
class SelectorsConfig:
    list_item: str = setting(
        _SITE.selector_defaults["list_item"],
        "List pages: tried first; when they find nothing, anchors to release addresses are used\n"
        "and the run reports layout drift.")
    list_link: str = setting(_SITE.selector_defaults["list_link"])
    list_date: str = setting(_SITE.selector_defaults["list_date"])
    item_title: tuple[str, ...] = setting(
        _SITE.selector_defaults["item_title"],
        "Release pages: the first selector that finds a non-empty headline wins.")
    item_body: str = setting(
        _SITE.selector_defaults["item_body"],
        "Empty: the body is the run of <p> after the headline (SITE.md: no container is known to hold it).")
    title_suffixes: tuple[str, ...] = setting(
        _SITE.selector_defaults["title_suffixes"],
        "the site's name, cut from the end of a headline (\"Headline - <name>\"); a headline that is\n"
        "only the name counts as none")
    chrome_phrases: tuple[str, ...] = setting(
        _SITE.selector_defaults["chrome_phrases"],
        "paragraphs of the page's frame, never part of a release's body (compared ignoring case)")
    source_labels: tuple[str, ...] = setting(
        _SITE.selector_defaults["source_labels"],
        "words before the closing source line (\"Source: <the page's own address>\"), which is not body text")


_SOURCE_NAME_DOC = "unique; letters, digits, '_', '.' or '-' (empty: the host of base_url)"


@dataclass(frozen=True)
class SourceEntry(SourceConfig):
    """One [[sources]] table: a site, its own fetch settings, selectors and topics.

    Every key of [source] is a key here too (the per-site fetch settings: delay, timeouts,
    contact...); a config with one [source] table means one SourceEntry named LEGACY_SOURCE_NAME.
    """

    name: str = setting("", _SOURCE_NAME_DOC)
    topics: tuple[str, ...] = setting(
        (), "the topics this source's releases are tagged with (names in the topics file); empty: the\n"
        "default topics (every topic not marked opt_in)")
    interval_minutes: float = setting(0.0, "a crawl of this source every so many minutes; 0: the [schedule]")
    selectors: SelectorsConfig = field(default_factory=SelectorsConfig, metadata={
        "doc": "kind presidentuz: [sources.selectors] has the keys of [selectors]"})
    generic: GenericSettings = field(default_factory=GenericSettings, metadata={
        "doc": "kind generic: [sources.generic] describes the site (crawler/sources/generic.py)"})


def legacy_entry(source: SourceConfig, selectors: SelectorsConfig) -> SourceEntry:
    """The one source a [source] table (and [selectors]) describe, named LEGACY_SOURCE_NAME."""
    if isinstance(source, SourceEntry):
        return source
    values = {f.name: getattr(source, f.name) for f in dataclasses.fields(SourceConfig)}
    return SourceEntry(**values, name=LEGACY_SOURCE_NAME, selectors=selectors)


@dataclass(frozen=True)
class StoreConfig:
    path: str = setting(
        "presswatch.db", "relative paths are taken from the config file's folder (the working folder for the default)")


@dataclass(frozen=True)
class TopicsConfig:
    path: str = setting("", "empty: the topics shipped with presswatch (config/topics.toml)")


@dataclass(frozen=True)
class ScheduleConfig:
    interval_minutes: float = setting(
        10.0, "a crawl every interval_minutes (the first one at start), shifted by up to jitter_seconds")
    jitter_seconds: float = setting(60.0)
    cron: str = setting(
        "", "a cron expression (\"*/15 * * * *\") replaces the interval when set: crontab's 5 fields, in the\n"
        "host's time zone, 0 or 7 = Sunday")
    misfire_grace_seconds: float = setting(
        3600.0, "a run missed while the host was suspended still happens once, if no later than this")
    stop_timeout_seconds: float = setting(
        10.0, "on SIGTERM/SIGINT the release in hand commits or rolls back, then the daemon exits within this")
    strategy: str = setting(
        "auto", "adaptive: each poll reads one language list (the one that publishes first, with every\n"
        "rotate_every-th poll reading another in turn) and fetches new ids in every language, at an interval\n"
        "that follows the hours the source publishes, within budget_requests_per_hour; fixed: every list at\n"
        "interval_minutes or cron; auto: adaptive unless this file sets interval_minutes or cron")
    budget_requests_per_hour: float = setting(
        24.0, "adaptive: list requests per hour on average over a day (release pages come on top)")
    floor_minutes: float = setting(1.0, "adaptive: never poll more often than this")
    ceiling_minutes: float = setting(30.0, "adaptive: never wait longer than this between two polls")
    rotate_every: int = setting(
        2, "adaptive: every this many polls one reads another language's list, in turn; a release that\n"
        "appears in one language first is found within rotate_every x (languages - 1) polls")
    # Which of interval_minutes and cron the file sets (strategy "auto" keeps those users on the
    # fixed schedule they chose); set by the loader.
    set_in_file: tuple[str, ...] = field(default=(), compare=False, metadata=_NOT_A_KEY)


@dataclass(frozen=True)
class HealthConfig:
    drift_runs: int = setting(
        3, "layout drift: this many runs in a row whose list parsed zero items or needed the fallback")
    silent_hours: float = setting(72.0, "source silent: no new release for this many hours")
    failing_runs: int = setting(
        3, "runs failing: this many failed runs in a row; from this many failures on, the daemon also\n"
        "spaces its runs out (2, 4, 8... intervals, at most 1 h) until one succeeds")


@dataclass(frozen=True)
class RouteConfig:
    name: str = setting("", "unique; letters, digits, '_', '.' or '-'")
    urls: tuple[str, ...] = setting((), "Apprise URLs; write secrets as ${ENV_VAR}")
    topics: tuple[str, ...] = setting((), "topics this route receives; empty: every topic")
    mode: str = setting("immediate", "immediate, hourly or daily")
    ops: bool = setting(False, "an ops route receives the daemon's health conditions and failed deliveries, not topics")
    # load_config(secrets=False) only: the unset variables this route's values name; their
    # ${NAME} stays as written, and nothing must be sent on the route.
    missing_secrets: tuple[str, ...] = field(default=(), metadata=_NOT_A_KEY)

    @property
    def deliverable(self) -> bool:
        return not self.missing_secrets


_ROUTES_DOC = """\
Routes: which topics go to which Apprise URLs. Secrets come from the environment, e.g.
[[alerts.routes]]
name = "newsroom"
urls = ["tgram://${TELEGRAM_TOKEN}/${TELEGRAM_CHAT}"]
topics = ["kazakhstan", "water"]
mode = "immediate"        # or "hourly", "daily"

[[alerts.routes]]
name = "ops"
urls = ["mailto://${SMTP_USER}:${SMTP_PASSWORD}@example.org?to=ops@example.org"]
ops = true                # health conditions and failed deliveries"""


@dataclass(frozen=True)
class AlertsConfig:
    horizon_days: float = setting(
        2.0, "releases published more than this many days ago, and everything the very first crawl of an\n"
        "empty store finds, are stored and tagged without alerts (no flood on a backfill)")
    max_attempts: int = setting(8, "a delivery is retried with exponential backoff, then marked failed")
    retry_base_seconds: float = setting(60.0)
    retry_max_seconds: float = setting(3600.0)
    digest_hour: int = setting(8, "hour (Tashkent time) at which daily digests are sent")
    routes: tuple[RouteConfig, ...] = setting((), _ROUTES_DOC)


_SOURCES_DOC = """\
More than one source: [[sources]] tables instead of [source] and [selectors] (not both). Each has
the keys of [source] (its own fetch settings), a unique name, the topics it is tagged with, an
optional interval_minutes, and [sources.selectors] (the default kind) or [sources.generic] (kind
generic). A [source] table is one source named after the default site's host: a [[sources]] table
of that name goes on with the releases stored under it.
README "Add a source" has a complete example, e.g.
[[sources]]
name = "akorda"
kind = "generic"
base_url = "https://www.akorda.kz"
languages = ["kk", "ru", "en"]
request_delay = 2.0
topics = ["uzbekistan", "water", "border"]
interval_minutes = 30

[sources.generic]
timezone = "Asia/Almaty"
list_url = "/{lang}/press/page/{page}"
first_page_url = "/{lang}/press"
release_pattern = '/(?P<lang>[a-z]{2})/press/\\d{4}/\\d{2}/\\d{2}/[a-z0-9-]+-(?P<id>\\d+)'"""


@dataclass(frozen=True)
class ArchiveConfig:
    keep: str = setting(
        "all", "which answers of list and release pages the store keeps (compressed, each distinct page once):\n"
        "all, the latest per address (\"latest\"), or none. `presswatch reparse` re-reads them offline;\n"
        "`export --format warc` writes them as a WARC file")


@dataclass(frozen=True)
class Config:
    source: SourceConfig = field(default_factory=SourceConfig)
    selectors: SelectorsConfig = field(default_factory=SelectorsConfig)
    # [[sources]] as written (empty: the one [source]); read Config.sources
    source_entries: tuple[SourceEntry, ...] = field(default=(), metadata={"toml": "sources", "doc": _SOURCES_DOC})
    store: StoreConfig = field(default_factory=StoreConfig)
    topics: TopicsConfig = field(default_factory=TopicsConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    # where the values came from, for messages
    origin: str = field(default=DEFAULT_NAME, compare=False, metadata=_NOT_A_KEY)

    @property
    def host(self) -> str:
        return urlsplit(self.source.base_url).hostname or ""

    @property
    def sources(self) -> tuple[SourceEntry, ...]:
        """Every source, in the order written: the [[sources]] tables, or the one [source]."""
        return self.source_entries or (legacy_entry(self.source, self.selectors),)

    def for_source(self, entry: SourceEntry) -> Config:
        """This config as seen by one source's crawl: `source` and `selectors` are that source's."""
        return dataclasses.replace(self, source=entry, selectors=entry.selectors, source_entries=(entry,),
                                   origin=self.origin)

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config file's folder when it came from a file."""
        candidate = Path(os.path.expanduser(path))
        if candidate.is_absolute() or self.origin == DEFAULT_NAME:
            return candidate
        return Path(self.origin).parent / candidate


# Checks beyond the type, by "section.key"; each returns a problem or None.
_CHARACTER_NAMES = {" ": "a space", "\t": "a tab", "\n": "a line break", "\r": "a carriage return"}


def _stray_character(value: str) -> str | None:
    """A space or an invisible character in `value`, named with where it stands."""
    for index, char in enumerate(value):
        if char.isspace() or not char.isprintable():
            what = _CHARACTER_NAMES.get(char, f"the invisible character U+{ord(char):04X}")
            where = "at the start" if index == 0 else "at the end" if index == len(value) - 1 else "inside"
            return f"{what} {where}"
    return None


def _check_url(value: str) -> str | None:
    # urlsplit would quietly drop a newline or surrounding spaces that the requests keep.
    stray = _stray_character(value)
    if stray:
        return f"contains {stray}; write the address alone on one line, got {value!r}"
    if "@" in value:  # a site's root has no '@' but in "user:password@"; the value is not repeated
        return ("must not contain a user name or password ('user:password@host'): presswatch stores and "
                "shows its addresses (in the database, logs, status and alerts); put no credentials in them")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
    except ValueError as exc:
        return f"not a valid URL ({exc}): {value!r}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"not an http(s) URL: {value!r}"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"must be the site's root (scheme and host only), got {value!r}"
    return None


def _check_contact(value: str) -> str | None:
    # It goes into the User-Agent header, which is ASCII without control characters.
    if not all(" " <= char <= "~" for char in value):
        return f"must be printable ASCII (it goes into the User-Agent header; percent-encode the rest), got {value!r}"
    return None


def _check_languages(value: tuple[str, ...]) -> str | None:
    if not value:
        return "needs at least one language"
    for lang in value:
        if lang not in LANGUAGES:
            return f"unknown language {lang!r} (expected some of {', '.join(LANGUAGES)})"
    if len(set(value)) != len(value):
        return "a language is listed twice"
    return None


def _positive(value: float) -> str | None:
    return None if value > 0 else f"must be greater than 0, got {value}"


def _not_negative(value: float) -> str | None:
    return None if value >= 0 else f"must be 0 or more, got {value}"


def _at_most(limit: float, unit: str):
    def check(value: float) -> str | None:
        return None if value <= limit else f"must be at most {limit:g} {unit}, got {value:g}"

    return check


def _template(*names: str):
    def check(value: str) -> str | None:
        if not value.startswith("/"):
            return f"must start with '/', got {value!r}"
        for name in names:
            if "{" + name + "}" not in value:
                return f"must contain {{{name}}}, got {value!r}"
        try:  # the crawl fills it with str.format: any other {field} or a lone brace would fail there
            value.format(**{name: 1 for name in names})
        except (KeyError, IndexError, ValueError) as exc:
            return f"only {', '.join('{' + n + '}' for n in names)} may stand in braces ({exc!s}), got {value!r}"
        return None

    return check


def _check_cron(value: str) -> str | None:
    if not value.strip():
        return None
    try:  # the daemon's own trigger: what passes here is what it runs
        make_trigger(ScheduleConfig(cron=value, jitter_seconds=0.0))
    except ValueError as exc:
        return f"not a valid cron expression ({exc}): {value!r}"
    return None


def _check_routes(routes: tuple[RouteConfig, ...]) -> str | None:
    names = [route.name for route in routes]
    if any(not name for name in names):
        return "every route needs a name"
    duplicates = sorted({name for name in names if names.count(name) > 1})
    return f"route names must be unique, {duplicates[0]!r} is used twice" if duplicates else None


def _check_sources(entries: tuple[SourceEntry, ...]) -> str | None:
    names = [entry.name for entry in entries]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    return f"source names must be unique, {duplicates[0]!r} is used twice" if duplicates else None


CHECKS: dict[str, typing.Callable[[Any], str | None]] = {
    "source.base_url": _check_url,
    "source.languages": _check_languages,
    "source.request_delay": _not_negative,
    "source.connect_timeout": _positive,
    "source.read_timeout": _positive,
    "source.request_deadline_seconds": _positive,
    "source.max_crawl_delay_seconds": _not_negative,
    "source.max_response_bytes": _positive,
    "source.max_attempts": _positive,
    "source.max_retry_wait": _not_negative,
    "source.backoff_base": _not_negative,
    "source.max_releases_per_run": _positive,
    "source.pending_max_attempts": _positive,
    "source.pending_max_age_days": _positive,
    "source.pending_retry_minutes": _not_negative,
    "source.max_list_pages": _positive,
    "source.list_path": _template("lang"),
    "source.item_path": _template("lang", "id"),
    "source.contact": _check_contact,
    "source.kind": lambda v: None if v in KINDS else f"unknown source kind {v!r} (known: {', '.join(sorted(KINDS))})",
    "selectors.item_title": lambda v: None if v else "needs at least one selector",
    "store.path": lambda v: None if v.strip() else "must not be empty",
    "schedule.interval_minutes": _positive,
    "schedule.jitter_seconds": _not_negative,
    "schedule.cron": _check_cron,
    "schedule.misfire_grace_seconds": _not_negative,
    "schedule.stop_timeout_seconds": _positive,
    "schedule.strategy": lambda v: None if v in STRATEGIES else
    f"one of {', '.join(STRATEGIES)}, got {v!r}",
    "schedule.budget_requests_per_hour": _positive,
    "schedule.floor_minutes": _positive,
    "schedule.ceiling_minutes": _positive,
    "schedule.rotate_every": lambda v: None if v >= 2 else f"must be at least 2, got {v}",
    "health.drift_runs": _positive,
    "health.silent_hours": lambda v: _positive(v) or _at_most(876_000, "hours (100 years)")(v),
    "health.failing_runs": _positive,
    "alerts.horizon_days": lambda v: _not_negative(v) or _at_most(36_500, "days (100 years)")(v),
    "alerts.max_attempts": _positive,
    "alerts.retry_base_seconds": _not_negative,
    "alerts.retry_max_seconds": _not_negative,
    "alerts.digest_hour": lambda v: None if 0 <= v <= 23 else f"must be an hour from 0 to 23, got {v}",
    "alerts.routes.name": lambda v: None if re.fullmatch(r"[A-Za-z0-9_.-]+", v) else
    f"a route name is letters, digits, '_', '.' or '-', got {v!r}",
    "alerts.routes.mode": lambda v: None if v in ("immediate", "hourly", "daily") else
    f"expected immediate, hourly or daily, got {v!r}",
    "alerts.routes.urls": lambda v: None if v else "a route needs at least one Apprise URL",
    "alerts.routes": _check_routes,
    "source.name": lambda v: None if not v or re.fullmatch(r"[A-Za-z0-9_.-]+", v) else
    f"a source name is letters, digits, '_', '.' or '-', got {v!r}",
    "source.interval_minutes": _not_negative,
    "sources": _check_sources,
    "archive.keep": lambda v: None if v in ("all", "latest", "none") else f"expected all, latest or none, got {v!r}",
}

# No setting needs a number this large; beyond it waits and dates overflow (threading, datetime).
_MAX_NUMBER = 10**9

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: str, file: str, key: str) -> str:
    """Replace ${NAME} by the environment variable; its value is never put in a message.

    In an Apprise URL (alerts.routes[].urls[]), a value holding a character Apprise would read as
    the URL's structure where it stands is refused (see _unencoded_in_url).
    """
    apprise_url = _plain_key(key) == "alerts.routes.urls"

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(file, key, f"environment variable {name} is not set")
        secret = os.environ[name]
        register_secret(secret)
        problem = _unencoded_in_url(value[: match.start()], secret) if apprise_url else None
        if problem:
            raise ConfigError(file, key, f"the value of ${{{name}}} {problem}")
        return secret

    return _ENV_REF.sub(substitute, value)


def _plain_key(key: str) -> str:
    """"alerts.routes[0].urls[1]" -> "alerts.routes.urls", the form CHECKS uses."""
    return re.sub(r"\[\d+\]", "", key)


# Characters Apprise takes for the URL's structure, by the part of the URL a ${NAME} stands in:
# '@' ends a password and '/' the host; '/' splits a path into targets; '&' and '#' end a query
# value; '%' starts an escape. '+' is a space to form decoders. %XX is read back as the character
# in every part, so percent-encoding is always the cure. '@' and '/' are fine in a query
# ("to=ops@example.org"), '@' in a path (a Telegram "@channel").
_URL_STRUCTURE = {"authority": "@/?#%+", "path": "/?#%+", "query": "&#%+"}


def _unencoded_in_url(written_before: str, secret: str) -> str | None:
    """Why `secret`, put after `written_before` in an Apprise URL, would be split; None if it is not."""
    if "://" not in written_before:
        return None  # the variable holds the scheme or the whole URL: its characters are its structure
    after_scheme = written_before.split("://", 1)[1]
    if "?" in after_scheme or "#" in after_scheme:
        part = "query"
    else:
        part = "path" if "/" in after_scheme else "authority"
    bare = re.sub(r"%[0-9A-Fa-f]{2}", "", secret)  # an escape already written is no problem
    found = [char for char in _URL_STRUCTURE[part] if char in bare]
    if not found:
        return None
    listed = ", ".join(repr(char) for char in found)
    encoded = ", ".join(f"{char} as {quote(char, safe='')}" for char in found)
    return (f"contains {listed}, which Apprise reads as part of the URL (in its {part}) and so splits the "
            f"secret; percent-encode it in the environment variable ({encoded})")


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (tuple, list):
        (inner, *_) = typing.get_args(hint)
        return f"a list of {_type_name(inner)}"
    if dataclasses.is_dataclass(hint):
        return "a table"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        hint, str(hint)
    )


def _coerce(value: Any, hint: Any, file: str, key: str, secrets: bool = True) -> Any:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [h for h in typing.get_args(hint) if h is not type(None)]
        if value is None:
            return None
        return _coerce(value, options[0], file, key, secrets)
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise ConfigError(file, key, f"expected {_type_name(hint)}, got {_show(value)}")
        (inner, *_) = typing.get_args(hint)
        items = [_coerce(v, inner, file, f"{key}[{i}]", secrets) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(file, key, f"expected a table, got {_show(value)}")
        return build_section(hint, value, file, key, secrets=secrets)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(file, key, f"expected a string, got {_show(value)}")
        if not secrets and key.startswith("alerts.routes") and _unset_references(value):
            return value  # kept as written; build_section records the names in missing_secrets
        return expand_env(value, file, key)
    if hint in (bool, int, float):
        return _coerce_number(value, hint, file, key)
    if isinstance(hint, type) and isinstance(value, dict) and hasattr(hint, "from_toml"):
        return hint.from_toml(value, file, key)
    raise ConfigError(file, key, f"unsupported value {_show(value)}")


def _coerce_number(value: Any, hint: type, file: str, key: str) -> Any:
    """A TOML boolean, integer or number as `hint` (bool, int or float)."""
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(file, key, f"expected true or false, got {_show(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(file, key, f"expected an integer, got {_show(value)}")
        if abs(value) > _MAX_NUMBER:  # TOML allows 64-bit integers; tomllib reads any size
            raise ConfigError(file, key, f"must be at most {_MAX_NUMBER:,} in size, got {_show(value)}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(file, key, f"expected a number, got {_show(value)}")
    # inf, nan and 1e300 seconds are mistakes, and would overflow a wait or a date further on
    if not math.isfinite(value) or abs(value) > _MAX_NUMBER:
        raise ConfigError(file, key, f"must be a finite number at most {_MAX_NUMBER:,} in size, got {_show(value)}")
    return float(value)


def _show(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "table"}
    return f"{kind.get(type(value), type(value).__name__)} {value!r}"[:80]


def build_section(cls: type, data: dict[str, Any], file: str, prefix: str, *, secrets: bool = True) -> Any:
    """Build dataclass `cls` from a TOML table, refusing unknown keys and wrong types.

    Keys the table leaves out take the dataclass defaults. `secrets`: as in load_config.
    """
    hints = typing.get_type_hints(cls)
    keys = _keys(cls)
    fields = set(keys)
    tolerant = not secrets and prefix.startswith("alerts.routes")
    values = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in fields:
            raise ConfigError(file, key, _unknown_key(name, fields, prefix))
        coerced = _coerce(value, hints[keys[name].name], file, key, secrets)
        check = CHECKS.get(_check_key(key))
        # a value still naming an unset variable is not known yet, so there is nothing to check
        problem = check(coerced) if check and not (tolerant and _unset_references(value)) else None
        if problem:
            raise ConfigError(file, key, problem)
        values[keys[name].name] = coerced
    if tolerant and cls is RouteConfig:
        values["missing_secrets"] = tuple(dict.fromkeys(_unset_references(data)))
    if cls is ScheduleConfig:
        values["set_in_file"] = tuple(name for name in FIXED_SCHEDULE_KEYS if name in data)
        if values.get("floor_minutes", cls.floor_minutes) > values.get("ceiling_minutes", cls.ceiling_minutes):
            raise ConfigError(file, f"{prefix}.floor_minutes", "must not be above schedule.ceiling_minutes")
    if cls is SourceEntry:
        return _checked_entry(cls(**values), data, file, prefix)
    return cls(**values)


def _check_key(key: str) -> str:
    """The CHECKS key of a file's key: a [[sources]] entry's keys are checked as [source]'s and
    [selectors]' are ("sources[1].request_delay" -> "source.request_delay"); its languages
    depend on its kind (_checked_entry)."""
    plain = _plain_key(key)
    if plain.startswith("sources.selectors."):
        return plain.removeprefix("sources.")
    if plain.startswith("sources.") and plain != "sources.languages":
        return "source." + plain.removeprefix("sources.")
    return plain


def _checked_entry(entry: SourceEntry, data: dict[str, Any], file: str, prefix: str) -> SourceEntry:
    """A [[sources]] entry checked as a whole: its kind's languages and settings; its name filled in."""
    name = entry.name or urlsplit(entry.base_url).hostname or ""
    entry = dataclasses.replace(entry, name=name)
    if entry.kind != "generic":
        problem = _check_languages(entry.languages)
        if problem:
            raise ConfigError(file, f"{prefix}.languages", problem)
        return entry
    for key in _ENTRY_OWNS:
        if key not in data:
            raise ConfigError(file, f"{prefix}.{key}", f"a generic source needs its {key}")
        if key in data.get("generic", {}):
            raise ConfigError(file, f"{prefix}.generic.{key}", f"write {key} in the [[sources]] table itself")
    settings = generic_settings(entry)
    for key, problem in settings.problems():
        where = f"{prefix}.{key}" if key in _ENTRY_OWNS else f"{prefix}.generic.{key}"
        raise ConfigError(file, where, problem)
    return entry


def generic_settings(entry: SourceEntry) -> GenericSettings:
    """The generic kind's settings of an entry: its [sources.generic] table with its base_url and languages."""
    return dataclasses.replace(entry.generic, base_url=entry.base_url, languages=tuple(entry.languages))


def _keys(cls: type) -> dict[str, dataclasses.Field]:
    """The fields of a section that are keys of the file (by their key in the file), in their order."""
    return {f.metadata.get("toml", f.name): f for f in dataclasses.fields(cls) if f.metadata.get("key", True)}


def _unset_references(value: Any) -> list[str]:
    """The unset environment variables a TOML value names as ${NAME}, in order."""
    if isinstance(value, str):
        return [name for name in _ENV_REF.findall(value) if name not in os.environ]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return [name for item in items for name in _unset_references(item)]


def _unknown_key(name: str, fields: set[str], prefix: str) -> str:
    where = f"section [{prefix}]" if prefix else "the top level"
    nearest = difflib.get_close_matches(name, sorted(fields), n=1)
    if nearest:
        return f"unknown key in {where}; did you mean {nearest[0]!r}?"
    return f"unknown key in {where} (known: {', '.join(sorted(fields))})"


_HEADER = """\
# presswatch default configuration: every key with its default value. Generated from
# crawler/config.py, where the defaults live; a user's file (--config PATH or
# $PRESSWATCH_CONFIG) only needs the keys it changes."""


def default_toml() -> str:
    """The complete default config as commented TOML: every section and key, with its default.

    It loads to exactly Config(); config/default.toml is this text.
    """
    blocks = [_HEADER]
    for key, section_field in _keys(Config).items():
        if section_field.default_factory is dataclasses.MISSING:  # [[sources]]: no tables by default
            blocks.append("\n".join(f"# {line}".rstrip() for line in section_field.metadata["doc"].splitlines()))
        else:
            blocks.append(_render_section(key, section_field.default_factory()))
    return "\n\n".join(blocks) + "\n"


def default_text() -> str:
    """The default config's text (kept for callers of the time it was a file): default_toml()."""
    return default_toml()


def _render_section(name: str, values: Any) -> str:
    lines = [f"[{name}]"]
    for key, key_field in _keys(type(values)).items():
        doc = key_field.metadata.get("doc", "")
        lines.extend(f"# {line}".rstrip() for line in doc.splitlines())
        lines.append(f"{key} = {_toml_value(getattr(values, key))}")
    return "\n".join(lines)


_LINE_WIDTH = 100


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, tuple) and not any(dataclasses.is_dataclass(item) for item in value):
        items = [_toml_value(item) for item in value]
        one_line = "[" + ", ".join(items) + "]"
        return one_line if len(one_line) <= _LINE_WIDTH else "[\n" + "".join(f"    {item},\n" for item in items) + "]"
    raise TypeError(f"no TOML form for a default of {value!r}")


def _toml_string(text: str) -> str:
    escapes = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    out = []
    for char in text:
        if char in escapes:
            out.append(escapes[char])
        elif char < " " or char == "\x7f":  # TOML allows no other control character in a string
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _parse(text: str, file: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "syntax", str(exc)) from None


def read_text_file(path: str | os.PathLike[str]) -> str:
    """A TOML file's text, or a ConfigError naming the file."""
    try:
        # utf-8-sig: editors on Windows save UTF-8 with a byte order mark, which tomllib refuses
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(str(path), "file", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "file", f"cannot read it: {exc}") from None


def load_config(path: str | os.PathLike[str] | None = None, *, secrets: bool = True) -> Config:
    """The defaults (the dataclasses'), overlaid by `path`, or else by $PRESSWATCH_CONFIG when set.

    secrets=True (the default, for anything that crawls or sends): every ${NAME} must be set, or
    ConfigError names the variable.
    secrets=False, for read-only commands: an unset variable inside [[alerts.routes]] values is
    tolerated. The route is kept, a value naming one is kept as written (no ${NAME} in it is
    expanded, and it is not checked), and RouteConfig.missing_secrets lists the unset names: such a route is not
    deliverable (RouteConfig.deliverable is False). Every other problem is still a ConfigError,
    including an unset variable anywhere else.
    """
    chosen = path if path is not None else os.environ.get(ENV_VAR) or None
    if chosen is None:
        return Config()
    file = str(chosen)
    user = _parse(read_text_file(chosen), file)
    if "sources" in user:
        for section in ("source", "selectors"):
            if section in user:
                raise ConfigError(file, section, _mixed_sections(section, user[section]))
    config = build_section(Config, user, file, "", secrets=secrets)
    if config.source_entries:  # what reads config.source sees the first source
        first = config.source_entries[0]
        config = dataclasses.replace(config, source=first, selectors=first.selectors)
    return dataclasses.replace(config, origin=str(Path(file).resolve()))


def _mixed_sections(section: str, table: Any) -> str:
    """How to write what a [source] or [selectors] table beside [[sources]] meant: [[sources]]
    tables inherit nothing from it, so its keys go into each of them."""
    into = "each [[sources]] table" if section == "source" else "each [sources.selectors] table"
    keys = list(table)[:3] if isinstance(table, dict) else []
    example = "; e.g. " + ", ".join(f"{key} = {_as_written(table[key])}" for key in keys) if keys else ""
    return (f"write either one [{section}] table or [[sources]] tables, not both: [[sources]] tables inherit "
            f"nothing from [{section}], so move its keys into {into} (of every site that should have them){example}")


def _as_written(value: Any) -> str:
    """A value of the user's file as TOML writes it (strings quoted, true/false)."""
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, bool) else str(value).lower()


def config_warnings(config: Config) -> list[str]:
    """One line for each setting that is valid but unkind to a public site (any host but loopback),
    for each source ("sources[1].request_delay ..." when there are [[sources]] tables).

    request_delay = 0 sends requests back to back; the project's own contact in the User-Agent
    leaves the site's operators no way to reach whoever runs this crawler. Both are fine
    against a local test site.
    """
    warnings = []
    for index, source in enumerate(config.sources):
        prefix = f"sources[{index}]" if config.source_entries else "source"
        warnings += _source_warnings(source, prefix)
    return [redact(warning) for warning in warnings]


def _source_warnings(source: SourceConfig, prefix: str) -> list[str]:
    host = urlsplit(source.base_url).hostname or ""
    if _is_loopback(host):
        return []
    defaults = SourceConfig()
    warnings = []
    if source.request_delay == 0:
        warnings.append(f"{prefix}.request_delay is 0: requests to {host} follow each other without a pause; "
                        f"give a public site one (the default is {defaults.request_delay:g} s)")
    if source.contact == defaults.contact:
        warnings.append(f"{prefix}.contact is still presswatch's own address: {host}'s operators could not "
                        f"reach you; put your URL or mailto: address there")
    return warnings


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return address.is_loopback or bool(mapped and mapped.is_loopback)
