"""The README's [[sources]] examples are real: they load, and the "Add a source" one crawls the
press site it describes (devsites/presssite.py, on 127.0.0.1) completely."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from crawler.cli import main
from crawler.config import load_config
from devsites.presssite import PressSite

README = Path(__file__).parent.parent / "README.md"


def toml_blocks(heading: str) -> list[str]:
    """The ```toml blocks of a README section (up to the next heading of the same level or higher;
    a "# comment" inside a block is no heading)."""
    level = len(heading.split(" ")[0])
    blocks: list[str] = []
    inside, fence, current = False, "", []
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            if fence == "toml" and inside and current is not None:
                blocks.append("\n".join(current) + "\n")
            fence = "" if fence else (line[3:] or "text")
            current = []
        elif fence:
            current.append(line)
        elif line == heading:
            inside = True
        elif inside and re.match(rf"#{{1,{level}}} ", line):
            break
    return blocks


def test_the_configuration_example_of_several_sources_loads(tmp_path):
    (example,) = toml_blocks("### One source or several")
    path = tmp_path / "presswatch.toml"
    path.write_text(example, encoding="utf-8")
    (source,) = load_config(path).sources
    assert (source.name, source.kind, source.selectors.list_item) == ("president.uz", "presidentuz", "div.events_box")


def test_the_add_a_source_example_crawls_the_press_site(tmp_path, capsys):
    (example,) = toml_blocks("## Add a source")
    assert 'base_url = "http://127.0.0.1:8081"' in example  # what `python -m devsites.presssite` serves
    with PressSite() as site:
        path = tmp_path / "presswatch.toml"
        path.write_text(example.replace("http://127.0.0.1:8081", site.base_url).replace(
            "request_delay = 1.0", "request_delay = 0.0"), encoding="utf-8")
        config = load_config(path)
        assert [s.name for s in config.sources] == ["akorda"]
        assert main(["sources", "check", "akorda", "--config", str(path), "--lang", "en"]) == 0
        assert main(["crawl", "--config", str(path)]) == 0
        expected = {(a.id, a.lang, a.title) for a in site.articles}
    stored = set(sqlite3.connect(tmp_path / "presswatch.db").execute("select id, lang, title from items"))
    assert stored == expected
