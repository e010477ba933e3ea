"""Text and date normalization for stored releases.

Text is kept as published (apostrophes, quotes, dashes): only Unicode composition and white space
change here. Folding for matching belongs to crawler.topics.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

TASHKENT = dt.timezone(dt.timedelta(hours=5), "Asia/Tashkent")

# NBSP and its relatives are layout, not content; zero-width marks are invisible noise.
_SPACE_LIKE = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u2009\u200a\u3000\t\r\f\v"), " ")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# A line that ends in a hyphen glued to a letter and continues with a letter was wrapped inside
# a hyphenated word ("саъй-\nҳаракат"): join without a space so the word stays whole.
_HYPHEN_WRAP = re.compile(r"(?<=\w)-[ ]*\n[ ]*(?=\w)")
_WHITESPACE = re.compile(r"\s+")

_LIST_DATE = re.compile(r"\b(\d{2})-(\d{2})-(\d{4})\b")
_ITEM_DATE = re.compile(r"\b(\d{2})\.(\d{2})\.(\d{4})\b")


def clean_text(text: str) -> str:
    """One clean line: NFC, NBSP and hard wraps folded to single spaces, ends trimmed."""
    text = unicodedata.normalize("NFC", text).translate(_SPACE_LIKE).translate(_INVISIBLE)
    text = _HYPHEN_WRAP.sub("-", text)
    return _WHITESPACE.sub(" ", text).strip()


def clean_paragraphs(paragraphs: list[str]) -> list[str]:
    """Each paragraph cleaned; empty ones dropped."""
    cleaned = (clean_text(p) for p in paragraphs)
    return [p for p in cleaned if p]


def join_body(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs)


def _to_date(day: str, month: str, year: str) -> dt.date | None:
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def parse_list_date(text: str) -> str | None:
    """`DD-MM-YYYY` (list pages) → ISO date, or None."""
    match = _LIST_DATE.search(text)
    date = _to_date(*match.groups()) if match else None
    return date.isoformat() if date else None


def parse_item_date(text: str) -> str | None:
    """`DD.MM.YYYY` (release pages) → ISO date, or None."""
    match = _ITEM_DATE.search(text)
    date = _to_date(*match.groups()) if match else None
    return date.isoformat() if date else None


def is_date_line(text: str) -> bool:
    """A line that is a release date and nothing else (SITE.md: a separate DD.MM.YYYY line)."""
    return bool(re.fullmatch(r"\s*\d{2}\.\d{2}\.\d{4}\s*", text)) and parse_item_date(text) is not None


def now_utc() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def today_tashkent() -> dt.date:
    return dt.datetime.now(TASHKENT).date()
