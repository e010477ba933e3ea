"""Logging with the standard library: one line per event, readable text or JSON lines."""

from __future__ import annotations

import json
import logging
import re
import sys

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


class _TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
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
        for key in ("event", "run_id", "outcome", "condition"):
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
