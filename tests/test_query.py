"""presswatch search / export / feed, and the script-independent search index."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import types
from pathlib import Path

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_store import old_row

from crawler import export, feeds, searchindex
from crawler.cli import main
from crawler.config import SelectorsConfig, SourceConfig
from crawler.filters import Filters
from crawler.model import ParsedItem, StoredVersion
from crawler.search import QueryError, search
from crawler.searchindex import search_hook
from crawler.sources.presidentuz import PresidentUz
from crawler.store import Store, migrations

REPO = Path(__file__).resolve().parents[1]

# (id, published, {lang: (title, paragraphs)}): the three spellings of Kazakhstan in Uzbek
# (Cyrillic, Latin with ʻ U+02BB, Latin with an ASCII apostrophe) on purpose.
RELEASES = [
    (5782, "2026-03-10", {
        "uz": ("Ўзбекистон ва Қозоғистон Президентлари чегара масалаларини муҳокама қилди",
               ["Давлатимиз раҳбари Қозоғистон Президенти билан учрашди.",
                "Томонлар чегарада савдо ва сув ресурслари масалаларини кўриб чиқди."]),
        "oz": ("O‘zbekiston va Qozogʻiston Prezidentlari chegara masalalarini muhokama qildi",
               ["Davlatimiz rahbari Qozogʻiston Prezidenti bilan uchrashdi.",
                "Tomonlar chegarada savdo va suv resurslari masalalarini ko‘rib chiqdi."]),
        "ru": ("Президенты Узбекистана и Казахстана обсудили вопросы границы",
               ["Глава государства встретился с Президентом Казахстана.",
                "Стороны рассмотрели торговлю на границе и водные ресурсы."]),
        "en": ("Presidents of Uzbekistan and Kazakhstan discuss border issues",
               ["The head of state met the President of Kazakhstan.",
                "The sides considered trade at the border and Kazakhstan's water resources."]),
    }),
    (5790, "2026-03-20", {
        "oz": ("Qozog'iston bilan hamkorlik", ["Prezident Qozog'iston delegatsiyasini qabul qildi. "
                                               "Chegaralari mustahkamlanadi."]),
        "ru": ("Сотрудничество с Казахстаном", ["Президент принял делегацию Казахстана."]),
    }),
    (5800, "2026-04-01", {
        "uz": ("Сув хўжалиги ислоҳоти", ["Суғориш тизими янгиланади. Қозоғистон тажрибаси ўрганилади."]),
        "en": ("Water tariffs <b>cut</b> & irrigation reform", ["Irrigation systems will be renewed in 2026."]),
    }),
    (5810, "2026-04-15", {
        "oz": ("Suvenir ko'rgazmasi", ["Toshkentda hunarmandlar suvenir mahsulotlarini namoyish etdi."]),
        "en": ("Handicraft fair in Tashkent", ["Artisans showed souvenirs and irrigation tools; the border of "
                                               "the square was decorated."]),
    }),
]
TOPICS = {  # (id, lang) -> [(topic, matched text)]
    (5782, "uz"): [("kazakhstan", "Қозоғистон"), ("border", "чегара")],
    (5782, "oz"): [("kazakhstan", "Qozogʻiston"), ("border", "chegara")],
    (5782, "ru"): [("kazakhstan", "Казахстана"), ("border", "границы")],
    (5782, "en"): [("kazakhstan", "Kazakhstan"), ("border", "border")],
    (5790, "oz"): [("kazakhstan", "Qozog'iston")],
    (5790, "ru"): [("kazakhstan", "Казахстаном")],
    (5800, "uz"): [("water", "Сув"), ("kazakhstan", "Қозоғистон")],
    (5800, "en"): [("water", "Water")],
}
KAZAKHSTAN_UZBEK = {(5782, "uz"), (5782, "oz"), (5790, "oz"), (5800, "uz")}


def parsed(item_id: int, lang: str, title: str, paragraphs: list[str], published: str) -> ParsedItem:
    return ParsedItem(source="president.uz",
                      id=item_id, lang=lang, url=f"https://president.uz/{lang}/lists/view/{item_id}",
                      title=title, published=published, paragraphs=list(paragraphs))


def store_release(store: Store, item: ParsedItem, *, hook: bool = True) -> str:
    """As the pipeline does: save and run the hook in one transaction."""
    with store.atomic():
        outcome = store.save_item(item)
        if hook:
            search_hook(store, StoredVersion(item, outcome))
    return outcome


def build_store(path: Path, *, hook: bool = True) -> Path:
    with Store.open(path) as store:
        for item_id, published, versions in RELEASES:
            for lang, (title, paragraphs) in versions.items():
                store_release(store, parsed(item_id, lang, title, paragraphs, published), hook=hook)
        with store.atomic():
            store.db["matches"].insert_all(
                {"source": "president.uz", "id": item_id, "lang": lang, "topic": topic, "label": topic.title(), "term": text.lower() + "*",
                 "field": "body", "start": 0, "end": len(text), "text": text, "snippet": text,
                 "tagged_at": "2026-04-16T00:00:00+00:00"}
                for (item_id, lang), tags in TOPICS.items() for topic, text in tags
            )
    return path


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Store:
    store = Store.open(build_store(tmp_path_factory.mktemp("q") / "pw.db"))
    yield store
    store.close()


@pytest.fixture
def db_path(tmp_path) -> Path:
    return build_store(tmp_path / "pw.db")


@pytest.fixture(autouse=True)
def _default_config(monkeypatch):
    monkeypatch.delenv("PRESSWATCH_CONFIG", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


def keys(hits) -> set[tuple[int, str]]:
    return {(h.id, h.lang) for h in hits}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- the index and folding ------------------------------------------------------------------------
@pytest.mark.parametrize("spelling", ["Qozog'iston", "Qozogʻiston", "Qozog‘iston", "Қозоғистон", "QOZOGISTON"])
def test_uzbek_search_ignores_script_and_apostrophe(shared, spelling):
    assert keys(search(shared, spelling)) == KAZAKHSTAN_UZBEK


def test_prefix_finds_inflected_forms_in_both_scripts_and_russian(shared):
    assert keys(search(shared, "чегара*")) == {(5782, "uz"), (5782, "oz"), (5790, "oz")}
    # Without the star only the bare word: "Chegaralari" alone is not "chegara".
    assert (5790, "oz") not in keys(search(shared, "чегара"))
    assert keys(search(shared, "границ*")) == {(5782, "ru")}
    assert keys(search(shared, "Казахстан*", filters=Filters(lang="ru"))) == {(5782, "ru"), (5790, "ru")}


def test_uzbek_rules_do_not_rewrite_russian_or_english(shared):
    # Folded by Uzbek rules "Казахстан" would be "kazaxstan"; Russian text keeps its own key.
    assert keys(search(shared, "Казахстан*")) == {(5782, "ru"), (5790, "ru")}
    assert (5782, "en") in keys(search(shared, "kazakhstan"))  # "Kazakhstan's" holds the word too
    assert (5810, "oz") not in keys(search(shared, "suv"))  # suvenir is not suv


def test_snippets_mark_the_original_words(shared):
    hits = {(h.id, h.lang): h for h in search(shared, "Qozog'iston*")}
    assert "[Қозоғистон]" in hits[(5782, "uz")].snippet
    assert "[Qozogʻiston]" in hits[(5782, "oz")].snippet
    assert hits[(5782, "uz")].matched[0] == "Қозоғистон"
    assert "kazakhstan" in hits[(5782, "uz")].topics
    body_only = search(shared, "2026")[0]
    assert "[2026]" in body_only.snippet


def test_ranked_by_bm25_title_words_first(shared):
    hits = search(shared, "irrigation")
    assert [(h.id, h.lang) for h in hits] == [(5800, "en"), (5810, "en")]
    assert [h.score for h in hits] == sorted(h.score for h in hits)


def test_filters_lang_dates_topic_limit(shared):
    assert keys(search(shared, "Qozog'iston", filters=Filters(lang="oz"))) == {(5782, "oz"), (5790, "oz")}
    assert keys(search(shared, "Qozog'iston", filters=Filters(since="2026-03-15"))) == {(5790, "oz"), (5800, "uz")}
    assert keys(search(shared, "Qozog'iston", filters=Filters(until="2026-03-10"))) == {(5782, "uz"), (5782, "oz")}
    assert keys(search(shared, "Qozog'iston", filters=Filters(topic="water"))) == {(5800, "uz")}
    assert len(search(shared, "Qozog'iston", limit=2)) == 2


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40) | st.sampled_from(
    ['AND', 'OR NOT', '"', '"a', 'a"b', '(', ')', 'NEAR(a b', 'title:', ':x', '*', '**', 'x*y', '-x', '^',
     "'", "ʻ", '{title}', 'body: чегара', 'a + b', "''", '\x00', 'NEAR', '""""']))
def test_plain_queries_never_break(shared, text):
    try:
        search(shared, text)
    except QueryError as exc:
        assert "nothing to search for" in str(exc)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=30))
def test_raw_queries_fail_only_as_query_errors(shared, text):
    try:
        search(shared, text, raw=True)
    except QueryError as exc:
        assert "\n" not in str(exc)


def test_raw_passes_fts5_syntax_through_with_folded_words(shared):
    assert keys(search(shared, "suv* NOT suvenir*", raw=True)) == {(5782, "uz"), (5782, "oz"), (5800, "uz")}
    assert keys(search(shared, "title:Qozog'iston", raw=True)) == {(5782, "uz"), (5782, "oz"), (5790, "oz")}
    assert keys(search(shared, 'NEAR("Qozogʻiston" Президенти, 2)', raw=True, filters=Filters(lang="uz"))) \
        == {(5782, "uz")}
    assert keys(search(shared, "water OR souvenirs", raw=True)) == {(5782, "en"), (5800, "en"), (5810, "en")}
    with pytest.raises(QueryError, match="syntax error"):
        search(shared, "water AND", raw=True)


def test_index_follows_edits_and_deletes(db_path):
    with Store.open(db_path) as store:
        title, paragraphs = RELEASES[3][2]["oz"]
        assert store_release(store, parsed(5810, "oz", title, paragraphs, "2026-04-15")) == "unchanged"
        store_release(store, parsed(5810, "oz", "Hunarmandlar ko'rgazmasi", ["Namoyish Samarqandda bo'ldi."],
                                    "2026-04-15"))
        assert searchindex.stale_count(store.db) == 0  # the hook folded it inside the storing transaction
        assert (5810, "oz") not in keys(search(store, "suvenir"))
        assert keys(search(store, "Самарқанд*")) == {(5810, "oz")}
        with store.atomic():
            store.db.execute("delete from items where id = 5810 and lang = 'oz'")
        assert search(store, "Samarqand*") == []
        assert store.db.execute("select count(*) from search_text where id = 5810 and lang = 'oz'").fetchone()[0] == 0


def test_versions_stored_without_the_hook_are_caught_up_by_search(tmp_path):
    path = build_store(tmp_path / "nohook.db", hook=False)
    # A row written behind presswatch's back (the sqlite3 shell) is queued by the SQL triggers too.
    conn = sqlite3.connect(path)
    conn.execute("update items set title = 'Чегара ва сув' where id = 5810 and lang = 'oz'")
    conn.commit()
    conn.close()
    code = main(["search", "--store", str(path), "Qozog'iston", "--format", "json"])
    assert code == 0
    with Store.open(path) as store:
        assert searchindex.stale_count(store.db) == 0
        assert keys(search(store, "Qozogʻiston")) == KAZAKHSTAN_UZBEK
        assert (5810, "oz") in keys(search(store, "chegara"))


def test_an_older_store_is_indexed_after_the_migration(tmp_path):
    path = tmp_path / "old.db"
    old = Store.open(path, migrate=False)
    migrations.apply(old.db, stop_before="m003_search_index")
    title, paragraphs = RELEASES[0][2]["uz"]
    old_row(old, parsed(5782, "uz", title, paragraphs, "2026-03-10"))
    old.close()
    with Store.open(path) as store:
        assert "m003_search_index" in store.schema_version()
        assert searchindex.stale_count(store.db) == 1  # queued by the migration, folded on first use
        searchindex.catch_up(store)
        assert keys(search(store, "Qozog'iston")) == {(5782, "uz")}


def test_a_change_of_folding_rules_refolds_everything(db_path, monkeypatch, capsys):
    with Store.open(db_path) as store:
        assert not searchindex.needs_sync(store.db)
        monkeypatch.setattr(searchindex, "fold_version", lambda: "999.0")
        assert searchindex.needs_sync(store.db)
    assert run(capsys, "search", "--store", str(db_path), "Qozog'iston")[0] == 0
    with Store.open(db_path) as store:
        assert not searchindex.needs_sync(store.db)
        assert store.db.execute("select distinct fold_version from search_text").fetchall() == [("999.0",)]
        assert searchindex.sync(store.db) == 0


def test_reindex_rebuilds_the_index(db_path):
    with Store.open(db_path) as store:
        with store.atomic():
            store.db.execute("delete from search_text")
        assert search(store, "Qozog'iston") == []
        assert searchindex.reindex(store.db) == sum(len(v) for _, _, v in RELEASES)
        assert keys(search(store, "Qozog'iston")) == KAZAKHSTAN_UZBEK


# --- the search command ---------------------------------------------------------------------------
def test_search_command_table_and_formats(db_path, capsys):
    code, out, _ = run(capsys, "search", "--store", str(db_path), "Qozog'iston", "--lang", "uz")
    assert code == 0
    assert "5782/uz" in out and "[Қозоғистон]" in out and "2 results" in out

    code, out, _ = run(capsys, "search", "--store", str(db_path), "чегара*", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert {(r["id"], r["lang"]) for r in rows} == {(5782, "uz"), (5782, "oz"), (5790, "oz")}
    assert set(rows[0]) >= {"id", "lang", "url", "published", "title", "score", "snippet", "matched", "topics"}

    code, out, _ = run(capsys, "search", "--store", str(db_path), "tariffs", "--format", "jsonl")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [5800]

    code, out, _ = run(capsys, "search", "--store", str(db_path), "Qozog'iston", "--format", "csv",
                       "--since", "2026-03-15", "--until", "2026-03-31")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(int(r["id"]), r["lang"]) for r in rows] == [(5790, "oz")]
    assert json.loads(rows[0]["topics"]) == ["kazakhstan"]


def test_search_command_user_errors_are_one_line_exit_2(db_path, capsys):
    for argv in (["--raw", "water AND"], ["--raw", '"unterminated'], ["--raw", "nosuch:column"], ["!!!"],
                 ["x", "--since", "2026-05-01", "--until", "2026-01-01"]):
        code, out, err = run(capsys, "search", "--store", str(db_path), *argv)
        assert code == 2, argv
        assert err.startswith("presswatch: ") and err.count("\n") == 1 and "Traceback" not in err, err
    with pytest.raises(SystemExit) as exc:
        main(["search", "--store", str(db_path), "x", "--since", "March"])
    assert exc.value.code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_search_without_a_store_says_so(tmp_path, capsys):
    code, _, err = run(capsys, "search", "--store", str(tmp_path / "none.db"), "x")
    assert code == 1 and "no store at" in err


def test_unknown_topic_is_named(db_path, capsys):
    code, _, err = run(capsys, "search", "--store", str(db_path), "Qozog'iston", "--topic", "wheat")
    assert code == 0
    assert "'wheat'" in err and "border, kazakhstan, water" in err


@pytest.mark.slow
def test_search_through_python_dash_m(db_path):
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("PRESSWATCH_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "search", "--store", str(db_path), "Қозоғистон", "--format", "json"],
        capture_output=True, text=True, timeout=60, cwd=REPO, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert {(r["id"], r["lang"]) for r in json.loads(result.stdout)} == KAZAKHSTAN_UZBEK
    bad = subprocess.run([sys.executable, "-m", "crawler", "search", "--store", str(db_path), "--raw", "AND"],
                         capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1


# --- export ---------------------------------------------------------------------------------------
def test_export_jsonl_one_row_per_version(db_path, tmp_path, capsys):
    target = tmp_path / "all.jsonl"
    code, _, err = run(capsys, "export", "--store", str(db_path), "-o", str(target))
    assert code == 0 and "exported 10 language versions" in err
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == sum(len(v) for _, _, v in RELEASES)
    assert list(rows[0]) == list(export.EXPORT_COLUMNS)
    by_release: dict[int, set[str]] = {}
    for row in rows:
        by_release.setdefault(row["id"], set()).add(row["lang"])
    assert by_release[5782] == {"uz", "oz", "ru", "en"}
    first = next(r for r in rows if (r["id"], r["lang"]) == (5782, "uz"))
    assert first["topics"] == ["border", "kazakhstan"]
    assert first["body"].split("\n\n")[0] == "Давлатимиз раҳбари Қозоғистон Президенти билан учрашди."


def test_export_csv_filtered_to_stdout(db_path, capsys):
    code, out, _ = run(capsys, "export", "--store", str(db_path), "--format", "csv", "--topic", "kazakhstan",
                       "--lang", "ru", "-o", "-")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(int(r["id"]), r["lang"]) for r in rows] == [(5782, "ru"), (5790, "ru")]
    assert json.loads(rows[0]["topics"]) == ["border", "kazakhstan"]

    code, out, _ = run(capsys, "export", "--store", str(db_path), "--since", "2026-04-01", "--until", "2026-04-01")
    assert {(json.loads(line)["id"], json.loads(line)["lang"]) for line in out.splitlines()} == {
        (5800, "uz"), (5800, "en")}


def test_export_format_follows_the_file_name(db_path, tmp_path, capsys):
    target = tmp_path / "all.csv"
    assert run(capsys, "export", "--store", str(db_path), "-o", str(target))[0] == 0
    assert target.read_text(encoding="utf-8").startswith("source,id,lang,url,")


def test_export_refuses_to_overwrite_without_force(db_path, tmp_path, capsys):
    target = tmp_path / "keep.jsonl"
    target.write_text("precious\n")
    code, _, err = run(capsys, "export", "--store", str(db_path), "-o", str(target))
    assert code == 2 and "--force" in err and err.count("\n") == 1
    assert target.read_text() == "precious\n"
    assert run(capsys, "export", "--store", str(db_path), "-o", str(target), "--force")[0] == 0
    assert len(target.read_text(encoding="utf-8").splitlines()) == 10
    assert not list(tmp_path.glob(".*partial"))


def test_export_streams_from_the_cursor(shared):
    rows = export.export_rows(shared.db)
    assert isinstance(rows, types.GeneratorType)
    assert next(rows)["id"] == 5782


def test_export_shows_progress_on_a_terminal(db_path, tmp_path, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    fake = Terminal()
    monkeypatch.setattr(sys, "stderr", fake)
    assert main(["export", "--store", str(db_path), "-o", str(tmp_path / "p.jsonl")]) == 0
    assert "export [" in fake.getvalue() and "10/10" in fake.getvalue()


# --- feed -----------------------------------------------------------------------------------------
def test_feed_is_valid_atom_with_stable_ids(db_path, tmp_path, capsys):
    first, second = tmp_path / "a.xml", tmp_path / "b.xml"
    assert run(capsys, "feed", "--store", str(db_path), "-o", str(first))[0] == 0
    assert run(capsys, "feed", "--store", str(db_path), "-o", str(second))[0] == 0
    parsed_feed = feedparser.parse(first.read_bytes())
    assert not parsed_feed.bozo, parsed_feed.get("bozo_exception")
    ids = [e.id for e in parsed_feed.entries]
    assert ids == [e.id for e in feedparser.parse(second.read_bytes()).entries]
    assert len(ids) == len(set(ids)) == 10
    assert "tag:presswatch,2026:president.uz/5782/uz" in ids
    entries = {e.id: e for e in parsed_feed.entries}
    water = entries["tag:presswatch,2026:president.uz/5800/en"]
    assert water.title == "Water tariffs <b>cut</b> & irrigation reform"  # text, not markup
    assert water.link == "https://president.uz/en/lists/view/5800"
    assert water.updated_parsed is not None and water.published.startswith("2026-04-01")
    kazakh = entries["tag:presswatch,2026:president.uz/5782/uz"]
    assert "Қозоғистон" in kazakh.summary and "Kazakhstan" in kazakh.summary
    assert {t.term for t in kazakh.tags} == {"border", "kazakhstan"}
    # Newest releases first.
    assert ids[0].split("/")[-2] == "5810"


def test_feed_ids_survive_new_releases(db_path, capsys):
    before = feedparser.parse(run(capsys, "feed", "--store", str(db_path))[1]).entries
    with Store.open(db_path) as store:
        store_release(store, parsed(5820, "en", "A new release", ["Text."], "2026-05-01"))
    after = feedparser.parse(run(capsys, "feed", "--store", str(db_path))[1]).entries
    assert after[0].id == "tag:presswatch,2026:president.uz/5820/en"
    assert {e.id: e.title for e in before}.items() <= {e.id: e.title for e in after}.items()


def test_feed_filters_and_limit(db_path, capsys):
    code, out, _ = run(capsys, "feed", "--store", str(db_path), "--topic", "kazakhstan", "--lang", "ru", "--limit", "1")
    feed = feedparser.parse(out)
    assert code == 0 and not feed.bozo
    assert [e.id for e in feed.entries] == ["tag:presswatch,2026:president.uz/5790/ru"]
    assert feed.feed.id == "tag:presswatch,2026:feed/kazakhstan/ru"


def test_feed_escapes_markup_and_drops_characters_xml_cannot_hold():
    entry = {"source": "president.uz", "id": 1, "lang": "en", "url": "https://president.uz/en/lists/view/1?a=1&b=2",
             "title": "A <script>alert(1)</script> & \x0b\x01 \"quoted\" ]]>", "published": "2026-01-01",
             "body": "Body <i>text</i> &amp; more", "updated": "2026-01-02T00:00:00Z",
             "matches": [("water", "Water & <rivers>", "<b>suv</b>")]}
    document = feeds.build_feed([entry], PresidentUz(SourceConfig(), SelectorsConfig()))
    feed = feedparser.parse(document)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.entries[0].title == "A <script>alert(1)</script> &  \"quoted\" ]]>"
    assert feed.entries[0].link == "https://president.uz/en/lists/view/1?a=1&b=2"
    assert "<b>suv</b>" in feed.entries[0].summary


# --- documentation --------------------------------------------------------------------------------
def test_query_doc_describes_every_column_of_the_store(tmp_path):
    from crawler.web import SCHEMA

    doc = (REPO / "docs" / "QUERY.md").read_text(encoding="utf-8")
    with Store.open(tmp_path / "doc.db") as store:
        for table, (_, columns) in SCHEMA.items():
            actual = [c.name for c in store.db[table].columns]
            assert set(actual) - {"rowid"} <= set(columns), f"{table}: undocumented columns in crawler/web.py SCHEMA"
            section = doc.split(f"### `{table}`", 1)
            assert len(section) == 2, f"docs/QUERY.md has no section for {table}"
            for column in columns:
                assert f"`{column}`" in section[1].split("\n### ", 1)[0], f"{table}.{column} not in docs/QUERY.md"


def _ranked_keys(store: Store, text: str, filters: Filters, limit: int) -> list[tuple]:
    return [(h.source, h.id, h.lang, round(h.score, 9)) for h in search(store, text, filters=filters, limit=limit)]


@pytest.mark.parametrize("filters", [Filters(), Filters(lang="ru"), Filters(lang="oz"), Filters(topic="border"),
                                     Filters(since="2026-01-01")])
def test_ranking_among_the_best_candidates_gives_the_full_ranking(shared, monkeypatch, filters):
    """search() ranks first among the best few matches of the whole index, then falls back to every
    match when those hold too few kept rows: with a cut of 1 to 3 candidates, forcing both paths
    and ties at the cut, the hits are those of the full ranking."""
    from crawler import search as search_module

    for text in ("Qozog'iston", "чегара*", "границ*", "Kazakhstan", "suv*"):
        for limit in (1, 2, 5):
            monkeypatch.setattr(search_module, "MIN_CANDIDATES", 10**9)
            full = _ranked_keys(shared, text, filters, limit)
            for cut in (1, 2, 3):
                monkeypatch.setattr(search_module, "MIN_CANDIDATES", cut)
                monkeypatch.setattr(search_module, "CANDIDATES_PER_HIT", 0)
                assert _ranked_keys(shared, text, filters, limit) == full, (text, limit, cut)


def test_ranking_among_the_best_candidates_orders_ties_like_the_full_ranking(tmp_path, monkeypatch):
    """Equal scores at the cut: the candidates hold the tied versions the index met first, the full
    ranking puts the highest id first, so the cut must not be trusted there."""
    from crawler import search as search_module

    with Store.open(tmp_path / "s.db") as store:
        for item_id in range(1, 7):
            store_release(store, parsed(item_id, "ru", "Водные ресурсы", ["Граница и вода."], "2026-03-01"))
        store_release(store, parsed(9, "en", "Water", ["Water and water."], "2026-03-01"))
        monkeypatch.setattr(search_module, "CANDIDATES_PER_HIT", 0)
        for limit in (1, 2, 3):
            monkeypatch.setattr(search_module, "MIN_CANDIDATES", limit)
            assert [h.id for h in search(store, "вода", limit=limit)] == [6, 5, 4][:limit]
