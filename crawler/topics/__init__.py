"""Topic detection: which configured topics a release is about, and on which words.

    from crawler.topics import load_topics
    topics = load_topics()                      # the packaged default (config/topics.toml)
    matches = topics.match_item(title, body, lang="uz")   # at most 50 per topic: max_per_topic=N|None
    for match in matches:
        print(match.topic, match.term, match.text, match.start, match.end, match.snippet)
    print(matches.counts)                       # every topic's exact number of matches
    topics.select(["uzbekistan"])               # opt-in topics are matched only where named

fold.py folds and tokenizes, patterns.py reads, validates and lints topic files, matcher.py
matches (prefilter.py points it at the few words worth a look), evaluate.py measures precision
and recall on a labeled corpus, commands.py is the CLI.
"""

from crawler.topics.fold import Token, fold, guess_language, tokenize
from crawler.topics.matcher import (
    Conflict,
    Explanation,
    Match,
    Matches,
    TopicExplanation,
    TopicSet,
    UnknownTopicError,
)
from crawler.topics.patterns import languages_without_terms, lint, load_topics

__all__ = [
    "Conflict",
    "Explanation",
    "Match",
    "Matches",
    "Token",
    "TopicExplanation",
    "TopicSet",
    "UnknownTopicError",
    "fold",
    "guess_language",
    "languages_without_terms",
    "lint",
    "load_topics",
    "tokenize",
]
