"""Limits: an over-long pattern is refused with a clear message; a page of one repeated topic word
keeps a bounded number of matches per topic, reports the exact count, and takes linear time."""

import sys
import tracemalloc
from pathlib import Path

import pytest

from crawler.config import ConfigError
from crawler.topics import load_topics, matcher
from crawler.topics.matcher import MAX_MATCHES_PER_TOPIC
from crawler.topics.patterns import MAX_PATTERN_WORDS


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topics.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("words", [500, 5000])
def test_an_over_long_pattern_is_a_config_error_naming_topic_language_and_limit(tmp_path, words):
    phrase = " ".join(["сув"] * words)
    path = write(tmp_path, f'[topics.long]\n[topics.long.uz]\ninclude = ["сув*", "{phrase}"]\n')
    with pytest.raises(ConfigError) as caught:
        load_topics(path)
    message = str(caught.value)
    assert caught.value.key == "topics.long.uz.include[1]"
    assert f"{words} words" in message and f"at most {MAX_PATTERN_WORDS}" in message
    assert "topic 'long'" in message and "language 'uz'" in message
    assert "\n" not in message and len(message) < 300, "one line, not the pattern itself"


def test_a_pattern_at_the_limit_loads_and_matches(tmp_path):
    phrase = " ".join(["сув"] * MAX_PATTERN_WORDS)
    topics = load_topics(write(tmp_path, f'[topics.long.uz]\ninclude = ["{phrase}"]\n'))
    (match,) = topics.match(f"Бу {phrase} эди.", "uz")
    assert match.text == phrase
    assert topics.match(" ".join(["сув"] * (MAX_PATTERN_WORDS - 1)), "uz") == []


# --- the cap on the matches kept per topic ---------------------------------------------------------


@pytest.fixture(scope="module")
def topics():
    return load_topics()


def test_match_item_keeps_the_first_matches_of_each_topic_and_counts_them_all(topics):
    title = "Сув ва Қозоғистон"
    body = " ".join(f"сув{i % 3 * 'лар'}" for i in range(120)) + ". Қозоғистон билан чегара."
    matches = topics.match_item(title, body, "uz", max_per_topic=10)
    water = [m for m in matches if m.topic == "water"]
    assert len(water) == 10
    assert water[0].field == "title" and all(m.field == "body" for m in water[1:])
    assert [m.start for m in water[1:]] == sorted(m.start for m in water[1:]), "text order"
    assert water[1].start == 0, "the first matches of the body, not any nine"
    assert matches.counts == {"water": 121, "kazakhstan": 2, "border": 1}
    assert matches.left_out == {"water": 111}
    assert [m.topic for m in matches if m.topic != "water"] == ["kazakhstan", "kazakhstan", "border"]


def test_the_default_cap_and_no_cap(topics):
    body = "сув " * 80
    assert len(topics.match_item("", body, "uz")) == MAX_MATCHES_PER_TOPIC == 50
    everything = topics.match_item("", body, "uz", max_per_topic=None)
    assert len(everything) == 80 and everything.counts == {"water": 80} and everything.left_out == {}
    assert everything == topics.match("", "uz", "title") + topics.match(body, "uz"), "still a plain list of matches"
    # match() keeps everything unless asked.
    assert len(topics.match(body, "uz")) == 80
    capped = topics.match(body, "uz", max_per_topic=3)
    assert [m.start for m in capped] == [0, 4, 8] and capped.counts == {"water": 80}
    assert topics.match(body, "uz", max_per_topic=0) == [] and topics.match(body, "uz", max_per_topic=0).counts


@pytest.mark.parametrize("bad", [-1, 2.5, "50", True])
def test_a_bad_cap_is_refused(topics, bad):
    with pytest.raises(ValueError, match="max_per_topic"):
        topics.match_item("", "сув", "uz", max_per_topic=bad)


def lines_run_in_the_matcher(call) -> int:
    """How many lines of matcher.py the call runs: a measure of work that a busy machine leaves alone."""
    count = 0

    def count_lines(frame, event, arg):
        nonlocal count
        count += event == "line"
        return count_lines

    def in_the_matcher(frame, event, arg):
        return count_lines if frame.f_code.co_filename == matcher.__file__ else None

    previous = sys.gettrace()
    sys.settrace(in_the_matcher)
    try:
        call()
    finally:
        sys.settrace(previous)
    return count


def growth(topicset, phrase: str, repeats: int, lang: str = "uz") -> float:
    """How much more work four times the text takes: about 4 when linear, 16 when quadratic."""
    small, large = phrase * repeats, phrase * (4 * repeats)
    topicset.match_item("", large, lang)  # memos warm
    return lines_run_in_the_matcher(lambda: topicset.match_item("", large, lang)) / lines_run_in_the_matcher(
        lambda: topicset.match_item("", small, lang)
    )


def test_repeated_include_and_exclude_words_take_linear_time(topics):
    # Every "сувенир" is an include (сув*) overlapping an exclude (сувенир*): each include used to be
    # checked against every exclude of the text (a 240 KB page took 22 s).
    assert growth(topics, "сувенир сув ", 250) < 5


def test_repeated_overlapping_includes_take_linear_time(tmp_path):
    # A guard more than a fix: keeping the most specific of overlapping includes inserted into the
    # middle of a list (quadratic only in memory moves, 4.7 s for 1 MB of this page; now 2.6 s),
    # which no count of lines sees.
    custom = load_topics(write(tmp_path, '[topics.w.uz]\ninclude = ["сув*", "сув ресурс*"]'))
    # The most specific include of each stretch is kept, and each lone "сув" too.
    first, second, *_ = custom.match("сув ресурслари ва сув " * 3, "uz")
    assert (first.text, second.text) == ("сув ресурслари", "сув")
    assert growth(custom, "сув ресурслари ва сув ", 250) < 5


def test_a_page_of_one_repeated_word_keeps_memory_bounded(topics):
    body = "сув " * 25_000  # 100 KB: 25,000 matches
    tracemalloc.start()
    try:
        matches = topics.match_item("", body, "uz")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Every match with its snippet took 165 bytes a character; the kept ones alone, 60.
    assert peak < 100 * len(body), peak
    assert matches.counts == {"water": 25_000} and len(matches) == MAX_MATCHES_PER_TOPIC
