"""Finding the few words of a text that can start a pattern, without folding the others.

Most words of a release match nothing, yet a word-by-word matcher tokenizes, folds and looks up
every one of them: that was most of the time of tagging a release seen for the first time. Here
the text is first turned into one byte per character, by a charmap codec and bytes.translate
(C code, no Python call per character): each letter becomes a byte standing for what folding
makes of it (q, Q, қ and Қ one byte; ш and ş one standing for "sh"; е one standing for "ye" or
"e", as its position decides), apostrophes one byte, the letters keys drop (ъ, ь) another, and
every other character a space. One regex over those bytes, built from the first words of the
patterns, finds the places where a word can start with one of them; only those words are then
tokenized, folded and looked up, exactly as before.

The regex may flag a word that is not a hit (the check after it is exact), and never misses one:
a letter's byte stands for everything the fold makes of it in any position, dropped letters and
apostrophes may sit anywhere in a head, and a word starts after a space or after three apostrophes
(one or two between letters join them). Text holding a character outside the table (printable
ASCII and white space, Russian, Uzbek and Kazakh Cyrillic, the reform letters, apostrophes and
common typography), a combining mark or a control character for one, has no encoding: `encode`
returns None and the matcher looks every word up, so such text is matched the same, only slower. tests/test_topics_prefilter.py compares the two ways, and
checks over the whole table what this rests on: a letter's output depends on the character before
it alone (as _CONTEXTS samples it) and never on what follows, and the table agrees with the tokenizer.
"""

from __future__ import annotations

import codecs
import re
from typing import Callable, Iterable

from crawler.topics.fold import APOSTROPHES, UNDEFINED, fold_words, is_word_character

_NON_ASCII = "".join(
    [
        *map(chr, range(0x410, 0x450)),  # А-Я а-я
        "Ёё",
        "ЎўҚқҒғҲҳ",
        "ӘәҢңӨөҰұҮүҺһІі",  # Kazakh's own letters (Ққ Ғғ are above)
        "öÖõÕŏŎōŌğĞḡḠşŞșȘçÇñÑ",  # the reform letters fold.py folds
        *[c for c in APOSTROPHES if ord(c) > 127],
        "\u00a0«»“”„‚–—‐‑‒…№°·•§\u2009\u202f\u200b‹›×",  # typography of the site's pages
    ]
)
# A byte holds 256 characters: the ASCII control characters that never occur in text (all but
# \t \n \v \f \r) make room for the letters above. A text holding one takes the slow way. NUL
# stays first: charmap_build makes its fast encoding table only when character 0 is NUL (else a
# dict, and encoding a release costs ten times as much).
_ASCII = "".join(chr(c) for c in range(128) if c == 0 or chr(c).isprintable() or chr(c) in "\t\n\v\f\r")
assert len(_ASCII) + len(_NON_ASCII) <= 256 and len(set(_NON_ASCII)) == len(_NON_ASCII)
CHARACTERS = _ASCII + _NON_ASCII
_ENCODING = codecs.charmap_build(CHARACTERS.ljust(256, UNDEFINED))

SPACE, APOSTROPHE, DROPPED = b" "[0], b"'"[0], b"`"[0]
THREE_APOSTROPHES = bytes([APOSTROPHE] * 3)
# Heads are cut to this many folded letters: enough to leave few false candidates, and it bounds
# the regex (each letter with two spellings doubles the branches after it).
HEAD_LETTERS = 6
# Contexts a letter is folded in, so that its byte stands for every output a position can give it
# (е is "ye" at a start, after a vowel, ъ or an apostrophe, else "e"; ц likewise).
_CONTEXTS = ("", "б", "а", "b", "a", "ъ", "'")


def outputs_of(letters: list[str], lexicon: str) -> list[frozenset[str]]:
    """What folding makes of each letter, in any position (one batch of words per position)."""
    outputs: list[set[str]] = [set() for _ in letters]
    for context in _CONTEXTS:
        before, *folded = fold_words([context] + [context + letter for letter in letters], lexicon)
        for found, both in zip(outputs, folded):
            assert both.startswith(before), (context, both)
            found.add(both[len(before):])
    return list(map(frozenset, outputs))


class Prefilter:
    """The byte image of texts for one term list, and the regex of its patterns' first words."""

    def __init__(self, heads: Iterable[str], lexicon: str) -> None:
        """`heads`: the folded first words of the patterns (a prefix or an exact word alike)."""
        table = bytearray(range(256))
        self.outputs_of_byte: dict[int, frozenset[str]] = {}
        byte_of_outputs: dict[frozenset[str], int] = {}
        free = iter(b for b in range(256) if b not in (SPACE, APOSTROPHE, DROPPED))
        letters = []
        for code, char in enumerate(CHARACTERS):
            if char in APOSTROPHES:
                table[code] = APOSTROPHE
            elif is_word_character(char):
                letters.append((code, char))
            else:
                table[code] = SPACE
        for (code, _), outputs in zip(letters, outputs_of([char for _, char in letters], lexicon)):
            if outputs == {""}:
                table[code] = DROPPED
                continue
            if outputs not in byte_of_outputs:
                byte_of_outputs[outputs] = next(free)
                self.outputs_of_byte[byte_of_outputs[outputs]] = outputs
            table[code] = byte_of_outputs[outputs]
        self._table = bytes(table)
        heads = frozenset(head[:HEAD_LETTERS] for head in heads if head)
        self._regexes: tuple[re.Pattern[bytes], ...] = ()
        if heads:
            skips = _class([APOSTROPHE, DROPPED]) + b"*"
            head = b"(?=" + skips + self._alternatives(heads, skips, {}) + b")"
            # A word starts after a space, or after three apostrophes or more (one or two between
            # letters join them into one word). Each regex starts with a literal, which the regex
            # engine skips to far faster than to a class such as [ '].
            #
            # After a space the word is taken too, as fold.TOKEN takes it: letters joined by one
            # or two apostrophes. Unless an apostrophe starts it or follows it (a quote mark, a
            # final oʻ, three apostrophes), that is the token, found without a regex on the text.
            word = b"(?:[^ ']++(?:'{1,2}+[^ ']++)*+)?"
            self._regexes = (re.compile(b" " + head + word), re.compile(THREE_APOSTROPHES + head))

    def _alternatives(self, remaining: frozenset[str], skips: bytes, memo: dict[frozenset[str], bytes]) -> bytes:
        """A regex for byte runs whose folding starts with one of `remaining` (`memo`: the
        regexes already built for other sets, which the trie's branches often share)."""
        if "" in remaining:
            return b""
        if remaining in memo:
            return memo[remaining]
        bytes_by_rest: dict[frozenset[str], list[int]] = {}
        for byte, outputs in self.outputs_of_byte.items():
            rest = set()
            for output in outputs:
                for wanted in remaining:
                    if wanted.startswith(output):
                        rest.add(wanted[len(output):])
                    elif output.startswith(wanted):  # "ш" ends a head that ends in "s"
                        rest.add("")
            if rest:
                bytes_by_rest.setdefault(frozenset(rest), []).append(byte)
        branches = [
            _class(group) + (b"" if "" in rest else skips + self._alternatives(rest, skips, memo))
            for rest, group in bytes_by_rest.items()
        ]
        # No letter folds to what is wanted: a regex that matches nothing, never the empty one.
        memo[remaining] = regex = b"(?:" + b"|".join(branches) + b")" if branches else b"(?!)"
        return regex

    def candidates(self, encoded: bytes) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Where words of the text may start with a head, as (words, places).

        words: (start, end) of words known whole. places: (scan from, offset), where the word is
        the first token ending after `offset` when tokens are scanned from `scan from` (a
        character no token holds comes just before it). `encoded`: the text's encode()."""
        if not self._regexes:
            return [], []
        # Image offset i + 1 is text offset i: the image starts with an extra space (and ends
        # with one, so that the byte after a word can always be read).
        image = b" " + encoded.translate(self._table) + b" "
        after_space, after_apostrophes = self._regexes
        words, places = [], []
        for match in after_space.finditer(image):
            start, end = match.span()
            if image[end] == APOSTROPHE or end == start + 1:  # an apostrophe after or before the run
                places.append((start, start))
            else:
                words.append((start, end - 1))
        if THREE_APOSTROPHES in image:
            for match in after_apostrophes.finditer(image):
                places.append((image.rfind(b" ", 0, match.start()), match.end() - 1))
        return words, places


def encode(text: str) -> bytes | None:
    """Each character of `text` as its position in CHARACTERS; None when one is not there."""
    try:
        return codecs.charmap_encode(text, "strict", _ENCODING)[0]
    except UnicodeEncodeError:
        return None


def byte_table(classify: Callable[[str], bytes]) -> bytes:
    """A bytes.translate table taking encode()'s bytes to `classify(character)`, one byte each."""
    return b"".join(map(classify, CHARACTERS)).ljust(256, b"\0")


def _class(group: Iterable[int]) -> bytes:
    return b"[" + b"".join(b"\\x%02x" % byte for byte in sorted(group)) + b"]"
