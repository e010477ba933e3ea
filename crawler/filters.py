"""Filters shared by search, export, feeds and the web view: source, topic, language, date range."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database


@dataclass(frozen=True)
class Filters:
    topic: str | None = None
    lang: str | None = None
    since: str | None = None  # YYYY-MM-DD, compared to items.published
    until: str | None = None
    source: str | None = None  # a source's name (items.source)

    def where(self, alias: str = "i") -> tuple[str, list[Any]]:
        clauses, params = ["1"], []
        if self.source:
            clauses.append(f"{alias}.source = ?")
            params.append(self.source)
        if self.lang:
            clauses.append(f"{alias}.lang = ?")
            params.append(self.lang)
        if self.since:
            clauses.append(f"{alias}.published >= ?")
            params.append(self.since)
        if self.until:
            clauses.append(f"{alias}.published <= ?")
            params.append(self.until)
        if self.topic:
            clauses.append(f"exists (select 1 from matches m where m.source = {alias}.source and m.id = {alias}.id "
                           f"and m.lang = {alias}.lang "
                           "and m.topic = ?)")
            params.append(self.topic)
        return " and ".join(clauses), params


def known_topics(db: Database) -> list[str]:
    return [row[0] for row in db.execute("select distinct topic from matches order by topic")]


def topics_of(db: Database, source: str, item_id: int, lang: str) -> list[str]:
    return [row[0] for row in db.execute(
        "select distinct topic from matches where source = ? and id = ? and lang = ? order by topic",
        [source, item_id, lang])]


