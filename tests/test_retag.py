"""Tags in the store: written with each release, shown by `show`, redone by `retag`."""

from __future__ import annotations

from pathlib import Path

from crawler.cli import main
from crawler.store import Store

ROOT = Path(__file__).resolve().parent.parent
CASSETTE = str(ROOT / "cassettes" / "crawl_twice.yaml")


def crawled(tmp_path, capsys) -> str:
    store = str(tmp_path / "s.db")
    assert main(["crawl", "--replay", CASSETTE, "--store", store]) == 0
    capsys.readouterr()
    return store


def topics_of(store: str, item_id: int, lang: str) -> set[str]:
    with Store.open(store) as opened:
        return {r[0] for r in opened.db.execute("select topic from matches where id = ? and lang = ?", [item_id, lang])}


def test_every_stored_version_is_tagged_with_offsets(tmp_path, capsys):
    store = crawled(tmp_path, capsys)
    assert topics_of(store, 5782, "uz") == {"kazakhstan", "border", "water"}
    assert topics_of(store, 5782, "en") == {"kazakhstan", "border", "water"}
    with Store.open(store) as opened:
        for row in opened.db.query("select m.*, i.title, i.body from matches m join items i using (id, lang)"):
            field = row["title"] if row["field"] == "title" else row["body"]
            assert field[row["start"]:row["end"]] == row["text"]
        assert opened.db.execute("select count(*) from items where topics_fingerprint is null").fetchone()[0] == 0


def test_show_lists_the_topics_and_terms(tmp_path, capsys):
    store = crawled(tmp_path, capsys)
    assert main(["show", "5782", "--lang", "uz", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "topics:" in out
    assert "  kazakhstan: 'Қозоғистон'" in out
    assert "демаркация" in out and "сув" in out


def test_retag_after_the_topics_changed_is_idempotent(tmp_path, capsys):
    store = crawled(tmp_path, capsys)
    topics = tmp_path / "topics.toml"
    topics.write_text(
        '[topics.trade]\nlabel = "Trade"\n[topics.trade.uz]\ninclude = ["савдо*"]\n'
        '[topics.trade.ru]\ninclude = ["торгов*"]\n[topics.trade.en]\ninclude = ["trade*"]\n',
        encoding="utf-8",
    )
    config = tmp_path / "c.toml"
    config.write_text(f'[topics]\npath = "{topics}"\n[store]\npath = "{store}"\n', encoding="utf-8")
    assert main(["retag", "-q", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("retagged 32 language versions")
    assert topics_of(store, 5782, "uz") == {"trade"}
    assert main(["retag", "-q", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("retagged 0 language versions")
    assert main(["retag", "-q", "--all", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("retagged 32 language versions")
    assert topics_of(store, 5782, "uz") == {"trade"}
