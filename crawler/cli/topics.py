"""`presswatch topics check | lint | eval`: try, vet and measure topic definitions.

Every handler returns an exit code; a bad topic file or corpus raises ConfigError or EvalDataError,
which the CLI reports in one line with exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from crawler.cli.options import add_format, common_options
from crawler.config import load_config
from crawler.tagging import untagged_languages
from crawler.topics.evaluate import Report, Score, evaluate_file
from crawler.topics.fold import LANGUAGES, guess_language, lexicon_of
from crawler.topics.matcher import Explanation, TopicSet
from crawler.topics.patterns import lint, load_topics


def topics_for(args: argparse.Namespace) -> TopicSet:
    """--topics FILE, else the configured [topics] path, else the packaged default."""
    if getattr(args, "topics", None):
        return load_topics(args.topics)
    config = load_config(getattr(args, "config", None), secrets=False)
    if config.topics.path:
        return load_topics(config.resolve(config.topics.path))
    return load_topics()


def _add_topics_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--topics", metavar="FILE", help="topic file (default: [topics] path of the config, else the shipped topics)"
    )


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `topics` command and its subcommands to a CLI's subparsers."""
    common = [common_options(store=False)]
    topics = subparsers.add_parser("topics", parents=common, help="check, lint and evaluate topic definitions")
    commands = topics.add_subparsers(dest="topics_command", metavar="{check,lint,eval}", required=True)

    check = commands.add_parser(
        "check", parents=common, help="show which topics fire on a text, on which words and why"
    )
    check.add_argument("text", metavar="TEXT", help="the text to check; '-' reads it from standard input")
    check.add_argument(
        "--lang", choices=LANGUAGES, help="the text's language code (default: guessed from the text)"
    )
    add_format(check, ("text", "json"), "text", what="the explanation")
    _add_topics_option(check)
    check.set_defaults(func=check_command)

    lint_parser = commands.add_parser(
        "lint", parents=common, help="warn about risky patterns (exit 1 when there is a warning)"
    )
    _add_topics_option(lint_parser)
    lint_parser.set_defaults(func=lint_command)

    eval_parser = commands.add_parser(
        "eval", parents=common, help="precision and recall on a labeled JSON Lines corpus"
    )
    eval_parser.add_argument("corpus", metavar="FILE.jsonl", help='one {"text", "lang", "topics"} object a line')
    add_format(eval_parser, ("text", "json"), "text", what="the report")
    _add_topics_option(eval_parser)
    eval_parser.set_defaults(func=eval_command)
    return topics


# --- check --------------------------------------------------------------------------------------


def check_command(args: argparse.Namespace) -> int:
    """Exit 0 whatever fires: this command explains, it does not test."""
    topicset = topics_for(args)
    text = sys.stdin.read() if args.text == "-" else args.text
    lang, how = (args.lang, "given") if args.lang else (guess_language(text), "guessed from the text")
    explanation = topicset.explain(text, lang)
    if args.format == "json":
        print(json.dumps({"topics_file": topicset.source, **explanation.to_dict()}, ensure_ascii=False, indent=2))
    else:
        print(render_explanation(explanation, how, topicset.source))
    return 0


def render_explanation(explanation: Explanation, how: str, source: str) -> str:
    lines = [f"language: {explanation.lang} ({how}); term list: {lexicon_of(explanation.lang)}; topics: {source}"]
    for topic in explanation.topics:
        verdict = "FIRES" if topic.fired else "does not fire"
        # An opt-in topic nobody selected is explained all the same, but tagging skips it.
        kind = "" if topic.selected else ", opt-in: tagged only where a route or source names it"
        lines.append(f"{topic.topic} ({topic.label}{kind}): {verdict}")
        for match in topic.matches:
            lines.append(f'  "{match.text}" at {match.start}-{match.end}: include "{match.term}"')
            lines.append(f"      {match.snippet}")
        for conflict in topic.conflicts:
            include = f'include "{conflict.include_term}" ({conflict.include_specificity} letters)'
            exclude = f'exclude "{conflict.exclude_term}" ({conflict.exclude_specificity} letters)'
            where = f'"{conflict.include_text}" at {conflict.start}-{conflict.end}'
            if conflict.winner == "exclude":
                lines.append(f'  {where}: {exclude} on "{conflict.exclude_text}" beat {include}')
            else:
                lines.append(f'  {where}: {include} beat {exclude} on "{conflict.exclude_text}"')
    return "\n".join(lines)


# --- lint ---------------------------------------------------------------------------------------


def lint_command(args: argparse.Namespace) -> int:
    """Exit 1 when there is a warning, 0 when the file is clean."""
    topicset = topics_for(args)
    warnings = lint(topicset) + _source_warnings(args, topicset)
    if not warnings:
        print(f"{topicset.source}: no warnings")
        return 0
    print(f"{topicset.source}: {len(warnings)} warning{'s' if len(warnings) != 1 else ''}")
    for warning in warnings:
        print(warning)
    return 1


def _source_warnings(args: argparse.Namespace, topicset: TopicSet) -> list[str]:
    """A configured source's language no topic it is tagged with has terms for: its releases would
    be stored untagged."""
    config = load_config(getattr(args, "config", None), secrets=False)
    return [f"sources.{note['source']}: {note['message']}" for note in untagged_languages(config, topicset)]


# --- eval ---------------------------------------------------------------------------------------


def eval_command(args: argparse.Namespace) -> int:
    """Exit 0 when every case is right, 1 when there is a miss or a false alarm."""
    topicset = topics_for(args)
    report = evaluate_file(topicset, args.corpus)
    if args.format == "json":
        print(json.dumps({"corpus": args.corpus, "topics_file": topicset.source, **report.to_dict()},
                         ensure_ascii=False, indent=2))
    else:
        print(render_report(report, args.corpus, topicset.source))
    return 0 if report.perfect else 1


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _score_row(name: str, score: Score) -> str:
    return (
        f"{name:<16} {_ratio(score.precision):>9} {_ratio(score.recall):>7} "
        f"{score.hits:>5} {score.false_alarms:>7} {score.misses:>7}"
    )


def _shorten(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render_report(report: Report, corpus: str, source: str) -> str:
    per_lang = ", ".join(f"{lang} {count}" for lang, count in report.cases_by_lang.items())
    header = f"{'':<16} {'precision':>9} {'recall':>7} {'hits':>5} {'false+':>7} {'misses':>7}"
    lines = [f"corpus: {corpus} ({report.cases} cases: {per_lang}); topics: {source}", "", header]
    lines += [_score_row(topic, score) for topic, score in report.by_topic.items()]
    lines += ["", "per language:", header]
    for topic, scores in report.by_topic_and_lang.items():
        lines += [_score_row(f"{topic} {lang}", score) for lang, score in scores.items()]
    lines += ["", f"misses ({len(report.misses)}):"]
    for error in report.misses:
        lines.append(f"  line {error.case.line} [{error.case.lang}] {error.topic}: did not fire: "
                     f"{_shorten(error.case.text)}")
    lines += ["", f"false alarms ({len(report.false_alarms)}):"]
    for error in report.false_alarms:
        words = ", ".join(f'"{m.text}" ({m.term})' for m in error.matches)
        lines.append(f"  line {error.case.line} [{error.case.lang}] {error.topic}: fired on {words}: "
                     f"{_shorten(error.case.text)}")
    return "\n".join(lines)
