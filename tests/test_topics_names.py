"""Names: a capitalised word inside a sentence does not fire a lower-case one-word prefix term.

Суваналиев is not water, Водянов is not water; Сувни at a sentence start, СУВ in a headline and
Қозоғистон (a term written capitalised) still fire. docs/TOPICS.md, "Names", gives the rule."""

from pathlib import Path

import pytest

from crawler.topics import load_topics


@pytest.fixture(scope="module")
def topics():
    return load_topics()


def custom(tmp_path: Path, text: str):
    path = tmp_path / "topics.toml"
    path.write_text(text, encoding="utf-8")
    return load_topics(path)


@pytest.mark.parametrize(
    "text, lang",
    [
        ("Ҳоким Бахтиёр Суваналиев ҳисобот берди.", "uz"),
        ("Депутат Суваналиевнинг таклифи маъқулланди.", "uz"),
        ("Hokim Baxtiyor Suvanaliyev hisobot berdi.", "oz"),
        ("Hokim Alisher Suvonqulov hisobot berdi.", "oz"),
        ("Заместитель министра Игорь Водянов представил отчет.", "ru"),
        ("Доклад сделал профессор А. Водянов.", "ru"),  # an initial ends no sentence
        ("Доклад сделал профессор А.Б. Водянов.", "ru"),
        ("Поручение дано В.Водянову.", "ru"),  # no space after the period: no sentence end
        ("Ҳоким (Суваналиев) ҳисобот берди.", "uz"),  # a bracket is no sentence start
        ("Маърузачи: Суваналиев.", "uz"),  # a colon ends no sentence
        ("Ҳоким – Суваналиев ҳисобот берди.", "uz"),  # a dash inside a sentence
        ("Журналист Өзенбаева сұхбат алды.", "kk"),  # Kazakh capitalises like Russian: өзен* (river)
        ("Сыйлықты ақын Тасқынов алды.", "kk"),  # тасқын* (flood)
    ],
)
def test_a_surname_inside_a_sentence_does_not_fire(topics, text, lang):
    assert topics.topics_in(text, lang) == []


@pytest.mark.parametrize(
    "text, lang, word",
    [
        ("Сувни тежаш – давр талаби.", "uz", "Сувни"),
        ("Мажлис якунланди. Сувни тежаш зарур.", "uz", "Сувни"),
        ("Мажлис якунланди! Сувни тежаш зарур.", "uz", "Сувни"),
        ("«Тежанг!» Сувни тежаш зарур.", "uz", "Сувни"),  # after closing quotes
        ("Бугун ёмғир ёғди\nСувдан тежамкор фойдаланинг.", "uz", "Сувдан"),
        ("– Сувни асранг, – деди у.", "uz", "Сувни"),
        ("Ёшлар «Сувни асранг» акциясида қатнашди.", "uz", "Сувни"),
        ('Ёшлар "Сувни асранг" акциясида қатнашди.', "uz", "Сувни"),
        ("Раҳбар Сув хўжалиги вазирлигини танқид қилди.", "uz", "Сув"),  # the bare stem: an institution
        ("ВАЗИРЛИК СУВДАН ТЕЖАМКОР ФОЙДАЛАНИШГА ЧАҚИРДИ", "uz", "СУВДАН"),
        ("СУВ ХЎЖАЛИГИ", "uz", "СУВ"),
        ("Suvdan oqilona foydalaning.", "oz", "Suvdan"),
        ("Yig‘ilish tugadi. Suvdan oqilona foydalaning.", "oz", "Suvdan"),
        ("Водяные мельницы восстановлены.", "ru", "Водяные"),
        ("Подписан договор. Водянистые почвы осушены.", "ru", "Водянистые"),
        ("Президент Қозоғистонга борди.", "uz", "Қозоғистонга"),  # written capitalised: a name
        ("Товарооборот с Казахстаном вырос.", "ru", "Казахстаном"),
        ("Туристлар Амударёда сайр қилишди.", "uz", "Амударёда"),
        ("Ҳудудда Сирдарё ҳавзаси тозаланди.", "uz", "Сирдарё ҳавзаси"),  # two words: not read for names
        ("Жиын аяқталды. Өзендердің деңгейі көтерілді.", "kk", "Өзендердің"),
        ("Тұрғындар Сырдарияның жағасында демалды.", "kk", "Сырдарияның"),  # written capitalised: a name
    ],
)
def test_capitals_the_spelling_asks_for_still_fire(topics, text, lang, word):
    assert word in [m.text for m in topics.match(text, lang)]


def test_english_capitals_are_not_read_as_names(topics):
    # Headlines in Title Case and institution names capitalise common nouns.
    assert topics.topics_in("Uzbekistan Expands Irrigation Networks", "en") == ["water"]
    assert topics.topics_in("He met the head of the Waterways Agency.", "en") == ["water"]


def test_a_quoted_name_is_read_as_a_title(topics):
    # Known gap: the capital after an opening quote is the spelling's, so a farm or firm named after
    # a person («Суваналиев ота» фермер хўжалиги) fires like a slogan («Сувни асранг») does.
    assert topics.topics_in("«Суваналиев ота» фермер хўжалиги мукофотланди.", "uz") == ["water"]


def test_explain_shows_the_words_read_as_names(topics):
    explanation = topics.explain("Ҳоким Бахтиёр Суваналиев сув ҳақида гапирди.", "uz")
    (water,) = [t for t in explanation.topics if t.topic == "water"]
    assert water.fired and [m.text for m in water.matches] == ["сув"]
    (name,) = water.names
    assert (name.term, name.text) == ("сув*", "Суваналиев")
    assert water.to_dict()["names"][0]["text"] == "Суваналиев"


def test_a_term_written_capitalised_fires_on_names(tmp_path):
    lower = custom(tmp_path, '[topics.w.uz]\ninclude = ["сув*"]')
    capital = custom(tmp_path, '[topics.w.uz]\ninclude = ["Сув*"]')
    text = "Ҳоким Суваналиев гапирди."
    assert lower.topics_in(text, "uz") == []
    assert capital.topics_in(text, "uz") == ["w"]
    assert lower.fingerprint != capital.fingerprint


def test_excludes_apply_to_names(tmp_path):
    # The rule only keeps includes from firing; an exclude still overrides a capitalised include.
    topics = custom(tmp_path, '[topics.w.uz]\ninclude = ["Сув*"]\nexclude = ["сувенир*"]')
    assert topics.topics_in("Меҳмонга Сувенир дўкони совға берди.", "uz") == []


def test_exact_words_and_multi_word_patterns_are_not_read_for_names(tmp_path):
    topics = custom(tmp_path, '[topics.w.uz]\ninclude = ["суваналиев", "ботир сув*"]')
    assert topics.topics_in("Ҳоким Суваналиев гапирди.", "uz") == ["w"]
    assert topics.topics_in("Ҳоким Ботир Суваналиев гапирди.", "uz") == ["w"]
