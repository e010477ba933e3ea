"""The prefilter: the matcher looks up only the words it points at, and must find all the same.

Each test compares a TopicSet with the prefilter against the same TopicSet looking every word up
(`prefilter = False`), on generated text built from the spellings that make it hard: both
scripts, every apostrophe form and runs of them, dropped letters, reform letters, caps, the
positional е and ц, multi-word patterns across hyphens and line breaks, and characters outside the
prefilter's table (which send a text the slow way)."""

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.topics import load_topics
from crawler.topics.fold import APOSTROPHES, TOKEN, fold_words, is_word_character, split_words
from crawler.topics.matcher import _Sentences
from crawler.topics.prefilter import _ENCODING, CHARACTERS, encode, outputs_of

ROOT = Path(__file__).resolve().parents[1]

# Heads with every kind of spelling trouble: two-letter outputs (sh, ch, ye, ts, yo), an exact
# first word, a first word that is a prefix of another's, three-word patterns, a head with a
# letter outside the table (é), and one the fold leaves with an apostrophe-free key.
CUSTOM = """
[topics.mix]
label = "Mix"
[topics.mix.uz]
include = ["шаҳар*", "chegara", "chegara*", "ер ости*", "цех*", "сув ва ер*", "ёш*", "кафé*", "o'zbek-qozoq*", "ъсув*"]
exclude = ["шаҳардан", "ер остидаги сув*"]
[topics.mix.ru]
include = ["ёлк*", "за границ*", "граница"]
exclude = ["граница возможного"]
[topics.mix.en]
include = ["border", "cross-border*", "water's*", "café*"]
[topics.mix.kk]
include = ["су", "сулар*", "шекара*", "ҚР", "өзбек-қазақ*", "ү*", "сұрақ*"]
exclude = ["су жаңа", "шекарасыз*"]
"""

PIECES = [
    # Uzbek, both scripts, with the hard letters
    "Қозоғистон", "Qozog‘iston", "QOZOG'ISTON", "Qozogʻistonga", "қозоқ", "томон", "чегара",
    "chegarasi", "Chegara", "ЧЕГАРА", "сув", "Suv", "сувенир", "ва", "ер", "Ер", "ости", "остидаги",
    "yer", "osti", "цех", "Sex", "tsex", "шаҳар", "Shahar", "şahar", "шаҳардан", "ёш", "yosh",
    "Yoʻsh", "ўзбек", "O'zbek", "o‘zbek", "кафé", "кафе", "Орол", "денгизи", "ъсув", "Ьсув",
    # names: a capital inside a sentence (Суваналиев is no water), initials, quotes, line starts
    "Суваналиев", "Suvonqulov", "Водянов", "А.", "Сувни", "СУВДАН",
    # Kazakh: its own letters, exact forms of су and what they must not take
    "су", "Су", "СУ", "суды", "сұрақ", "сурет", "Судан", "жаңа", "шекара", "Шекарасыз", "Өзен", "кен",
    "Өзенбаев", "Қазақстан", "ҚР", "өзбек-қазақ", "Ғ", "ү", "һ", "і",
    # Russian and English
    "граница", "Границы", "за", "из-за", "ёлка", "елка", "возможного", "border", "Borders",
    "cross", "water's", "Water’s", "café", "CAFÉ", "the",
    # joiners, gaps and punctuation
    "-", "–", "—", " ", " ", " ", "\n", "\n\n", ".", ",", "«", "»", "2026", "…", "!",
    # apostrophes alone and in runs (one or two join letters, three split them)
    "'", "‘", "’", "ʻ", "ʼ", "`", "''", "'''", "‘’‘’",
    # outside the prefilter's table: the slow way must give the same
    "é", "\u0306", "🙂", "Ω", "ſ",
]


@pytest.fixture(scope="module")
def default_pair():
    return _pair(load_topics)


@pytest.fixture(scope="module")
def custom_pair(tmp_path_factory):
    path = tmp_path_factory.mktemp("topics") / "topics.toml"
    path.write_text(CUSTOM, encoding="utf-8")
    return _pair(lambda: load_topics(path))


def _pair(load):
    """Two TopicSets of the same topics, with their own memos: one with the prefilter, one without."""
    slow = load()
    slow.prefilter = False
    return load(), slow


def _same(pair, text, lang):
    fast, slow = pair
    assert fast.explain(text, lang).to_dict() == slow.explain(text, lang).to_dict(), repr(text)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30), st.sampled_from(["uz", "oz", "ru", "en", "kk"]))
def test_prefilter_changes_no_result_with_default_topics(default_pair, pieces, lang):
    _same(default_pair, "".join(pieces), lang)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30), st.sampled_from(["uz", "oz", "ru", "en", "kk"]))
def test_prefilter_changes_no_result_with_tricky_patterns(custom_pair, pieces, lang):
    _same(custom_pair, "".join(pieces), lang)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(CHARACTERS) | st.sampled_from(PIECES[:60]), max_size=40),
    st.sampled_from(["uz", "ru", "en", "kk"]),
)
def test_prefilter_changes_no_result_on_any_text_of_its_table(custom_pair, pieces, lang):
    # Any character of the table, mixed with pattern words so that heads come up.
    _same(custom_pair, "".join(pieces), lang)


# --- what the prefilter's exactness rests on, checked over its whole table -----------------------

LETTERS = [c for c in CHARACTERS if is_word_character(c) and c not in APOSTROPHES]


@pytest.mark.parametrize("lexicon", ["uz", "ru", "en", "kk"])
def test_a_letter_folds_to_one_of_its_outputs_after_any_letter_and_nothing_looks_ahead(lexicon):
    # The byte of a letter stands for outputs_of(letter), found in a few contexts. That holds only
    # if what a letter folds to depends on no more than the character before it, among those
    # contexts' kinds, and if no letter changes what came before it: checked here for every
    # (character before, letter) pair of the table, so a new fold rule cannot slip past.
    outputs = dict(zip(LETTERS, outputs_of(LETTERS, lexicon)))
    before = ["", *LETTERS, *APOSTROPHES]
    alone = dict(zip(before, fold_words(before, lexicon)))
    pairs = [(b, letter) for b in before for letter in LETTERS]
    for (b, letter), folded in zip(pairs, fold_words([b + letter for b, letter in pairs], lexicon)):
        assert folded.startswith(alone[b]), (b, letter)
        assert folded[len(alone[b]):] in outputs[letter], (b, letter)


def test_the_table_agrees_with_the_tokenizer_and_is_stable_under_nfc():
    for char in CHARACTERS:
        # A letter of the table is a token alone; an apostrophe or any other character is not.
        is_letter = char in LETTERS
        assert bool(TOKEN.fullmatch(char)) == is_letter, repr(char)
        assert is_letter == (char.isalpha() and char not in APOSTROPHES), repr(char)
    # split_words first splits on its common letters; every table letter must be one of them or
    # make it split again with the full token regex.
    for letter in LETTERS:
        assert [w for w in split_words(f"a {letter}b", "uz").words] == ["a", f"{letter}b"], repr(letter)
    # Two table characters never compose under NFC (the slow way folds a word's NFC form).
    text = "".join(a + b for a in CHARACTERS for b in CHARACTERS)
    assert unicodedata.is_normalized("NFC", text)


def test_prefilter_changes_no_result_on_the_corpus_and_the_seed(default_pair):
    cases = [json.loads(line) for line in (ROOT / "tests" / "data" / "topics_corpus.jsonl").read_text("utf-8").splitlines()]
    cases.append({"text": (ROOT / "tests" / "data" / "seed_5782_uz.txt").read_text("utf-8"), "lang": "uz"})
    for case in cases:
        _same(default_pair, case["text"], case["lang"])


def test_text_outside_the_table_is_matched_the_slow_way(default_pair):
    fast, _ = default_pair
    text = "Qozog‘iston 🙂 café chegarasi"
    assert encode(text) is None
    assert [m.text for m in fast.match(text, "oz")] == ["Qozog‘iston", "chegarasi"]


@pytest.mark.parametrize("apostrophes", ["'", "''", "'''", "''''"])
def test_words_split_by_apostrophe_runs(default_pair, apostrophes):
    # One or two apostrophes join letters into one word; three or more split them, and the word
    # after them starts a pattern.
    for text in (
        f"a{apostrophes}suv", f"o{apostrophes}suv", f"{apostrophes}suv", f"x {apostrophes}чегара",
        f"suv{apostrophes}", f"suv{apostrophes}x", f"chegara{apostrophes}lar", f"qozog{apostrophes}",
    ):
        _same(default_pair, text, "oz")


def test_kazakh_text_takes_the_prefilter_and_control_characters_the_slow_way(default_pair):
    fast, _ = default_pair
    text = "Қазақстан мен Өзбекстан шекарасындағы өзендердің суы"
    assert encode(text) is not None
    assert [m.text for m in fast.match(text, "kk")] == ["Қазақстан", "шекарасындағы", "өзендердің", "суы"]
    assert encode("су\x01") is None  # room for Kazakh's letters: controls left the table
    # ...but NUL stays first, or charmap_build gives a dict, and encoding is ten times slower.
    assert not isinstance(_ENCODING, dict) and encode("\x00") == b"\x00"
    _same(default_pair, "су\x01 шекара\x1f", "kk")


def test_every_apostrophe_form_is_one_byte_class():
    assert all(encode(a) is not None for a in APOSTROPHES)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(list(".!?…\n \"'»”)]x\u00a0\t") + ["ab", "су"]), max_size=30))
def test_sentence_boundaries_from_bytes_equal_the_regex_on_text(pieces):
    text = "".join(pieces)
    by_text, by_bytes = _Sentences(text), _Sentences(text, encode(text))
    assert (by_bytes.boundaries, by_bytes.starts, by_bytes.ends) == (by_text.boundaries, by_text.starts, by_text.ends)
