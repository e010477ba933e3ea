"""Word-level differences between two texts of a release: one function for the web view and the CLI.

Paragraphs (blocks separated by a blank line) are aligned first, and only the paragraphs that
changed are compared word by word: difflib's cost grows with the product of the two lengths, so
comparing a 200 KB speech word by word as a whole would be slow, and an edit rarely touches more
than a few paragraphs.
"""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass

EQUAL, DELETE, INSERT = "equal", "delete", "insert"
# A changed block with more words than this on a side is shown as a whole (deleted, then inserted).
MAX_BLOCK_WORDS = 5_000

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


@dataclass(frozen=True)
class Piece:
    kind: str  # EQUAL, DELETE or INSERT
    text: str


def tokens(text: str) -> list[str]:
    """Words, runs of white space and single punctuation marks: joined again they give `text`."""
    return _TOKEN.findall(text)


def word_diff(old: str, new: str) -> list[Piece]:
    """The pieces that turn `old` into `new`; equal, deleted and inserted runs, in reading order."""
    old_blocks, new_blocks = _blocks(old), _blocks(new)
    pieces: list[Piece] = []
    matcher = difflib.SequenceMatcher(None, old_blocks, new_blocks, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        before, after = "".join(old_blocks[a1:a2]), "".join(new_blocks[b1:b2])
        if op == "equal":
            pieces.append(Piece(EQUAL, before))
        else:
            pieces += _words(before, after)
    return _merged(pieces)


def _blocks(text: str) -> list[str]:
    """Paragraphs, each with the blank line that ends it."""
    return [block for block in re.split(r"(?<=\n\n)", text) if block]


def _words(old: str, new: str) -> list[Piece]:
    old_tokens, new_tokens = tokens(old), tokens(new)
    if max(len(old_tokens), len(new_tokens)) > MAX_BLOCK_WORDS:
        return [Piece(DELETE, old), Piece(INSERT, new)]
    pieces = []
    matcher = difflib.SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            pieces.append(Piece(EQUAL, "".join(old_tokens[a1:a2])))
            continue
        if a2 > a1:
            pieces.append(Piece(DELETE, "".join(old_tokens[a1:a2])))
        if b2 > b1:
            pieces.append(Piece(INSERT, "".join(new_tokens[b1:b2])))
    return pieces


def _merged(pieces: list[Piece]) -> list[Piece]:
    merged: list[Piece] = []
    for piece in pieces:
        if not piece.text:
            continue
        if merged and merged[-1].kind == piece.kind:
            merged[-1] = Piece(piece.kind, merged[-1].text + piece.text)
        else:
            merged.append(piece)
    return merged


def changed(pieces: list[Piece]) -> bool:
    return any(piece.kind != EQUAL for piece in pieces)


# --- rendering ------------------------------------------------------------------------------------
PLAIN_MARKS = {DELETE: ("[-", "-]"), INSERT: ("{+", "+}")}
COLOUR_MARKS = {DELETE: ("\x1b[31;9m", "\x1b[0m"), INSERT: ("\x1b[32;4m", "\x1b[0m")}


def render_text(pieces: list[Piece], colour: bool = False) -> str:
    """[-deleted-]{+inserted+} (git's --word-diff=plain), or red and green on a terminal."""
    marks = COLOUR_MARKS if colour else PLAIN_MARKS
    out = []
    for piece in pieces:
        if piece.kind == EQUAL:
            out.append(piece.text)
        else:
            opening, closing = marks[piece.kind]
            out.append(opening + piece.text + closing)
    return "".join(out)


def render_html(pieces: list[Piece]) -> str:
    """Escaped text with <del> and <ins>; paragraphs become <p> elements."""
    out = []
    for piece in pieces:
        text = html.escape(piece.text)
        if piece.kind == EQUAL:
            out.append(text)
        else:
            tag = "del" if piece.kind == DELETE else "ins"
            # A paragraph break inside a change is kept outside the mark, so <p> splits stay balanced.
            out.append("\n\n".join(f"<{tag}>{part}</{tag}>" if part else "" for part in text.split("\n\n")))
    return "".join(f"<p>{paragraph}</p>" for paragraph in "".join(out).split("\n\n") if paragraph.strip())
