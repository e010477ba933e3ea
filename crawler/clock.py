"""The one clock: every timestamp presswatch writes is UTC, to the second, ISO 8601, so rows
compare as text."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def now_utc() -> str:
    """The current moment as stored: `iso(utc_now())`."""
    return iso(utc_now())


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.timezone.utc)


def parse_stored_time(text: str | None) -> dt.datetime | None:
    """A stored timestamp as an aware datetime (naive ones are UTC); None when empty or unreadable."""
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)



def exponential_backoff(attempt: int, base: float, cap: float) -> float:
    """base, 2·base, 4·base... for attempts 1, 2, 3..., never more than `cap` (no jitter)."""
    exponent = min(max(attempt - 1, 0), 60)
    return min(base * 2.0**exponent, cap)
