"""Folding and tokenization: the one place that decides when two spellings are the same word.

A token is a run of letters joined by apostrophes ("Qozog‘istonga" is one token; a hyphen splits
"Ўзбекистон-Қозоғистон" in two). Each token keeps its offsets in the original text and a folded
*key*; topic terms are folded by the same code, so matching compares keys and reports the
original slice.

Uzbek (`uz`, `oz`): NFC, casefold, Cyrillic → 1995 Latin, reform letters folded, every apostrophe
dropped, so `Қозоғистон`, `Qozog‘iston`, `QOZOG'ISTON`, `Qozogiston` and `Qozoğiston` share the key
`qozogiston`. Russian: casefold and ё → е (Russian print drops the dots freely). Kazakh (`kk`,
Cyrillic): folded like Russian, and its own letters stay themselves: ұ is not у, ә is not а, і is
not и, so `сұрақ` (question) never meets `су` (water). English: casefold.
All languages drop apostrophes, so "border's" and "borders" share a key.

The table is TOPICS.md's, applied exactly. What it leaves open is decided (and commented) here:
е after an apostrophe is "ye" (the apostrophe stands for ъ), a word-final oʻ/gʻ keeps its
apostrophe in the token, and Russian ё folds to е.

Keys are memoized per word (see keys_of): a release repeats its words, and so do releases.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from itertools import accumulate, compress, repeat
from operator import is_
from typing import NamedTuple

# Bumped whenever a key can change for the same input; part of TopicSet.fingerprint, so a store
# re-tags after an upgrade that changes folding.
FOLD_VERSION = 1

LANGUAGES = ("uz", "oz", "ru", "en", "kk")
# Sources' language codes, mapped to the term list that serves them: both Uzbek scripts share one.
LEXICON_OF = {"uz": "uz", "oz": "uz", "ru": "ru", "en": "en", "kk": "kk"}
LEXICONS = ("uz", "ru", "en", "kk")

APOSTROPHES = "'\u2018\u2019\u02bb\u02bc`\u00b4\u2032\uff07\u02b9\u201b"  # ' ‘ ’ ʻ ʼ ` ´ ′ ＇ ʹ ‛
COMBINING_DOT_ABOVE = "\u0307"  # what casefold leaves of "İ"; never part of a key
# Hyphens and dashes that may join the tokens of a multi-token pattern in text ("Uzbek–Kazakh").
JOINERS = "-\u2010\u2011\u2012\u2013\u2014"

# ʻ ʼ ʹ are modifier *letters* to Unicode, so letters are "word characters minus digits, underscore
# and apostrophes"; combining marks ride along with the letter before them.
_LETTER = rf"[^\W\d_{APOSTROPHES}]"
_MARK = r"[\u0300-\u036f\u0483-\u0487]"
# oʻ and gʻ are letters of the Uzbek alphabet, so a word-final "tog‘" keeps its apostrophe in the
# matched slice; any other apostrophe at an edge is a quote mark and stays outside the token.
_FINAL_APOSTROPHE = rf"(?:(?<=[oOgG])[{APOSTROPHES}])?"
# Possessive quantifiers: what follows a run of letters never gives letters back, so they change
# no match, only spare the engine the attempts (a third faster on Latin text with apostrophes).
TOKEN = re.compile(
    rf"(?:{_LETTER}{_MARK}*+)++(?:[{APOSTROPHES}]{{1,2}}(?:{_LETTER}{_MARK}*+)++)*+{_FINAL_APOSTROPHE}"
)
# Splitting on a captured token gives [gap, word, gap, word, ..., gap] as plain strings, cheaper
# than a match object per token; offsets are running sums of the lengths.
_SPLIT = re.compile(f"({TOKEN.pattern})")
# The regex engine tests explicit ranges far faster than "\w minus digits": so first split with
# the letters of the Latin and Cyrillic blocks only. When a gap then holds another letter (Greek,
# ª, ...) or a combining mark, the text is split again with the full definition, so the tokens
# are always those of TOKEN.
_COMMON_LETTER = "[a-zA-Z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0400-\u0481\u048a-\u04ff]"
_SPLIT_COMMON = re.compile(
    rf"({_COMMON_LETTER}++(?:[{APOSTROPHES}]{{1,2}}{_COMMON_LETTER}++)*+{_FINAL_APOSTROPHE})"
)
# Without apostrophes (Cyrillic text mostly has none) a token is a run of letters: a simpler
# regex, a quarter faster.
_SPLIT_COMMON_PLAIN = re.compile(f"({_COMMON_LETTER}++)")
_LETTER_OR_MARK = re.compile(f"{_LETTER}|{_MARK}")
# Gaps are mostly spaces, digits and punctuation; this finds anything else (cheaply, by ranges),
# and only then is the exact letter-or-mark test run.
_UNUSUAL_GAP_CHARACTER = re.compile(
    "[^\\x00-\\x40\\x5b-\\x60\\x7b-\\x7f\\s\u00a0-\u00a9\u00ab-\u00b1\u00b4\u00b6-\u00b8\u00bb\u00bf"
    "\u2000-\u206f\u02b9\u02bb\u02bc\uff07]"
)

_CYRILLIC_VOWELS = "аеёиоуўэюяы"
# Words are folded in batches, one word a line ("\n" never occurs inside a token), so the start
# of a word is the start of a line.
# е is "ye" at the start of a word, after a vowel, after ъ/ь — and after an apostrophe, which
# Cyrillic text sometimes uses for the tutuq ъ ("об'ект"). The patterns start with the letter they
# rewrite so the regex engine can skip to it: a lookbehind first is three times slower.
_E_AS_YE = re.compile(rf"е(?<=[\n{_CYRILLIC_VOWELS}aeiouъь{APOSTROPHES}]е)")
_TS_AFTER_VOWEL = re.compile(rf"ц(?<=[{_CYRILLIC_VOWELS}aeiou]ц)")

_DROPPED = {ord(c): None for c in APOSTROPHES + COMBINING_DOT_ABOVE}

_UZBEK_LETTERS = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ж": "j", "з": "z", "и": "i", "й": "y",
    "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "x", "ҳ": "h", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": None, "ь": None,
    "ы": "i", "э": "e", "ю": "yu", "я": "ya", "ё": "yo",
    # ў is oʻ and ғ is gʻ; the apostrophe would be dropped from the key anyway.
    "ў": "o", "қ": "q", "ғ": "g",
    # Whatever positional е and ц were not rewritten to "ye"/"ts" are plain e and s.
    "е": "e", "ц": "s",
    # Reform and ad-hoc Latin letters for oʻ, gʻ, sh, ch, ng. ñ is "ng", never a bare "n".
    "ö": "o", "õ": "o", "ŏ": "o", "ō": "o", "ğ": "g", "ḡ": "g",
    "ş": "sh", "ș": "sh", "ç": "ch", "ñ": "ng",
}


UNDEFINED = "\ufffe"  # a charmap codec's "no character here"


class Translator:
    """`str.translate(table)` for the characters that folded words hold, at C speed.

    str.translate looks every non-ASCII character up in a dict through a Python call, some 60 ns a
    character: it was the dearest step of tagging a release seen for the first time. The
    characters of casefolded words are few (ASCII, Cyrillic, the reform letters, apostrophes), so
    each is encoded to one byte by a charmap codec, bytes are mapped and deleted by
    bytes.translate, and decoded back by another charmap; an output longer than one character
    travels as a control character (words never hold one) and is put in by str.replace. Text with
    any other character takes str.translate, so the result is always exactly the table's.
    """

    def __init__(self, mapping: dict[str, str | None], also: str = "") -> None:
        """`mapping` as str.maketrans takes it (one character to a string or None); `also`: other
        characters the words are expected to hold, which map to themselves."""
        self.table = str.maketrans(mapping)
        mapping = {chr(code): out for code, out in self.table.items()}
        placeholders = [*map(chr, range(1, 9)), *map(chr, range(14, 32))]
        # A placeholder in the input is not encodable, so such text takes str.translate.
        inputs = [UNDEFINED if chr(code) in placeholders else chr(code) for code in range(128)]
        inputs += sorted((set(mapping) | set(also)) - set(map(chr, range(128))))
        if len(inputs) > 256:
            raise ValueError(f"{len(inputs) - 128} non-ASCII characters: a byte holds at most 128")
        unused_placeholders = iter(placeholders)
        multiple: dict[str, str] = {}  # output of several characters -> its placeholder
        outputs = [chr(code) for code in range(128)]
        byte_map = bytearray(range(256))
        deleted = bytearray()
        for byte, char in enumerate(inputs):
            if char == UNDEFINED:
                continue
            out = mapping.get(char, char)
            if out is None:
                deleted.append(byte)
                continue
            if len(out) > 1:
                out = multiple.setdefault(out, next(unused_placeholders))
            if out not in outputs:
                outputs.append(out)
            byte_map[byte] = outputs.index(out)
        if len(outputs) > 256:
            raise ValueError(f"{len(outputs) - 128} non-ASCII outputs: a byte holds at most 128")
        self._encoding = codecs.charmap_build("".join(inputs).ljust(256, UNDEFINED))
        self._decoding = "".join(outputs).ljust(256, UNDEFINED)
        self._bytes_table = bytes(byte_map)
        self._deleted = bytes(deleted)
        self._expansions = [(placeholder, out) for out, placeholder in multiple.items()]

    def __call__(self, text: str) -> str:
        try:
            encoded = codecs.charmap_encode(text, "strict", self._encoding)[0]
        except UnicodeEncodeError:
            return text.translate(self.table)
        translated = encoded.translate(self._bytes_table, self._deleted)
        text = codecs.charmap_decode(translated, "strict", self._decoding)[0]
        for placeholder, out in self._expansions:
            if placeholder in text:
                text = text.replace(placeholder, out)
        return text


# Casefolded Latin-1 and Cyrillic letters that fold to themselves, so that words holding them
# (names, loanwords, Russian words in Uzbek text) stay on the fast path.
_LATIN_1_LOWER = "".join(chr(c) for c in range(0xDF, 0x100) if chr(c).isalpha())
_CYRILLIC_LOWER = "".join(map(chr, range(0x430, 0x460)))
_uzbek_translate = Translator({**_UZBEK_LETTERS, **_DROPPED}, also=_LATIN_1_LOWER + _CYRILLIC_LOWER)
_russian_translate = Translator({"ё": "е", **_DROPPED}, also=_LATIN_1_LOWER + _CYRILLIC_LOWER)
_english_translate = Translator(_DROPPED, also=_LATIN_1_LOWER + _CYRILLIC_LOWER)
# Kazakh letters beyond Russian's (і is among _CYRILLIC_LOWER), and Uzbek ones in quoted names.
_KAZAKH_LOWER = "әғқңөұүһ" + "ўҳ"
_kazakh_translate = Translator({"ё": "е", **_DROPPED}, also=_LATIN_1_LOWER + _CYRILLIC_LOWER + _KAZAKH_LOWER)


class Token(NamedTuple):
    """One word of the original text: `text == original[start:end]`; `key` is its folded form."""

    start: int
    end: int
    text: str
    key: str


def lexicon_of(lang: str) -> str:
    """The term list serving a language code: `uz` and `oz` share `uz`."""
    try:
        return LEXICON_OF[lang]
    except KeyError:
        raise ValueError(f"unknown language {lang!r} (expected one of {', '.join(LANGUAGES)})") from None


def _fold_uzbek(lines: str) -> str:
    lines = "\n" + lines.casefold()
    if "е" in lines:
        lines = _E_AS_YE.sub("ye", lines)
    if "ц" in lines:
        lines = _TS_AFTER_VOWEL.sub("ts", lines)
    return _uzbek_translate(lines[1:])


def _fold_russian(lines: str) -> str:
    return _russian_translate(lines.casefold())


def _fold_english(lines: str) -> str:
    return _english_translate(lines.casefold())


def _fold_kazakh(lines: str) -> str:
    return _kazakh_translate(lines.casefold())


# Each folds a batch of words, one a line: one call of each C string method for the whole batch
# costs a third of a call per word.
_FOLDERS = {"uz": _fold_uzbek, "ru": _fold_russian, "en": _fold_english, "kk": _fold_kazakh}


def fold_words(words: list[str], lang: str = "uz") -> list[str]:
    """The keys of tokens (NFC) of language `lang`, in order."""
    if not words:
        return []
    return _FOLDERS[lexicon_of(lang)]("\n".join(words)).split("\n")


def fold_word(word: str, lang: str = "uz") -> str:
    """The key of one token (a pattern word, say); for a text, use fold or tokenize."""
    return fold_words([unicodedata.normalize("NFC", word)], lang)[0]


def fold(text: str, lang: str = "uz") -> str:
    """`text` with every token replaced by its key; other characters stay, apostrophes go.

    fold("Ўзбекистон-Қозоғистон") == "ozbekiston-qozogiston". Positional rules (е, ц) see one token
    at a time, so a word after a hyphen starts a new word.
    """
    parts = _SPLIT.split(unicodedata.normalize("NFC", text))
    parts[1::2] = fold_words(parts[1::2], lang)
    # Apostrophes outside tokens (quote marks) go too, as the table says.
    return "".join(parts).translate(_DROPPED)


# Folding is the costly step, and a release repeats its words; so do releases. Keys are kept per
# term list, and the memo is emptied when it grows past the limit (a day of releases is far below).
FOLD_CACHE_LIMIT = 200_000
_fold_cache: dict[str, dict[str, str]] = {lexicon: {} for lexicon in LEXICONS}


def clear_fold_cache() -> None:
    """Forget memoized keys (benchmarks measure a cold start with it)."""
    for cache in _fold_cache.values():
        cache.clear()


def keys_of(words: list[str], lexicon: str) -> list[str]:
    """The keys of tokens of a term list's language (`lexicon_of(lang)`), memoized per word."""
    cache = _fold_cache[lexicon]
    if len(cache) > FOLD_CACHE_LIMIT:
        cache.clear()
    # Looked up in bulk (C speed); only words never seen before are folded, in one batch.
    keys = list(map(cache.get, words))
    if None in keys:
        missing = list(dict.fromkeys(compress(words, map(is_, keys, repeat(None)))))
        batch = missing
        if not unicodedata.is_normalized("NFC", "\n".join(missing)):
            # The memo is keyed by the word as written, its key is that of the word's NFC form.
            batch = [unicodedata.normalize("NFC", word) for word in missing]
        cache.update(zip(missing, fold_words(batch, lexicon)))
        keys = list(map(cache.__getitem__, words))
    return keys


class Words:
    """The tokens of a text as parallel lists."""

    __slots__ = ("parts", "lexicon", "_keys", "_starts")

    def __init__(self, parts: list[str], lexicon: str) -> None:
        self.parts = parts  # [gap, word, gap, word, ..., gap]: word i is parts[2*i + 1]
        self.lexicon = lexicon
        self._keys: list[str] | None = None
        self._starts: list[int] | None = None

    @property
    def words(self) -> list[str]:
        return self.parts[1::2]

    @property
    def keys(self) -> list[str]:
        """The key of each word; computed on first use (the matcher memoizes by word instead)."""
        if self._keys is None:
            self._keys = keys_of(self.words, self.lexicon)
        return self._keys

    @property
    def starts(self) -> list[int]:
        """Offset of each word in the text; computed on first use."""
        if self._starts is None:
            # Word i starts where the running length of parts[0 .. 2i] ends.
            self._starts = list(accumulate(map(len, self.parts)))[0:-1:2]
        return self._starts


def split_words(text: str, lang: str = "uz") -> Words:
    """Every token of `text`, keys computed on demand; offsets refer to `text` as given."""
    lexicon = lexicon_of(lang)
    if any(apostrophe in text for apostrophe in APOSTROPHES):
        parts = _SPLIT_COMMON.split(text)
    else:
        parts = _SPLIT_COMMON_PLAIN.split(text)
    gaps = "".join(parts[0::2])
    if _UNUSUAL_GAP_CHARACTER.search(gaps) and _LETTER_OR_MARK.search(gaps):
        parts = _SPLIT.split(text)
    return Words(parts, lexicon)


def tokenize(text: str, lang: str = "uz") -> list[Token]:
    """The tokens of `text`, offsets into `text` as given (not into a normalized copy)."""
    words = split_words(text, lang)
    return [
        Token(start, start + len(word), word, key)
        for start, word, key in zip(words.starts, words.words, words.keys)
    ]


def is_word_character(char: str) -> bool:
    """A character a token can hold: a letter, a combining mark or an apostrophe."""
    return char in APOSTROPHES or bool(re.fullmatch(r"[^\W\d_]|[\u0300-\u036f\u0483-\u0487]", char))


# --- language guess (fallback only: the source's URL says the language) -------------------------

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_UZBEK_CYRILLIC = re.compile(r"[ўқғҳЎҚҒҲ]")
_RUSSIAN_ONLY = re.compile(r"[ыщЫЩ]")
# Letters of Kazakh that neither Uzbek nor Russian writes; ў and ҳ are Uzbek and not Kazakh.
_KAZAKH_ONLY = re.compile(r"[әіңөұүһӘІҢӨҰҮҺ]")
_UZBEK_NOT_KAZAKH = re.compile(r"[ўҳЎҲ]")
# Kazakh words whose Uzbek kin are spelled otherwise (бўйича, орқали, ҳақида), for texts short
# enough to hold none of Kazakh's own letters ("Су тасқыны бойынша жиын").
_KAZAKH_WORDS = frozenset("бойынша арқылы туралы жылы жиын".split())
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_UZBEK_LATIN_LETTERS = re.compile(rf"[oOgG][{APOSTROPHES}](?=[a-zA-Z])|[ğşçöĞŞÇÖ]|[qQ](?![uU])")
# Words and endings telling the languages apart when the letters do not (short texts). Uzbek
# Cyrillic words are listed folded, so one list serves both scripts.
_UZBEK_WORDS = frozenset(
    "va bilan uchun bu ham yil yili davlat respublikasi prezidenti prezident qildi etildi mumkin "
    "haqida kerak yangi ortasida orqali boyicha hamda ushbu shu qilish etish bolib".split()
)
_UZBEK_SUFFIXES = (
    "ning", "lar", "lari", "larni", "dagi", "gan", "moqda", "ishi", "idan", "ini", "dir", "di", "si",
    "lik", "ga", "da", "dan", "ni",
)
_ENGLISH_WORDS = frozenset(
    "the of and to in is was with for on by at from that this as an be are has have will "
    "which its their it".split()
)
_RUSSIAN_WORDS = frozenset("и в на с по не что для о об из к от за был была были это как также".split())
_RUSSIAN_SUFFIXES = ("ого", "его", "ому", "ыми", "ться", "ются", "ение", "ания", "ости", "ский", "ская", "ской")


def _word_score(
    words: list[str], uzbek_keys: list[str], other_words: frozenset[str], other_suffixes: tuple[str, ...]
) -> int:
    """Positive when the words look Uzbek, negative when they look like the other language."""
    score = 0
    for word, key in zip(words, uzbek_keys):
        if word in other_words:
            score -= 2
        elif key in _UZBEK_WORDS:
            score += 2
        elif len(word) > 4:
            if word.endswith(other_suffixes):
                score -= 1
            elif key.endswith(_UZBEK_SUFFIXES):
                score += 1
    return score


def _kazakh_score(text: str, words: list[str]) -> int:
    """Positive when Cyrillic text looks Kazakh rather than Uzbek or Russian."""
    letters = len(_KAZAKH_ONLY.findall(text)) - len(_UZBEK_NOT_KAZAKH.findall(text))
    return 3 * letters + 2 * sum(1 for word in words if word in _KAZAKH_WORDS)


def guess_language(text: str) -> str:
    """A best guess among uz / oz / ru / en / kk, for text whose source does not say.

    Cyrillic: Kazakh's own letters (ә і ң ө ұ ү һ, three points each, less three for each ў ҳ)
    and a few Kazakh words (two points) say kk when they score above zero; else ў қ ғ ҳ count for
    Uzbek and ы щ for Russian (three points each), then common words and endings of each language
    (two points and one). Latin: oʻ/gʻ, reform letters and q without u count for Uzbek, then words
    and endings as for Cyrillic. A tie goes to Russian or English.
    """
    words = [m.group().casefold() for m in TOKEN.finditer(text)]
    keys = fold_words(words, "uz")
    cyrillic = len(_CYRILLIC.findall(text))
    latin = len(_LATIN.findall(text))
    if cyrillic > latin:
        if _kazakh_score(text, words) > 0:
            return "kk"
        letters = 3 * (len(_UZBEK_CYRILLIC.findall(text)) - len(_RUSSIAN_ONLY.findall(text)))
        return "uz" if letters + _word_score(words, keys, _RUSSIAN_WORDS, _RUSSIAN_SUFFIXES) > 0 else "ru"
    letters = 3 * len(_UZBEK_LATIN_LETTERS.findall(text))
    return "oz" if letters + _word_score(fold_words(words, "en"), keys, _ENGLISH_WORDS, ()) > 0 else "en"
