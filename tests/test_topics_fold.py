"""Folding and tokenization, case by case against the table in TOPICS.md."""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.topics import fold, guess_language, tokenize
from crawler.topics.fold import APOSTROPHES, fold_word

# TOPICS.md, "Folding Uzbek Cyrillic to Latin": every letter whose folding does not depend on its
# position. ў and ғ fold to oʻ and gʻ, whose apostrophe keys drop.
LETTERS = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ж": "j", "з": "z", "и": "i", "й": "y",
    "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "x", "ҳ": "h", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "", "ь": "",
    "ы": "i", "э": "e", "ю": "yu", "я": "ya", "ё": "yo", "ў": "o", "қ": "q", "ғ": "g",
}


@pytest.mark.parametrize("letter, latin", sorted(LETTERS.items()))
def test_each_cyrillic_letter_folds_per_the_table(letter, latin):
    # Between two consonants, so no positional rule applies to the letter itself.
    assert fold_word(f"б{letter}д") == f"b{latin}d"
    assert fold_word(f"Б{letter.upper()}Д") == f"b{latin}d", "upper case folds the same"


@pytest.mark.parametrize(
    "word, key",
    [
        ("е", "ye"),  # start of a word
        ("ер", "yer"),
        ("бер", "ber"),  # after a consonant
        ("шаҳе", "shahe"),  # ҳ is a consonant
        ("мае", "maye"),  # after a vowel
        ("ўе", "oye"),  # ў is a vowel
        ("съезд", "syezd"),  # after ъ
        ("объект", "obyekt"),
        ("об'ект", "obyekt"),  # an apostrophe standing for ъ
        ("Евроосиё", "yevroosiyo"),
        ("ЕВРОПА", "yevropa"),
        ("цемент", "sement"),  # ц at the start: s
        ("демаркация", "demarkatsiya"),  # ц after a vowel: ts
        ("ирригация", "irrigatsiya"),
        ("концерн", "konsern"),  # ц after a consonant: s
    ],
)
def test_positional_e_and_ts(word, key):
    assert fold_word(word) == key


def test_positional_rules_see_one_word_at_a_time():
    # After a hyphen a new word starts: е is "ye" again.
    assert fold("ўзбек-европа") == "ozbek-yevropa"
    assert fold("Ўзбекистон-Қозоғистон") == "ozbekiston-qozogiston"


@pytest.mark.parametrize(
    "reform, plain",
    [("ö", "o"), ("õ", "o"), ("ŏ", "o"), ("ō", "o"), ("ğ", "g"), ("ḡ", "g"), ("ş", "sh"), ("ș", "sh"),
     ("ç", "ch"), ("ñ", "ng")],
)
def test_reform_letters(reform, plain):
    assert fold_word(f"b{reform}d") == f"b{plain}d"
    assert fold_word(f"B{reform.upper()}D") == f"b{plain}d"


def test_n_tilde_is_ng_never_a_bare_n():
    assert fold_word("deñiz") == fold_word("dengiz") == "dengiz"


@pytest.mark.parametrize("apostrophe", list(APOSTROPHES))
def test_every_apostrophe_form_is_dropped(apostrophe):
    word = f"Qozog{apostrophe}istonga"
    assert fold_word(word) == "qozogistonga"
    tokens = tokenize(f"«{word}» bilan")
    assert [t.text for t in tokens] == [word, "bilan"], "the apostrophe joins, it does not split"


def test_same_key_in_both_scripts_all_spellings():
    spellings = ["Қозоғистон", "Qozog‘iston", "QOZOGʻISTON", "Qozogiston", "Qozoğiston", "Qozog'iston"]
    assert {fold_word(s) for s in spellings} == {"qozogiston"}
    assert fold_word("Оролбўйи") == fold_word("Orolbo‘yi") == fold_word("Orolböyi") == "orolboyi"
    assert fold_word("Суғориш") == fold_word("Suğoriş") == fold_word("sug'orish") == "sugorish"


def test_combining_dot_above_is_dropped():
    assert fold_word("İstanbul") == "istanbul"  # casefold gives i + U+0307
    assert fold_word("i\u0307stanbul") == "istanbul"


def test_nfc_not_nfkc_for_the_acute_accent_apostrophe():
    # NFKC would turn ´ into a space and a combining accent, splitting the word in two.
    assert unicodedata.normalize("NFKC", "´") == " \u0301"
    text = "Qozog´istonga"
    assert [t.text for t in tokenize(text)] == [text]
    assert fold(text) == "qozogistonga"


def test_decomposed_text_keeps_original_offsets():
    text = "Salom, Qozog\u0306iston!"  # g + combining breve: not NFC
    (_, token) = tokenize(text)
    assert token.text == text[token.start:token.end] == "Qozog\u0306iston"
    assert token.key == "qozogiston"


def test_russian_is_casefolded_with_yo_as_ye():
    assert fold_word("Партнёрами", "ru") == "партнерами"
    assert fold_word("КАЗАХСТАНОМ", "ru") == "казахстаном"
    # No transliteration: Russian ц stays.
    assert fold_word("границ", "ru") == "границ"


def test_kazakh_is_casefolded_and_keeps_its_own_letters():
    assert fold_word("ҚАЗАҚСТАННЫҢ", "kk") == "қазақстанның"
    assert fold_word("Өзбекстанға", "kk") == "өзбекстанға"
    assert fold_word("Шекараның", "kk") == "шекараның"
    # No letter merges into another: сұрақ (question) is no су (water), әлем no алем, і no и.
    assert fold_word("Сұрақ", "kk") == "сұрақ" and not fold_word("сұрақ", "kk").startswith("су")
    assert [fold_word(w, "kk") for w in ("Әә", "Ңң", "Өө", "Ұұ", "Үү", "Һһ", "Іі", "Ғғ", "Ққ")] == [
        "әә", "ңң", "өө", "ұұ", "үү", "һһ", "іі", "ғғ", "ққ"]
    assert fold_word("Алдыңғы ёлка", "kk") == "алдыңғы елка"
    assert fold("Қазақстан-Өзбекстан", "kk") == "қазақстан-өзбекстан"
    assert [t.text for t in tokenize("Қазақстан мен Өзбекстан", "kk")] == ["Қазақстан", "мен", "Өзбекстан"]


def test_english_is_casefolded_and_drops_apostrophes():
    assert fold_word("Kazakhstan’s", "en") == "kazakhstans"
    assert fold_word("WATER", "en") == "water"


def test_tokens_hyphens_digits_and_offsets():
    text = "Ўзбекистон-Қозоғистон 30-йиллиги, «Qozog‘iston» bog‘ va tog‘."
    tokens = tokenize(text)
    assert [t.text for t in tokens] == [
        "Ўзбекистон", "Қозоғистон", "йиллиги", "Qozog‘iston", "bog‘", "va", "tog‘",
    ]
    for token in tokens:
        assert text[token.start:token.end] == token.text
    # oʻ and gʻ are letters, so a word-final one stays in the token; a closing quote does not.
    assert tokens[4].text == "bog‘" and tokens[4].key == "bog"


def test_letters_outside_latin_and_cyrillic_still_make_tokens():
    tokens = tokenize("ΑΒΓ-side ªb Kazakh")
    assert [t.text for t in tokens] == ["ΑΒΓ", "side", "ªb", "Kazakh"]


def test_fold_of_a_phrase_keeps_separators():
    assert fold("Орол денгизи") == "orol dengizi"
    assert fold("за границей", "ru") == "за границей"


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="unknown language 'de'"):
        fold("Wasser", "de")


@pytest.mark.parametrize(
    "text, lang",
    [
        ("Ўзбекистон ва Қозоғистон етакчилари брифинг ўтказдилар.", "uz"),
        ("Президент Узбекистана провел переговоры с Президентом Казахстана.", "ru"),
        ("Президент Узбекистана принял делегацию из Ўзбекистон туризм агентлиги и других стран мира, "
         "обсуждались вопросы сотрудничества в сфере туризма и культуры на ближайшие годы.", "ru"),
        ("O‘zbekiston va Qozog‘iston o‘rtasidagi chegara masalalari hal etildi.", "oz"),
        ("Prezident davlat tashrifi bilan Qozogistonga bordi va muzokaralar olib bordi.", "oz"),
        ("The President of Uzbekistan held talks with the President of Kazakhstan.", "en"),
        ("Қазақстан Президенті Өзбекстанға мемлекеттік сапармен барды.", "kk"),
        ("Су тасқыны бойынша жиын өтті.", "kk"),  # no letter of Kazakh's own: its words say it
        ("Ўзбекистонда Нұрсұлтан Назарбоев номидаги кўча очилди.", "uz"),  # a Kazakh name in Uzbek
    ],
)
def test_guess_language(text, lang):
    assert guess_language(text) == lang


def test_guess_language_on_the_corpus():
    # A fallback heuristic; the corpus's short sentences are a hard test for it.
    import json
    from pathlib import Path

    lines = Path(__file__).with_name("data").joinpath("topics_corpus.jsonl").read_text(encoding="utf-8").splitlines()
    cases = [json.loads(line) for line in lines if line.strip()]
    wrong = [(c["lang"], guess_language(c["text"]), c["text"]) for c in cases if guess_language(c["text"]) != c["lang"]]
    assert len(wrong) <= len(cases) // 50, wrong


# The definition of a token, written plainly; the tokenizer takes faster routes to the same result.
_A = APOSTROPHES
REFERENCE_TOKEN = __import__("re").compile(
    rf"(?:[^\W\d_{_A}][\u0300-\u036f\u0483-\u0487]*)+"
    rf"(?:[{_A}]{{1,2}}(?:[^\W\d_{_A}][\u0300-\u036f\u0483-\u0487]*)+)*"
    rf"(?:(?<=[oOgG])[{_A}])?"
)
ALPHABET = "aoOgGbz qQ" + "ўқғҳеёцъьЕЦ" + _A + "-–— \n.,«»“”0123456789_" + "\u0301\u0306\u0307" + "ΑβªµğşöñİЄі²"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=60))
def test_tokenizer_matches_the_reference_definition(text):
    expected = [(m.start(), m.end(), m.group()) for m in REFERENCE_TOKEN.finditer(text)]
    tokens = tokenize(text)
    assert [(t.start, t.end, t.text) for t in tokens] == expected
    # Batch folding gives each word the key it gets alone.
    assert [t.key for t in tokens] == [fold_word(t.text) for t in tokens]


TRANSLATE_ALPHABET = (
    "abcxyz\n" + "абвгдеёжзийчшщъыьэюяўқғҳ" + "әңөұүһі" + _A + "\u0307" + "öõŏōğḡşșçñéü" + "ΑβªЄі" + "\x01\x07"
)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=TRANSLATE_ALPHABET, max_size=80), st.sampled_from(["uz", "ru", "en", "kk"]))
def test_fast_translation_gives_exactly_what_the_table_says(text, lexicon):
    from crawler.topics.fold import _english_translate, _kazakh_translate, _russian_translate, _uzbek_translate

    translate = {"uz": _uzbek_translate, "ru": _russian_translate, "en": _english_translate,
                 "kk": _kazakh_translate}[lexicon]
    assert translate(text) == text.translate(translate.table)
