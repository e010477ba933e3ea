"""Benchmark of the query side: search latency, export throughput, feed generation.

    python bench/bench_query.py [--versions 50000] [--keep PATH] [--seed 1]

Builds a synthetic store of N language versions (N/4 releases in uz, oz, ru, en; press-release-like
sentences drawn from per-language vocabularies with inflected forms, names and numbers, ~200 words a
body), folds it into the search index, then measures:

- search: p50 / p95 of `crawler.search.search` (limit 20, snippets included) over a fixed set of
  queries in every script, each run several times;
- export: rows per second for jsonl and csv (written to a temporary file);
- feed: time to build a 50-entry and a 500-entry Atom feed.

It prints the data size and the machine. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler import export, feeds, search, searchindex  # noqa: E402
from crawler.config import Config  # noqa: E402
from crawler.sources import source_for  # noqa: E402
from crawler.store import Store  # noqa: E402

SOURCE = source_for(Config())

UZ_STEMS = """давлат раҳбар президент ҳамкорлик мамлакат халқ иқтисодиёт савдо инвестиция лойиҳа
вазир ҳукумат делегация музокара учрашув минтақа тараққиёт саноат қишлоқ хўжалик энергетика
транспорт йўл темир таълим соғлиқни сақлаш маданият туризм ислоҳот дастур қарор фармон ҳудуд вилоят
туман шаҳар аҳоли бандлик тадбиркор экспорт импорт маҳсулот корхона завод технология рақамли
илм фан ёшлар аёллар оила маҳалла хавфсизлик мудофаа қўшни дўстлик стратегик шериклик масала
ташаббус ҳужжат битим шартнома меморандум кенгаш йиғилиш мажлис мурожаат ташриф форум саммит""".split()
UZ_SUFFIXES = ["", "", "", "нинг", "га", "да", "дан", "лар", "ни", "лари", "ларнинг", "ларга", "идаги"]
UZ_GLUE = "ва билан учун бўйича ҳамда мазкур ушбу янги муҳим катта асосий ўзаро".split()
UZ_VERBS = "муҳокама қилинди таъкидланди белгиланди кўриб чиқилди эътибор қаратилди амалга оширилмоқда".split(" ")

OZ_STEMS = """davlat rahbar prezident hamkorlik mamlakat xalq iqtisodiyot savdo investitsiya loyiha
vazir hukumat delegatsiya muzokara uchrashuv mintaqa taraqqiyot sanoat qishloq xo‘jalik energetika
transport yo‘l temir ta’lim sog‘liqni saqlash madaniyat turizm islohot dastur qaror farmon hudud viloyat
tuman shahar aholi bandlik tadbirkor eksport import mahsulot korxona zavod texnologiya raqamli
ilm fan yoshlar ayollar oila mahalla xavfsizlik mudofaa qo‘shni do‘stlik strategik sheriklik masala
tashabbus hujjat bitim shartnoma memorandum kengash yig‘ilish majlis murojaat tashrif forum sammit""".split()
OZ_SUFFIXES = ["", "", "", "ning", "ga", "da", "dan", "lar", "ni", "lari", "larning", "larga", "idagi"]
OZ_GLUE = "va bilan uchun bo‘yicha hamda mazkur ushbu yangi muhim katta asosiy o‘zaro".split()

RU_STEMS = """государств президент сотрудничеств стран народ экономик торговл инвестиц проект министр
правительств делегац переговор встреч регион развити промышленност сельск хозяйств энергетик
транспорт дорог образовани здравоохранени культур туризм реформ программ решени указ территори
област район город населени занятост предпринимател экспорт импорт продукци предприяти завод
технологи цифров наук молодеж женщин семь махалл безопасност оборон сосед дружб стратегическ
партнерств вопрос инициатив документ соглашени договор меморандум совет заседани форум саммит""".split()
RU_ENDINGS = ["", "а", "у", "ом", "е", "ы", "ов", "ами", "ах", "ия", "ии", "ию"]
RU_GLUE = "и с для по также данный этот новый важный крупный основной взаимный в на о".split()

EN_WORDS = """state head president cooperation country people economy trade investment project minister
government delegation negotiations meeting region development industry agriculture energy transport
road railway education healthcare culture tourism reform programme decision decree territory region
district city population employment entrepreneurs export import products enterprise plant technology
digital science youth women family mahalla security defence neighbour friendship strategic partnership
issue initiative document agreement treaty memorandum council session forum summit""".split()
EN_GLUE = "and with for on also the this new important major main mutual in at of to".split()

# Words the queries look for, mixed in at known rates.
TOPIC_WORDS = {
    "uz": ["Қозоғистон", "Қозоғистонга", "Қозоғистоннинг", "чегара", "чегарада", "чегаралари", "сув", "суғориш", "дарё"],
    "oz": ["Qozogʻiston", "Qozog‘istonga", "Qozog'istonning", "chegara", "chegarada", "chegaralari", "suv", "sug‘orish", "daryo"],
    "ru": ["Казахстан", "Казахстаном", "Казахстана", "граница", "границы", "границе", "вода", "водных", "орошения"],
    "en": ["Kazakhstan", "Kazakhstan's", "Kazakh", "border", "borders", "cross-border", "water", "irrigation", "river"],
}
NAMES = ["Тошкент", "Самарқанд", "Бухоро", "Андижон", "Нукус", "Termiz", "Xiva", "Москва", "Astana", "Seoul",
         "Berlin", "Мирзиёев", "Tokayev", "Абдуллаев", "Karimova"]

QUERIES = [
    "Qozog'iston", "Қозоғистон", "Qozogʻiston*", "чегара*", "сув", "границ*", "Казахстан*", "water",
    "irrigation", '"strategic partnership"', "president", "инвестиц*", "2025", "Самарқанд", "Tokayev border",
    "savdo hamkorlik", "тадбиркорлар", "reform digital technology",
]


def word(rng: random.Random, lang: str) -> str:
    if lang == "uz":
        return rng.choice(UZ_STEMS) + rng.choice(UZ_SUFFIXES) if rng.random() < 0.75 else rng.choice(UZ_GLUE)
    if lang == "oz":
        return rng.choice(OZ_STEMS) + rng.choice(OZ_SUFFIXES) if rng.random() < 0.75 else rng.choice(OZ_GLUE)
    if lang == "ru":
        return rng.choice(RU_STEMS) + rng.choice(RU_ENDINGS) if rng.random() < 0.7 else rng.choice(RU_GLUE)
    return rng.choice(EN_WORDS) if rng.random() < 0.65 else rng.choice(EN_GLUE)


def sentence(rng: random.Random, lang: str) -> str:
    words = [word(rng, lang) for _ in range(rng.randint(8, 18))]
    if rng.random() < 0.25:
        words[rng.randrange(len(words))] = rng.choice(TOPIC_WORDS[lang])
    if rng.random() < 0.2:
        words[rng.randrange(len(words))] = rng.choice(NAMES)
    if rng.random() < 0.15:
        words.insert(rng.randrange(len(words)), str(rng.choice([rng.randint(1, 999), rng.randint(1991, 2026)])))
    if lang == "uz" and rng.random() < 0.5:
        words.append(rng.choice(UZ_VERBS))
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def version(rng: random.Random, lang: str) -> tuple[str, list[str]]:
    title = " ".join(word(rng, lang) for _ in range(rng.randint(6, 12)))
    if rng.random() < 0.1:
        title = rng.choice(TOPIC_WORDS[lang]) + " " + title
    paragraphs = [" ".join(sentence(rng, lang) for _ in range(rng.randint(2, 4))) for _ in range(rng.randint(3, 6))]
    return title[0].upper() + title[1:], paragraphs


def build(path: Path, versions: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    langs = ("uz", "oz", "ru", "en")
    started = time.perf_counter()
    rows, matches = [], []
    now = "2026-05-01T00:00:00+00:00"
    for index in range(versions):
        item_id, lang = 1000 + index // 4, langs[index % 4]
        title, paragraphs = version(rng, lang)
        published = f"{2019 + (item_id % 7)}-{1 + item_id % 12:02d}-{1 + item_id % 28:02d}"
        body = "\n\n".join(paragraphs)
        rows.append((item_id, lang, f"https://president.uz/{lang}/lists/view/{item_id}", title, published, body,
                     "[]", "[]", "[]", f"{item_id}-{lang}-{seed}", "selectors", 1, now, now, now))
        for topic, marker in (("kazakhstan", TOPIC_WORDS[lang][0]), ("border", TOPIC_WORDS[lang][3]),
                              ("water", TOPIC_WORDS[lang][6])):
            at = body.find(marker)
            if at != -1:
                matches.append((item_id, lang, topic, topic.title(), marker, "body", at, at + len(marker), marker,
                                marker, now))
    generated = time.perf_counter()
    with Store.open(path) as store:
        with store.atomic():
            store.db.conn.executemany(
                "insert into items (source, id, lang, url, title, published, body, paragraphs, images, links, content_hash, "
                "parse_path, version, first_seen, last_seen, changed_at) values "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [(SOURCE.name, *row) for row in rows])
            store.db.conn.executemany(
                'insert into matches (source, id, lang, topic, label, term, field, start, "end", text, snippet, tagged_at) '
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [(SOURCE.name, *match) for match in matches])
        inserted = time.perf_counter()
        indexed = searchindex.sync(store.db)
        assert indexed == versions, (indexed, versions)
        folded = time.perf_counter()
        store.db.execute("pragma wal_checkpoint(truncate)")
    words = sum(len(r[3].split()) + len(r[5].split()) for r in rows)
    return {
        "generate_s": generated - started, "insert_s": inserted - generated, "fold_index_s": folded - inserted,
        "words": words, "text_mb": sum(len(r[3].encode()) + len(r[5].encode()) for r in rows) / 1e6,
        "matches": len(matches),
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def bench_search(store: Store, repeats: int) -> tuple[list[float], dict[str, tuple[int, float]]]:
    timings, per_query = [], {}
    for text in QUERIES:
        search.search(store, text)  # warm the page cache once per query
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            hits = search.search(store, text, limit=20)
            runs.append(time.perf_counter() - started)
        timings += runs
        per_query[text] = (len(hits), statistics.median(runs))
    return timings, per_query


def bench_export(store: Store, fmt: str, directory: Path) -> tuple[int, float, int]:
    target = directory / f"export.{fmt}"
    started = time.perf_counter()
    with open(target, "w", encoding="utf-8", newline="") as out:
        count = export.write_rows(export.export_rows(store.db), out, fmt, export.EXPORT_COLUMNS)
    elapsed = time.perf_counter() - started
    size = target.stat().st_size
    target.unlink()
    return count, elapsed, size


def bench_feed(store: Store, limit: int) -> tuple[float, int]:
    started = time.perf_counter()
    document = feeds.build_feed(feeds.feed_entries(store.db, SOURCE, limit=limit), SOURCE)
    return time.perf_counter() - started, len(document)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=7, help="runs of each query")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", metavar="PATH", help="build the store at PATH and keep it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="presswatch-bench-") as tmp:
        directory = Path(tmp)
        path = Path(args.keep) if args.keep else directory / "bench.db"
        if path.exists():
            sys.exit(f"{path} exists: give a new path")
        total_started = time.perf_counter()
        print(f"machine: {os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} {platform.release()}, "
              f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
        print(f"building a store of {args.versions:,} language versions ...", flush=True)
        built = build(path, args.versions, args.seed)
        size = path.stat().st_size
        with Store.open(path) as store:
            counts = {name: store.db.execute(f"select count(*) from {name}").fetchone()[0]
                      for name in ("items", "search_text", "matches")}
            print(f"data: {counts['items']:,} versions ({counts['items'] // 4:,} releases), {built['words']:,} words, "
                  f"{built['text_mb']:.1f} MB of text, {counts['matches']:,} matches; store file {size / 1e6:.1f} MB")
            print(f"build: generate {built['generate_s']:.1f} s, insert (with items_fts) {built['insert_s']:.1f} s, "
                  f"fold + search index {built['fold_index_s']:.1f} s "
                  f"({args.versions / built['fold_index_s']:,.0f} versions/s)")

            timings, per_query = bench_search(store, args.repeats)
            print(f"\nsearch ({len(QUERIES)} queries x {args.repeats} runs, limit 20, snippets): "
                  f"p50 {percentile(timings, 0.5) * 1000:.1f} ms, p95 {percentile(timings, 0.95) * 1000:.1f} ms, "
                  f"max {max(timings) * 1000:.1f} ms")
            for text, (hits, median) in per_query.items():
                print(f"  {text!r:32} {hits:3d} hits  {median * 1000:7.1f} ms")

            print()
            for fmt in ("jsonl", "csv"):
                count, elapsed, nbytes = bench_export(store, fmt, directory)
                print(f"export {fmt:5}: {count:,} rows in {elapsed:.2f} s = {count / elapsed:,.0f} rows/s "
                      f"({nbytes / 1e6:.0f} MB)")
            for limit in (50, 500):
                elapsed, nbytes = bench_feed(store, limit)
                print(f"feed {limit:3} entries: {elapsed * 1000:.1f} ms ({nbytes / 1e3:.0f} kB)")
        print(f"\ntotal {time.perf_counter() - total_started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
