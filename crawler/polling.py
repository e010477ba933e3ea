"""The adaptive poll: which language list a crawl reads, and how long the daemon waits before the next.

Ids are shared by every language of a release, so one list tells that a release is new; the
pipeline then fetches the new id in every language (a version not out yet becomes a pending
translation, retried later). So a poll reads ONE list:

- the lead language: the one whose versions are most often already out when a release is first
  stored (learned from `first_seen` of the last releases); with no such history, none;
- every `rotate_every`-th poll reads another language's list instead, in turn (with no lead, every
  poll takes the next language in turn). The bound: a release that appears in one language first
  is found within `rotate_every × (languages − 1)` polls (or `languages` polls with no lead); in the
  lead language, within 2 polls.

The wait between polls follows the hours at which the source publishes (when releases were first
stored, in the source's time zone, over the last four weeks): polls are spread over the hours of a
day in proportion to the square root of each hour's releases (what minimises the mean delay for a
given number of polls), with `budget_requests_per_hour × 24` polls a day, each wait kept within
[floor_minutes, ceiling_minutes]. The budget counts list requests, one a poll (robots.txt is cached
in the store, crawler.fetch); release pages are the same under any strategy and come on top.

This module owns the table `poll_state` (the place in the rotation, per source), so a `crawl`
started by cron rotates as the daemon does.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Sequence
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


def lead_language(store: Store, source_name: str, languages: Sequence[str]) -> str | None:
    """The language most often out when a release is first stored, among `languages` (ties go to
    the earlier one); None with fewer than MIN_HISTORY releases to learn from."""
    first: dict[int, dt.datetime] = {}
    versions: list[tuple[int, str, dt.datetime]] = []
    for item_id, lang, first_seen in store.first_seen_of_recent(source_name, LEARN_RELEASES):
        moment = parse_stored_time(first_seen)
        if moment is None:
            continue
        versions.append((item_id, lang, moment))
        first[item_id] = min(first.get(item_id, moment), moment)
    if len(first) < MIN_HISTORY:
        return None
    out_first = Counter(lang for item_id, lang, moment in versions
                        if (moment - first[item_id]).total_seconds() <= OUT_AT_DISCOVERY_SECONDS)
    best = max(languages, key=lambda lang: (out_first[lang], -languages.index(lang)))
    return best if out_first[best] else None


def list_for_poll(poll: int, languages: Sequence[str], lead: str | None, rotate_every: int) -> str:
    """The list poll number `poll` (0, 1, 2...) reads: the lead, except every rotate_every-th poll,
    which reads the other languages in turn; with no lead, each language in turn."""
    if lead is None or lead not in languages or len(languages) == 1:
        return languages[poll % len(languages)]
    if poll % rotate_every != rotate_every - 1:
        return lead
    others = [lang for lang in languages if lang != lead]
    return others[(poll // rotate_every) % len(others)]


def rotation_bound(languages: int, rotate_every: int, *, lead: bool = True) -> int:
    """Polls within which a release out in any one language is found (every list is read at least
    once in so many polls in a row)."""
    if languages <= 1:
        return 1
    return rotate_every * (languages - 1) if lead else languages


def lists_for_poll(store: Store, schedule: ScheduleConfig, source_name: str, languages: Sequence[str]) -> list[str]:
    """The language lists this crawl reads: all of them under the fixed strategy, and into an empty
    store (the first crawl seeds it from every list); otherwise one under the adaptive strategy (and
    the poll is counted, for the rotation)."""
    languages = list(languages)
    if strategy_in_force(schedule) != "adaptive" or not languages or not store.release_count(source_name):
        return languages
    polls = _polls_so_far(store, source_name)
    chosen = list_for_poll(polls, languages, lead_language(store, source_name, languages), schedule.rotate_every)
    if not store.read_only:
        with store.atomic() as db:
            db["poll_state"].upsert({"source": source_name, "polls": polls + 1, "last_list": chosen,
                                     "at": now_utc()}, pk="source")
    return [chosen]


def _polls_so_far(store: Store, source_name: str) -> int:
    row = store.db.execute("select polls from poll_state where source = ?", [source_name]).fetchone()
    return int(row[0]) if row else 0


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
    lead = lead_language(store, source_name, list(languages))
    bound = rotation_bound(len(languages), schedule.rotate_every, lead=lead is not None)
    how = f"lead list {lead}, another in turn every {schedule.rotate_every} polls" if lead else "each list in turn"
    return (f"adaptive: one list a poll ({how}; a release out in any one language is found within {bound} "
            f"polls), budget {schedule.budget_requests_per_hour:g} list requests/hour, "
            f"every {schedule.floor_minutes:g}-{schedule.ceiling_minutes:g} min")
