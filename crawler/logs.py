"""Logging with the standard library: one line per event, readable text or JSON lines."""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

# Values that look like credentials are masked in every log line, whatever logged them.
_SECRET_PATTERNS = [
    re.compile(r"(?i)(token|password|passwd|secret|apikey|api_key|authorization)([=:]\s*)([^\s&,;]+)"),
    re.compile(r"(?i)(://[^/\s:@]+:)([^@/\s]+)(@)"),
    re.compile(r"(?i)(/bot)(\d+:[A-Za-z0-9_-]{20,})"),
]
_registered_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """A value (from the environment, say) that must never appear in a log line."""
    if value and len(value) >= 4:
        _registered_secrets.add(value)


def redact(text: str) -> str:
    for secret in _registered_secrets:
        text = text.replace(secret, "***")
    text = _SECRET_PATTERNS[0].sub(lambda m: m.group(1) + m.group(2) + "***", text)
    text = _SECRET_PATTERNS[1].sub(lambda m: m.group(1) + "***" + m.group(3), text)
    return _SECRET_PATTERNS[2].sub(lambda m: m.group(1) + "***", text)


# Numbers a record may carry (the end of a run: its counts), copied into the JSON line as numbers.
RUN_COUNTS = ("new", "changed", "unchanged", "pending_translations", "errors", "pages_fetched", "requests")
_JSON_FIELDS = ("event", "run_id", "kind", "outcome", "condition", *RUN_COUNTS, "seconds", "reason", "exit_code")


class _TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "plain", False):  # a message to the user (say()): no time, no level
            return redact(record.getMessage()).replace("\n", " | ")
        record.exc_text = None
        saved = record.exc_info
        record.exc_info = None  # one line per event: no tracebacks in the log
        try:
            return redact(super().format(record)).replace("\n", " | ")
        finally:
            record.exc_info = saved


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key in _JSON_FIELDS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(fmt: str = "text", level: int = logging.INFO, stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    root = logging.getLogger("presswatch")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def run_fields(summary: Any) -> dict[str, Any]:
    """The fields of an end-of-run record: run id, kind, outcome and the counts, as numbers."""
    fields = {"run_id": summary.run_id, "kind": summary.kind, "outcome": str(summary.outcome)}
    for name in RUN_COUNTS:
        attribute = "pending" if name == "pending_translations" else name
        fields[name] = int(getattr(summary, attribute, 0) or 0)
    return fields


def json_logging() -> bool:
    """Whether presswatch's log is written as JSON lines (setup_logging(fmt="json"))."""
    return any(isinstance(h.formatter, _JsonFormatter) for h in logging.getLogger("presswatch").handlers)


def say(message: str, *, level: int = logging.INFO, event: str = "message", **fields: Any) -> None:
    """A line for the user on the log's stream, whatever the log level: as written in text mode,
    one JSON object (with `event` and `fields`) with --log-format json, so that every line on
    stderr has the same form."""
    logger = logging.getLogger("presswatch.cli")
    record = logger.makeRecord(logger.name, level, "(say)", 0, "%s", (message,), None,
                               extra={"plain": True, "event": event, **fields})
    logging.getLogger("presswatch").handle(record)
