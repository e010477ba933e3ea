"""Markup helpers the source adapters share: CSS selection that never raises."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser, LexborNode


def css(tree: LexborHTMLParser | LexborNode, selector: str) -> list[LexborNode]:
    """The nodes `selector` finds; none for an empty selector or one selectolax cannot parse (a
    user's config is not a reason to crash a crawl)."""
    if not selector.strip():
        return []
    try:
        return list(tree.css(selector))
    except Exception:  # selectolax raises its own error type for a selector it cannot parse
        return []


def css_first(node: LexborNode, selector: str) -> LexborNode | None:
    found = css(node, selector)
    return found[0] if found else None
