"""Text from the site, made safe to print to a terminal.

A page can hold terminal escape sequences (a window title, a hyperlink, a clear-screen, a cursor
move that hides a line); printed raw, the terminal would obey them. Text output for reading drops
them; --format json keeps the text as stored (JSON escapes every control character).
"""

from __future__ import annotations

import re

# Whole escape sequences first, so their parameters do not stay behind as text:
# OSC (title, hyperlink) and DCS/SOS/PM/APC strings up to their terminator (or the line's end),
# CSI (colours, cursor, clear), and the two-character ESC sequences.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b[\]PX^_][^\n]*?(?:\x07|\x1b\\|\x9c|(?=\n)|$)"
    r"|\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[ -/]*[0-~]?",
)
# Then every other control character: C0 but line feed and tab, DEL, and C1 (8-bit CSI, OSC, ...).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` without control characters and escape sequences; line feeds and tabs stay."""
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))
