"""Opt-in topics and selections: a topic marked `opt_in = true` is matched only where it is named.

A route or a source with no topics means "all topics": that must never bring in an opt-in topic
(the shipped `uzbekistan` would fire on nearly every president.uz release). docs/TOPICS.md,
"Opt-in topics", gives the rule."""

from pathlib import Path

import pytest

from crawler.cli import main
from crawler.config import ConfigError
from crawler.model import UsageError
from crawler.topics import UnknownTopicError, load_topics
from crawler.topics.evaluate import evaluate, load_cases
from crawler.topics.fold import LANGUAGES
from crawler.topics.patterns import languages_without_terms, lint

TITLE = "Ўзбекистон ва Қозоғистон президентлари учрашди"
BODY = "Ўзбекистон Республикаси Президенти Қозоғистон билан чегара масаласини муҳокама қилди."

def write(tmp_path: Path, text: str, name: str = "topics.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def topics():
    return load_topics()


def test_the_shipped_uzbekistan_topic_is_opt_in(topics):
    assert topics.opt_in_names == ("uzbekistan",)
    assert topics.selected == topics.default_names == ("kazakhstan", "border", "water")
    # Tagging a release (match_item) leaves it out, as before the topic existed.
    assert {m.topic for m in topics.match_item(TITLE, BODY, "uz")} == {"kazakhstan", "border"}
    assert topics.topics_in(BODY, "uz") == ["kazakhstan", "border"]


def test_naming_an_opt_in_topic_selects_it(topics):
    chosen = topics.select(["uzbekistan"])
    assert chosen.selected == ("uzbekistan",)
    matches = chosen.match_item(TITLE, BODY, "uz")
    assert [m.text for m in matches] == ["Ўзбекистон", "Ўзбекистон"]
    assert matches.counts == {"uzbekistan": 2}
    # Both: the default topics and the one named, in file order whatever the order given.
    both = topics.select(["uzbekistan", *topics.default_names])
    assert both.selected == ("kazakhstan", "border", "water", "uzbekistan")
    assert both.topics_in(BODY, "uz") == ["kazakhstan", "border", "uzbekistan"]
    # The original is unchanged: select returns another set sharing its indexes.
    assert topics.topics_in(BODY, "uz") == ["kazakhstan", "border"]


@pytest.mark.parametrize("empty", [None, [], ()])
def test_no_names_mean_the_default_topics_never_an_opt_in_one(topics, empty):
    assert topics.resolve(empty) == ("kazakhstan", "border", "water")
    assert topics.select(empty).topics_in(BODY, "uz") == ["kazakhstan", "border"]


def test_resolve_names_an_unknown_topic(topics):
    with pytest.raises(UnknownTopicError, match=r"unknown topic 'uzbekistn' \(topics: kazakhstan, border, water, uzbekistan\)"):
        topics.resolve(["water", "uzbekistn"])
    assert issubclass(UnknownTopicError, UsageError) and issubclass(UnknownTopicError, ValueError)
    assert topics.resolve("water") == ("water",), "one name, not its letters"


def test_the_fingerprint_follows_the_selection_not_unselected_topics(tmp_path, topics):
    # Adding an opt-in topic nobody names tags nothing: no retag is due.
    without = write(tmp_path, (Path(__file__).resolve().parents[1] / "config" / "topics.toml")
                    .read_text(encoding="utf-8").split("[topics.uzbekistan]")[0])
    assert load_topics(without).fingerprint == topics.fingerprint
    assert topics.select(["uzbekistan", *topics.default_names]).fingerprint != topics.fingerprint
    assert topics.select(topics.default_names).fingerprint == topics.fingerprint


def test_explain_covers_every_topic_and_says_which_are_selected(topics):
    explanation = topics.explain(BODY, "uz")
    by_name = {t.topic: t for t in explanation.topics}
    assert by_name["uzbekistan"].fired and not by_name["uzbekistan"].selected
    assert by_name["kazakhstan"].selected
    assert explanation.to_dict()["topics"][3]["selected"] is False
    assert topics.select(["uzbekistan"]).explain(BODY, "uz").topics[3].selected


def test_check_marks_an_opt_in_topic(capsys):
    assert main(["topics", "check", BODY, "--lang", "uz"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "uzbekistan (Uzbekistan, opt-in: tagged only where a route or source names it): FIRES" in lines
    assert "water (Water): does not fire" in lines


def test_eval_scores_every_topic_opt_in_or_not(tmp_path, topics):
    corpus = write(tmp_path, '{"text": "O‘zbekiston bilan chegara", "lang": "oz", "topics": ["border", "uzbekistan"]}\n'
                             '{"text": "O‘zbek tili", "lang": "oz", "topics": []}\n', "c.jsonl")
    report = evaluate(topics, load_cases(corpus, topics))
    assert report.perfect and report.by_topic["uzbekistan"].hits == 1


def test_opt_in_in_a_user_file(tmp_path):
    path = write(tmp_path, '[topics.a.en]\ninclude = ["water"]\n[topics.b]\nopt_in = true\n[topics.b.en]\n'
                           'include = ["river"]\n[topics.c]\nopt_in = false\n[topics.c.en]\ninclude = ["dam"]\n')
    topics = load_topics(path)
    assert (topics.default_names, topics.opt_in_names) == (("a", "c"), ("b",))
    assert topics.topics_in("water, river and dam", "en") == ["a", "c"]
    assert topics.select(["b"]).topics_in("water, river and dam", "en") == ["b"]


@pytest.mark.parametrize("value", ['"yes"', "1", "[true]"])
def test_opt_in_must_be_true_or_false(tmp_path, value):
    path = write(tmp_path, f'[topics.b]\nopt_in = {value}\n[topics.b.en]\ninclude = ["river"]\n')
    with pytest.raises(ConfigError, match=r"topics\.b\.opt_in.*expected true or false"):
        load_topics(path)


# --- languages without terms ----------------------------------------------------------------------


def test_languages_without_terms(tmp_path):
    path = write(tmp_path, '[topics.a.uz]\ninclude = ["сув*"]\n[topics.b.en]\ninclude = ["river"]\n'
                           '[topics.b.kk]\nexclude = ["су жаңа"]\n')
    topics = load_topics(path)
    # uz and oz share a term list; kk has only an exclude, which never fires; tg has no term list.
    assert languages_without_terms(topics, ["uz", "oz", "ru", "en", "kk", "tg", "ru"]) == ["ru", "kk", "tg"]
    assert languages_without_terms(load_topics(), [*LANGUAGES, "tg"]) == ["tg"]


def test_lint_reports_a_topic_without_terms_for_a_source_language(tmp_path):
    path = write(tmp_path, '[topics.a.uz]\ninclude = ["сувлар*"]\n[topics.a.kk]\ninclude = ["су"]\n'
                           '[topics.b.en]\ninclude = ["river"]\n')
    topics = load_topics(path)
    assert lint(topics) == [], "without languages, a file need not cover every language"
    assert lint(topics, languages=["oz", "kk", "tg"]) == [
        "topics.a: tg has no term list (term lists: uz, ru, en, kk)",
        "topics.b: oz has no terms, so oz releases never fire it",
        "topics.b: kk has no terms, so kk releases never fire it",
        "topics.b: tg has no term list (term lists: uz, ru, en, kk)",
    ]
