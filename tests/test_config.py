"""Configuration: the embedded default, a user's file on top, and one clear message per mistake."""

import dataclasses
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from crawler.cli import main
from crawler.config import (
    Config,
    ConfigError,
    config_warnings,
    default_text,
    default_toml,
    load_config,
)


def write(tmp_path, text: str):
    path = tmp_path / "presswatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_embedded_default_needs_no_file(monkeypatch):
    monkeypatch.delenv("PRESSWATCH_CONFIG", raising=False)
    config = load_config()
    assert config.source.base_url == "https://president.uz"
    assert config.source.languages == ("uz", "oz", "ru", "en")
    assert config.source.request_delay == 1.0
    assert config.store.path == "presswatch.db"


REGENERATE = ("python -c 'from crawler.config import default_toml; print(default_toml(), end=\"\")' "
              "> config/default.toml")


def test_config_dir_holds_the_generated_default():
    shipped = Path(__file__).parent.parent / "config" / "default.toml"
    assert shipped.read_bytes() == default_toml().encode("utf-8"), (
        f"config/default.toml is generated from crawler/config.py; regenerate it: {REGENERATE}")


def test_the_rendered_default_loads_to_exactly_the_defaults(tmp_path):
    text = default_toml()
    parsed = tomllib.loads(text)
    for section in dataclasses.fields(Config):
        if section.name in ("origin", "source_entries"):  # [[sources]]: no table by default, only its comment
            continue
        written = set(parsed[section.name])
        keys = {f.name for f in dataclasses.fields(getattr(Config(), section.name))}
        assert written == keys - {"missing_secrets", "set_in_file"}, section.name  # every key, and no other
    loaded = load_config(write(tmp_path, text))
    assert loaded == Config()
    assert loaded.selectors.chrome_phrases == Config().selectors.chrome_phrases  # the long lists too
    assert default_text() == text


def test_no_default_file_is_read_any_more():
    from importlib import resources

    assert not resources.files("crawler").joinpath("data/default.toml").is_file()
    assert resources.files("crawler").joinpath("data/topics.toml").is_file()


def test_user_file_overrides_only_its_keys(tmp_path):
    config = load_config(write(tmp_path, '[source]\nlanguages = ["ru", "en"]\n[store]\npath = "data/s.db"\n'))
    assert config.source.languages == ("ru", "en")
    assert config.source.request_delay == 1.0
    assert config.resolve(config.store.path) == tmp_path / "data" / "s.db"


def test_environment_variable_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESSWATCH_CONFIG", str(write(tmp_path, "[source]\nrequest_delay = 0.5\n")))
    assert load_config().source.request_delay == 0.5


@pytest.mark.parametrize(
    "text, key, problem",
    [
        ("[source]\nbase_ulr = 'https://president.uz'\n", "source.base_ulr", "unknown key in section [source]"),
        ("[sauce]\nx = 1\n", "sauce", "unknown key in the top level"),
        ("[source]\nrequest_delay = 'fast'\n", "source.request_delay", "expected a number, got string 'fast'"),
        ("[source]\nrequest_delay = -1\n", "source.request_delay", "must be 0 or more"),
        ("[source]\nmax_attempts = 2.5\n", "source.max_attempts", "expected an integer"),
        ("[source]\nobey_robots = 'yes'\n", "source.obey_robots", "expected true or false"),
        ("[source]\nbase_url = 'president.uz'\n", "source.base_url", "not an http(s) URL"),
        ("[source]\nbase_url = 'ftp://president.uz'\n", "source.base_url", "not an http(s) URL"),
        ("[source]\nbase_url = 'https://president.uz/ru/lists'\n", "source.base_url", "must be the site's root"),
        ("[source]\nlanguages = ['uz', 'kk']\n", "source.languages", "unknown language 'kk'"),
        ("[source]\nlanguages = []\n", "source.languages", "needs at least one language"),
        ("[source]\nlanguages = 'uz'\n", "source.languages", "expected a list of a string"),
        ("[source]\nitem_path = '/{lang}/lists/view/'\n", "source.item_path", "must contain {id}"),
        ("[store]\npath = ''\n", "store.path", "must not be empty"),
        ("[schedule]\ncron = '61 * * * *'\n", "schedule.cron", "not a valid cron expression"),
        ("[alerts]\nroutes = [{name = 'a', urls = ['json://x'], mode = 'weekly'}]\n", "alerts.routes[0].mode",
         "expected immediate, hourly or daily"),
        ("[source\n", "syntax", ""),
    ],
)
def test_each_mistake_gets_one_clear_message(tmp_path, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"config error in {path}: {key}: ")
    assert problem in message
    assert "\n" not in message


def test_missing_file_and_unset_secret(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")
    monkeypatch.delenv("PW_TEST_TOKEN", raising=False)
    path = write(tmp_path, "[[alerts.routes]]\nname = 'tg'\nurls = ['tgram://${PW_TEST_TOKEN}/1']\n")
    with pytest.raises(ConfigError, match="environment variable PW_TEST_TOKEN is not set"):
        load_config(path)


def test_cli_exits_2_without_traceback(tmp_path, capsys):
    path = write(tmp_path, "[source]\nlanguages = ['xx']\n")
    assert main(["crawl", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"presswatch: config error in {path}: source.languages: unknown language 'xx' (expected some of uz, oz, ru, en)"
    )


def test_bad_config_through_a_real_process(tmp_path):
    path = write(tmp_path, "[source]\nrequest_delay = 'fast'\n")
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "status", "--config", str(path)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PRESSWATCH_CONFIG": ""},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "source.request_delay: expected a number" in result.stderr


@pytest.mark.parametrize("text, key, hint", [
    ("[source]\nlanguges = ['uz']\n", "source.languges", "unknown key in section [source]; did you mean 'languages'?"),
    ("[shedule]\ncron = ''\n", "shedule", "unknown key in the top level; did you mean 'schedule'?"),
    ("[[alerts.routes]]\nname = 'a'\nurl = ['json://127.0.0.1:9/']\n", "alerts.routes[0].url",
     "unknown key in section [alerts.routes[0]]; did you mean 'urls'?"),
])
def test_an_unknown_key_names_the_nearest_known_one(tmp_path, text, key, hint):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"config error in {path}: {key}: {hint}"


def test_an_unknown_key_like_none_lists_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key in section \[store\] \(known: path\)$"):
        load_config(write(tmp_path, "[store]\nzzzzzz = 1\n"))


SECRET = "TopSecretValue123"


@pytest.mark.parametrize("text, value, key", [
    ("[[alerts.routes]]\nname = '${PW_TEST_NAME}'\nurls = ['json://127.0.0.1:9/']\n", f"r-{SECRET}!",
     "alerts.routes[0].name"),
    ("[source]\nbase_url = '${PW_TEST_URL}'\n", f"https://president.uz/{SECRET}", "source.base_url"),
    ("[source]\ncontact = '${PW_TEST_CONTACT}'\n", f"mailto:редакция-{SECRET}@example.org", "source.contact"),
])
def test_a_value_from_the_environment_never_shows_in_an_error(tmp_path, monkeypatch, text, value, key):
    for name in ("PW_TEST_NAME", "PW_TEST_URL", "PW_TEST_CONTACT"):
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert caught.value.key == key
    assert SECRET not in str(caught.value) and SECRET not in caught.value.problem
    assert "'***'" in str(caught.value)


def test_credentials_in_the_base_url_are_refused_without_repeating_them(tmp_path, monkeypatch):
    monkeypatch.setenv("PW_TEST_PASS", "hunter2-pass")
    for url in ("http://user:${PW_TEST_PASS}@127.0.0.1:8000", "http://user:pa/ss@127.0.0.1", "https://user@president.uz"):
        with pytest.raises(ConfigError) as caught:
            load_config(write(tmp_path, f"[source]\nbase_url = '{url}'\n"))
        assert caught.value.key == "source.base_url"
        assert "put no credentials in them" in caught.value.problem and "stores and shows" in caught.value.problem
        assert "hunter2" not in str(caught.value) and "pa/ss" not in str(caught.value)


@pytest.mark.parametrize("toml_value, problem", [
    ('"https://president.uz\\n"', "a line break at the end"),
    ('" https://president.uz"', "a space at the start"),
    ('"https://president.uz "', "a space at the end"),
    ('"https://presi\\tdent.uz"', "a tab inside"),
    ('"https://president.uz\\u200b"', "the invisible character U+200B at the end"),
    ('"""\nhttps://president.uz\n"""', "a line break at the end"),
])
def test_a_base_url_is_validated_as_written(tmp_path, toml_value, problem):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, f"[source]\nbase_url = {toml_value}\n"))
    assert caught.value.key == "source.base_url"
    assert caught.value.problem.startswith(f"contains {problem}; write the address alone on one line")
    assert "\n" not in str(caught.value)


def route_file(tmp_path, url: str):
    return write(tmp_path, f"[[alerts.routes]]\nname = 'r'\nurls = ['{url}']\n")


@pytest.mark.parametrize("url, value, refused", [
    ("mailto://user:${PW_TEST_SECRET}@127.0.0.1:9?to=a@example.org", "pa@ss-word", "'@'"),
    ("mailto://user:${PW_TEST_SECRET}@127.0.0.1:9", "pa/ss+word", "'/', '+'"),
    ("mailto://user:${PW_TEST_SECRET}@127.0.0.1:9", "100%-sure", "'%'"),
    ("mailto://${PW_TEST_SECRET}:pw@127.0.0.1:9", "ops@example.org", "'@'"),
    ("json://127.0.0.1:9/${PW_TEST_SECRET}", "hook/part", "'/'"),
    ("json://127.0.0.1:9/hook?token=${PW_TEST_SECRET}", "a&b=c", "'&'"),
])
def test_a_secret_apprise_would_split_must_be_percent_encoded(tmp_path, monkeypatch, url, value, refused):
    monkeypatch.setenv("PW_TEST_SECRET", value)
    with pytest.raises(ConfigError) as caught:
        load_config(route_file(tmp_path, url))
    message = str(caught.value)
    assert caught.value.key == "alerts.routes[0].urls[0]"
    assert caught.value.problem.startswith(f"the value of ${{PW_TEST_SECRET}} contains {refused}, which Apprise")
    assert "percent-encode it in the environment variable" in message
    assert value not in message


@pytest.mark.parametrize("url, value", [
    ("mailto://user:${PW_TEST_SECRET}@127.0.0.1:9", "pa%40ss%2Fword"),  # already encoded
    ("mailto://user:pw@127.0.0.1:9?to=${PW_TEST_SECRET}", "ops@example.org/x"),  # '@' and '/' mean nothing in a query
    ("tgram://123456789:AAbbccddeeffgghhiijjkkllmmnnooppqq/${PW_TEST_SECRET}", "@channel"),
    ("${PW_TEST_SECRET}", "ntfys://user:p@ss@127.0.0.1/topic"),  # the whole URL: its own structure
])
def test_a_secret_apprise_reads_whole_is_accepted(tmp_path, monkeypatch, url, value):
    monkeypatch.setenv("PW_TEST_SECRET", value)
    assert load_config(route_file(tmp_path, url)).alerts.routes[0].urls == (url.replace("${PW_TEST_SECRET}", value),)


MISSING_SECRET_ROUTES = """
[[alerts.routes]]
name = "tg"
urls = ["tgram://${PW_TEST_UNSET_TOKEN}/-100123", "json://127.0.0.1:9/${PW_TEST_SET}"]
[[alerts.routes]]
name = "hook"
urls = ["json://127.0.0.1:9/hook"]
"""


def test_read_only_loading_tolerates_an_unset_secret_in_a_route(tmp_path, monkeypatch):
    monkeypatch.delenv("PW_TEST_UNSET_TOKEN", raising=False)
    monkeypatch.setenv("PW_TEST_SET", "present")
    path = write(tmp_path, MISSING_SECRET_ROUTES)
    with pytest.raises(ConfigError, match="environment variable PW_TEST_UNSET_TOKEN is not set"):
        load_config(path)  # secrets=True, the default: as before
    tg, hook = load_config(path, secrets=False).alerts.routes
    assert tg.name == "tg" and tg.missing_secrets == ("PW_TEST_UNSET_TOKEN",) and not tg.deliverable
    assert tg.urls == ("tgram://${PW_TEST_UNSET_TOKEN}/-100123", "json://127.0.0.1:9/present")
    assert hook.missing_secrets == () and hook.deliverable


@pytest.mark.parametrize("text, key", [
    ("[source]\nbase_url = '${PW_TEST_UNSET_TOKEN}'\n", "source.base_url"),  # outside the routes: still needed
    (MISSING_SECRET_ROUTES + "mode = 'weekly'\n", "alerts.routes[1].mode"),
    (MISSING_SECRET_ROUTES + "colour = 'red'\n", "alerts.routes[1].colour"),
    ("[[alerts.routes]]\nname = 'a'\nurls = ['json://${PW_TEST_UNSET_TOKEN}']\nmissing_secrets = []\n",
     "alerts.routes[0].missing_secrets"),
])
def test_read_only_loading_still_refuses_every_other_mistake(tmp_path, monkeypatch, text, key):
    monkeypatch.delenv("PW_TEST_UNSET_TOKEN", raising=False)
    monkeypatch.setenv("PW_TEST_SET", "present")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), secrets=False)
    assert caught.value.key == key


def test_warnings_for_settings_unkind_to_a_public_site(tmp_path):
    public = load_config(write(tmp_path, "[source]\nrequest_delay = 0\n"))
    warnings = config_warnings(public)
    assert len(warnings) == 2
    assert warnings[0].startswith("source.request_delay is 0: requests to president.uz follow each other")
    assert warnings[1].startswith("source.contact is still presswatch's own address")
    assert all("\n" not in warning for warning in warnings)
    assert config_warnings(load_config()) == [warnings[1]]  # the plain default: its contact only
    mine = load_config(write(tmp_path, "[source]\ncontact = 'mailto:newsroom@example.org'\n"))
    assert config_warnings(mine) == []


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000",
                                      "http://mirror.localhost"])
def test_no_warning_against_a_local_site(tmp_path, base_url):
    local = load_config(write(tmp_path, f"[source]\nbase_url = '{base_url}'\nrequest_delay = 0\n"))
    assert config_warnings(local) == []
