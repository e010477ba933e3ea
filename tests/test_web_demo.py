"""The demo store the screenshots are made from (devsites/screenshots.py) shows what they promise."""

from __future__ import annotations

import sqlite3

from devsites.screenshots import demo_store


def test_the_demo_store_holds_the_edit_of_release_5780(tmp_path):
    """docs/screenshots/release-diff.png shows the word diff of 5780's Russian edit: the demo store
    must keep the text before the edit (an item_versions row), else the page has no diff."""
    path = demo_store(tmp_path / "demo.db")
    with sqlite3.connect(path) as db:
        kept = db.execute("select lang, version from item_versions where id = 5780").fetchall()
        current = db.execute("select version, title from items where id = 5780 and lang = 'ru'").fetchone()
    assert kept == [("ru", 1)]
    assert current[0] == 2 and current[1].endswith("(обновлено)")
