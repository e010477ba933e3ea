"""Topic tagging throughput: presswatch's matcher against a naive regex baseline, side by side.

    python bench/bench_topics.py [--repeat 200] [--lang uz] [--copies 10]

The release is the seed (president.uz/uz/lists/view/5782, Uzbek Cyrillic) followed by Uzbek
sentences of the labeled corpus until it holds about 1,000 words, cleaned by crawler.normalize as
the store holds it. It fires all three default topics (about 50 matches), so every stage (folding,
lookups, conflicts, snippets) is exercised; the corpus sentences make it denser in matches than a
release, so the seed alone is measured too. --lang oz does the same in Latin letters: the seed
written as the site's /oz/ pages write Uzbek (oʻ and gʻ with U+2018), then oz corpus sentences.
With --lang ru or en the text is corpus sentences only (there is no real release in those
languages here): about 500 words, nearly every sentence a match, so per-match work weighs far
more than in a release.

- presswatch, cold: the fold memo and the per-word lookup memo are emptied before each run, as for
  the first release after a start (every distinct word is folded).
- presswatch, warm: the same release again (a running daemon has seen most words before).
- naive: one compiled regex per configured term of the release's language, run over the
  lower-cased text (no folding: it would miss Latin-script text and apostrophe variants, so it
  does less work than presswatch, not more).
Each figure is the median of --repeat samples (the best in brackets); the methods run in the same
process, interleaved, so load on the machine hits them alike (see measure()). A last line repeats the measure with
the default topics --copies times over: presswatch's lookups cost the same whatever the number of
terms (its time there grows with the matches, ten times as many), the naive baseline's grows
linearly with the terms.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import time
from pathlib import Path

from crawler.normalize import clean_paragraphs, clean_text, join_body
from crawler.topics import TopicSet, load_topics, tokenize
from crawler.topics.fold import LEXICON_OF, clear_fold_cache

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "data" / "seed_5782_uz.txt"
CORPUS = ROOT / "tests" / "data" / "topics_corpus.jsonl"
TARGET_WORDS = 1000
BATCH = 10  # presswatch releases per sample: about the time of one naive run


# Uzbek Cyrillic to Latin as the site's /oz/ pages write it: the case kept, oʻ and gʻ with a
# turned comma (U+2018), the tutuq ъ as an apostrophe (U+2019).
_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ё": "yo", "ж": "j", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s",
    "т": "t", "у": "u", "ф": "f", "х": "x", "ҳ": "h", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "’",
    "ь": "", "ы": "i", "э": "e", "ю": "yu", "я": "ya", "ў": "o‘", "қ": "q", "ғ": "g‘",
}
_VOWELS = set("аеёиоуўэюяы")


def to_latin(text: str) -> str:
    """Uzbek Cyrillic text in the Latin alphabet (the bench's /oz/ version of the seed)."""
    out = []
    for i, char in enumerate(text):
        lower = char.lower()
        before = text[i - 1].lower() if i else " "
        if lower == "е":
            latin = "ye" if not before.isalpha() or before in _VOWELS or before in "ъь" else "e"
        elif lower == "ц":
            latin = "ts" if before in _VOWELS else "s"
        else:
            latin = _LATIN.get(lower, char)
        if char != lower and latin:
            after = text[i + 1] if i + 1 < len(text) else ""
            latin = latin.upper() if after.isupper() else latin[0].upper() + latin[1:]
        out.append(latin)
    return "".join(out)


def release_text(lang: str, target_words: int = TARGET_WORDS) -> tuple[str, str]:
    """(title, body) of about `target_words` words, cleaned as the store holds them: the seed
    (in Latin letters for oz), then labeled corpus sentences of the language."""
    seed = SEED.read_text(encoding="utf-8").strip()
    if lang == "oz":
        seed = to_latin(seed)
    head, _, rest = seed.partition("\n\n")
    paragraphs = rest.split("\n Manba" if lang == "oz" else "\n Манба")[0].split("\n\n") if lang in ("uz", "oz") else []
    count = len(tokenize(" ".join(paragraphs), lang))
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        if count >= target_words:
            break
        if case["lang"] == lang:
            paragraphs.append(case["text"])
            count += len(tokenize(case["text"], lang))
    paragraphs = clean_paragraphs(paragraphs)
    title = clean_text(head) if lang in ("uz", "oz") else paragraphs.pop(0)
    return title, join_body(paragraphs)


def with_copies(topics: TopicSet, copies: int) -> TopicSet:
    """The topics repeated under new names: as many terms as a user with that many topic files."""
    renamed = [
        dataclasses.replace(topic, name=f"{topic.name}_{copy}") if copy else topic
        for copy in range(copies)
        for topic in topics.topics
    ]
    return TopicSet(renamed, f"{copies} x default")


def naive_patterns(topics: TopicSet, lang: str) -> list[re.Pattern[str]]:
    """One regex per configured term (include or exclude) of the language, as written."""
    lexicon = LEXICON_OF[lang]
    compiled = []
    for topic in topics.topics:
        terms = topic.languages.get(lexicon)
        for pattern in (terms.include + terms.exclude) if terms else ():
            words = re.split(r"[\s\-]+", pattern.term.lower())
            parts = [re.escape(w.rstrip("*")) + (r"\w*" if w.endswith("*") else r"\b") for w in words]
            compiled.append(re.compile(r"\b" + r"[\s\-–—]+".join(parts)))
    return compiled


def naive_tag(patterns: list[re.Pattern[str]], title: str, body: str) -> list[tuple[int, int]]:
    spans = []
    for text in (title.lower(), body.lower()):
        for pattern in patterns:
            spans.extend(m.span() for m in pattern.finditer(text))
    return spans


def measure(
    topics: TopicSet, patterns: list[re.Pattern[str]], title: str, body: str, lang: str, repeat: int, batch: int = BATCH
):
    """Seconds per release of each method, interleaved so that load on the machine hits all alike.

    Each sample of presswatch times `batch` releases in a row, so that its samples last about as
    long as one of the naive baseline: on a shared machine a pause (another process, a steal of
    the virtual CPU) costs a sample the same whatever it measures, and doubles a 0.5 ms sample
    while a 7 ms one hardly notices. The order of the three turns each round: a method run right
    after another finds the CPU caches filled with the other's code and data, and pays for it."""

    def cold() -> None:
        for _ in range(batch):
            clear_fold_cache()
            topics.clear_memos()
            topics.match_item(title, body, lang)

    def warm() -> None:
        for _ in range(batch):
            topics.match_item(title, body, lang)

    methods = {"presswatch, cold": cold, "presswatch, warm": warm, "naive regex": lambda: naive_tag(patterns, title, body)}
    runs = {"presswatch, cold": batch, "presswatch, warm": batch, "naive regex": 1}
    topics.match_item(title, body, lang)  # "warm" may come first
    timings: dict[str, list[float]] = {name: [] for name in methods}
    order = list(methods)
    for round_number in range(repeat):
        turn = round_number % len(order)
        for name in order[turn:] + order[:turn]:
            start = time.perf_counter()
            methods[name]()
            timings[name].append((time.perf_counter() - start) / runs[name])
    return timings


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def best_ms(samples: list[float]) -> float:
    return min(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--lang", choices=("uz", "oz", "ru", "en"), default="uz")
    parser.add_argument("--copies", type=int, default=10, help="for the scaling line: the topics this many times")
    args = parser.parse_args()

    topics = load_topics()
    title, body = release_text(args.lang)
    words = len(tokenize(title, args.lang)) + len(tokenize(body, args.lang))
    patterns = naive_patterns(topics, args.lang)
    timings = measure(topics, patterns, title, body, args.lang, args.repeat)
    matches = topics.match_item(title, body, args.lang)

    fired = sorted({m.topic for m in matches})
    print(f"release: {words} words ({args.lang}), {len(body) + len(title)} characters; "
          f"{len(matches)} matches, topics {', '.join(fired)}")
    print(f"naive baseline: {len(patterns)} regexes ({args.lang} terms of the default topics)")
    print(f"{args.repeat} samples each (presswatch: {BATCH} releases a sample); median (and best) per release, interleaved\n")
    print(f"{'':<18} {'ms/release':>17} {'words/s':>21}")
    for name, samples in timings.items():
        median, best = median_ms(samples), best_ms(samples)
        speed = f"{words / (median / 1000):,.0f} ({words / (best / 1000):,.0f})"
        print(f"{name:<18} {median:>8.3f} ({best:>6.3f}) {speed:>21}")
    print()
    for name in ("presswatch, cold", "presswatch, warm"):
        ratio = median_ms(timings["naive regex"]) / median_ms(timings[name])
        best_ratio = best_ms(timings["naive regex"]) / best_ms(timings[name])
        print(f"speed-up over naive, {name.split(', ')[1]}: {ratio:.1f}x (best {best_ratio:.1f}x)")

    if args.lang in ("uz", "oz"):
        seed_title, seed_body = release_text(args.lang, target_words=0)
        seed_words = len(tokenize(seed_title, args.lang)) + len(tokenize(seed_body, args.lang))
        seed_matches = len(topics.match_item(seed_title, seed_body, args.lang))
        alone = {name: median_ms(samples) for name, samples in
                 measure(topics, patterns, seed_title, seed_body, args.lang, args.repeat).items()}
        print(f"\nthe seed release alone ({seed_words} words, {seed_matches} matches): "
              f"presswatch cold {alone['presswatch, cold']:.3f} ms, warm {alone['presswatch, warm']:.3f} ms, "
              f"naive {alone['naive regex']:.3f} ms: "
              f"{alone['naive regex'] / alone['presswatch, cold']:.1f}x cold, "
              f"{alone['naive regex'] / alone['presswatch, warm']:.1f}x warm")

    many = with_copies(topics, args.copies)
    many_patterns = naive_patterns(many, args.lang)
    scaled = {name: median_ms(samples) for name, samples in
              measure(many, many_patterns, title, body, args.lang, max(args.repeat // 4, 10)).items()}
    print(f"\nscaling, the default topics {args.copies} times ({len(many_patterns)} regexes for the naive baseline):")
    print(f"  presswatch cold {scaled['presswatch, cold']:.3f} ms, warm {scaled['presswatch, warm']:.3f} ms, "
          f"naive {scaled['naive regex']:.3f} ms: "
          f"{scaled['naive regex'] / scaled['presswatch, cold']:.1f}x cold, "
          f"{scaled['naive regex'] / scaled['presswatch, warm']:.1f}x warm")


if __name__ == "__main__":
    main()
