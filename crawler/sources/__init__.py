"""Site adapters. Each source is one module; presswatch ships president.uz."""

from crawler.sources.presidentuz import ListEntry, ListPage, ParsedItem, ParseError, PresidentUz

__all__ = ["ListEntry", "ListPage", "ParsedItem", "ParseError", "PresidentUz"]
