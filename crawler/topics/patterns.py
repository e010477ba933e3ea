"""Topic files: reading, validating and linting them.

A topic file holds one table per topic:

    [topics.water]
    label = "Water"
    opt_in = false               # true: matched only where a route or source names the topic
    [topics.water.uz]            # uz: both Uzbek scripts; ru; en; kk
    include = ["сув*", "дарё*"]
    exclude = ["сувенир*"]
    lint_ok = ["сув*"]           # lint warnings reviewed and accepted for these patterns

A pattern is one or more words separated by spaces or hyphens; a word ending in `*` is a prefix,
any other word must equal the text's word after folding (see fold.py). Every mistake raises
crawler.config.ConfigError naming the file, the key (`topics.water.ru.include[3]`) and the problem.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Iterable

from crawler.config import ConfigError, read_text_file
from crawler.topics.fold import JOINERS, LEXICON_OF, LEXICONS, fold_word, is_word_character
from crawler.topics.matcher import TopicSet

DEFAULT_TOPICS_NAME = "<packaged default topics>"
TOPIC_KEYS = ("label", "opt_in") + LEXICONS
TERM_KEYS = ("include", "exclude", "lint_ok")
SHORT_PREFIX = 3  # a prefix of this many letters or fewer matches too many unrelated words
# The longest phrase a pattern may be: ample for the longest institution name, and the matcher
# indexes a pattern one level per word (a 500-word "pattern" is a pasted paragraph, not a term).
MAX_PATTERN_WORDS = 50

_TOPIC_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_SEPARATORS = re.compile(rf"[\s{re.escape(JOINERS)}]+")


@dataclass(frozen=True)
class Pattern:
    """One configured pattern, folded word by word."""

    term: str  # as written in the file, shown to users
    words: tuple[tuple[str, bool], ...]  # (folded key, is_prefix) per word
    exclude: bool
    key_path: str  # e.g. "topics.water.uz.include[3]", for messages
    # Written with a capital ("Қозоғистон*"): a name, so it also fires on a capitalised word inside
    # a sentence (see matcher.py, "Names").
    capitalised: bool = False

    @property
    def specificity(self) -> int:
        """Literal characters (of the folded words): the most specific pattern wins a conflict."""
        return sum(len(key) for key, _ in self.words)

    @property
    def folds_to_nothing(self) -> bool:
        return any(not key for key, _ in self.words)

    @property
    def folded(self) -> str:
        return " ".join(key + ("*" if is_prefix else "") for key, is_prefix in self.words)


@dataclass(frozen=True)
class LanguageTerms:
    include: tuple[Pattern, ...] = ()
    exclude: tuple[Pattern, ...] = ()
    lint_ok: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Topic:
    name: str
    label: str
    # lexicon ("uz", "ru", "en", "kk") → its patterns; a lexicon absent here has no terms
    languages: dict[str, LanguageTerms] = field(default_factory=dict, hash=False)
    # Matched only where a selection names it (a route's or a source's topics), never as one of
    # "all topics": see TopicSet.select.
    opt_in: bool = False


def parse_pattern(term: Any, lexicon: str, exclude: bool, file: str, key_path: str) -> Pattern:
    """A Pattern from the text of one list entry, or ConfigError saying what is wrong with it."""

    def fail(problem: str) -> ConfigError:
        return ConfigError(file, key_path, problem)

    if not isinstance(term, str):
        raise fail(f"expected a string, got {type(term).__name__} {term!r}")
    stripped = term.strip()
    if not stripped:
        raise fail("empty pattern")
    if stripped[0] in JOINERS or stripped[-1] in JOINERS:
        raise fail(f"{term!r} starts or ends with a hyphen; words are joined by a space or a hyphen")
    split = _SEPARATORS.split(stripped)
    if len(split) > MAX_PATTERN_WORDS:
        # The key path names them too; said plainly, since the pattern itself is too long to quote.
        topic = key_path.split(".")[1] if key_path.startswith("topics.") else "?"
        raise fail(
            f"a pattern of {len(split)} words; a pattern has at most {MAX_PATTERN_WORDS} words "
            f"(topic {topic!r}, language {lexicon!r})"
        )
    words = []
    for word in split:
        if word == "*":
            raise fail(f"{term!r}: a lone '*' would match every word")
        if "**" in word:
            raise fail(f"{term!r}: '**' is not a pattern; one '*' at the end of a word marks a prefix")
        if "*" in word[:-1]:
            raise fail(f"{term!r}: '*' can only end a word (a prefix like 'чегара*'), not start or split one")
        is_prefix = word.endswith("*")
        letters = word[:-1] if is_prefix else word
        for char in letters:
            if not is_word_character(char):
                raise fail(
                    f"{term!r}: {char!r} is not a letter; a pattern word holds letters and apostrophes, "
                    "with an optional '*' at its end"
                )
        words.append((fold_word(letters, lexicon), is_prefix))
    first_letter = next((char for char in stripped if char.isalpha()), "")
    return Pattern(
        term=term, words=tuple(words), exclude=exclude, key_path=key_path, capitalised=first_letter.isupper()
    )


def _expect_table(value: Any, file: str, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(file, key, f"expected a table, got {type(value).__name__} {value!r}"[:120])
    return value


def _unknown_key_problem(name: str, known: tuple[str, ...], where: str) -> str:
    if name == "oz":
        return "'oz' is the Latin site version; Uzbek terms for both scripts go under 'uz'"
    if len(name) == 2 and name.isalpha() and "uz" in known:
        return f"unknown language {name!r} (languages: {', '.join(LEXICONS)}; 'uz' covers both Uzbek scripts)"
    return f"unknown key in {where} (known: {', '.join(known)})"


def _parse_terms(data: Any, lexicon: str, file: str, prefix: str) -> LanguageTerms:
    table = _expect_table(data, file, prefix)
    lists: dict[str, list[Any]] = {}
    for name, value in table.items():
        if name not in TERM_KEYS:
            raise ConfigError(file, f"{prefix}.{name}", _unknown_key_problem(name, TERM_KEYS, f"[{prefix}]"))
        if not isinstance(value, list):
            raise ConfigError(file, f"{prefix}.{name}", f"expected a list of patterns, got {value!r}"[:120])
        lists[name] = value
    include = tuple(
        parse_pattern(term, lexicon, False, file, f"{prefix}.include[{i}]")
        for i, term in enumerate(lists.get("include", []))
    )
    exclude = tuple(
        parse_pattern(term, lexicon, True, file, f"{prefix}.exclude[{i}]")
        for i, term in enumerate(lists.get("exclude", []))
    )
    written = {p.term for p in include + exclude}
    for i, term in enumerate(lists.get("lint_ok", [])):
        if term not in written:
            raise ConfigError(
                file, f"{prefix}.lint_ok[{i}]", f"{term!r} is not one of this table's include or exclude patterns"
            )
    return LanguageTerms(include, exclude, frozenset(lists.get("lint_ok", [])))


def _parse_topic(name: str, data: Any, file: str) -> Topic:
    prefix = f"topics.{name}"
    if not _TOPIC_NAME.fullmatch(name):
        raise ConfigError(
            file, prefix, "a topic name is lower-case Latin letters, digits, '_' or '-', starting with a letter"
        )
    table = _expect_table(data, file, prefix)
    label = name
    opt_in = False
    languages: dict[str, LanguageTerms] = {}
    for key, value in table.items():
        if key == "label":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(file, f"{prefix}.label", "expected a non-empty string")
            label = value.strip()
        elif key == "opt_in":
            if not isinstance(value, bool):
                raise ConfigError(file, f"{prefix}.opt_in", f"expected true or false, got {value!r}"[:120])
            opt_in = value
        elif key in LEXICONS:
            languages[key] = _parse_terms(value, key, file, f"{prefix}.{key}")
        else:
            raise ConfigError(file, f"{prefix}.{key}", _unknown_key_problem(key, TOPIC_KEYS, f"[{prefix}]"))
    return Topic(name=name, label=label, languages=languages, opt_in=opt_in)


def parse_topics(text: str, file: str) -> list[Topic]:
    """The topics of a topic file's text; `file` is only used in messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "syntax", str(exc)) from None
    for key in data:
        if key != "topics":
            raise ConfigError(file, key, "unknown key at the top level (a topic file holds [topics.NAME] tables)")
    topics = _expect_table(data.get("topics", {}), file, "topics")
    if not topics:
        raise ConfigError(file, "topics", "no topics defined (add a [topics.NAME] table)")
    return [_parse_topic(name, value, file) for name, value in topics.items()]


def default_topics_text() -> str:
    return resources.files("crawler").joinpath("data/topics.toml").read_text(encoding="utf-8")


def load_topics(path: str | os.PathLike[str] | None = None) -> TopicSet:
    """The topics in `path`, or the packaged default topics when `path` is None."""
    if path is None:
        return TopicSet(parse_topics(default_topics_text(), DEFAULT_TOPICS_NAME), DEFAULT_TOPICS_NAME)
    file = str(path)
    return TopicSet(parse_topics(read_text_file(path), file), file)


# --- lint ---------------------------------------------------------------------------------------


def _words_can_overlap(a: tuple[str, bool], b: tuple[str, bool]) -> bool:
    """Whether some token could be matched by both pattern words."""
    (key_a, prefix_a), (key_b, prefix_b) = a, b
    if prefix_a and prefix_b:
        return key_a.startswith(key_b) or key_b.startswith(key_a)
    if prefix_a:
        return key_b.startswith(key_a)
    if prefix_b:
        return key_a.startswith(key_b)
    return key_a == key_b


def _can_override(exclude: Pattern, include: Pattern) -> bool:
    # Approximate for multi-word patterns (it ignores word order): lint should not cry wolf.
    if exclude.specificity < include.specificity:
        return False
    return any(_words_can_overlap(e, i) for e in exclude.words for i in include.words)


def _has_terms(topic: Topic, lexicon: str) -> bool:
    terms = topic.languages.get(lexicon)
    return terms is not None and any(not p.folds_to_nothing for p in terms.include)


def languages_without_terms(topicset: TopicSet, languages: Iterable[str]) -> list[str]:
    """The language codes (of sources, say) whose releases no topic of the set can fire on: no
    term list serves the code, or no topic has an include in its term list. In the given order."""
    found = []
    for lang in dict.fromkeys(languages):
        lexicon = LEXICON_OF.get(lang)
        if lexicon is None or not any(_has_terms(topic, lexicon) for topic in topicset.topics):
            found.append(lang)
    return found


def lint(topicset: TopicSet, languages: Iterable[str] | None = None) -> list[str]:
    """Warnings about risky patterns, each "key: 'term': problem"; empty when the file is clean.

    Patterns listed in their table's `lint_ok` are not reported (a reviewer accepted them).
    `languages`: the language codes releases come in (the sources'); each topic without an
    include for one of them is reported ("topics.water: kk has no terms, so ..."). None: not
    checked, since a topic file need not cover languages nobody crawls.
    """
    warnings: list[str] = []
    for topic in topicset.topics:
        if not any(terms.include for terms in topic.languages.values()):
            warnings.append(f"topics.{topic.name}: no include pattern in any language, so it never fires")
        for lang in dict.fromkeys(languages or ()):
            if lang not in LEXICON_OF:
                warnings.append(f"topics.{topic.name}: {lang} has no term list (term lists: {', '.join(LEXICONS)})")
            elif not _has_terms(topic, LEXICON_OF[lang]):
                warnings.append(f"topics.{topic.name}: {lang} has no terms, so {lang} releases never fire it")
        for lexicon in LEXICONS:
            terms = topic.languages.get(lexicon)
            if terms is not None:
                warnings.extend(_lint_terms(terms))
    return warnings


def _lint_terms(terms: LanguageTerms) -> list[str]:
    found: list[tuple[Pattern, str]] = []
    seen: dict[tuple[bool, str], Pattern] = {}
    live_includes = [p for p in terms.include if not p.folds_to_nothing]
    for pattern in terms.include + terms.exclude:
        if pattern.folds_to_nothing:
            found.append((pattern, "a word of it folds to nothing (no letter survives folding); it is ignored"))
            continue
        twin = seen.get((pattern.exclude, pattern.folded))
        if twin is not None:
            found.append((pattern, f"the same as {twin.key_path} '{twin.term}' after folding"))
        seen.setdefault((pattern.exclude, pattern.folded), pattern)
        key, is_prefix = pattern.words[0]
        if len(pattern.words) == 1 and is_prefix and len(key) <= SHORT_PREFIX:
            found.append((
                pattern,
                f"a prefix of {len(key)} letters ('{key}*') matches many unrelated words; "
                "list exact forms or add excludes, then add it to lint_ok",
            ))
        if pattern.exclude:
            if not any(_can_override(pattern, include) for include in live_includes):
                found.append((pattern, "this exclude can never apply: no include of this language could match "
                                       "the same word with equal or lower specificity"))
            else:
                for include in live_includes:
                    if include.folded == pattern.folded:
                        found.append((include, f"equals exclude '{pattern.term}' after folding; "
                                               "the exclude always wins, so it never fires"))
    return [
        f"{pattern.key_path}: '{pattern.term}': {problem}"
        for pattern, problem in found
        if pattern.term not in terms.lint_ok
    ]


__all__ = [
    "DEFAULT_TOPICS_NAME",
    "MAX_PATTERN_WORDS",
    "LanguageTerms",
    "Pattern",
    "Topic",
    "default_topics_text",
    "languages_without_terms",
    "lint",
    "load_topics",
    "parse_pattern",
    "parse_topics",
]
