"""crawler.sources.dates: the dates press sites write, in the languages the generic source serves."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from crawler.sources.dates import is_date_only, month_number, parse_date, parse_timestamp


@pytest.mark.parametrize("text", [
    "22.12.2022", "22/12/2022", "22-12-2022", "2022-12-22", "2022/12/22", "2022.12.22",
    "2022-12-22T10:15:00+05:00", "2022-12-22 10:15", "Опубликовано: 22.12.2022 в 10:15",
])
def test_numeric_forms(text: str) -> None:
    assert parse_date(text) == "2022-12-22"


@pytest.mark.parametrize(("text", "expected"), [
    ("1.2.2023", "2023-02-01"),  # no leading zeros
    ("12/22/2022", "2022-12-22"),  # 22 cannot be a month: read month first
    ("01/02/2023", "2023-02-01"),  # both could be: day first, as these sites write
    ("31.02.2022", None),  # no such day
    ("22.13.2022", None),
    ("22.12.22", None),  # two-digit years are not read
    ("22.12-2022", None),  # mixed separators are no date
    ("1.22.12.2022", None),  # part of a longer dotted number
    ("v2.10.2022", "2022-10-02"),
    ("12.12.1850", None),  # outside the years a release can carry
    ("", None),
    ("no date here", None),
])
def test_numeric_edges(text: str, expected: str | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(("text", "languages"), [
    ("22 декабря 2022 года", ["ru"]),
    ("22 декабря 2022 г.", ["ru"]),
    ("22 декабрь 2022", ["ru"]),
    ("22 дек. 2022", ["ru"]),
    ("22 Дек 2022", ["ru"]),
    ("December 22, 2022", ["en"]),
    ("Dec. 22, 2022", ["en"]),
    ("Dec 22 2022", ["en"]),
    ("22 December 2022", ["en"]),
    ("22nd December 2022", ["en"]),
    ("Thursday, 22 December 2022, 10:30", ["en"]),
    ("22nd of December 2022", ["en"]),
    ("December 22nd, 2022", ["en"]),
    ("22-dekabr, 2022", ["uz"]),
    ("22 dekabr 2022", ["oz"]),
    ("2022-yil 22-dekabr", ["uz"]),
    ("2022 yil 22 dekabr", ["uz-Latn"]),
    ("2022 йил 22 декабрь", ["uz"]),
    ("22 декабр 2022 йил", ["uz-Cyrl"]),
    ("2022 йил 22 декабрда", ["uz"]),  # a suffixed form
    ("22 желтоқсан 2022 ж.", ["kk"]),
    ("22 желтоқсан 2022 жыл", ["kk"]),
    ("2022 жылғы 22 желтоқсан", ["kk"]),
    ("2022 жылғы 22 желтоқсанда", ["kk"]),
    ("22 ЖЕЛТОҚСАН 2022", ["kk"]),
    ("22 jeltoqsan 2022", ["kk"]),  # Kazakh in Latin letters
    ("22 желтоқсан 2022 ж.", ["kz"]),  # a common non-standard code for Kazakh
])
def test_month_names(text: str, languages: list[str]) -> None:
    assert parse_date(text, languages) == "2022-12-22"
    assert parse_date(text) == "2022-12-22"  # with no languages given every table is read


RUSSIAN_CASES = {
    1: "январь января январе январю январём январем", 2: "февраль февраля феврале февралю февралём",
    3: "март марта марте марту мартом", 4: "апрель апреля апреле апрелю апрелем", 5: "май мая мае маю маем",
    6: "июнь июня июне июню июнем", 7: "июль июля июле июлю июлем", 8: "август августа августе августу августом",
    9: "сентябрь сентября сентябре сентябрю сентябрём", 10: "октябрь октября октябре октябрю октябрём",
    11: "ноябрь ноября ноябре ноябрю ноябрём", 12: "декабрь декабря декабре декабрю декабрём",
}


@pytest.mark.parametrize("month", range(1, 13))
def test_every_case_of_every_russian_month(month: int) -> None:
    for word in RUSSIAN_CASES[month].split():
        assert month_number(word, ["ru"]) == month, word
        assert parse_date(f"5 {word} 2021", ["ru"]) == f"2021-{month:02d}-05", word


KAZAKH = "қаңтар ақпан наурыз сәуір мамыр маусым шілде тамыз қыркүйек қазан қараша желтоқсан".split()
UZBEK_LATIN = "yanvar fevral mart aprel may iyun iyul avgust sentabr oktabr noyabr dekabr".split()
UZBEK_CYRILLIC = "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь".split()
UZBEK_CYRILLIC_SHORT = "январ феврал март апрел май июн июл август сентябр октябр ноябр декабр".split()
ENGLISH = "January February March April May June July August September October November December".split()


@pytest.mark.parametrize(("names", "languages"), [
    (KAZAKH, ["kk"]), (UZBEK_LATIN, ["uz"]), (UZBEK_CYRILLIC, ["uz"]), (UZBEK_CYRILLIC_SHORT, ["uz"]),
    (ENGLISH, ["en"]), ([name[:3] for name in ENGLISH], ["en"]),
])
def test_every_month_of_each_language(names: list[str], languages: list[str]) -> None:
    for month, name in enumerate(names, start=1):
        assert month_number(name, languages) == month, name
        assert parse_date(f"7 {name} 2024", languages) == f"2024-{month:02d}-07", name
        assert parse_date(f"{name.capitalize()} 7, 2024", languages) == f"2024-{month:02d}-07", name


@pytest.mark.parametrize("word", ["sentyabr", "oktyabr", "Sept.", "sept", "сент."])
def test_spelling_variants(word: str) -> None:
    assert month_number(word) in (9, 10)


@pytest.mark.parametrize("word", ["ию", "ма", "маршрут", "day", "года", "", "jeudi"])
def test_words_that_name_no_month(word: str) -> None:
    assert month_number(word) is None


def test_a_name_of_a_language_not_asked_for_is_still_read() -> None:
    # a Kazakh site's Russian page: the site's languages are asked, any order
    assert parse_date("22 декабря 2022 года", ["kk"]) == "2022-12-22"
    assert parse_date("Dec. 22, 2022", ["kk"]) == "2022-12-22"


@pytest.mark.parametrize("text", [
    "в 2022 году 15 тысяч человек",  # a year and a number, no month
    "Article 12, 2022",
    "22 кітап 2022",
    "Views: 2022",
    "December 2022",  # no day
    "32 December 2022",
    "30 февраля 2022",
])
def test_things_that_are_not_dates(text: str) -> None:
    assert parse_date(text) is None


def test_the_first_date_in_a_text_wins() -> None:
    assert parse_date("Updated 3 May 2024; published 1 May 2024") == "2024-05-03"
    assert parse_date("2024 жылғы 22 мамыр, 10:30. Жаңартылды: 23.05.2024") == "2024-05-22"


def test_a_year_first_form_is_not_read_as_a_later_day_first_one() -> None:
    assert parse_date("2022-yil 22-dekabr, 2023-yil rejasi") == "2022-12-22"


def test_timestamps_are_days_in_the_sites_zone() -> None:
    almaty = zoneinfo.ZoneInfo("Asia/Almaty")
    assert parse_timestamp("2024-05-21T19:30:00Z", almaty) == "2024-05-22"
    assert parse_timestamp("2024-05-21T19:30:00+00:00", almaty) == "2024-05-22"
    assert parse_timestamp("2024-05-21T19:30:00Z", dt.timezone.utc) == "2024-05-21"
    assert parse_timestamp("2024-05-21T23:30:00", almaty) == "2024-05-21"  # no offset: as written
    assert parse_timestamp("2024-05-21", almaty) == "2024-05-21"
    assert parse_timestamp("21 мая 2024", almaty, ["ru"]) == "2024-05-21"  # not machine-readable: text
    assert parse_timestamp("", almaty) is None
    assert parse_timestamp("garbage", almaty) is None


def test_date_lines() -> None:
    assert is_date_only("22 мая 2024 г.", ["ru"])
    assert is_date_only("  May 22, 2024 ")
    assert not is_date_only("The agreement signed on 22 May 2024 enters into force next year.")
    assert not is_date_only("")
