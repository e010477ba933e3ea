"""[[sources]]: several sources in one config; a config with one [source] table still means one
source named president.uz."""

from __future__ import annotations

import pytest

from crawler import app
from crawler.config import Config, ConfigError, SourceEntry, load_config
from crawler.model import UsageError

PRESS = r"/(?P<lang>[a-z]{2})/press/\d{4}/\d{2}/\d{2}/[a-z0-9-]+-(?P<id>\d+)"

TWO_SOURCES = f"""
[[sources]]
name = "president.uz"
kind = "presidentuz"
base_url = "https://president.uz"
languages = ["ru", "en"]
contact = "mailto:me@example.org"

[sources.selectors]
list_item = "div.card"

[[sources]]
name = "akorda"
kind = "generic"
base_url = "https://www.akorda.kz"
languages = ["kk", "ru", "en"]
request_delay = 2.5
topics = ["uzbekistan", "water"]
interval_minutes = 30

[sources.generic]
timezone = "Asia/Almaty"
list_url = "/{{lang}}/press/page/{{page}}"
first_page_url = "/{{lang}}/press"
release_pattern = '{PRESS}'
"""


def write(tmp_path, text: str):
    path = tmp_path / "presswatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_config_with_one_source_table_means_one_source_named_president_uz(tmp_path):
    config = load_config(write(tmp_path, '[source]\nlanguages = ["ru"]\nrequest_delay = 0.5\n'
                                         '[selectors]\nlist_item = "div.x"\n'))
    (only,) = config.sources
    assert (only.name, only.kind, only.languages, only.request_delay) == ("president.uz", "presidentuz", ("ru",), 0.5)
    assert only.selectors.list_item == "div.x"
    assert only.topics == () and only.interval_minutes == 0
    assert Config().sources[0].name == "president.uz"
    assert app.source(config).name == "president.uz"


def test_sources_tables_each_with_their_own_settings(tmp_path):
    config = load_config(write(tmp_path, TWO_SOURCES))
    first, second = config.sources
    assert (first.name, first.languages, first.contact, first.selectors.list_item) == (
        "president.uz", ("ru", "en"), "mailto:me@example.org", "div.card")
    assert (second.name, second.kind, second.request_delay, second.topics, second.interval_minutes) == (
        "akorda", "generic", 2.5, ("uzbekistan", "water"), 30.0)
    assert second.generic.release_pattern == PRESS
    assert config.source == first  # what reads config.source sees the first source
    akorda = app.source_named(config, "akorda")
    assert akorda is second
    built = app.source(config, "akorda")
    assert (built.kind, built.name, built.languages, str(built.timezone)) == ("generic", "akorda", ("kk", "ru", "en"), "Asia/Almaty")
    assert built.list_url("kk", 2) == "https://www.akorda.kz/kk/press/page/2"
    view = config.for_source(second)
    assert view.source is second and view.sources == (second,)


def test_an_unknown_source_name_is_a_usage_error_with_the_nearest(tmp_path):
    config = load_config(write(tmp_path, TWO_SOURCES))
    with pytest.raises(UsageError, match="no source 'akrda'.*did you mean 'akorda'"):
        app.source_named(config, "akrda")


def test_a_source_without_a_name_is_named_by_its_host(tmp_path):
    text = TWO_SOURCES.replace('name = "akorda"\n', "")
    assert [s.name for s in load_config(write(tmp_path, text)).sources] == ["president.uz", "www.akorda.kz"]


@pytest.mark.parametrize(("change", "key", "words"), [
    (("request_delay = 2.5", "reqest_delay = 2.5"), "sources[1].reqest_delay", "did you mean 'request_delay'"),
    (('timezone = "Asia/Almaty"', 'timezon = "Asia/Almaty"'), "sources[1].generic.timezon", "did you mean 'timezone'"),
    (('name = "akorda"', 'name = "president.uz"'), "sources", "unique, 'president.uz' is used twice"),
    (('name = "akorda"', 'name = "ak orda"'), "sources[1].name", "letters, digits"),
    (("request_delay = 2.5", "request_delay = -1"), "sources[1].request_delay", "0 or more"),
    (("interval_minutes = 30", "interval_minutes = -5"), "sources[1].interval_minutes", "0 or more"),
    ((f"release_pattern = '{PRESS}'", "release_pattern = '/news/(\\d+)'"), "sources[1].generic.release_pattern", "(?P<id>"),
    (('languages = ["kk", "ru", "en"]', 'languages = ["kk", "kk"]'), "sources[1].languages", "twice"),
    (('languages = ["ru", "en"]', 'languages = ["kk"]'), "sources[0].languages", "unknown language 'kk'"),
    (('languages = ["kk", "ru", "en"]\n', ""), "sources[1].languages", "a generic source needs its languages"),
    (('timezone = "Asia/Almaty"', 'base_url = "https://x.org"'), "sources[1].generic.base_url", "in the [[sources]] table itself"),
    (('list_item = "div.card"', 'list_itme = "div.card"'), "sources[0].selectors.list_itme", "did you mean 'list_item'"),
])
def test_each_mistake_in_a_source_names_its_key(tmp_path, change, key, words):
    old, new = change
    text = TWO_SOURCES.replace(old, new, 1)
    assert text != TWO_SOURCES
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, text))
    assert raised.value.key == key, str(raised.value)
    assert words in str(raised.value)


@pytest.mark.parametrize("section", ['[source]\nrequest_delay = 2.0\n', '[selectors]\nlist_item = "div"\n'])
def test_source_and_sources_together_are_refused(tmp_path, section):
    with pytest.raises(ConfigError, match="not both"):
        load_config(write(tmp_path, section + TWO_SOURCES))


def test_a_source_tagged_with_an_unknown_topic_is_refused_with_the_nearest(tmp_path):
    path = write(tmp_path, TWO_SOURCES.replace('"uzbekistan", "water"', '"uzbekistn"'))
    with pytest.raises(ConfigError) as raised:
        app.load_checked(path)
    assert raised.value.key == "sources[1].topics" and "uzbekistan" in str(raised.value)


def test_an_entry_is_a_source_config():
    assert isinstance(Config().sources[0], SourceEntry)


def test_warnings_name_the_source_they_are_about(tmp_path):
    from crawler.config import config_warnings

    text = TWO_SOURCES.replace("request_delay = 2.5", "request_delay = 0")
    warnings = config_warnings(load_config(write(tmp_path, text)))
    assert [w.split(":")[0].split(" ")[0] for w in warnings] == ["sources[1].request_delay", "sources[1].contact"]
    assert "www.akorda.kz" in warnings[0]
