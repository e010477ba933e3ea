"""Topic files: the shipped default, user topics, validation messages, lint, fingerprint."""

from pathlib import Path

import pytest

from crawler.config import ConfigError
from crawler.topics import lint, load_topics
from crawler.topics.fold import LANGUAGES
from crawler.topics.patterns import DEFAULT_TOPICS_NAME, languages_without_terms

ROOT = Path(__file__).resolve().parents[1]
SEED = (ROOT / "tests" / "data" / "seed_5782_uz.txt").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str, name: str = "topics.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_copies_are_identical():
    assert (ROOT / "config" / "topics.toml").read_bytes() == (ROOT / "crawler" / "data" / "topics.toml").read_bytes()


def test_packaged_default_loads_and_lints_clean():
    topics = load_topics()
    assert topics.names == ("kazakhstan", "border", "water", "uzbekistan")
    assert topics.default_names == topics.selected == ("kazakhstan", "border", "water")
    assert topics.opt_in_names == ("uzbekistan",)
    assert [t.label for t in topics.topics] == ["Kazakhstan", "State border", "Water", "Uzbekistan"]
    assert topics.source == DEFAULT_TOPICS_NAME
    assert lint(topics) == []
    # Every topic has terms for every language a source may come in.
    assert lint(topics, languages=LANGUAGES) == []
    assert languages_without_terms(topics, LANGUAGES) == []


def test_fingerprint_is_stable_and_tracks_definitions(tmp_path):
    default = load_topics()
    assert len(default.fingerprint) == 16
    assert load_topics().fingerprint == default.fingerprint
    assert load_topics(ROOT / "config" / "topics.toml").fingerprint == default.fingerprint, "the path is not in it"
    text = (ROOT / "config" / "topics.toml").read_text(encoding="utf-8")
    more_terms = write(tmp_path, text.replace('"дарё*",', '"дарё*", "кўл",'), "more.toml")
    assert load_topics(more_terms).fingerprint != default.fingerprint
    relabeled = write(tmp_path, text.replace('label = "Water"', 'label = "Water and rivers"'), "relabeled.toml")
    assert load_topics(relabeled).fingerprint != default.fingerprint
    reordered = write(tmp_path, text.replace('    "суғор*",\n', "").replace('"сув*",\n', '"сув*",\n    "суғор*",\n'),
                      "reordered.toml")
    assert load_topics(reordered).fingerprint == default.fingerprint, "order does not change matches"


ENERGY = """
[topics.energy]
label = "Energy"
[topics.energy.uz]
include = ["энергетика*", "электр энергия*", "quyosh panel*"]
[topics.energy.ru]
include = ["энергетик*", "электроэнерги*"]
[topics.energy.en]
include = ["energy", "power plant*"]
"""


def test_a_user_adds_a_topic_without_code(tmp_path):
    topics = load_topics(write(tmp_path, ENERGY))
    assert topics.names == ("energy",)
    assert {m.term for m in topics.match(SEED, "uz")} == {"энергетика*"}
    # A Latin term matches Cyrillic text and a Cyrillic term Latin text, with any apostrophe.
    assert [m.text for m in topics.match("Energetika va quyosh panellari", "oz")] == ["Energetika", "quyosh panellari"]
    assert [m.text for m in topics.match("Қуёш панеллари ўрнатилди", "uz")] == ["Қуёш панеллари"]
    assert [m.text for m in topics.match("Elektr energiyasi va ELEKTR ENERGIYA", "oz")] == [
        "Elektr energiyasi",
        "ELEKTR ENERGIYA",
    ]
    assert [m.term for m in topics.match("New power plants", "en")] == ["power plant*"]


def test_uzbek_terms_in_either_script_and_any_apostrophe(tmp_path):
    path = write(
        tmp_path,
        """
[topics.k]
[topics.k.uz]
include = ["Qozog`iston*"]
""",
    )
    topics = load_topics(path)
    assert topics.topics[0].label == "k", "the label defaults to the name"
    for text in ("Қозоғистонга", "Qozog‘istonning", "QOZOGʻISTON", "Qozogiston"):
        assert [m.text for m in topics.match(text, "uz")] == [text]


# --- validation: one message per mistake, naming file, key and problem ---------------------------

GOOD_TABLE = '[topics.water]\nlabel = "Water"\n'


@pytest.mark.parametrize(
    "body, key, problem",
    [
        ('[topics.water.ru]\ninclude = ["вода", "воды", "реки", ""]', "topics.water.ru.include[3]", "empty pattern"),
        ('[topics.water.ru]\ninclude = ["  "]', "topics.water.ru.include[0]", "empty pattern"),
        ('[topics.water.de]\ninclude = ["wasser*"]', "topics.water.de", "unknown language 'de'"),
        ('[topics.water.oz]\ninclude = ["suv*"]', "topics.water.oz", "go under 'uz'"),
        ('[topics.water.uz]\ninclude = ["сув*ресурс"]', "topics.water.uz.include[0]", "'*' can only end a word"),
        ('[topics.water.uz]\nexclude = ["*сув"]', "topics.water.uz.exclude[0]", "'*' can only end a word"),
        ('[topics.water.uz]\ninclude = ["сув**"]', "topics.water.uz.include[0]", "'**' is not a pattern"),
        ('[topics.water.uz]\ninclude = ["*"]', "topics.water.uz.include[0]", "would match every word"),
        ('[topics.water.uz]\ninclude = ["сув *"]', "topics.water.uz.include[0]", "would match every word"),
        ('[topics.water.en]\ninclude = ["h2o"]', "topics.water.en.include[0]", "'2' is not a letter"),
        ('[topics.water.en]\ninclude = ["water."]', "topics.water.en.include[0]", "'.' is not a letter"),
        ('[topics.water.en]\ninclude = ["-water"]', "topics.water.en.include[0]", "starts or ends with a hyphen"),
        ('[topics.water.en]\ninclude = [7]', "topics.water.en.include[0]", "expected a string"),
        ('[topics.water.en]\ninclude = "water*"', "topics.water.en.include", "expected a list of patterns"),
        ('[topics.water.en]\nincludes = ["water*"]', "topics.water.en.includes", "unknown key"),
        ('[topics.water.en]\ninclude = ["water*"]\nlint_ok = ["river"]', "topics.water.en.lint_ok[0]",
         "not one of this table's include or exclude patterns"),
        ("[topics.water]\ncolour = 'blue'", "topics.water.colour", "unknown key in [topics.water]"),
    ],
)
def test_bad_pattern_or_key_names_file_key_and_problem(tmp_path, body, key, problem):
    text = body if body.startswith("[topics.water]") else GOOD_TABLE + body
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_topics(path)
    error = caught.value
    assert (error.file, error.key) == (str(path), key)
    assert problem in error.problem
    assert str(error) == f"config error in {path}: {key}: {error.problem}"
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    "text, key, problem",
    [
        ("", "topics", "no topics defined"),
        ("[topics]\n", "topics", "no topics defined"),
        ("topics = 3\n", "topics", "expected a table"),
        ('[topics.water]\nlabel = ""\n', "topics.water.label", "non-empty string"),
        ('[topics.Water]\nlabel = "W"\n', "topics.Water", "lower-case"),
        ("[topics.water]\n[topics.water.uz]\ninclude = [\n", "syntax", ""),
        ('[topic.water]\nlabel = "W"\n', "topic", "unknown key at the top level"),
        ('[topics]\nwater = "сув*"\n', "topics.water", "expected a table"),
    ],
)
def test_bad_file_structure(tmp_path, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_topics(path)
    assert caught.value.key == key
    assert problem in caught.value.problem


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"config error in .*nope\.toml: file: no such file"):
        load_topics(tmp_path / "nope.toml")


# --- lint --------------------------------------------------------------------------------------


def lint_of(tmp_path: Path, text: str) -> list[str]:
    return lint(load_topics(write(tmp_path, text)))


def test_lint_short_prefix(tmp_path):
    warnings = lint_of(
        tmp_path, '[topics.water.uz]\ninclude = ["сув*", "дарё*"]\n[topics.water.ru]\ninclude = ["вод*"]'
    )
    assert len(warnings) == 2
    assert warnings[0].startswith("topics.water.uz.include[0]: 'сув*': a prefix of 3 letters ('suv*')")
    assert warnings[1].startswith("topics.water.ru.include[0]: 'вод*': a prefix of 3 letters")


def test_lint_ok_silences_a_reviewed_pattern(tmp_path):
    assert lint_of(tmp_path, '[topics.water.uz]\ninclude = ["сув*"]\nlint_ok = ["сув*"]') == []


def test_lint_exclude_that_can_never_apply(tmp_path):
    warnings = lint_of(
        tmp_path,
        '[topics.water.uz]\ninclude = ["дарё*"]\nexclude = ["сувенир*", "дарёлар"]\n'
        '[topics.water.ru]\ninclude = ["реки"]\nexclude = ["рекорд*", "ре*"]',
    )
    assert warnings == [
        "topics.water.uz.exclude[0]: 'сувенир*': this exclude can never apply: no include of this language "
        "could match the same word with equal or lower specificity",
        "topics.water.ru.exclude[0]: 'рекорд*': this exclude can never apply: no include of this language "
        "could match the same word with equal or lower specificity",
        # Shares words with "реки" but is less specific: the include always wins.
        "topics.water.ru.exclude[1]: 'ре*': a prefix of 2 letters ('ре*') matches many unrelated words; "
        "list exact forms or add excludes, then add it to lint_ok",
        "topics.water.ru.exclude[1]: 'ре*': this exclude can never apply: no include of this language "
        "could match the same word with equal or lower specificity",
    ]


def test_lint_pattern_that_folds_to_nothing_is_reported_and_ignored(tmp_path):
    text = '[topics.t.uz]\ninclude = ["ъ*", "дарё*"]'
    warnings = lint_of(tmp_path, text)
    assert warnings == ["topics.t.uz.include[0]: 'ъ*': a word of it folds to nothing (no letter survives folding); "
                        "it is ignored"]
    # An empty prefix would match every word; the matcher skips it.
    assert [m.term for m in load_topics(write(tmp_path, text)).match("бир дарё, икки сув", "uz")] == ["дарё*"]


def test_lint_duplicates_and_shadowed_includes(tmp_path):
    warnings = lint_of(
        tmp_path,
        '[topics.k.uz]\ninclude = ["Қозоғистон*", "Qozog\'iston*", "ўзбек-қозоқ*"]\nexclude = ["ozbek-qozoq*"]',
    )
    assert warnings == [
        "topics.k.uz.include[1]: 'Qozog'iston*': the same as topics.k.uz.include[0] 'Қозоғистон*' after folding",
        "topics.k.uz.include[2]: 'ўзбек-қозоқ*': equals exclude 'ozbek-qozoq*' after folding; the exclude always "
        "wins, so it never fires",
    ]


def test_lint_topic_without_includes(tmp_path):
    assert lint_of(tmp_path, '[topics.empty]\nlabel = "Nothing"') == [
        "topics.empty: no include pattern in any language, so it never fires"
    ]
