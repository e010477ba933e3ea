"""Text normalization for stored releases (dates are each source's own: crawler/sources/).

Text is kept as published (apostrophes, quotes, dashes): only Unicode composition and white space
change here. Folding for matching belongs to crawler.topics.
"""

from __future__ import annotations

import re
import unicodedata

# NBSP and its relatives are layout, not content; zero-width marks are invisible noise.
_SPACE_LIKE = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u2009\u200a\u3000\t\r\f\v"), " ")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# A line that ends in a hyphen glued to a letter and continues with a letter was wrapped inside
# a hyphenated word ("саъй-\nҳаракат"): join without a space so the word stays whole.
_HYPHEN_WRAP = re.compile(r"-(?<=\w-)[ ]*\n[ ]*(?=\w)")  # "-" first: the regex engine jumps to each "-"
# The same two tables as character classes: str.translate looks every character of a non-ASCII
# text up in its dict (60 µs for a paragraph in Cyrillic), a regex substitution does not.
_SPACE_LIKE_CHARS = re.compile("[" + "".join(map(chr, _SPACE_LIKE)) + "]")
_INVISIBLE_CHARS = re.compile("[" + "".join(map(chr, _INVISIBLE)) + "]")
_EITHER_CHARS = re.compile("[" + "".join(map(chr, {**_SPACE_LIKE, **_INVISIBLE})) + "]")


def clean_text(text: str) -> str:
    """One clean line: NFC, NBSP and hard wraps folded to single spaces, ends trimmed."""
    text = unicodedata.normalize("NFC", text)
    if _EITHER_CHARS.search(text):
        text = _INVISIBLE_CHARS.sub("", _SPACE_LIKE_CHARS.sub(" ", text))
    if "\n" in text:  # a hard wrap needs a line break
        text = _HYPHEN_WRAP.sub("-", text)
    # str.split() splits where \s matches (str.isspace): re.sub(r"\s+", " ", text).strip(), faster
    return " ".join(text.split())


def clean_paragraphs(paragraphs: list[str]) -> list[str]:
    """Each paragraph cleaned; empty ones dropped."""
    cleaned = (clean_text(p) for p in paragraphs)
    return [p for p in cleaned if p]


def join_body(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs)
