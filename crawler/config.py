"""Configuration: the embedded default, a user's TOML file on top, validated on load.

Every section is a frozen dataclass; its fields are the only keys allowed in that section, and
their type hints are what the loader checks. A user file only needs the keys it changes.
A mistake raises ConfigError naming the file, the key and what is wrong.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.logs import register_secret

ENV_VAR = "PRESSWATCH_CONFIG"
LANGUAGES = ("uz", "oz", "ru", "en")
DEFAULT_NAME = "<embedded default config>"


class ConfigError(Exception):
    """A configuration mistake; str() is the one line shown to the user."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file, self.key, self.problem = file, key, problem
        super().__init__(f"config error in {file}: {key}: {problem}")


@dataclass(frozen=True)
class SourceConfig:
    base_url: str = "https://president.uz"
    languages: tuple[str, ...] = LANGUAGES
    request_delay: float = 1.0
    contact: str = "https://github.com/presswatch/presswatch"
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    # the whole of one request, however slowly the answer trickles in (read_timeout is per read)
    request_deadline_seconds: float = 300.0
    max_response_bytes: int = 5_000_000
    max_attempts: int = 4
    max_retry_wait: float = 120.0
    backoff_base: float = 2.0
    obey_robots: bool = True
    # a larger robots.txt Crawl-delay is obeyed only up to this
    max_crawl_delay_seconds: float = 60.0
    list_path: str = "/{lang}/lists/news"
    item_path: str = "/{lang}/lists/view/{id}"
    max_list_pages: int = 5
    pending_max_attempts: int = 20
    pending_max_age_days: int = 30
    pending_retry_minutes: float = 15.0
    max_releases_per_run: int = 500


@dataclass(frozen=True)
class SelectorsConfig:
    list_item: str = "div.events_box"
    list_link: str = "a.events_title"
    list_date: str = "div.date_text"
    item_title: tuple[str, ...] = ("h1", "meta[property='og:title']", "title")
    item_body: str = ""
    title_suffixes: tuple[str, ...] = (
        "Official website of the President of the Republic of Uzbekistan",
        "Official web-site of the President of Uzbekistan",
        "Ўзбекистон Республикаси Президентининг расмий веб-сайти",
        "O'zbekiston Respublikasi Prezidentining rasmiy veb-sayti",
        "Официальный веб-сайт Президента Республики Узбекистан",
        "Официальный сайт Президента Республики Узбекистан",
    )
    chrome_phrases: tuple[str, ...] = (
        "Official web-site of the President of Uzbekistan",
        "Official website of the President of the Republic of Uzbekistan",
        "Official pages in social networks",
        "Search on site",
        "Font size",
        "Ўзбекистон Республикаси Президентининг расмий веб-сайти",
        "Ижтимоий тармоқлардаги расмий саҳифалар",
        "Сайт бўйича қидириш",
        "Шрифт ўлчами",
        "O'zbekiston Respublikasi Prezidentining rasmiy veb-sayti",
        "Ijtimoiy tarmoqlardagi rasmiy sahifalar",
        "Sayt bo'yicha qidirish",
        "Shrift o'lchami",
        "Официальный веб-сайт Президента Республики Узбекистан",
        "Официальные страницы в социальных сетях",
        "Поиск по сайту",
        "Размер шрифта",
    )
    source_labels: tuple[str, ...] = ("Манба", "Manba", "Источник", "Source")


@dataclass(frozen=True)
class StoreConfig:
    path: str = "presswatch.db"


@dataclass(frozen=True)
class TopicsConfig:
    # empty: the topics shipped with presswatch (config/topics.toml)
    path: str = ""


@dataclass(frozen=True)
class ScheduleConfig:
    # a crawl every interval_minutes, shifted by up to jitter_seconds; a cron expression overrides it
    interval_minutes: float = 10.0
    jitter_seconds: float = 60.0
    cron: str = ""
    # a run missed by up to this long (a suspended host) still happens once on wake-up
    misfire_grace_seconds: float = 3600.0
    # SIGTERM: the release in hand commits or rolls back, then exit within this bound
    stop_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class HealthConfig:
    # N runs in a row whose list parsed zero items or needed the fallback
    drift_runs: int = 3
    # no new release for this many hours
    silent_hours: float = 72.0
    # N failed runs in a row
    failing_runs: int = 3


@dataclass(frozen=True)
class RouteConfig:
    name: str = ""
    # Apprise URLs; write secrets as ${ENV_VAR}
    urls: tuple[str, ...] = ()
    # topics this route receives; empty: every topic
    topics: tuple[str, ...] = ()
    # immediate, hourly or daily
    mode: str = "immediate"
    # an ops route receives the daemon's health conditions and failed deliveries, not topics
    ops: bool = False


@dataclass(frozen=True)
class AlertsConfig:
    # releases published before now minus this many days are stored and tagged silently
    horizon_days: float = 2.0
    max_attempts: int = 8
    retry_base_seconds: float = 60.0
    retry_max_seconds: float = 3600.0
    # hour of the day (Tashkent) at which daily digests go out
    digest_hour: int = 8
    routes: tuple[RouteConfig, ...] = ()


@dataclass(frozen=True)
class Config:
    source: SourceConfig = field(default_factory=SourceConfig)
    selectors: SelectorsConfig = field(default_factory=SelectorsConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    topics: TopicsConfig = field(default_factory=TopicsConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    # where the values came from, for messages; not a key
    origin: str = field(default=DEFAULT_NAME, compare=False)

    @property
    def host(self) -> str:
        return urlsplit(self.source.base_url).hostname or ""

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config file's folder when it came from a file."""
        candidate = Path(os.path.expanduser(path))
        if candidate.is_absolute() or self.origin == DEFAULT_NAME:
            return candidate
        return Path(self.origin).parent / candidate


# Checks beyond the type, by "section.key"; each returns a problem or None.
def _check_url(value: str) -> str | None:
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
    try:
        from apscheduler.triggers.cron import CronTrigger

        CronTrigger.from_crontab(value)
    except ValueError as exc:
        return f"not a valid cron expression ({exc}): {value!r}"
    return None


def _check_routes(routes: tuple[RouteConfig, ...]) -> str | None:
    names = [route.name for route in routes]
    if any(not name for name in names):
        return "every route needs a name"
    duplicates = sorted({name for name in names if names.count(name) > 1})
    return f"route names must be unique, {duplicates[0]!r} is used twice" if duplicates else None


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
    "selectors.item_title": lambda v: None if v else "needs at least one selector",
    "store.path": lambda v: None if v.strip() else "must not be empty",
    "schedule.interval_minutes": _positive,
    "schedule.jitter_seconds": _not_negative,
    "schedule.cron": _check_cron,
    "schedule.misfire_grace_seconds": _not_negative,
    "schedule.stop_timeout_seconds": _positive,
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
}

# No setting needs a number this large; beyond it waits and dates overflow (threading, datetime).
_MAX_NUMBER = 10**9

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: str, file: str, key: str) -> str:
    """Replace ${NAME} by the environment variable; its value is never put in a message."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(file, key, f"environment variable {name} is not set")
        register_secret(os.environ[name])
        return os.environ[name]

    return _ENV_REF.sub(substitute, value)


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


def _coerce(value: Any, hint: Any, file: str, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [h for h in typing.get_args(hint) if h is not type(None)]
        if value is None:
            return None
        return _coerce(value, options[0], file, key)
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise ConfigError(file, key, f"expected {_type_name(hint)}, got {_show(value)}")
        (inner, *_) = typing.get_args(hint)
        items = [_coerce(v, inner, file, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(file, key, f"expected a table, got {_show(value)}")
        return build_section(hint, value, file, key)
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
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(file, key, f"expected a number, got {_show(value)}")
        # inf, nan and 1e300 seconds are mistakes, and would overflow a wait or a date further on
        if not math.isfinite(value) or abs(value) > _MAX_NUMBER:
            raise ConfigError(file, key, f"must be a finite number at most {_MAX_NUMBER:,} in size, got {_show(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(file, key, f"expected a string, got {_show(value)}")
        return expand_env(value, file, key)
    if isinstance(hint, type) and isinstance(value, dict) and hasattr(hint, "from_toml"):
        return hint.from_toml(value, file, key)
    raise ConfigError(file, key, f"unsupported value {_show(value)}")


def _show(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "table"}
    return f"{kind.get(type(value), type(value).__name__)} {value!r}"[:80]


def build_section(cls: type, data: dict[str, Any], file: str, prefix: str) -> Any:
    """Build dataclass `cls` from a TOML table, refusing unknown keys and wrong types."""
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.name != "origin"}
    values = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in fields:
            known = ", ".join(sorted(fields))
            where = f"section [{prefix}]" if prefix else "the top level"
            raise ConfigError(file, key, f"unknown key in {where} (known: {known})")
        coerced = _coerce(value, hints[name], file, key)
        check = CHECKS.get(re.sub(r"\[\d+\]", "", key))
        problem = check(coerced) if check else None
        if problem:
            raise ConfigError(file, key, problem)
        values[name] = coerced
    return cls(**values)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def default_text() -> str:
    return resources.files("crawler").joinpath("data/default.toml").read_text(encoding="utf-8")


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


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """The embedded default, overlaid by `path`, or else by $PRESSWATCH_CONFIG when set."""
    defaults = _parse(default_text(), DEFAULT_NAME)
    chosen = path if path is not None else os.environ.get(ENV_VAR) or None
    if chosen is None:
        return dataclasses.replace(build_section(Config, defaults, DEFAULT_NAME, ""), origin=DEFAULT_NAME)
    file = str(chosen)
    user = _parse(read_text_file(chosen), file)
    # The user's keys are validated against the user's file name, so messages point there.
    build_section(Config, user, file, "")
    merged = _merge(defaults, user)
    return dataclasses.replace(build_section(Config, merged, file, ""), origin=str(Path(file).resolve()))
