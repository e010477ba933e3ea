"""Export: the store (or a filtered part) as JSON lines or CSV, streamed; files written atomically."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from sqlite_utils import Database

from crawler.filters import Filters
from crawler.model import PresswatchError, UsageError
from crawler.progress import Progress
from crawler.sources.base import language_order_sql

EXPORT_COLUMNS = (
    "source", "id", "lang", "url", "published", "title", "body", "images", "links", "topics",
    "version", "first_seen", "changed_at", "last_seen", "content_hash", "parse_path",
)
_LIST_COLUMNS = ("images", "links", "topics")


def export_rows(db: Database, filters: Filters = Filters(), language_order: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
    """One dict per language version, streamed from the cursor (never all rows in memory)."""
    where, params = filters.where("i")
    plain = [c for c in EXPORT_COLUMNS if c != "topics"]
    sql = (
        f"select {', '.join('i.' + c for c in plain)}, "
        "(select json_group_array(topic) from (select distinct topic from matches m "
        " where m.source = i.source and m.id = i.id and m.lang = i.lang order by topic)) as topics "
        f"from items i where {where} "
        f"order by i.source, i.id, {language_order_sql('i.lang', language_order)}, i.lang"
    )
    cursor = db.conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    for values in cursor:
        row = dict(zip(names, values))
        for column in _LIST_COLUMNS:
            row[column] = json.loads(row[column]) if row[column] else []
        yield {column: row[column] for column in EXPORT_COLUMNS}


def count_rows(db: Database, filters: Filters = Filters()) -> int:
    where, params = filters.where("i")
    return db.execute(f"select count(*) from items i where {where}", params).fetchone()[0]


def write_rows(rows: Iterable[dict[str, Any]], out: TextIO, fmt: str, columns: Iterable[str],
               progress: Progress | None = None) -> int:
    """jsonl: one JSON object a line; json: one array, streamed; csv: a header, list columns as
    JSON arrays. Returns the count."""
    columns = list(columns)
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(columns)
    elif fmt == "json":
        out.write("[")
    count = 0
    for row in rows:
        if writer is not None:
            writer.writerow([_csv_value(row.get(c)) for c in columns])
        elif fmt == "json":
            out.write(("," if count else "") + "\n" + json.dumps(row, ensure_ascii=False))
        else:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
        if progress is not None and count % 500 == 0:
            progress.advance(500)
    if fmt == "json":
        out.write("\n]\n" if count else "]\n")
    if progress is not None:
        progress.advance(count % 500)
        progress.close()
    return count


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value  # shown as text, as OWASP recommends; documented in docs/QUERY.md
    return value



@contextlib.contextmanager
def output(path: str | None, *, overwrite: bool, binary: bool = False) -> Iterator[Any]:
    """stdout for None or "-"; else a temporary file moved into place when complete, so an
    interrupted export never leaves half a file under the real name."""
    if path in (None, "-"):
        stream = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{target} is a directory: give a file name")
    if target.exists() and not overwrite:
        raise UsageError(f"{target} already exists: pass --force to overwrite it")
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {target}: no directory {target.parent}")
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with open(partial, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as fh:
            yield fh
        _move_into_place(partial, target, overwrite)
    except OSError as exc:
        raise PresswatchError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)


def _move_into_place(partial: Path, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(partial, target)
        return
    try:
        os.link(partial, target)  # fails if the name was taken meanwhile: never clobber
    except FileExistsError:
        raise UsageError(f"{target} already exists: pass --force to overwrite it") from None


