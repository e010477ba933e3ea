"""Matching topics on the tokens of the original text.

Per term list (uz, ru, en) the patterns are indexed by their first word: a dict of exact keys and
a dict of prefixes. A token looks up its key, then `key[:n]` for the prefix lengths n present,
longest first — O(token length) whatever the number of patterns. A guard keyed by the first few
letters skips the prefix loop for most tokens, and the result is memoized per word as written (a
release repeats its words, and so do releases): a word seen before costs one dict lookup and is
not folded again. A multi-word pattern is checked from its first word onwards, and only the
tokens of matches get their offsets computed.

Conflicts: within a topic, an include occurrence loses to any exclude occurrence sharing a token
with it whose pattern is at least as specific (more literal characters; a tie goes to the exclude).
Of the surviving includes of a topic, the most specific covering a token is the one reported.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from bisect import bisect_left, bisect_right
from itertools import chain, compress, repeat
from operator import is_, itemgetter, methodcaller, or_
from typing import TYPE_CHECKING, Iterable, NamedTuple, Sequence

from crawler.topics.fold import (
    FOLD_CACHE_LIMIT,
    FOLD_VERSION,
    JOINERS,
    LEXICONS,
    Words,
    keys_of,
    lexicon_of,
    split_words,
)

if TYPE_CHECKING:
    from crawler.topics.patterns import Pattern, Topic

FIELDS = ("title", "body")
# The words of a multi-word pattern may be separated by white space and hyphens or dashes, never by
# other punctuation ("Kazakh. Side" is not "Kazakh side") nor by a paragraph break.
_GAP = re.compile(rf"[^\S\n]*\n?[^\S\n]*(?:[{re.escape(JOINERS)}][^\S\n]*\n?[^\S\n]*)?")

SNIPPET_SIDE = 60  # characters each side of a match when its sentence is too long to show whole
SNIPPET_SENTENCE_MAX = 240
_SPAN = methodcaller("span")
# A sentence ends at . ! ? … (and closing quotes) before white space, or at a blank line. Both
# branches start with one character class so the regex engine can skip to candidates.
_SENTENCE_END = re.compile(r"[.!?…\n](?:(?<=[.!?…])[.!?…]*[\"'»”)\]]*(?=\s)|(?<=\n)[^\S\n]*\n)")


class Match(NamedTuple):
    """One reason a topic fired: `text == field_text[start:end]`.

    A named tuple rather than a dataclass: a release makes dozens, and a frozen dataclass costs
    three times as much to build."""

    topic: str
    label: str
    term: str  # the pattern as written in the topic file
    field: str  # "title" or "body"
    start: int
    end: int
    text: str
    snippet: str

    def to_dict(self) -> dict[str, object]:
        return self._asdict()


@dataclass(frozen=True)
class Conflict:
    """An include and an exclude of one topic that matched overlapping words, and who won."""

    topic: str
    winner: str  # "exclude" or "include"
    include_term: str
    include_text: str
    include_specificity: int
    exclude_term: str
    exclude_text: str
    exclude_specificity: int
    field: str
    start: int  # of the include's words
    end: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class TopicExplanation:
    topic: str
    label: str
    fired: bool
    matches: tuple[Match, ...]
    conflicts: tuple[Conflict, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "label": self.label,
            "fired": self.fired,
            "matches": [m.to_dict() for m in self.matches],
            "conflicts": [c.to_dict() for c in self.conflicts],
        }


@dataclass(frozen=True)
class Explanation:
    lang: str
    lexicon: str  # the term list used: "uz" serves both uz and oz
    field: str
    topics: tuple[TopicExplanation, ...]

    @property
    def fired(self) -> list[str]:
        return [t.topic for t in self.topics if t.fired]

    def to_dict(self) -> dict[str, object]:
        return {
            "lang": self.lang,
            "lexicon": self.lexicon,
            "field": self.field,
            "fired": self.fired,
            "topics": [t.to_dict() for t in self.topics],
        }


@dataclass(frozen=True)
class _Entry:
    """A pattern as the index stores it."""

    topic: int
    pattern: Pattern
    rest: tuple[tuple[str, bool], ...]  # the words after the first
    specificity: int
    exclude: bool


class _Index:
    """The patterns of one term list, by their first word."""

    def __init__(self, entries: Iterable[_Entry]) -> None:
        self.exact: dict[str, list[_Entry]] = {}
        self.prefix: dict[str, list[_Entry]] = {}
        for entry in entries:
            key, is_prefix = entry.pattern.words[0]
            (self.prefix if is_prefix else self.exact).setdefault(key, []).append(entry)
        # The guard: the shortest prefix length, and for each head of that length the prefix
        # lengths (longest first) worth looking up for a token starting with it.
        self.guard_length = min((len(p) for p in self.prefix), default=1)
        lengths_by_head: dict[str, set[int]] = {}
        for p in self.prefix:
            lengths_by_head.setdefault(p[: self.guard_length], set()).add(len(p))
        self.guard = {head: sorted(lengths, reverse=True) for head, lengths in lengths_by_head.items()}
        self.memo: dict[str, tuple[_Entry, ...]] = {}

    def _entries_of_key(self, key: str) -> tuple[_Entry, ...]:
        entries = list(self.exact.get(key, ()))
        for n in self.guard.get(key[: self.guard_length], ()):
            if n <= len(key):
                entries.extend(self.prefix.get(key[:n], ()))
        return tuple(entries)

    def _learn(self, words: list[str], lexicon: str) -> None:
        """Memoize the entries of words not seen before; most have none, found at C speed."""
        words = list(dict.fromkeys(words))
        keys = keys_of(words, lexicon)
        head = itemgetter(slice(0, self.guard_length))
        candidates = map(or_, map(self.exact.__contains__, keys), map(self.guard.__contains__, map(head, keys)))
        learned = dict.fromkeys(words, ())
        for word, key in compress(zip(words, keys), candidates):
            learned[word] = self._entries_of_key(key)
        self.memo.update(learned)

    def first_word_hits(self, words: Words) -> list[tuple[int, tuple[_Entry, ...]]]:
        """(token number, entries whose first word matches it) for every token with any."""
        # Memoized per word as written: a release repeats its words, and so do releases; a word
        # seen before costs one dict lookup, with no folding.
        if len(self.memo) > FOLD_CACHE_LIMIT:
            self.memo.clear()
        written = words.words
        found = list(map(self.memo.get, written))
        if None in found:
            self._learn(list(compress(written, map(is_, found, repeat(None)))), words.lexicon)
            found = list(map(self.memo.__getitem__, written))
        return list(compress(enumerate(found), found))


class _Sentences:
    """Sentence boundaries of one text, found in one pass, for every snippet cut from it."""

    def __init__(self, text: str) -> None:
        self.text = text
        spans = list(map(_SPAN, _SENTENCE_END.finditer(text)))
        self.boundaries = [start for start, _ in spans]  # where each boundary begins
        self.starts = [0] + [end for _, end in spans]  # where each sentence begins
        self._whole: dict[tuple[int, int], str] = {}  # a sentence often holds several matches

    def _end_before(self, boundary: int) -> int:
        """Where the sentence before boundary number `boundary` ends, its punctuation kept."""
        if boundary == len(self.boundaries):
            return len(self.text)
        position = self.boundaries[boundary]
        return position if self.text[position] == "\n" else self.starts[boundary + 1]

    def snippet(self, start: int, end: int) -> str:
        """The sentence holding text[start:end], or about SNIPPET_SIDE characters each side of it."""
        text = self.text
        first = self.starts[bisect_right(self.starts, start) - 1]
        last = self._end_before(bisect_left(self.boundaries, end))
        if last - first <= SNIPPET_SENTENCE_MAX:
            sentence = self._whole.get((first, last))
            if sentence is None:
                sentence = self._whole[first, last] = " ".join(text[first:last].split())
            return sentence
        low, high = max(first, start - SNIPPET_SIDE), min(last, end + SNIPPET_SIDE)
        # Cut at word boundaries: drop a partial word at either edge.
        if low > first and not text[low - 1].isspace():
            space = text.find(" ", low, start)
            low = space + 1 if space != -1 else low
        if high < last and not text[high].isspace():
            space = text.rfind(" ", end, high)
            high = space if space != -1 else high
        body = " ".join(text[low:high].split())
        return ("…" if low > first else "") + body + ("…" if high < last else "")


_Occurrence = tuple[_Entry, int, int]  # a pattern matched on tokens first..last


def _resolve(
    includes: list[_Occurrence], excludes: list[_Occurrence]
) -> tuple[list[_Occurrence], list[tuple[str, _Occurrence, _Occurrence]]]:
    """The includes of one topic that survive its excludes, and every (winner, include, exclude)."""
    survivors: list[_Occurrence] = []
    conflicts: list[tuple[str, _Occurrence, _Occurrence]] = []
    for include in includes:
        entry, first, last = include
        overlapping = [e for e in excludes if e[1] <= last and e[2] >= first]
        # A tie goes to the exclude.
        winners = [e for e in overlapping if e[0].specificity >= entry.specificity]
        if winners:
            conflicts.append(("exclude", include, max(winners, key=lambda e: e[0].specificity)))
        else:
            survivors.append(include)
            conflicts.extend(("include", include, exclude) for exclude in overlapping)
    return survivors, conflicts


def _most_specific(survivors: list[_Occurrence]) -> list[_Occurrence]:
    """One include per stretch of tokens: the most specific, then the earliest."""
    # Found in token order: when no two share a token, all are reported.
    if all(earlier[2] < later[1] for earlier, later in zip(survivors, survivors[1:])):
        return survivors
    covered: set[int] = set()
    reported = []
    for occurrence in sorted(survivors, key=lambda o: (-o[0].specificity, o[1])):
        tokens = range(occurrence[1], occurrence[2] + 1)
        if covered.isdisjoint(tokens):
            covered.update(tokens)
            reported.append(occurrence)
    return reported


def _conflict(
    topic: str, field: str, text: str, words: Words, winner: str, include: _Occurrence, exclude: _Occurrence
) -> Conflict:
    start, end = words.span(include[1], include[2])
    exclude_start, exclude_end = words.span(exclude[1], exclude[2])
    return Conflict(
        topic=topic,
        winner=winner,
        include_term=include[0].pattern.term,
        include_text=text[start:end],
        include_specificity=include[0].specificity,
        exclude_term=exclude[0].pattern.term,
        exclude_text=text[exclude_start:exclude_end],
        exclude_specificity=exclude[0].specificity,
        field=field,
        start=start,
        end=end,
    )


class TopicSet:
    """Loaded topics, ready to match. Build it with crawler.topics.load_topics()."""

    def __init__(self, topics: Sequence[Topic], source: str) -> None:
        self.topics: tuple[Topic, ...] = tuple(topics)
        self.source = source
        self._indexes = {lexicon: _Index(self._entries(lexicon)) for lexicon in LEXICONS}
        self.fingerprint = self._fingerprint()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.topics)

    def clear_memos(self) -> None:
        """Forget the per-word lookups (benchmarks measure a cold start with it)."""
        for index in self._indexes.values():
            index.memo.clear()

    def _entries(self, lexicon: str) -> Iterable[_Entry]:
        for number, topic in enumerate(self.topics):
            terms = topic.languages.get(lexicon)
            if terms is None:
                continue
            for pattern in terms.include + terms.exclude:
                if pattern.folds_to_nothing:  # lint reports it; an empty prefix would match everything
                    continue
                yield _Entry(number, pattern, pattern.words[1:], pattern.specificity, pattern.exclude)

    def _fingerprint(self) -> str:
        """A stable hash of what decides matches: folding, topics, labels and terms as written."""
        canonical = {
            "fold": FOLD_VERSION,
            "topics": sorted(
                [
                    topic.name,
                    topic.label,
                    {
                        lexicon: [sorted(p.term for p in terms.include), sorted(p.term for p in terms.exclude)]
                        for lexicon, terms in sorted(topic.languages.items())
                    },
                ]
                for topic in self.topics
            ),
        }
        blob = json.dumps(canonical, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    # --- matching ---------------------------------------------------------------------------

    def _occurrences(self, words: Words, index: _Index) -> list[_Occurrence]:
        """Every (entry, first token, last token) where all of a pattern's words match."""
        found = []
        count = len(words.parts) // 2
        for first, entries in index.first_word_hits(words):
            second = None  # the next token's key: the patterns starting here all test it
            for entry in entries:
                last = first
                for expected, is_prefix in entry.rest:
                    following = last + 1
                    if following >= count:
                        break
                    if following == first + 1:
                        key = second = words.key(following) if second is None else second
                    else:
                        key = words.key(following)
                    if not (key.startswith(expected) if is_prefix else key == expected):
                        break
                    if not _GAP.fullmatch(words.gap_after(last)):
                        break
                    last = following
                else:
                    found.append((entry, first, last))
        return found

    def _analyse(self, text: str, lang: str, field: str) -> tuple[dict[int, list[Match]], dict[int, list[Conflict]]]:
        """Matches and conflicts of `text`, by topic number."""
        if field not in FIELDS:
            raise ValueError(f"unknown field {field!r} (expected one of {', '.join(FIELDS)})")
        index = self._indexes[lexicon_of(lang)]
        words = split_words(text, lang)
        by_topic: dict[int, tuple[list[_Occurrence], list[_Occurrence]]] = {}
        for occurrence in self._occurrences(words, index):
            by_topic.setdefault(occurrence[0].topic, ([], []))[occurrence[0].exclude].append(occurrence)
        matches: dict[int, list[Match]] = {}
        conflicts: dict[int, list[Conflict]] = {}
        if not by_topic:
            return matches, conflicts
        decided = {}
        for number, (includes, excludes) in by_topic.items():
            survivors, lost = _resolve(includes, excludes) if excludes else (includes, [])
            decided[number] = (_most_specific(survivors), lost)
        words.locate(
            token
            for reported, lost in decided.values()
            for occurrence in chain(reported, (o for _, include, exclude in lost for o in (include, exclude)))
            for token in occurrence[1:]
        )
        snippet = _Sentences(text).snippet
        for number, (reported, lost) in decided.items():
            topic = self.topics[number]
            if reported:
                name, label = topic.name, topic.label
                spans = sorted(((words.span(first, last), entry) for entry, first, last in reported), key=itemgetter(0))
                matches[number] = [
                    Match(name, label, entry.pattern.term, field, start, end, text[start:end], snippet(start, end))
                    for (start, end), entry in spans
                ]
            if lost:
                conflicts[number] = [_conflict(topic.name, field, text, words, *c) for c in lost]
        return matches, conflicts

    def match(self, text: str, lang: str, field: str = "body") -> list[Match]:
        """Every match in `text` of language `lang` (uz, oz, ru, en), ordered by topic then offset."""
        matches, _ = self._analyse(text, lang, field)
        return [m for number in sorted(matches) for m in matches[number]]

    def match_item(self, title: str, body: str, lang: str) -> list[Match]:
        """Matches of a release: its title's, then its body's."""
        return self.match(title, lang, "title") + self.match(body, lang, "body")

    def topics_in(self, text: str, lang: str) -> list[str]:
        """Names of the topics that fire on `text`, in topic-file order."""
        matches, _ = self._analyse(text, lang, "body")
        return [self.topics[number].name for number in sorted(matches)]

    def explain(self, text: str, lang: str, field: str = "body") -> Explanation:
        """What fired and on which words, and every include/exclude conflict with its winner."""
        matches, conflicts = self._analyse(text, lang, field)
        return Explanation(
            lang=lang,
            lexicon=lexicon_of(lang),
            field=field,
            topics=tuple(
                TopicExplanation(
                    topic=topic.name,
                    label=topic.label,
                    fired=number in matches,
                    matches=tuple(matches.get(number, ())),
                    conflicts=tuple(conflicts.get(number, ())),
                )
                for number, topic in enumerate(self.topics)
            ),
        )

    def __repr__(self) -> str:
        return f"TopicSet({', '.join(self.names)} from {self.source}, fingerprint {self.fingerprint})"
