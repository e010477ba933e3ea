"""What one request to `presswatch serve` may cost and see: SQLite limits, denied functions, a result
budget, requests from other sites, and pages that would show server paths.

Datasette's time limit is a progress handler, run between SQLite instructions: one instruction that
builds a huge value (`zeroblob(1000000000)`) or a Python function folding a huge string runs to its
end whatever the limit. So the size of every value is capped here, which caps the work of any one
instruction, and the time limit caps the number of instructions. docs/QUERY.md ("Limits of the web
view") states the bounds and how they were measured.
"""

from __future__ import annotations

import ipaddress
import sqlite3
import sys
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

# SQLITE_LIMIT_LENGTH: the largest string or blob any expression may produce or read. Release
# texts are far smaller (the longest speeches are about 200 KB).
MAX_VALUE_BYTES = 1024 * 1024
MAX_SQL_BYTES = 100_000  # SQLITE_LIMIT_SQL_LENGTH: a statement typed in the SQL box
MAX_COLUMNS = 32  # SQLITE_LIMIT_COLUMN: the widest table is items (16 columns)
# Sum of the values of one result, as Python objects: a result holds at most this plus one row
# (MAX_COLUMNS × MAX_VALUE_BYTES = 32 MiB) before it is refused.
MAX_RESULT_BYTES = 16 * 1024 * 1024
# Process-wide cap on SQLite's own memory (sorting, grouping, page caches) in `serve`.
SQLITE_HEAP_BYTES = 256 * 1024 * 1024
# Datasette checks its time limit every 1,000 SQLite instructions, and a row can call a function
# about 30 times in 40 instructions: so each call must be short (measured: folding 2,000 characters
# 0.4 ms; compiling a 2,000-character search 5 ms, so 500 about 1.3 ms), longer than any headline or search term.
MAX_FOLD_CHARS = 2_000  # presswatch_fold
MAX_QUERY_CHARS = 500  # presswatch_query

# fts3_tokenizer() returns a native address and accepts one (a made-up address is a jump target);
# load_extension, readfile, writefile, edit read, write or run files on the server; fts5(?) hands
# out a pointer. printf('%.*c', 2000000000, 'x') runs 20 s in one instruction (SQLite 3.40), past
# any value limit; format is its other name.
DENIED_FUNCTIONS = frozenset({"fts3_tokenizer", "load_extension", "readfile", "writefile", "edit", "fts5",
                              "printf", "format"})
# Columns that hold server paths: read as NULL.
PATH_COLUMNS = frozenset({("pragma_database_list", "file")})


class ResultTooLarge(sqlite3.DataError):
    """A query's rows add up to more than MAX_RESULT_BYTES."""


class InputTooLong(ValueError):
    """A folding function was given more characters than its limit."""


def check_input(text: str | None, limit: int) -> None:
    if text is not None and len(text) > limit:
        raise InputTooLong(f"input of {len(text):,} characters: the limit is {limit:,}")


def authorize(action: int, arg1: str | None, arg2: str | None, database: str | None, source: str | None) -> int:
    """sqlite3 authorizer: no dangerous function, no server path."""
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_READ and ((arg1 or "").lower(), (arg2 or "").lower()) in PATH_COLUMNS:
        return sqlite3.SQLITE_IGNORE
    return sqlite3.SQLITE_OK


class ResultBudget:
    """A row factory (sqlite3.Row rows) that refuses a cursor's rows once they add up to `limit` bytes."""

    def __init__(self, limit: int = MAX_RESULT_BYTES) -> None:
        self.limit = limit
        self._spent: weakref.WeakKeyDictionary[sqlite3.Cursor, int] = weakref.WeakKeyDictionary()

    def __call__(self, cursor: sqlite3.Cursor, values: tuple) -> sqlite3.Row:
        spent = self._spent.get(cursor, 0) + sum(map(sys.getsizeof, values))
        if spent > self.limit:
            raise ResultTooLarge(f"result too large: over {self.limit // 2**20} MiB; select fewer rows or columns")
        self._spent[cursor] = spent
        return sqlite3.Row(cursor, values)


def limit_connection(conn: sqlite3.Connection) -> None:
    """Bound every value, statement and result of `conn`, and deny dangerous functions."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, MAX_COLUMNS)
    conn.set_authorizer(authorize)
    conn.row_factory = ResultBudget()
    for name, arity, function in LINEAR_BUILTINS:
        conn.create_function(name, arity, function, deterministic=True)


# SQLite's instr(), replace() and two-argument trims compare every position of one string with
# every position of the other, inside one instruction: instr() of 1 MiB and 512 KiB ran 15 s,
# ltrim() of two 20,000-character strings 2 s. These stand-ins (same results for text and blobs)
# are linear: Python's str.find is a two-way search and the trims look characters up in a set.
# Measured after: 5 ms, 74 ms.
Value = str | bytes | int | float | None


def _operands(*values: Value) -> tuple[str | bytes, ...] | None:
    if any(value is None for value in values):
        return None
    if all(isinstance(value, bytes) for value in values):
        return values  # type: ignore[return-value]
    return tuple(value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value) for value in values)


def instr(haystack: Value, needle: Value) -> int | None:
    operands = _operands(haystack, needle)
    return None if operands is None else operands[0].find(operands[1]) + 1  # type: ignore[arg-type]


def replace(text: Value, old: Value, new: Value) -> str | None:
    operands = _operands(text, old, new)
    if operands is None:
        return None
    text, old, new = (value.decode("utf-8", "replace") if isinstance(value, bytes) else value for value in operands)
    if not old:
        return text
    size = len(text.encode()) + text.count(old) * (len(new.encode()) - len(old.encode()))
    if size > MAX_VALUE_BYTES:
        raise ValueError("string or blob too big")
    return text.replace(old, new)


def _trimmer(left: bool, right: bool) -> Callable[[Value, Value], str | None]:
    def trim(text: Value, characters: Value) -> str | None:
        operands = _operands(text, characters)
        if operands is None:
            return None
        text, characters = operands
        strip, start, end = set(characters), 0, len(text)
        while left and start < end and text[start] in strip:
            start += 1
        while right and end > start and text[end - 1] in strip:
            end -= 1
        kept = text[start:end]
        return kept.decode("utf-8", "replace") if isinstance(kept, bytes) else kept  # SQLite answers text

    return trim


LINEAR_BUILTINS = (("instr", 2, instr), ("replace", 3, replace), ("ltrim", 2, _trimmer(True, False)),
                   ("rtrim", 2, _trimmer(False, True)), ("trim", 2, _trimmer(True, True)))


def limit_sqlite_heap() -> None:
    """Cap SQLite's memory in this process (a `serve` process: the cap is process-wide)."""
    with sqlite3.connect(":memory:") as conn:
        conn.execute(f"pragma hard_heap_limit = {SQLITE_HEAP_BYTES}")


# Datasette pages that show server paths: the store's file, or source files in tracebacks.
PATH_PAGES = ("/-/databases", "/-/threads")

ASGIApp = Callable[[dict, Callable, Callable], Awaitable[None]]


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(path: str, headers: Iterable[tuple[bytes, bytes]], loopback_only: bool) -> str | None:
    """Why a request is refused, or None. A page on another site, in a browser on this machine,
    may only navigate here (it cannot read the answer); a DNS name that resolves to 127.0.0.1
    (rebinding) is not this server's name when it listens on loopback only."""
    if path.rstrip("/").removesuffix(".json") in PATH_PAGES:
        return "this page shows server paths"
    fields = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in headers}
    navigation = fields.get("sec-fetch-mode") == "navigate" and fields.get("sec-fetch-dest") == "document"
    if fields.get("sec-fetch-site") in ("cross-site", "same-site") and not navigation:
        return "requests from other sites are refused"
    if loopback_only and not is_loopback(_host_name(fields.get("host", "localhost"))):
        return "this server answers to loopback names only (localhost, 127.0.0.1, [::1])"
    return None


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0]


def guard(app: ASGIApp, loopback_only: bool) -> ASGIApp:
    """`app` behind `refusal`: refused requests get 403 and one line of text."""

    async def guarded(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        reason = None
        if scope["type"] == "http":
            reason = refusal(scope.get("path", ""), scope.get("headers", []), loopback_only)
        if reason is None:
            await app(scope, receive, send)
            return
        body = f"403 Forbidden: {reason}\n".encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return guarded
