"""Precision and recall of a topic set on a labeled corpus.

A corpus is JSON Lines, one case a line:

    {"text": "...", "lang": "uz" | "oz" | "ru" | "en" | "kk", "topics": ["water", ...], "note": "optional"}

`topics` lists every topic the text should fire (an empty list: it should fire none). A case
counts once per topic: fired and expected is a hit, fired and not expected a false alarm,
expected and not fired a miss. Blank lines and lines starting with "//" are skipped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from crawler.model import UsageError
from crawler.topics.fold import LANGUAGES
from crawler.topics.matcher import Match, TopicSet

CASE_KEYS = ("text", "lang", "topics", "note")


class EvalDataError(UsageError):
    """A bad corpus line; str() is the one line shown to the user."""

    def __init__(self, file: str, line: int | None, problem: str) -> None:
        self.file, self.line, self.problem = file, line, problem
        where = f"{file}: line {line}" if line is not None else file
        super().__init__(f"eval data error in {where}: {problem}")


@dataclass(frozen=True)
class Case:
    line: int
    text: str
    lang: str
    topics: frozenset[str]
    note: str = ""


@dataclass
class Score:
    """Counts for one topic (and possibly one language)."""

    hits: int = 0
    false_alarms: int = 0
    misses: int = 0

    @property
    def precision(self) -> float | None:
        """None when the topic never fired: precision is undefined, not perfect."""
        fired = self.hits + self.false_alarms
        return self.hits / fired if fired else None

    @property
    def recall(self) -> float | None:
        """None when no case expected the topic."""
        expected = self.hits + self.misses
        return self.hits / expected if expected else None

    def to_dict(self) -> dict[str, object]:
        return {
            "hits": self.hits,
            "false_alarms": self.false_alarms,
            "misses": self.misses,
            "precision": self.precision,
            "recall": self.recall,
        }


@dataclass(frozen=True)
class Error:
    """One miss or false alarm, with what fired (for a false alarm: the words to blame)."""

    kind: str  # "miss" or "false_alarm"
    topic: str
    case: Case
    matches: tuple[Match, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "topic": self.topic,
            "line": self.case.line,
            "lang": self.case.lang,
            "text": self.case.text,
            "expected": sorted(self.case.topics),
            "note": self.case.note,
            "matches": [m.to_dict() for m in self.matches],
        }


@dataclass
class Report:
    cases: int = 0
    cases_by_lang: dict[str, int] = field(default_factory=dict)
    by_topic: dict[str, Score] = field(default_factory=dict)
    by_topic_and_lang: dict[str, dict[str, Score]] = field(default_factory=dict)
    misses: list[Error] = field(default_factory=list)
    false_alarms: list[Error] = field(default_factory=list)

    @property
    def perfect(self) -> bool:
        return not self.misses and not self.false_alarms

    def to_dict(self) -> dict[str, object]:
        return {
            "cases": self.cases,
            "cases_by_lang": self.cases_by_lang,
            "perfect": self.perfect,
            "by_topic": {topic: score.to_dict() for topic, score in self.by_topic.items()},
            "by_topic_and_lang": {
                topic: {lang: score.to_dict() for lang, score in scores.items()}
                for topic, scores in self.by_topic_and_lang.items()
            },
            "misses": [e.to_dict() for e in self.misses],
            "false_alarms": [e.to_dict() for e in self.false_alarms],
        }


def parse_case(raw: str, line: int, file: str, known_topics: tuple[str, ...]) -> Case:
    """One corpus line as a Case, or EvalDataError naming the line and the problem."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise EvalDataError(file, line, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise EvalDataError(file, line, f"expected a JSON object, got {type(data).__name__}")
    for key in data:
        if key not in CASE_KEYS:
            raise EvalDataError(file, line, f"unknown key {key!r} (known: {', '.join(CASE_KEYS)})")
    text, lang, topics, note = data.get("text"), data.get("lang"), data.get("topics"), data.get("note", "")
    if not isinstance(text, str) or not text.strip():
        raise EvalDataError(file, line, '"text" must be a non-empty string')
    if lang not in LANGUAGES:
        raise EvalDataError(file, line, f'"lang" must be one of {", ".join(LANGUAGES)}, got {lang!r}')
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise EvalDataError(file, line, '"topics" must be a list of topic names (empty: none should fire)')
    for topic in topics:
        if topic not in known_topics:
            raise EvalDataError(file, line, f"unknown topic {topic!r} (topics: {', '.join(known_topics)})")
    if not isinstance(note, str):
        raise EvalDataError(file, line, '"note" must be a string')
    return Case(line=line, text=text, lang=lang, topics=frozenset(topics), note=note)


def load_cases(path: str | os.PathLike[str], topicset: TopicSet) -> list[Case]:
    """The cases of a JSON Lines corpus; topic names are checked against `topicset`."""
    file = str(path)
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EvalDataError(file, None, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(file, None, f"cannot read it: {exc}") from None
    cases = [
        parse_case(raw, number, file, topicset.names)
        for number, raw in enumerate(lines, start=1)
        if raw.strip() and not raw.lstrip().startswith("//")
    ]
    if not cases:
        raise EvalDataError(file, None, "no cases in the file")
    return cases


def _score_case(report: Report, topicset: TopicSet, case: Case) -> None:
    matches = topicset.match(case.text, case.lang)
    fired = {m.topic for m in matches}
    for topic in topicset.names:
        expected = topic in case.topics
        if not expected and topic not in fired:
            continue
        scores = (report.by_topic[topic], report.by_topic_and_lang[topic].setdefault(case.lang, Score()))
        if expected and topic in fired:
            for score in scores:
                score.hits += 1
        elif topic in fired:
            for score in scores:
                score.false_alarms += 1
            blamed = tuple(m for m in matches if m.topic == topic)
            report.false_alarms.append(Error("false_alarm", topic, case, blamed))
        else:
            for score in scores:
                score.misses += 1
            report.misses.append(Error("miss", topic, case))


def evaluate(topicset: TopicSet, cases: list[Case]) -> Report:
    """Precision and recall per topic and per topic and language; every miss and false alarm.

    Every topic of the file is scored, opt-in or not: a corpus labels what a text is about, and
    which topics a route receives is no part of that."""
    topicset = topicset.select(topicset.names)
    report = Report(cases=len(cases))
    for lang in LANGUAGES:
        count = sum(1 for case in cases if case.lang == lang)
        if count:
            report.cases_by_lang[lang] = count
    for topic in topicset.names:
        report.by_topic[topic] = Score()
        report.by_topic_and_lang[topic] = {}
    for case in cases:
        _score_case(report, topicset, case)
    for topic in topicset.names:
        report.by_topic_and_lang[topic] = dict(sorted(report.by_topic_and_lang[topic].items()))
    return report


def evaluate_file(topicset: TopicSet, path: str | os.PathLike[str]) -> Report:
    return evaluate(topicset, load_cases(path, topicset))
