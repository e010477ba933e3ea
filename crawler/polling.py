"""The adaptive poll: which language list a crawl reads, and how long the daemon waits before the next.

Ids are shared by every language of a release, so one list tells that a release is new; the
pipeline then fetches the new id in every language (a version not out yet becomes a pending
translation, retried later). So a poll reads ONE list, chosen from what the store has learned:

- each list gets a share of the polls in proportion to the square root of how many of the last
  releases were out in that language ALONE when found (`first_seen`: the release's other versions
  came on a later retry), plus a small prior; a release out in one list alone waits for a read of
  that list, and the square root is what minimises the mean wait (BENCHMARKS.md, "Polling");
- each poll reads the list most overdue against its share (a list with share f is due 1/f polls
  after its last read), so each list gets its share with its reads evenly spread;
- the bound: every list is read at least once in any `rotate_every × (languages − 1)` polls in a
  row (6 with four languages), so a release that appears in one language first is found within so
  many polls; a list due is read before the share says so (earliest deadline first);
- with fewer than MIN_HISTORY releases stored, each list in turn (within `languages` polls).

The wait between polls follows the hours at which the source publishes (when releases were first
stored, in the source's time zone, over the last four weeks): polls are spread over the hours of a
day in proportion to the square root of each hour's releases (what minimises the mean delay for a
given number of polls), with `budget_requests_per_hour × 24` polls a day, each wait kept within
[floor_minutes, ceiling_minutes]. The budget counts list requests, one a poll (robots.txt is cached
in the store, crawler.fetch); release pages are the same under any strategy and come on top.

This module owns the tables `poll_state` (the polls so far, per source) and `poll_lists` (the poll
at which each list was last read), so a `crawl` started by cron chooses as the daemon does.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crawler.clock import now_utc, parse_stored_time, utc_now
from crawler.schedule import ScheduleConfig, describe_schedule, strategy_in_force
from crawler.store import Store

# The releases whose versions teach which language publishes first.
LEARN_RELEASES = 200
# Versions stored within this of a release's first version were out when it was found (a poll
# fetches every language of a new id within seconds; a late one waits for its pending retry).
OUT_AT_DISCOVERY_SECONDS = 300
# Fewer releases than this: no lead language yet, plain rotation.
MIN_HISTORY = 10
# How far back the publishing hours are learned.
PROFILE_DAYS = 28
HOURS = 24


# --- which list -----------------------------------------------------------------------------------


def list_for_poll(poll: int, languages: Sequence[str]) -> str:
    """The list poll number `poll` (0, 1, 2...) reads while there is too little history to learn
    from: each language in turn."""
    return languages[poll % len(languages)]


def poll_bound(languages: int, rotate_every: int) -> int:
    """Polls within which a release out in any one language is found: every list is read at least
    once in so many polls in a row (`rotate_every × (languages − 1)`; at least `languages`)."""
    if languages <= 1:
        return 1
    return max(rotate_every * (languages - 1), languages)


def lists_for_poll(store: Store, schedule: ScheduleConfig, source_name: str, languages: Sequence[str]) -> list[str]:
    """The language lists this crawl reads: all of them under the fixed strategy, and into an empty
    store (the first crawl seeds it from every list); otherwise one under the adaptive strategy (and
    the poll is counted, and the list's last read kept, for the bound)."""
    languages = list(languages)
    if strategy_in_force(schedule) != "adaptive" or not languages or not store.release_count(source_name):
        return languages
    polls = _polls_so_far(store, source_name)
    bound = poll_bound(len(languages), schedule.rotate_every)
    shares = poll_shares(store, source_name, languages, bound)
    if shares is None:
        chosen = list_for_poll(polls, languages)
    else:
        chosen = choose_list(polls, _last_read(store, source_name), shares, bound)
    if not store.read_only:
        with store.atomic() as db:
            db["poll_state"].upsert({"source": source_name, "polls": polls + 1, "last_list": chosen,
                                     "at": now_utc()}, pk="source")
            db["poll_lists"].upsert({"source": source_name, "lang": chosen, "last_poll": polls},
                                    pk=("source", "lang"))
    return [chosen]


def poll_shares(store: Store, source_name: str, languages: Sequence[str], bound: int) -> dict[str, float] | None:
    """The share of the polls each list gets, learned from the store; None with too little history."""
    alone = releases_out_alone(store, source_name, languages)
    return None if alone is None else learned_shares(alone, languages, bound)


def _polls_so_far(store: Store, source_name: str) -> int:
    row = store.db.execute("select polls from poll_state where source = ?", [source_name]).fetchone()
    return int(row[0]) if row else 0


def _last_read(store: Store, source_name: str) -> dict[str, int]:
    return {lang: int(last) for lang, last in store.db.execute(
        "select lang, last_poll from poll_lists where source = ?", [source_name])}


# --- the learned list choice -----------------------------------------------------------------------

# Added to each language's count of releases out in it alone, so a language that has not led lately
# keeps a small share (and the shares of a young history stay near even).
LEAD_PRIOR = 1.0


def releases_out_alone(store: Store, source_name: str, languages: Sequence[str]) -> Counter[str] | None:
    """Of the last LEARN_RELEASES releases, how many were out in each language ALONE when found: the
    release's one version stored within OUT_AT_DISCOVERY_SECONDS of its first (the others came on a
    pending-translation retry, 15 min or more later). None with fewer than MIN_HISTORY releases."""
    stored: dict[int, list[tuple[dt.datetime, str]]] = {}
    for item_id, lang, first_seen in store.first_seen_of_recent(source_name, LEARN_RELEASES):
        moment = parse_stored_time(first_seen)
        if moment is not None:
            stored.setdefault(item_id, []).append((moment, lang))
    if len(stored) < MIN_HISTORY:
        return None
    alone: Counter[str] = Counter({lang: 0 for lang in languages})
    for versions in stored.values():
        first = min(moment for moment, _ in versions)
        out = [lang for moment, lang in versions if (moment - first).total_seconds() <= OUT_AT_DISCOVERY_SECONDS]
        if len(out) == 1 and out[0] in alone and len(versions) > 1:
            alone[out[0]] += 1
    return alone


def learned_shares(alone: Mapping[str, float], languages: Sequence[str], bound: int) -> dict[str, float]:
    """The share of the polls each list gets: proportional to the square root of its releases out in
    it alone (plus LEAD_PRIOR), but at least 1/bound each, what the bound takes anyway. A release out
    in list L alone waits for a read of L; with a share f_L of the polls, evenly spread, P/(2 f_L)
    on average, and the sum over the languages weighted by how often each leads is least at
    f_L ∝ sqrt(share_L) (BENCHMARKS.md, "Polling"). The floor keeps the shares ones the reads can
    follow evenly: asked for more than the bound leaves, a list's reads would come in bunches."""
    weights = {lang: math.sqrt(alone.get(lang, 0) + LEAD_PRIOR) for lang in languages}
    floor = 1.0 / max(bound, len(languages))
    at_floor: set[str] = set()
    for _ in range(len(weights)):  # each pass puts at least one more list at the floor, or ends
        free = sum(weight for lang, weight in weights.items() if lang not in at_floor)
        left = 1.0 - floor * len(at_floor)
        low = {lang for lang, weight in weights.items() if lang not in at_floor and weight / free * left < floor}
        if not low:
            break
        at_floor |= low
    free = sum(weight for lang, weight in weights.items() if lang not in at_floor)
    left = 1.0 - floor * len(at_floor)
    return {lang: floor if lang in at_floor else weight / free * left for lang, weight in weights.items()}


def choose_list(poll: int, last_read: Mapping[str, int], shares: Mapping[str, float], bound: int) -> str:
    """The list poll number `poll` reads: the one most overdue against its share (a list with share
    f is meant to be read every 1/f polls: the one whose last read plus 1/f lies furthest back), so
    each list gets its share with its reads evenly spread. But a list must be read now when waiting
    longer would leave some list unread for more than `bound` polls in a row (earliest deadline
    first; needs bound >= lists), and a list never read comes first."""
    languages = list(shares)
    # A tie goes to the list with the smaller share (the longer period): lists read in a row at the
    # start (or when their shares change) drift apart instead of staying in step, every so many
    # polls in a bunch.
    return _due_list(poll, last_read, languages, bound) or max(
        languages, key=lambda lang: (round(poll - last_read[lang] - 1.0 / shares[lang], 9), -shares[lang]))


def _due_list(poll: int, last_read: Mapping[str, int], languages: list[str], bound: int) -> str | None:
    """The list that must be read now for the bound to hold, if any."""
    never = [lang for lang in languages if lang not in last_read]
    if never:
        return never[0]
    deadlines = sorted((last_read[lang] + bound, languages.index(lang), lang) for lang in languages)
    if any(deadline - poll + 1 <= rank for rank, (deadline, _, _) in enumerate(deadlines, start=1)):
        return deadlines[0][2]
    return None


# --- how long to wait -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntervalPlan:
    """Minutes between two polls for each hour of the day (0-23) in the source's time zone."""

    minutes: tuple[float, ...]
    timezone: dt.tzinfo

    def seconds_at(self, moment: dt.datetime) -> float:
        """The wait after a poll that starts at `moment`."""
        return self.minutes[moment.astimezone(self.timezone).hour] * 60

    def __call__(self, moment: dt.datetime) -> float:
        return self.seconds_at(moment)

    def polls_per_day(self) -> float:
        return sum(60 / minutes for minutes in self.minutes)


def publishing_profile(store: Store, source_name: str, timezone: dt.tzinfo,
                       now: dt.datetime | None = None) -> list[int]:
    """Releases first stored in each hour of the day (source time), over the last PROFILE_DAYS,
    counting only those stored on the day they were published or the day after (not a backfill)."""
    now = now or utc_now()
    since = (now - dt.timedelta(days=PROFILE_DAYS)).astimezone(dt.timezone.utc).isoformat(timespec="seconds")
    counts = [0] * HOURS
    for first_seen, published in store.discoveries_since(source_name, since):
        moment = parse_stored_time(first_seen)
        if moment is None:
            continue
        local = moment.astimezone(timezone)
        if published and published < (local.date() - dt.timedelta(days=1)).isoformat():
            continue  # an old release found late (a backfill, a first run): not when the source publishes
        counts[local.hour] += 1
    return counts


def hourly_minutes(counts: Sequence[float], budget_per_hour: float, floor: float, ceiling: float) -> tuple[float, ...]:
    """Minutes between polls for each hour: polls spread in proportion to the square root of each
    hour's releases (plus a little everywhere, so a quiet hour is never left out), budget × 24
    polls a day, each wait within [floor, ceiling]."""
    mean = sum(counts) / HOURS
    weights = [math.sqrt(count + max(mean / 4, 0.5)) for count in counts]
    minutes: list[float | None] = [None] * HOURS
    polls_left = budget_per_hour * HOURS
    for _ in range(HOURS + 1):  # each pass fixes at least one hour at a bound, or ends
        free = [hour for hour in range(HOURS) if minutes[hour] is None]
        total = sum(weights[hour] for hour in free)
        clamped = False
        for hour in free:
            share = polls_left * weights[hour] / total if total and polls_left > 0 else 0.0
            wait = 60 / share if share else math.inf
            if wait < floor or wait > ceiling:
                minutes[hour] = min(max(wait, floor), ceiling)
                polls_left -= 60 / minutes[hour]
                clamped = True
        if not clamped:
            for hour in free:
                minutes[hour] = 60 / (polls_left * weights[hour] / total)
            break
    return tuple(round(float(value), 3) for value in minutes)  # type: ignore[arg-type]


def interval_plan(store: Store, source_name: str, schedule: ScheduleConfig, timezone: dt.tzinfo,
                  now: dt.datetime | None = None) -> IntervalPlan:
    """The adaptive waits for the next day, learned from the store (`timezone`: the source's)."""
    counts = publishing_profile(store, source_name, timezone, now)
    return IntervalPlan(hourly_minutes(counts, schedule.budget_requests_per_hour, schedule.floor_minutes,
                                       schedule.ceiling_minutes), timezone)


def even_plan(schedule: ScheduleConfig, timezone: dt.tzinfo) -> IntervalPlan:
    """The budget spread evenly over the day (what a store with no history gets)."""
    return IntervalPlan(hourly_minutes([0] * HOURS, schedule.budget_requests_per_hour, schedule.floor_minutes,
                                       schedule.ceiling_minutes), timezone)


def describe_poll(store: Store, schedule: ScheduleConfig, source_name: str, languages: Sequence[str]) -> str:
    """The strategy in one line, for `status`."""
    if strategy_in_force(schedule) != "adaptive":
        return f"fixed: every list each run, {describe_schedule(schedule)}"
    languages = list(languages)
    bound = poll_bound(len(languages), schedule.rotate_every)
    shares = poll_shares(store, source_name, languages, bound)
    if shares is None:
        how = f"each list in turn until {MIN_HISTORY} releases are stored"
    else:
        ordered = sorted(languages, key=lambda lang: (-shares[lang], languages.index(lang)))
        how = "lists: " + ", ".join(f"{lang} {shares[lang]:.0%}" for lang in ordered)
    return (f"adaptive: one list a poll ({how}; every list within {bound} polls, so a release out in any one "
            f"language is found within {bound} polls), budget {schedule.budget_requests_per_hour:g} list "
            f"requests/hour, every {schedule.floor_minutes:g}-{schedule.ceiling_minutes:g} min")
