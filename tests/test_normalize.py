"""Normalization keeps the text as published and only mends layout."""

from crawler.normalize import clean_text
from crawler.sources.presidentuz import parse_item_date, parse_list_date


def test_spaces_wraps_and_nbsp_collapse():
    assert clean_text("  Ўзбекистон  ва\u00a0Қозоғистон\nетакчилари  ") == "Ўзбекистон ва Қозоғистон етакчилари"


def test_hyphenated_word_wrapped_at_its_hyphen_stays_whole():
    assert clean_text("саъй-\nҳаракатларни  бирлаштириш") == "саъй-ҳаракатларни бирлаштириш"
    # a dash standing alone between words is punctuation, not a wrapped word
    assert clean_text("ҳужжат -\nшартнома") == "ҳужжат - шартнома"


def test_text_is_kept_as_published():
    text = "Qozog‘iston va O'zbekiston “Markaziy Osiyo plus” – hamkorlik"
    assert clean_text(text) == text


def test_nfc_composes_decomposed_letters():
    assert clean_text("и\u0306ил") == "йил"


def test_dates():
    assert parse_list_date("22-12-2022 | 18:40") == "2022-12-22"
    assert parse_item_date("22.12.2022") == "2022-12-22"
    assert parse_item_date("31.02.2022") is None
    assert parse_list_date("no date") is None
