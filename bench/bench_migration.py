"""How long migration m007_source_identity (release identity keyed by source) takes on a big store.

A store with the schema before m007 (migrations applied up to m006) is filled with N language
versions (each with one topic match and its folded search text), then opened with today's code,
which rebuilds the release-keyed tables in place. Printed side by side: the time to copy the same
rows once (a plain `create table as select` of items, the floor of any rebuild) and the migration.

    .venv/bin/python bench/bench_migration.py --versions 40000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import machine

from crawler.store import Store, migrations

BODY = "Қозоғистон билан чегара ва сув ресурслари бўйича ҳамкорлик муҳокама қилинди. " * 20
LANGS = ("uz", "oz", "ru", "en")


def old_store(path: Path, versions: int) -> None:
    store = Store.open(path, migrate=False)
    migrations.apply(store.db, stop_before="m007_source_identity")
    now = "2026-01-01T00:00:00+00:00"
    with store.atomic():
        store.db["items"].insert_all((
            {"id": 1000 + i // 4, "lang": LANGS[i % 4], "url": f"https://example.org/{i}", "title": f"Title {i}",
             "published": "2026-01-01", "body": BODY, "paragraphs": json.dumps([BODY]), "images": "[]",
             "links": "[]", "content_hash": str(i), "parse_path": "selectors", "version": 1,
             "first_seen": now, "last_seen": now} for i in range(versions)), batch_size=1000)
        store.db["matches"].insert_all((
            {"id": 1000 + i // 4, "lang": LANGS[i % 4], "topic": "water", "term": "сув", "field": "body",
             "start": 0, "end": 3, "text": "сув", "snippet": "…", "tagged_at": now} for i in range(versions)),
            batch_size=1000)
        store.db.execute("insert into search_text (id, lang, title, body, content_hash, fold_version) "
                         "select id, lang, lower(title), lower(body), content_hash, '1.0' from items")
        store.db.execute("delete from search_stale")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=40000)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "store.db"
        old_store(path, args.versions)
        size = path.stat().st_size
        store = Store.open(path, migrate=False)
        started = time.perf_counter()
        with store.atomic():
            store.db.execute("create table copy_floor as select * from items")
            store.db.execute("drop table copy_floor")
        floor = time.perf_counter() - started
        store.close()
        started = time.perf_counter()
        with Store.open(path) as store:
            migrated = time.perf_counter() - started
            assert store.schema_version()[-1] == "m007_source_identity"
            assert store.db.execute("select count(*) from items where source != ''").fetchone()[0] == args.versions
    print(f"{args.versions} language versions, store of {size / 1e6:.0f} MB")
    print(f"copy of items once: {floor:.2f} s; migration m007: {migrated:.2f} s "
          f"({migrated / floor:.1f}x the copy; {args.versions / migrated:,.0f} versions/s)")


if __name__ == "__main__":
    main()
