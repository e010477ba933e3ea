"""Matching topics on the tokens of the original text.

Per term list (uz, ru, en) the patterns are indexed word by word (see _Index): a token's key is
looked up among the first words, and only after a hit is the next token looked up among the
second words of the patterns that hit. Few words of a release can start any pattern; the
prefilter (prefilter.py) points at them at C speed, and only they are tokenized, folded and
looked up. Their lookups are memoized per word as written: a word seen before costs one dict
lookup and is not folded again. Text the prefilter cannot read has every word looked up.

Conflicts: within a topic, an include occurrence loses to any exclude occurrence sharing a token
with it whose pattern is at least as specific (more literal characters; a tie goes to the exclude).
Of the surviving includes of a topic, the most specific covering a token is the one reported.

Names: in Uzbek and Russian a capital inside a sentence marks a name (Суваналиев, Сувонов, Водянов),
so a one-word prefix include written in lower case (`сув*`, `водян*`) does not fire on a word that
is capitalised (not all caps), longer than the prefix, and not where the spelling asks for a capital
anyway: the start of a text, a line or a sentence (after . ! ? … and white space, not after an
initial such as "А."), or a quoted title («Сувни асранг»). A term written with a capital
(`Қозоғистон*`) is a name itself and fires anywhere. English capitalises headlines and institutions
(Ministry of Water Resources), so its capitals are not read. docs/TOPICS.md gives the reasons.

Selection: a topic marked `opt_in` in the topic file is matched only where it is named. A
TopicSet matches its *selected* topics: load_topics() selects the default ones (every topic not
opt-in), `select(names)` exactly the named ones (none named: the default ones again), so an empty
list of topics ("all topics") never brings in an opt-in topic. explain() covers every topic of the
file and says which are selected; evaluate.py scores every topic.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from bisect import bisect_left, bisect_right
from dataclasses import asdict, dataclass
from itertools import chain, compress, repeat
from operator import is_, itemgetter, methodcaller, or_
from typing import TYPE_CHECKING, Iterable, NamedTuple, Sequence

from crawler.model import UsageError
from crawler.topics.fold import (
    FOLD_CACHE_LIMIT,
    FOLD_VERSION,
    JOINERS,
    LEXICONS,
    TOKEN,
    keys_of,
    lexicon_of,
    split_words,
)
from crawler.topics.prefilter import Prefilter, byte_table, encode

if TYPE_CHECKING:
    from crawler.topics.patterns import Pattern, Topic

FIELDS = ("title", "body")
# Part of TopicSet.fingerprint: bumped when the same topics can match differently (2: names, and
# match_item's cap on the matches kept).
MATCH_VERSION = 2
# match_item keeps at most this many matches of each topic per release (title and body): the store
# gets a row per match, and a page of one repeated word would otherwise make hundreds of thousands.
MAX_MATCHES_PER_TOPIC = 50
# The term lists whose texts capitalise only names and sentence starts (see "Names" above).
LEXICONS_READING_NAMES = ("uz", "ru", "kk")
# The words of a multi-word pattern may be separated by white space and hyphens or dashes, never by
# other punctuation ("Kazakh. Side" is not "Kazakh side") nor by a paragraph break.
_GAP = re.compile(rf"[^\S\n]*\n?[^\S\n]*(?:[{re.escape(JOINERS)}][^\S\n]*\n?[^\S\n]*)?")

SNIPPET_SIDE = 60  # characters each side of a match when its sentence is too long to show whole
SNIPPET_SENTENCE_MAX = 240
_SPAN = methodcaller("span")
# A sentence ends at . ! ? … (and closing quotes) before white space, or at a blank line. Both
# branches start with one character class so the regex engine can skip to candidates.
_SENTENCE_END = re.compile(r"[.!?…\n](?:(?<=[.!?…])[.!?…]*[\"'»”)\]]*(?=\s)|(?<=\n)[^\S\n]*\n)")
_CLOSING = "\"'»”)]"


def _sentence_byte(char: str) -> bytes:
    if char in ".!?…":
        return b"."
    if char == "\n":
        return b"\n"
    if char in _CLOSING:
        return b'"'
    return b" " if char.isspace() else b"x"


# The same boundaries found in the prefilter's encoding of a text, each character class one byte:
# two regexes that each start with a literal, which the regex engine skips to several times
# faster than to the class that starts _SENTENCE_END (the two cannot overlap: no byte in common).
_SENTENCE_BYTES = byte_table(_sentence_byte)
_SENTENCE_ENDS_IN_BYTES = (re.compile(rb'\.\.*"*(?=[ \n])'), re.compile(rb"\n *\n"))


class UnknownTopicError(UsageError, ValueError):
    """A selection names a topic the topic file does not define; str() names the known ones."""


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


class Matches(list[Match]):
    """Matches as a plain list (in the order match() and match_item() give), plus `counts`: the
    exact number of matches of each topic, those kept and those a cap left out."""

    def __init__(self, matches: Iterable[Match] = (), counts: dict[str, int] | None = None) -> None:
        super().__init__(matches)
        self.counts: dict[str, int] = dict(counts) if counts is not None else {}

    @property
    def left_out(self) -> dict[str, int]:
        """Per topic, how many of its matches the cap did not keep (topics with none left out are absent)."""
        kept: dict[str, int] = {}
        for match in self:
            kept[match.topic] = kept.get(match.topic, 0) + 1
        return {topic: count - kept.get(topic, 0) for topic, count in self.counts.items() if count > kept.get(topic, 0)}


class _Analysis(NamedTuple):
    matches: dict[int, list[Match]]  # by topic number: the first `limit` of each, in text order
    counts: dict[int, int]  # by topic number: every match, kept or not
    conflicts: dict[int, list[Conflict]]  # only when explaining
    names: dict[int, list[Match]]  # words read as names, only when explaining


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
    # Words an include matched but that read as names (a capital inside a sentence), so it did not fire.
    names: tuple[Match, ...] = ()
    # Whether the TopicSet matches this topic (tagging does): an opt-in topic not selected is
    # explained all the same, so a user can try it before naming it in a route.
    selected: bool = True

    def to_dict(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "label": self.label,
            "fired": self.fired,
            "selected": self.selected,
            "matches": [m.to_dict() for m in self.matches],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "names": [m.to_dict() for m in self.names],
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
    specificity: int
    exclude: bool
    # A one-word lower-case prefix include: a word read as a name does not fire it (see "Names").
    not_for_names: bool = False


class _Group(NamedTuple):
    """The patterns sharing a word (one exact key, or one prefix) at some depth."""

    ending: tuple[_Entry, ...]  # the patterns with no word after this one
    longer: _Index | None  # the others, by their next word


# The groups whose word matches a key (the exact one, then prefixes longest first), and whether
# any has patterns going on past this word. Plain tuples: a named tuple's constructor is a Python
# function, dear at the rate the matcher makes them.
_Heads = tuple[tuple[_Group, ...], bool]
_Hit = tuple[int, int, _Heads]  # a token some pattern's first word matches: start, end, heads


class _Index:
    """Patterns by their word number `depth`: a dict of exact keys and a dict of prefixes.

    A key looks up its exact entry, then `key[:n]` for the prefix lengths n present, longest
    first: O(key length) whatever the number of patterns. A guard keyed by the first few letters
    skips the prefix loop for most keys. Patterns of more words hang below, indexed by their next
    word, so a text's words are checked against second words only after a first word matched."""

    def __init__(self, entries: Iterable[_Entry], lexicon: str, depth: int = 0) -> None:
        self.lexicon = lexicon
        by_word: dict[tuple[str, bool], list[_Entry]] = {}
        for entry in entries:
            by_word.setdefault(entry.pattern.words[depth], []).append(entry)
        self.exact: dict[str, _Group] = {}
        self.prefix: dict[str, _Group] = {}
        for (key, is_prefix), group in by_word.items():
            longer = [entry for entry in group if len(entry.pattern.words) > depth + 1]
            ending = tuple(entry for entry in group if len(entry.pattern.words) == depth + 1)
            (self.prefix if is_prefix else self.exact)[key] = _Group(
                ending, _Index(longer, lexicon, depth + 1) if longer else None
            )
        # The guard: the shortest prefix length, and for each head of that length the prefix
        # lengths (longest first) worth looking up for a key starting with it.
        self.guard_length = min((len(p) for p in self.prefix), default=1)
        lengths_by_head: dict[str, set[int]] = {}
        for p in self.prefix:
            lengths_by_head.setdefault(p[: self.guard_length], set()).add(len(p))
        self.guard = {head: sorted(lengths, reverse=True) for head, lengths in lengths_by_head.items()}
        self._memo: dict[str, _Heads | tuple[()]] = {}
        self._below = [group.longer for group in (*self.exact.values(), *self.prefix.values()) if group.longer]

    def heads(self, key: str) -> _Heads | tuple[()]:
        """The groups whose word here matches `key`, or () when none does."""
        heads = self._memo.get(key)
        if heads is None:
            if len(self._memo) > FOLD_CACHE_LIMIT:
                self._memo.clear()
            heads = self._memo[key] = self._heads(key)
        return heads

    def clear_memos(self) -> None:
        self._memo.clear()
        for index in self._below:
            index.clear_memos()

    def _heads(self, key: str) -> _Heads | tuple[()]:
        groups = []
        group = self.exact.get(key)
        if group is not None:
            groups.append(group)
        for n in self.guard.get(key[: self.guard_length], ()):
            if n <= len(key):
                group = self.prefix.get(key[:n])
                if group is not None:
                    groups.append(group)
        if not groups:
            return ()
        return tuple(groups), any([group.longer is not None for group in groups])


class _FirstWords(_Index):
    """The index of the patterns' first words, with the prefilter and a memo per written word."""

    def __init__(self, entries: Iterable[_Entry], lexicon: str) -> None:
        super().__init__(entries, lexicon)
        self.memo: dict[str, _Heads | tuple[()]] = {}
        self.prefilter = Prefilter([*self.exact, *self.prefix], lexicon)

    def clear_memos(self) -> None:
        super().clear_memos()
        self.memo.clear()

    def _learn(self, words: list[str]) -> None:
        """Memoize the heads of words not seen before; most have none, found at C speed."""
        words = list(dict.fromkeys(words))
        keys = keys_of(words, self.lexicon)
        head = itemgetter(slice(0, self.guard_length))
        candidates = map(or_, map(self.exact.__contains__, keys), map(self.guard.__contains__, map(head, keys)))
        learned: dict[str, _Heads | tuple[()]] = dict.fromkeys(words, ())
        for word, key in compress(zip(words, keys), candidates):
            learned[word] = self.heads(key)
        self.memo.update(learned)

    def heads_of_words(self, written: list[str]) -> list[_Heads | tuple[()]]:
        """The heads of each word as written."""
        # Memoized per word as written: a release repeats its words, and so do releases; a word
        # seen before costs one dict lookup, with no folding.
        if len(self.memo) > FOLD_CACHE_LIMIT:
            self.memo.clear()
        found = list(map(self.memo.get, written))
        if None in found:
            self._learn(list(compress(written, map(is_, found, repeat(None)))))
            found = list(map(self.memo.__getitem__, written))
        return found

    def first_word_hits(self, text: str, encoded: bytes | None) -> list[_Hit]:
        """Every token of `text` that some pattern's first word matches, in text order.
        `encoded`: the text's prefilter.encode(), or None to look every word up."""
        if encoded is None:
            words = split_words(text, self.lexicon)
            starts, written = words.starts, words.words
        else:
            starts, written = _tokens_at(text, self.prefilter.candidates(encoded))
        return [
            (start, start + len(word), heads)
            for start, word, heads in zip(starts, written, self.heads_of_words(written))
            if heads
        ]


def _tokens_at(text: str, candidates: tuple[list[tuple[int, int]], list[tuple[int, int]]]) -> tuple[list[int], list[str]]:
    """The tokens the prefilter's candidates point at: (starts, words) in text order, no token twice."""
    words, places = candidates
    spans = words
    if places:
        spans = list(words)
        for scan_from, offset in places:
            if scan_from == offset:
                token = TOKEN.search(text, offset)
            else:
                token = next((t for t in TOKEN.finditer(text, scan_from) if t.end() > offset), None)
            if token is not None:
                spans.append(token.span())
        spans = sorted(set(spans))
    return [start for start, _ in spans], [text[start:end] for start, end in spans]


def _next_tokens(text: str, ends: list[int], lexicon: str) -> dict[int, tuple[int, int, str] | None]:
    """For each offset where a token ends, (start, end, key) of the next token or None."""
    tokens = [TOKEN.search(text, end) for end in ends]
    present = [token for token in tokens if token is not None]
    keys = iter(keys_of([token.group() for token in present], lexicon))  # one batch: one fold
    return {
        end: None if token is None else (token.start(), token.end(), next(keys))
        for end, token in zip(ends, tokens)
    }


class _Sentences:
    """Sentence boundaries of one text, found in one pass, for every snippet cut from it."""

    def __init__(self, text: str, encoded: bytes | None = None) -> None:
        """`encoded`: the text's prefilter.encode(), when it has one (the boundaries are the same,
        found faster)."""
        self.text = text
        if encoded is None:
            spans = list(map(_SPAN, _SENTENCE_END.finditer(text)))
        else:
            classes = encoded.translate(_SENTENCE_BYTES)
            spans = sorted(chain.from_iterable(map(_SPAN, r.finditer(classes)) for r in _SENTENCE_ENDS_IN_BYTES))
        self.boundaries = [start for start, _ in spans]  # where each boundary begins
        self.starts = [0] + [end for _, end in spans]  # where each sentence begins
        # Where the sentence before each boundary ends: its punctuation kept, a blank line not.
        self.ends = [start if text[start] == "\n" else end for start, end in spans] + [len(text)]
        self._whole: dict[tuple[int, int], str] = {}  # a sentence often holds several matches

    def snippet(self, start: int, end: int) -> str:
        """The sentence holding text[start:end], or about SNIPPET_SIDE characters each side of it."""
        text = self.text
        first = self.starts[bisect_right(self.starts, start) - 1]
        last = self.ends[bisect_left(self.boundaries, end)]
        if last - first <= SNIPPET_SENTENCE_MAX:
            sentence = self._whole.get((first, last))
            if sentence is None:
                sentence = self._whole[first, last] = _one_line(text[first:last])
            return sentence
        low, high = max(first, start - SNIPPET_SIDE), min(last, end + SNIPPET_SIDE)
        # Cut at word boundaries: drop a partial word at either edge.
        if low > first and not text[low - 1].isspace():
            space = text.find(" ", low, start)
            low = space + 1 if space != -1 else low
        if high < last and not text[high].isspace():
            space = text.rfind(" ", end, high)
            high = space if space != -1 else high
        body = _one_line(text[low:high])
        return ("…" if low > first else "") + body + ("…" if high < last else "")


def _one_line(text: str) -> str:
    """`text` with each run of white space made one space, none at either end."""
    text = text.strip()
    # Most sentences need no change, and splitting them into words only to join them again costs
    # ten times the test. Printable text holds no white space but the plain space.
    if text.isprintable() and "  " not in text:
        return text
    return " ".join(text.split())


# Before a sentence's first word: white space, and the dashes and bullets of dialogue and lists.
_LEADERS = frozenset("-\u2010\u2011\u2012\u2013\u2014•·*")
_OPENING_QUOTES = frozenset("«“„‹")
_SENTENCE_ENDS = frozenset(".!?…")
_CLOSERS = frozenset(_CLOSING + "’›")


def _starts_sentence(text: str, start: int) -> bool:
    """Whether the word at `start` is where the spelling asks for a capital: the first word of the
    text, of a line, of a sentence, or of a quoted title."""
    place, spaced = start, False
    while place and (text[place - 1] in _LEADERS or (text[place - 1].isspace() and text[place - 1] != "\n")):
        spaced = spaced or text[place - 1].isspace()
        place -= 1
    if not place or text[place - 1] == "\n" or text[place - 1] in _OPENING_QUOTES:
        return True
    if text[place - 1] == '"' and (place == 1 or text[place - 2].isspace()):  # a straight opening quote
        return True
    while place and text[place - 1] in _CLOSERS:
        place -= 1
    if not spaced or not place or text[place - 1] not in _SENTENCE_ENDS:
        return False  # "В.Водянов": a sentence ends at punctuation followed by white space
    # "А. Водянов": the period of an initial (one capital letter alone) ends no sentence.
    initial = place >= 2 and text[place - 2].isupper() and (place == 2 or not text[place - 3].isalpha())
    return not (text[place - 1] == "." and initial)


def _reads_as_name(text: str, start: int, end: int, entry: _Entry, lexicon: str) -> bool:
    """Whether text[start:end], capitalised and matched by the lower-case prefix of `entry`, is a name.

    Not when all of it is capitals (a headline), when it is the bare prefix (institutions keep their
    capital inside a sentence, "Сув хўжалиги вазирлиги", and no surname is a bare stem), or when it
    starts a sentence."""
    word = text[start:end]
    if word.isupper() or keys_of([word], lexicon)[0] == entry.pattern.words[0][0]:
        return False
    return not _starts_sentence(text, start)


_Occurrence = tuple[_Entry, int, int]  # a pattern matched on text[start:end], whole tokens
_START = itemgetter(1)


def _resolve(
    includes: list[_Occurrence], excludes: list[_Occurrence]
) -> tuple[list[_Occurrence], list[tuple[str, _Occurrence, _Occurrence]]]:
    """The includes of one topic that survive its excludes, and every (winner, include, exclude)."""
    survivors: list[_Occurrence] = []
    conflicts: list[tuple[str, _Occurrence, _Occurrence]] = []
    # Only the excludes starting within the longest exclude's reach of an include can overlap it:
    # found by bisection, so a page of "сувенир сув" costs linear time, not includes × excludes.
    excludes = sorted(excludes, key=_START)  # found in text order already: a stable no-op
    starts = list(map(_START, excludes))
    reach = max(end - start for _, start, end in excludes)
    for include in includes:
        entry, start, end = include
        # Occurrences cover whole tokens, so overlapping text means a shared token.
        nearby = excludes[bisect_right(starts, start - reach) : bisect_left(starts, end)]
        overlapping = [e for e in nearby if e[2] > start]
        if not overlapping:
            survivors.append(include)
            continue
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
    # Found in text order: when no two share a token, all are reported.
    if all(earlier[2] <= later[1] for earlier, later in zip(survivors, survivors[1:])):
        return survivors
    # Most specific first, an occurrence is reported when none of its characters is taken by one
    # reported before: a byte per character, so a long run of overlaps costs linear time.
    low = min(map(_START, survivors))
    taken = bytearray(max(end for _, _, end in survivors) - low)
    reported = []
    for occurrence in sorted(survivors, key=lambda o: (-o[0].specificity, o[1])):
        _, start, end = occurrence
        if taken.find(1, start - low, end - low) == -1:
            taken[start - low : end - low] = b"\x01" * (end - start)
            reported.append(occurrence)
    reported.sort(key=_START)
    return reported


def _checked_limit(max_per_topic: int | None) -> int | None:
    if max_per_topic is not None and (isinstance(max_per_topic, bool) or not isinstance(max_per_topic, int)
                                      or max_per_topic < 0):
        raise ValueError(f"max_per_topic must be None or a whole number >= 0, got {max_per_topic!r}")
    return max_per_topic


def _conflict(topic: str, field: str, text: str, winner: str, include: _Occurrence, exclude: _Occurrence) -> Conflict:
    _, start, end = include
    _, exclude_start, exclude_end = exclude
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

    # False: look every word up instead of the prefilter's candidates (same results, slower; the
    # tests compare the two).
    prefilter = True

    def __init__(self, topics: Sequence[Topic], source: str, selected: Iterable[str] | None = None) -> None:
        """`selected`: the names of the topics to match (see select); None: the default ones."""
        self.topics: tuple[Topic, ...] = tuple(topics)
        self.source = source
        # Every topic is indexed, whatever the selection: select() shares the indexes, and
        # explain() covers every topic.
        self._indexes = {lexicon: _FirstWords(self._entries(lexicon), lexicon) for lexicon in LEXICONS}
        self._choose(selected)

    def _choose(self, selected: Iterable[str] | None) -> None:
        self.selected: tuple[str, ...] = self.resolve(selected)
        self._numbers = frozenset(number for number, topic in enumerate(self.topics) if topic.name in self.selected)
        self.fingerprint = self._fingerprint()

    @property
    def names(self) -> tuple[str, ...]:
        """Every topic of the file, selected or not, in file order."""
        return tuple(t.name for t in self.topics)

    @property
    def default_names(self) -> tuple[str, ...]:
        """The topics matched unless a selection names others: every topic not marked opt_in."""
        return tuple(t.name for t in self.topics if not t.opt_in)

    @property
    def opt_in_names(self) -> tuple[str, ...]:
        """The topics matched only where a selection names them (`opt_in = true` in the file)."""
        return tuple(t.name for t in self.topics if t.opt_in)

    def resolve(self, names: Iterable[str] | None) -> tuple[str, ...]:
        """What a list of topic names means, in file order: an empty list (or None) means the
        default topics, never an opt-in one; else exactly those named. UnknownTopicError (a
        UsageError and a ValueError) names an unknown topic and the known ones."""
        wanted = {names} if isinstance(names, str) else set(names or ())
        if not wanted:
            return self.default_names
        unknown = sorted(wanted - set(self.names))
        if unknown:
            raise UnknownTopicError(f"unknown topic {unknown[0]!r} (topics: {', '.join(self.names)})")
        return tuple(name for name in self.names if name in wanted)

    def select(self, names: Iterable[str] | None) -> TopicSet:
        """The same topics matching `resolve(names)`: to tag for routes, select the union of what
        each route's list resolves to. Cheap: the indexes and memos are shared."""
        chosen = copy.copy(self)
        chosen._choose(names)
        return chosen

    def clear_memos(self) -> None:
        """Forget the per-word lookups (benchmarks measure a cold start with it)."""
        for index in self._indexes.values():
            index.clear_memos()

    def _entries(self, lexicon: str) -> Iterable[_Entry]:
        for number, topic in enumerate(self.topics):
            terms = topic.languages.get(lexicon)
            if terms is None:
                continue
            for pattern in terms.include + terms.exclude:
                if pattern.folds_to_nothing:  # lint reports it; an empty prefix would match everything
                    continue
                not_for_names = (
                    lexicon in LEXICONS_READING_NAMES
                    and not pattern.exclude
                    and not pattern.capitalised
                    and len(pattern.words) == 1
                    and pattern.words[0][1]
                )
                yield _Entry(number, pattern, pattern.specificity, pattern.exclude, not_for_names)

    def _fingerprint(self) -> str:
        """A stable hash of what decides matches: folding, the selected topics, their labels and
        terms as written. Topics not selected are left out: they tag nothing, so adding or
        changing an opt-in topic nobody names calls for no retag."""
        canonical = {
            "fold": FOLD_VERSION,
            "match": MATCH_VERSION,
            "topics": sorted(
                [
                    topic.name,
                    topic.label,
                    {
                        lexicon: [sorted(p.term for p in terms.include), sorted(p.term for p in terms.exclude)]
                        for lexicon, terms in sorted(topic.languages.items())
                    },
                ]
                for number, topic in enumerate(self.topics)
                if number in self._numbers
            ),
        }
        blob = json.dumps(canonical, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    # --- matching ---------------------------------------------------------------------------

    def _occurrences(self, text: str, encoded: bytes | None, lexicon: str) -> list[_Occurrence]:
        """Every (entry, start, end) where all of a pattern's words match, in text order."""
        hits = self._indexes[lexicon].first_word_hits(text, encoded)
        following = _next_tokens(text, [end for _, end, (_, longer) in hits if longer], lexicon)
        found: list[_Occurrence] = []
        for start, end, heads in hits:
            pending = [(heads, end)]
            while pending:
                heads, end = pending.pop()
                for ending, longer in heads[0]:
                    for entry in ending:
                        found.append((entry, start, end))
                    if longer is None:
                        continue
                    if end not in following:  # after the second word of a pattern
                        following.update(_next_tokens(text, [end], lexicon))
                    token = following[end]
                    # Most gaps are one space: no regex for them.
                    if token is not None and (
                        (token[0] == end + 1 and text[end] == " ") or _GAP.fullmatch(text, end, token[0])
                    ):
                        deeper = longer.heads(token[2])
                        if deeper:
                            pending.append((deeper, token[1]))
        return found

    def _by_topic(
        self, text: str, encoded: bytes | None, lexicon: str, numbers: frozenset[int] | None
    ) -> tuple[dict[int, tuple[list[_Occurrence], list[_Occurrence]]], list[_Occurrence]]:
        """The occurrences of `text` by topic number as (includes, excludes), and the includes left
        out because their word reads as a name; only of the topics `numbers` (None: every one)."""
        by_topic: dict[int, tuple[list[_Occurrence], list[_Occurrence]]] = {}
        names: list[_Occurrence] = []
        for occurrence in self._occurrences(text, encoded, lexicon):
            entry, start, end = occurrence
            if numbers is not None and entry.topic not in numbers:
                continue
            # The cheap test first: most words matched are in lower case.
            if entry.not_for_names and text[start].isupper() and _reads_as_name(text, start, end, entry, lexicon):
                names.append(occurrence)
                continue
            by_topic.setdefault(entry.topic, ([], []))[entry.exclude].append(occurrence)
        return by_topic, names

    def _analyse(self, text: str, lang: str, field: str, explain: bool = False, limit: int | None = None) -> _Analysis:
        """Matches of `text` by topic number (the first `limit` of each; all when None) and their
        counts; its conflicts and the words read as names when `explain` (else none). Of the
        selected topics; of every topic when `explain`."""
        if field not in FIELDS:
            raise ValueError(f"unknown field {field!r} (expected one of {', '.join(FIELDS)})")
        lexicon = lexicon_of(lang)
        encoded = encode(text) if self.prefilter else None
        by_topic, name_occurrences = self._by_topic(text, encoded, lexicon, None if explain else self._numbers)
        analysis = _Analysis({}, {}, {}, {})
        if not by_topic and not (explain and name_occurrences):
            return analysis
        snippet = _Sentences(text, encoded).snippet

        def matches_of(number: int, occurrences: Iterable[_Occurrence]) -> list[Match]:
            name, label = self.topics[number].name, self.topics[number].label
            return [
                Match(name, label, entry.pattern.term, field, start, end, text[start:end], snippet(start, end))
                for entry, start, end in occurrences
            ]

        if explain:
            for occurrence in name_occurrences:
                number = occurrence[0].topic
                analysis.names.setdefault(number, []).extend(matches_of(number, [occurrence]))
        for number, (includes, excludes) in by_topic.items():
            survivors, lost = _resolve(includes, excludes) if excludes else (includes, [])
            reported = _most_specific(survivors)
            if reported:
                analysis.counts[number] = len(reported)
                # A page of one repeated word makes hundreds of thousands: snippets only for those kept.
                analysis.matches[number] = matches_of(number, reported if limit is None else reported[:limit])
            if lost and explain:
                topic = self.topics[number].name
                analysis.conflicts[number] = [_conflict(topic, field, text, *c) for c in lost]
        return analysis

    def match(self, text: str, lang: str, field: str = "body", *, max_per_topic: int | None = None) -> Matches:
        """Every match of the selected topics in `text` of language `lang` (uz, oz, ru, en, kk),
        ordered by topic then offset.

        `max_per_topic`: keep only the first so many of each topic (in text order); `counts` of the
        result still has every topic's exact number."""
        analysis = self._analyse(text, lang, field, limit=_checked_limit(max_per_topic))
        return Matches(
            [m for number in sorted(analysis.matches) for m in analysis.matches[number]],
            {self.topics[number].name: analysis.counts[number] for number in sorted(analysis.counts)},
        )

    def match_item(
        self, title: str, body: str, lang: str, *, max_per_topic: int | None = MAX_MATCHES_PER_TOPIC
    ) -> Matches:
        """Matches of the selected topics in a release: its title's, then its body's.

        At most `max_per_topic` of each topic are kept, title first, then the body in text order
        (None keeps all); `counts` has each topic's exact number over title and body."""
        limit = _checked_limit(max_per_topic)
        title_matches = self.match(title, lang, "title", max_per_topic=limit)
        body_matches = self.match(body, lang, "body", max_per_topic=limit)
        counts = dict(title_matches.counts)
        for topic, count in body_matches.counts.items():
            counts[topic] = counts.get(topic, 0) + count
        if limit is None:
            return Matches(title_matches + body_matches, counts)
        kept: dict[str, int] = {}
        matches = []
        for match in chain(title_matches, body_matches):
            if kept.get(match.topic, 0) < limit:
                kept[match.topic] = kept.get(match.topic, 0) + 1
                matches.append(match)
        return Matches(matches, counts)

    def topics_in(self, text: str, lang: str) -> list[str]:
        """Names of the selected topics that fire on `text`, in topic-file order."""
        counts = self._analyse(text, lang, "body", limit=0).counts
        return [self.topics[number].name for number in sorted(counts)]

    def explain(self, text: str, lang: str, field: str = "body") -> Explanation:
        """What fired and on which words, and every include/exclude conflict with its winner: of
        every topic of the file, each saying whether it is selected."""
        matches, _, conflicts, names = self._analyse(text, lang, field, explain=True)
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
                    names=tuple(names.get(number, ())),
                    selected=number in self._numbers,
                )
                for number, topic in enumerate(self.topics)
            ),
        )

    def __repr__(self) -> str:
        return f"TopicSet({', '.join(self.selected)} from {self.source}, fingerprint {self.fingerprint})"
