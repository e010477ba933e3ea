"""`presswatch show`, `status` and `retag`: reading the store, and re-tagging it."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from typing import Any

from crawler import app, health
from crawler.cli.archive import show_raw
from crawler.cli.options import EXIT_FAILED, EXIT_OK, add_format, chosen_source, common_options, load
from crawler.cli.runreport import announce, progress_bars
from crawler.cli.terminal import printable
from crawler.model import NotFound, UsageError
from crawler.sources.base import Source
from crawler.status import collect_status
from crawler.store import Store
from crawler.tagging import load_topicset, matches_of, releases_per_topic, retag
from crawler.textdiff import Piece, render_text, word_diff


def register(sub: argparse._SubParsersAction) -> None:
    common = common_options(source=True)
    formatter = argparse.RawDescriptionHelpFormatter
    show = sub.add_parser("show", parents=[common], help="print every stored language version of a release",
                          description="Print a release as clean paragraphs: each stored language version, "
                          "its date, address, images, topics and edit history. Ids are per source: when "
                          "two sources stored the same id, --source NAME says which release is meant.")
    show.add_argument("id", type=int, help="the release id (the number in /lists/view/ID)")
    show.add_argument("--lang", metavar="LANG", help="only this language version (a language code of the source)")
    show.add_argument("--diff", action="store_true",
                      help="print each edit as a word diff: [-removed-]{+added+} (red and green on a terminal)")
    show.add_argument("--raw", action="store_true",
                      help="the latest archived page of the version as the site sent it (first language kept "
                      "unless --lang)")
    show.add_argument("-o", "--output", metavar="FILE", help="with --raw: save the page to FILE")
    add_format(show, ("text", "json"), "text")
    show.set_defaults(func=cmd_show)

    status = sub.add_parser("status", parents=[common], formatter_class=formatter,
                            help="counts, last run, last error and health",
                            description="Show what the store holds and how the last runs went. "
                            "Exit code 1 when unhealthy, so monitoring can call it.")
    add_format(status, ("text", "json"), "text")
    status.set_defaults(func=cmd_status)

    retag = sub.add_parser("retag", parents=[common], help="tag the stored releases again after the topics changed",
                           description="Tag every language version whose tags came from other topic definitions "
                           "(all of them with --all). Idempotent: a second run finds nothing to do. Commits in "
                           "batches, so an interrupted retag keeps its progress. Never sends alerts.")
    retag.add_argument("--all", action="store_true", help="retag every version, not only the stale ones")
    retag.add_argument("-q", "--quiet", action="store_true", help="no progress bar (there is none without a terminal)")
    retag.set_defaults(func=cmd_retag)



def check_language(lang: str | None, source: Source) -> None:
    """A --lang the source does not publish in is a usage error naming the ones it does."""
    if lang and lang not in source.supported_languages:
        raise UsageError(f"--lang: {source.name} has no language {lang!r} "
                         f"(it publishes in {', '.join(source.supported_languages)})")


def cmd_show(args: argparse.Namespace) -> int:
    if args.raw:
        config = load(args, secrets=False)
        with app.open_store(config, must_exist=True) as store:
            name = _release_source(args, store, config)
        book = app.source_book(config)
        if name is not None and book.is_configured(name):
            check_language(args.lang, book.get(name))
        return show_raw(args, config, name)
    if args.output:
        raise UsageError("-o FILE goes with --raw (the archived page)")
    if args.diff and args.format != "text":
        raise UsageError("--diff prints text: drop --format json (json holds every earlier text under history)")
    config = load(args, secrets=False)
    book = app.source_book(config)
    with app.open_store(config, must_exist=True) as store:
        name = _release_source(args, store, config)
        # the release's own source: its languages (order, names) and time zone
        source = book.get(name, store.languages(name)) if name else book.first
        if name is None or book.is_configured(name):
            check_language(args.lang, source)
        versions = store.release(name, args.id, source.supported_languages) if name else []
        if args.lang:
            versions = [v for v in versions if v["lang"] == args.lang]
        if not versions:
            where = f" in {args.lang}" if args.lang else ""
            of = f" of {name}" if getattr(args, "source", None) else ""
            raise NotFound(f"release {args.id}{of} is not in the store{where}")
        matches = matches_of(store, name, args.id)
        for version in versions:
            version["language_name"] = source.language_names.get(version["lang"], version["lang"])
            version["topics"] = [m for m in matches if m["lang"] == version["lang"]]
            version["history"] = store.versions(name, version["id"], version["lang"])
    if args.diff:
        print_diffs(versions, colour=sys.stdout.isatty() and not os.environ.get("NO_COLOR"), zone=source.timezone)
        return EXIT_OK
    if args.format == "json":
        print(json.dumps(versions if not args.lang else versions[0], ensure_ascii=False, indent=2))
        return EXIT_OK
    print_versions(versions)
    return EXIT_OK


def _release_source(args: argparse.Namespace, store: Store, config) -> str | None:
    """The source whose release `show ID` means: --source, else the one source that stored the id
    (None: none did). Two sources with that id is a usage error asking for --source."""
    name = chosen_source(args, store, config)
    if name:
        return name
    holders = store.sources_of(args.id)
    if len(holders) > 1:
        raise UsageError(f"release {args.id} is in {len(holders)} sources ({', '.join(holders)}): "
                         f"choose one with --source, e.g. --source {holders[0]}")
    return holders[0] if holders else None


def print_versions(versions: list[dict[str, Any]]) -> None:
    """The text form of `show`: what came from the site is printed without control characters."""
    for index, version in enumerate(versions):
        if index:
            print("\n" + "=" * 72 + "\n")
        print(printable(f"{version['source']} {version['id']}/{version['lang']}  "
                        f"{version['published'] or 'date unknown'}  "
                        f"{version['url']}"))
        print()
        print(printable(version["title"]))
        print()
        print(printable("\n\n".join(version["paragraphs"])))
        if version["images"]:
            print(printable("\nimages: " + " ".join(version["images"])))
        print(printable(f"\nlanguage: {version['language_name']} ({version['lang']})"))
        if version["topics"]:
            print("\ntopics:")
            for match in version["topics"]:
                print(printable(f"  {match['topic']}: {match['text']!r} ({match['term']}) in {match['field']} "
                                f"[{match['start']}:{match['end']}]"))
        if version["history"]:
            print(f"\nedited: {len(version['history'])} earlier version(s) kept in item_versions")


def local_time(moment: str | None, zone: dt.tzinfo) -> str:
    """A stored UTC moment as the source's clock read it, with the zone's name."""
    if not moment:
        return "at an unknown time"
    try:
        when = dt.datetime.fromisoformat(moment)
    except ValueError:
        return moment
    when = when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
    return f"{when.astimezone(zone):%Y-%m-%d %H:%M} {zone.tzname(None) or zone}"


def print_diffs(versions: list[dict[str, Any]], colour: bool, zone: dt.tzinfo = dt.timezone.utc) -> None:
    """Each stored edit of each version, oldest first: headline and body as a word diff; the
    moment of each edit on the clock of the release's source (`zone`)."""
    for version in versions:
        texts = version["history"] + [version]
        if len(texts) == 1:
            print(f"{version['id']}/{version['lang']}: no edit stored")
            continue
        for before, after in zip(texts, texts[1:]):
            print(f"{version['id']}/{version['lang']}  version {before['version']} → {after['version']}  "
                  f"(edited {local_time(before.get('replaced_at') or after.get('changed_at'), zone)})\n")
            for old, new in ((before["title"], after["title"]),
                             ("\n\n".join(before["paragraphs"]), "\n\n".join(after["paragraphs"]))):
                pieces = [Piece(p.kind, printable(p.text)) for p in word_diff(old or "", new or "")]
                print(render_text(pieces, colour) + "\n")


def cmd_status(args: argparse.Namespace) -> int:
    config = load(args, secrets=False)
    with app.open_store(config, must_exist=True) as store:
        report = collect_status(store, config, source=chosen_source(args, store, config))
    if args.format == "json":
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_status(report)
    return EXIT_OK if report.get("healthy", True) else EXIT_FAILED


def cmd_retag(args: argparse.Namespace) -> int:
    config = load(args, secrets=False, routes=True)
    topics = load_topicset(config)
    with app.writing(config, must_exist=True) as store:
        only = chosen_source(args, store, config)
        if not args.quiet:
            which = "every stored language version" if args.all else "the versions tagged by other topic definitions"
            announce(args, f"retag: tagging {which} again with {topics.source}, committing every 500; "
                     "nothing is sent")
        result = {"versions": 0, "matches": 0}
        for name in [only] if only else store.sources_with_items():
            # each source with the topics it names, as its crawl tags it (app.tagger_for)
            entry = next((entry for entry in config.sources if entry.name == name), None)
            selected = app.tagger_for(config, entry, topics).topics if entry else topics
            done = retag(store, selected, everything=args.all, progress=not args.quiet and progress_bars(args),
                         source=name)
            result = {key: result[key] + done[key] for key in result}
        per_topic = releases_per_topic(store, only)
    topics_line = ", ".join(f"{topic} {count}" for topic, count in sorted(per_topic.items())) or "none"
    print(f"retagged {result['versions']} language versions ({result['matches']} matches); "
          f"releases per topic: {topics_line}")
    return EXIT_OK


def print_status(report: dict[str, Any]) -> None:
    print(f"store: {report['store']}")
    langs = ", ".join(f"{lang} {count}" for lang, count in sorted(report["per_language"].items()))
    print(f"releases: {report['releases']} ({report['language_versions']} language versions: {langs or 'none'})")
    print(f"stored today: {report['stored_today']}; missing translations waiting: {report['pending_translations']}")
    print_sources(report["sources"])
    run = report["last_run"]
    if run:
        print(f"last run: #{run['id']} {run['kind']} {run['outcome']} at {run['finished'] or run['started']}: "
              f"{run['new']} new, {run['changed']} changed, {run['errors']} errors")
    else:
        print("last run: none yet")
    print_runs(report)
    print(f"schedule: {report['schedule']}")
    if len(report["sources"]) <= 1:  # several: each source's pace and coverage under its own line
        print_pace(report["pace"])
        print_coverage(report["coverage"])
    daemon = report["daemon"]
    if daemon:
        where = f"pid {daemon['pid']} on {daemon['host']}"
        next_run = f", next run {daemon['next_run']}" if daemon["status"] == "running" and daemon["next_run"] else ""
        print(f"daemon: {daemon['status']} ({where}): {daemon['detail']}{next_run}")
    else:
        print("daemon: never ran on this store")
    alerts = report.get("alerts")
    if alerts:
        counts = ", ".join(f"{status} {count}" for status, count in sorted(alerts["outbox"].items()))
        print(f"alerts: {len(alerts['routes'])} routes; outbox: {counts or 'empty'}")
    print(f"health: {'ok' if report['healthy'] else 'UNHEALTHY'}")
    for condition in report["conditions"]:
        if condition["active"]:
            since = f" since {condition['since']}" if condition["since"] else ""
            print(f"  {condition['label']}: ACTIVE{since}: {condition['detail']}")
        else:
            print(f"  {condition['label']}: ok")
    if daemon and daemon["status"] == "dead":
        print(f"  daemon: DEAD: {daemon['detail']}")
    for problem in report.get("store_problems", []):
        print(f"  store: {problem}")
    for note in report.get("untagged_languages", []):
        print(f"topics ({note['source']}): {note['message']}" if note["source"] else f"topics: {note['message']}")


def print_sources(sources: list[dict[str, Any]]) -> None:
    """One line per source: its releases and its last run; with several sources, each one's
    languages, pace and coverage below it."""
    for entry in sources:
        run = entry["last_run"]
        last = (f"last run #{run['id']} {run['kind']} {run['outcome']} at {run['finished'] or run['started']}"
                if run else "no run yet")
        print(f"  source {entry['name']}: {entry['releases']} releases ({entry['language_versions']} "
              f"language versions); {last}")
        if len(sources) > 1:
            print(f"    languages: {', '.join(entry['languages']) or 'none'}")
            print("    " + (f"pace: {describe_pace(entry['pace'])}" if entry["pace"] else
                          "pace: not known (no run since this presswatch version, or not configured)"))
            print_coverage(entry["coverage"], indent="    ")


def print_runs(report: dict[str, Any]) -> None:
    """The last success, the last failed run's reason (from the first failure on) and the last page error."""
    if report["last_success"]:
        age = health.describe_age(report["last_success_age_seconds"])
        print(f"last success: {report['last_success']} ({age} ago)")
    else:
        print("last success: never")
    failure = report["last_error"]
    if failure:
        print(f"last failure: {failure['at']} {failure['kind']} run #{failure['run_id']}: "
              f"{failure['message'] or 'no reason recorded'}")
    print(f"failed runs in a row: {report['consecutive_failures']}")
    page_error = report["last_page_error"]
    if page_error:
        print(f"last page error: {page_error['at']} {page_error['url']}: {page_error['reason']}")


def describe_pace(pace: dict[str, Any]) -> str:
    """"1 request every N s (robots.txt asks M s, capped at C s)", and the cases around it."""
    in_force, requested, cap = pace["delay_in_force"], pace["crawl_delay_requested"], pace["max_crawl_delay"]
    if requested is None:
        why = "request_delay; robots.txt asks no Crawl-delay"
    elif requested > cap:
        why = f"robots.txt asks {requested:g} s, capped at {cap:g} s by source.max_crawl_delay_seconds"
    elif requested > pace["request_delay"]:
        why = f"robots.txt asks {requested:g} s"
    else:
        why = f"request_delay; robots.txt asks {requested:g} s"
    return f"1 request every {in_force:g} s ({why}) as of {pace['at']}"


def print_pace(pace: dict[str, Any] | None) -> None:
    print(f"pace: {describe_pace(pace)}" if pace else "pace: not known yet (no run since this presswatch version)")


def describe_ranges(ranges: list[list[int]], total: int) -> str:
    shown = ", ".join(f"{first}-{last}" if last > first else str(first) for first, last in ranges)
    return shown + (", ..." if total > len(ranges) else "")


def print_coverage(coverage: dict[str, dict[str, Any]], indent: str = "") -> None:
    """Per language: the ids missing inside the stored range (never probed) and those probed."""
    probes = set()
    for lang, found in coverage.items():
        if not found["stored"]:
            continue
        line = f"coverage {lang}: ids {found['first_id']}-{found['last_id']}, {found['stored']} stored; "
        if found["missing"]:
            probes.add(found.get("probe"))
            line += (f"{found['missing']} missing in {found['missing_range_count']} ranges: "
                     f"{describe_ranges(found['missing_ranges'], found['missing_range_count'])}")
        else:
            line += "no gaps"
        if found["probed_absent"] or found["probed_pending"]:
            line += (f"; probed: {found['probed_absent']} absent, "
                     f"{found['probed_pending']} not translated yet")
        print(indent + line)
    if "backfill --gaps" in probes:
        print(indent + "  (probe the missing ids: presswatch backfill --gaps)")
    elif None in probes:  # a slug site: a missing id has no address; older list pages may show it
        print(indent + "  (this source's addresses are not built from ids: read older list pages with "
              "presswatch backfill --pages N or --since DATE)")
