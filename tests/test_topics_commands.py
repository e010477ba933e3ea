"""`presswatch topics check | lint | eval`, through the presswatch CLI."""

import argparse
import io
import json
from pathlib import Path

import pytest

from crawler.cli import main
from crawler.cli import topics as topics_cli

CORPUS = Path(__file__).resolve().parent / "data" / "topics_corpus.jsonl"


@pytest.fixture(autouse=True)
def no_user_config(monkeypatch):
    monkeypatch.delenv("PRESSWATCH_CONFIG", raising=False)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["topics", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_register_adds_the_topics_command_to_any_cli():
    parser = argparse.ArgumentParser(prog="presswatch")
    subparsers = parser.add_subparsers(dest="command")
    topics_cli.register(subparsers)
    args = parser.parse_args(["topics", "lint"])
    assert args.func is topics_cli.lint_command


# --- check -------------------------------------------------------------------------------------


def test_check_says_what_fires_on_which_words_and_why(capsys):
    code, out, err = run(capsys, "check", "Студенты учатся за границей. Пограничники и вода.", "--lang", "ru")
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "language: ru (given); term list: ru; topics: <packaged default topics>",
        "kazakhstan (Kazakhstan): does not fire",
        "border (State border): FIRES",
        '  "Пограничники" at 29-41: include "Погран*"',
        "      Пограничники и вода.",
        '  "границей" at 19-27: exclude "за границ*" (8 letters) on "за границей" beat include "границ*" (6 letters)',
        "water (Water): FIRES",
        '  "вода" at 44-48: include "вода"',
        "      Пограничники и вода.",
        "uzbekistan (Uzbekistan, opt-in: tagged only where a route or source names it): does not fire",
    ]


def test_check_reports_an_include_that_won(capsys, tmp_path):
    topics = write(tmp_path, "t.toml", '[topics.k.en]\ninclude = ["kazakh side"]\nexclude = ["kazakh"]')
    code, out, _ = run(capsys, "check", "The Kazakh side agreed.", "--lang", "en", "--topics", topics)
    assert code == 0
    expected = '  "Kazakh side" at 4-15: include "kazakh side" (10 letters) beat exclude "kazakh" (6 letters) on "Kazakh"'
    assert expected in out.splitlines()


def test_check_json(capsys):
    code, out, _ = run(capsys, "check", "Qozog‘iston bilan chegara", "--lang", "oz", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["lang"] == "oz" and data["lexicon"] == "uz"
    assert data["fired"] == ["kazakhstan", "border"]
    kazakhstan = data["topics"][0]
    assert kazakhstan["matches"][0] == {
        "topic": "kazakhstan",
        "label": "Kazakhstan",
        "term": "Қозоғистон*",
        "field": "body",
        "start": 0,
        "end": 11,
        "text": "Qozog‘iston",
        "snippet": "Qozog‘iston bilan chegara",
    }


def test_check_guesses_the_language_and_reads_stdin(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("Ўзбекистон ва Қозоғистон сув ресурслари"))
    code, out, _ = run(capsys, "check", "-")
    assert code == 0
    assert out.startswith("language: uz (guessed from the text)")
    assert "water (Water): FIRES" in out


def test_check_uses_the_configured_topics_file(capsys, tmp_path, monkeypatch):
    write(tmp_path, "mine.toml", '[topics.energy.uz]\ninclude = ["энергетика*"]')
    config = write(tmp_path, "presswatch.toml", '[topics]\npath = "mine.toml"\n')
    monkeypatch.setenv("PRESSWATCH_CONFIG", config)
    code, out, _ = run(capsys, "check", "Energetika sohasi", "--lang", "oz")
    assert code == 0
    assert "energy (energy): FIRES" in out


def test_check_with_an_invalid_topics_file_is_one_line_and_exit_2(capsys, tmp_path):
    bad = write(tmp_path, "bad.toml", '[topics.water.ru]\ninclude = ["вода", "во*да"]')
    code, out, err = run(capsys, "check", "вода", "--lang", "ru", "--topics", bad)
    assert code == 2 and out == ""
    assert err == f"presswatch: config error in {bad}: topics.water.ru.include[1]: 'во*да': '*' can only end a word " \
                  "(a prefix like 'чегара*'), not start or split one\n"


def test_check_refuses_an_unknown_language(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["topics", "check", "water", "--lang", "de"])
    assert exit_.value.code == 2
    assert "invalid choice: 'de'" in capsys.readouterr().err


# --- lint --------------------------------------------------------------------------------------


def test_lint_default_is_clean(capsys):
    code, out, _ = run(capsys, "lint")
    assert (code, out) == (0, "<packaged default topics>: no warnings\n")


def test_lint_warnings_exit_1(capsys, tmp_path):
    topics = write(tmp_path, "t.toml", '[topics.w.uz]\ninclude = ["сув*"]\nexclude = ["сувенир*", "кўл*"]')
    code, out, _ = run(capsys, "lint", "--topics", topics)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{topics}: 5 warnings"
    assert lines[1].startswith("topics.w.uz.include[0]: 'сув*': a prefix of 3 letters")
    assert lines[2].startswith("topics.w.uz.exclude[1]: 'кўл*': a prefix of 3 letters")
    assert lines[3].startswith("topics.w.uz.exclude[1]: 'кўл*': this exclude can never apply")
    # the configured source's languages the file has no terms for: their releases would go untagged
    assert lines[4:] == [f"sources.president.uz: {lang}: no terms; releases in {lang} are stored untagged"
                         for lang in ("ru", "en")]


def test_lint_invalid_file_exit_2(capsys, tmp_path):
    topics = write(tmp_path, "t.toml", '[topics.w.fr]\ninclude = ["eau"]')
    code, out, err = run(capsys, "lint", "--topics", topics)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "topics.w.fr: unknown language 'fr'" in err


# --- eval --------------------------------------------------------------------------------------


def test_eval_on_the_corpus(capsys):
    code, out, _ = run(capsys, "eval", str(CORPUS))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"corpus: {CORPUS} (")
    assert any(line.split()[:3] == ["water", "1.000", "1.000"] for line in lines)
    assert any(line.split()[:4] == ["border", "oz", "1.000", "1.000"] for line in lines)
    assert "misses (0):" in lines and "false alarms (0):" in lines


def test_eval_lists_every_miss_and_false_alarm(capsys, tmp_path):
    corpus = write(
        tmp_path,
        "c.jsonl",
        "\n".join(
            [
                '{"text": "Сув ресурслари", "lang": "uz", "topics": ["water"]}',
                '// a comment line, skipped',
                "",
                '{"text": "Qozog‘iston", "lang": "oz", "topics": ["water"], "note": "wrong on purpose"}',
                '{"text": "Переговоры о воде", "lang": "ru", "topics": ["water"]}',
            ]
        ),
    )
    code, out, _ = run(capsys, "eval", corpus)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"corpus: {corpus} (3 cases: uz 1, oz 1, ru 1); topics: <packaged default topics>"
    assert "  line 4 [oz] water: did not fire: Qozog‘iston" in lines
    assert '  line 4 [oz] kazakhstan: fired on "Qozog‘iston" (Қозоғистон*): Qozog‘iston' in lines
    assert any(line.split()[:6] == ["water", "1.000", "0.667", "2", "0", "1"] for line in lines)
    assert any(line.split()[:3] == ["kazakhstan", "0.000", "n/a"] for line in lines)


def test_eval_json(capsys, tmp_path):
    corpus = write(tmp_path, "c.jsonl", '{"text": "The SUV and the river", "lang": "en", "topics": []}\n')
    code, out, _ = run(capsys, "eval", corpus, "--json")
    assert code == 1
    data = json.loads(out)
    assert data["cases"] == 1 and data["perfect"] is False
    assert data["by_topic"]["water"] == {"hits": 0, "false_alarms": 1, "misses": 0, "precision": 0.0, "recall": None}
    (alarm,) = data["false_alarms"]
    assert (alarm["line"], alarm["topic"], [m["text"] for m in alarm["matches"]]) == (1, "water", ["river"])


@pytest.mark.parametrize(
    "line, problem",
    [
        ("{not json}", "line 2: not valid JSON"),
        ('["text"]', "line 2: expected a JSON object, got list"),
        ('{"text": "", "lang": "uz", "topics": []}', 'line 2: "text" must be a non-empty string'),
        ('{"text": "x", "lang": "tg", "topics": []}', "line 2: \"lang\" must be one of uz, oz, ru, en, kk, got 'tg'"),
        ('{"text": "x", "lang": "uz", "topics": "water"}', 'line 2: "topics" must be a list'),
        ('{"text": "x", "lang": "uz", "topics": ["watr"]}', "line 2: unknown topic 'watr'"),
        ('{"text": "x", "lang": "uz", "topic": []}', "line 2: unknown key 'topic'"),
    ],
)
def test_eval_bad_line_names_its_number_exit_2(capsys, tmp_path, line, problem):
    corpus = write(tmp_path, "c.jsonl", '{"text": "сув", "lang": "uz", "topics": ["water"]}\n' + line + "\n")
    code, out, err = run(capsys, "eval", corpus)
    assert (code, out) == (2, "")
    assert err.startswith(f"presswatch: eval data error in {corpus}: {problem}")
    assert err.count("\n") == 1


def test_eval_missing_or_empty_file_exit_2(capsys, tmp_path):
    code, _, err = run(capsys, "eval", str(tmp_path / "none.jsonl"))
    assert code == 2 and err.strip().endswith("none.jsonl: no such file")
    code, _, err = run(capsys, "eval", write(tmp_path, "empty.jsonl", "\n\n"))
    assert code == 2 and err.strip().endswith("no cases in the file")


def test_config_option_after_the_command_name(capsys, tmp_path):
    write(tmp_path, "mine.toml", '[topics.energy.uz]\ninclude = ["энергетика*"]')
    config = write(tmp_path, "presswatch.toml", '[topics]\npath = "mine.toml"\n')
    code, out, _ = run(capsys, "lint", "--config", config)
    assert (code, out.splitlines()[0]) == (1, f"{tmp_path / 'mine.toml'}: 2 warnings")  # ru and en: no terms
    assert "sources.president.uz: ru: no terms; releases in ru are stored untagged" in out


def test_through_the_presswatch_cli(capsys):
    from crawler import cli

    code = cli.main(["topics", "check", "Orol dengizi", "--lang", "oz"])
    assert code == 0
    assert "water (Water): FIRES" in capsys.readouterr().out
