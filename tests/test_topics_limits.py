"""Limits: an over-long pattern is refused with a clear message; a page of one repeated topic word
keeps a bounded number of matches per topic, reports the exact count, and takes linear time."""

import time
from pathlib import Path

import pytest

from crawler.config import ConfigError
from crawler.topics import load_topics
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
