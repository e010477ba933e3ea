"""Dates as press sites write them → ISO dates. Pure functions, no site knowledge.

Numeric forms (`22.12.2022`, `22/12/2022`, `22-12-2022`, `2022-12-22`, `2022/12/22`, ISO timestamps)
and month names in Russian (every grammatical case, and abbreviations), English, Uzbek (Latin and
Cyrillic) and Kazakh (Cyrillic and the 2021 Latin alphabet), in the orders those sites use:
`22 декабря 2022 года`, `December 22, 2022`, `22 Dec. 2022`, `22-dekabr, 2022`, `2022-yil 22-dekabr`,
`22 желтоқсан 2022 ж.`, `2022 жылғы 22 желтоқсан`.

Numbers are read day first (the sites this serves write `22.12.2022`); `12/22/2022` is read month
first only because 22 cannot be a month. Two-digit years are not read: `22.12.22` is no date.
The month names of these languages never name two different months, so a name from a language not
asked for is still read when none of the asked languages knows it (a Russian date on a Kazakh page).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

# Years a press release can carry; a four-digit number outside is an id or an amount, not a year.
_FIRST_YEAR, _LAST_YEAR = 1900, 2199
# Abbreviations shorter than this would be ambiguous ("ма" is May in Russian and nothing else, but
# "ию" is June or July).
_MIN_ABBREVIATION = 3


def _russian_forms(stem_soft: str | None = None, hard: str | None = None) -> tuple[str, ...]:
    """Every case of a Russian month name: январь/января/январе/январю/январём; март/марта/марте/..."""
    if stem_soft is not None:
        return tuple(stem_soft + ending for ending in ("ь", "я", "е", "ю", "ём", "ем"))
    assert hard is not None
    return tuple(hard + ending for ending in ("", "а", "е", "у", "ом"))


_RUSSIAN: dict[int, tuple[str, ...]] = {
    1: _russian_forms("январ"), 2: _russian_forms("феврал"), 3: _russian_forms(hard="март"),
    4: _russian_forms("апрел"), 5: ("май", "мая", "мае", "маю", "маем"), 6: _russian_forms("июн"),
    7: _russian_forms("июл"), 8: _russian_forms(hard="август"), 9: _russian_forms("сентябр"),
    10: _russian_forms("октябр"), 11: _russian_forms("ноябр"), 12: _russian_forms("декабр"),
}
_ENGLISH: dict[int, tuple[str, ...]] = {
    1: ("january",), 2: ("february",), 3: ("march",), 4: ("april",), 5: ("may",), 6: ("june",),
    7: ("july",), 8: ("august",), 9: ("september", "sept"), 10: ("october",), 11: ("november",),
    12: ("december",),
}
_UZBEK_LATIN: dict[int, tuple[str, ...]] = {
    1: ("yanvar",), 2: ("fevral",), 3: ("mart",), 4: ("aprel",), 5: ("may",), 6: ("iyun",),
    7: ("iyul",), 8: ("avgust",), 9: ("sentabr", "sentyabr"), 10: ("oktabr", "oktyabr"),
    11: ("noyabr",), 12: ("dekabr",),
}
_UZBEK_CYRILLIC: dict[int, tuple[str, ...]] = {
    1: ("январь", "январ"), 2: ("февраль", "феврал"), 3: ("март",), 4: ("апрель", "апрел"), 5: ("май",),
    6: ("июнь", "июн"), 7: ("июль", "июл"), 8: ("август",), 9: ("сентябрь", "сентябр"),
    10: ("октябрь", "октябр"), 11: ("ноябрь", "ноябр"), 12: ("декабрь", "декабр"),
}
_KAZAKH: dict[int, tuple[str, ...]] = {
    1: ("қаңтар",), 2: ("ақпан",), 3: ("наурыз",), 4: ("сәуір",), 5: ("мамыр",), 6: ("маусым",),
    7: ("шілде",), 8: ("тамыз",), 9: ("қыркүйек",), 10: ("қазан",), 11: ("қараша",), 12: ("желтоқсан",),
}
_KAZAKH_LATIN: dict[int, tuple[str, ...]] = {
    1: ("qańtar",), 2: ("aqpan",), 3: ("naýryz", "nauryz"), 4: ("sáýir", "sauir"), 5: ("mamyr",),
    6: ("maýsym", "mausym"), 7: ("shilde",), 8: ("tamyz",), 9: ("qyrkúiek", "qyrkuiek"), 10: ("qazan",),
    11: ("qarasha",), 12: ("jeltoqsan",),
}

# Month tables by primary language subtag ("uz-Latn" → "uz"); "oz" is president.uz's code for
# Uzbek in Latin letters, "kz" a common (non-standard) code for Kazakh.
MONTHS: dict[str, tuple[dict[int, tuple[str, ...]], ...]] = {
    "ru": (_RUSSIAN,),
    "en": (_ENGLISH,),
    "uz": (_UZBEK_LATIN, _UZBEK_CYRILLIC),
    "oz": (_UZBEK_LATIN,),
    "kk": (_KAZAKH, _KAZAKH_LATIN),
    "kz": (_KAZAKH, _KAZAKH_LATIN),
}
# Languages whose words take suffixes ("желтоқсанда", "dekabrdagi"): a word that starts with a
# month's name is that month. Russian and English names are matched whole (all Russian cases are listed).
_AGGLUTINATIVE = {id(_UZBEK_LATIN), id(_UZBEK_CYRILLIC), id(_KAZAKH), id(_KAZAKH_LATIN)}

_EVERY_TABLE: tuple[dict[int, tuple[str, ...]], ...] = tuple(
    {id(table): table for tables in MONTHS.values() for table in tables}.values())

_WORD = r"[^\W\d_]+"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
# Words between a year and what follows it: "года", "г.", "yil", "йил", "жылғы", "жылы", "ж.".
_YEAR_WORD = r"(?:\s*-?\s*(?:года|году|год|г|yil|yilning|йил|йилнинг|жылғы|жылы|жыл|ж|year)\b\.?)"

_PATTERNS: tuple[re.Pattern[str], ...] = (
    # 2022-12-22, 2022-12-22T10:00:00+05:00, 2022/12/22, 2022.12.22
    re.compile(r"(?<!\d)" + _YEAR + r"(?P<sep>[-/.])(?P<month>\d{1,2})(?P=sep)(?P<day>\d{1,2})(?!\d)"),
    # 22.12.2022, 22/12/2022, 22-12-2022 (one separator throughout)
    re.compile(r"(?<![\d.])(?P<day>\d{1,2})(?P<sep>[-/.])(?P<month>\d{1,2})(?P=sep)" + _YEAR + r"(?!\d)"),
    # 22 декабря 2022 года, 22-dekabr, 2022, 22 Dec. 2022, 22nd of December 2022
    re.compile(r"(?<![\d.])" + _DAY + r"(?:\s*-\s*|\s+)(?:of\s+)?(?P<name>" + _WORD + r")\.?,?\s*" + _YEAR + r"(?!\d)"),
    # December 22, 2022; Dec. 22 2022
    re.compile(r"(?<![\w])(?P<name>" + _WORD + r")\.?\s+" + _DAY + r",?\s+" + _YEAR + r"(?!\d)"),
    # 2022-yil 22-dekabr, 2022 йил 22 декабрь, 2022 жылғы 22 желтоқсан
    re.compile(r"(?<!\d)" + _YEAR + _YEAR_WORD + r"?,?\s*" + _DAY + r"(?:\s*-\s*|\s+)(?P<name>" + _WORD + r")"),
)


def parse_date(text: str, languages: Sequence[str] = ()) -> str | None:
    """The first date written in `text` → ISO date (`2022-12-22`), or None.

    `languages` (any codes: "ru", "kk", "uz-Latn", ...) chooses the month names read; with none of
    them known (or none given) every table is read.
    """
    if not text:
        return None
    text = text.casefold()
    tables = _tables(languages)
    found: list[tuple[int, int, str]] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            date = _date_of(match, tables)
            if date is not None:
                found.append((match.start(), -(match.end() - match.start()), date))
                break
    return min(found)[2] if found else None


def parse_timestamp(text: str, timezone: dt.tzinfo, languages: Sequence[str] = ()) -> str | None:
    """A machine date (`<time datetime>`, `article:published_time`) → the ISO date in `timezone`.

    A timestamp with an offset (`2024-05-21T22:30:00Z`) is the day it was in the site's time zone;
    anything else is read as written (parse_date).
    """
    value = (text or "").strip()
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return parse_date(value, languages)
    if moment.tzinfo is None:
        return moment.date().isoformat() if _FIRST_YEAR <= moment.year <= _LAST_YEAR else None
    local = moment.astimezone(timezone)
    return local.date().isoformat() if _FIRST_YEAR <= local.year <= _LAST_YEAR else None


def is_date_only(text: str, languages: Sequence[str] = ()) -> bool:
    """Whether `text` is a date and little else (a date line, not a paragraph that mentions one)."""
    stripped = text.strip()
    return 0 < len(stripped) <= 40 and parse_date(stripped, languages) is not None


def month_number(word: str, languages: Sequence[str] = ()) -> int | None:
    """The month a word names (`декабря` → 12, `Dec.` → 12, `желтоқсанда` → 12), or None."""
    return _month_of(word.casefold().rstrip("."), _tables(languages))


# --- helpers ---------------------------------------------------------------------------------------
def _tables(languages: Iterable[str]) -> tuple[dict[int, tuple[str, ...]], ...]:
    chosen: list[dict[int, tuple[str, ...]]] = []
    for code in languages:
        for table in MONTHS.get(re.split(r"[-_]", code.strip().lower())[0], ()):
            if table not in chosen:
                chosen.append(table)
    return tuple(chosen) or _EVERY_TABLE


def _date_of(match: re.Match[str], tables: tuple[dict[int, tuple[str, ...]], ...]) -> str | None:
    groups = match.groupdict()
    year, day = int(groups["year"]), int(groups["day"])
    if groups.get("name"):
        month = _month_of(groups["name"], tables)
        if month is None:
            return None
    else:
        month = int(groups["month"])
        if month > 12 and day <= 12 and match.re is _PATTERNS[1]:
            month, day = day, month  # 12/22/2022: 22 cannot be a month
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        return None
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _month_of(word: str, tables: tuple[dict[int, tuple[str, ...]], ...]) -> int | None:
    return _lookup(word, tables) or _lookup(word, _EVERY_TABLE)


def _lookup(word: str, tables: Iterable[dict[int, tuple[str, ...]]]) -> int | None:
    months: set[int] = set()
    for table in tables:
        for month, names in table.items():
            if any(_names_month(word, name, id(table) in _AGGLUTINATIVE) for name in names):
                months.add(month)
    return months.pop() if len(months) == 1 else None


def _names_month(word: str, name: str, agglutinative: bool) -> bool:
    if word == name:
        return True
    if agglutinative and word.startswith(name):
        return True
    # an abbreviation: "дек", "Dec", "sent", "қаз"
    return len(word) >= _MIN_ABBREVIATION and name.startswith(word)
