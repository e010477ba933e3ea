"""Polling strategies side by side: a publishing day replayed against the mirror on a simulated clock.

    python bench/bench_polling.py [--days-before 7] [--days 2] [--per-day 18] [--seed 16] [--rotate-every 2]
                                  [--lead-first 0.5]

The mirror (devsites/mirror.py, in this process) starts with its sample releases; then
`--days-before` days of publishing teach the store when the source publishes and which language
comes first, and the `--days` publishing days after them are measured (two by default: one day
holds only 18 releases, too few for a p95). Releases come at times drawn from a day profile in the
source's time zone (most in office hours, some in the evening, few at night), in one of three ways:
  - all languages within two minutes (65 %; the first language or Russian first, at random, or
    the first language in `--lead-first` of them),
  - the first language, the others 30 min to 4 h later (25 %),
  - another language alone, the rest 20 min to 2 h later (10 %).
Each strategy replays the same releases into its own store: the clock the crawler reads
(crawler.clock.utc_now, through which the store's timestamps and the pending-translation retries
go) is simulated, and the mirror publishes each version when the simulated time reaches it. No
time is slept: a poll runs at once, then the clock jumps to the next poll.

Printed per strategy: requests per hour (all, and list requests), the mean and p95 delay from a
release's first publication to its first stored version, the worst delay of a release that
appears in one language first (and of one that appears first in another language than the first
one), and what a poll costs in bytes when the site answers 200 instead of 304. BENCH_DEBUG=1 also
prints each kind's delays and the plan and lead language each adaptive store learned.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import os
import random
import statistics
import tempfile
from pathlib import Path

import httpx
from common import machine  # noqa: E402  (bench/ is on sys.path when run as a script)

import crawler.clock
from crawler import polling
from crawler.config import Config, ScheduleConfig, SourceConfig, StoreConfig
from crawler.fetch import Fetcher
from crawler.pipeline import Crawler
from crawler.sources import source_for
from crawler.store import Store
from devsites.mirror import Mirror, Release, sample_releases

# Relative weight of each hour of the day (source time) for a release's first version.
HOUR_WEIGHTS = [0.2] * 7 + [0.5, 1.5, 4, 4, 4, 4, 2.5, 4, 4, 4, 4, 3, 1.5, 1.5, 1.5, 0.8, 0.3]
START = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
# The three ways a release appears (plan_releases): all languages within two minutes, the first
# language alone for 30 min-4 h, another language alone for 20 min-2 h.
TOGETHER, FIRST_LANGUAGE, OTHER_LANGUAGE = 0.65, 0.25, 0.10
# Of the "together" releases, the share whose first-language version is out first (the rest:
# Russian first). 0.5 draws the leader with rng.choice, as the bench always did, so the default
# draws stay the same; any other value draws it with rng.random().
LEAD_FIRST = 0.5
TOGETHER_SPREAD_MINUTES = 2.0
# Polling goes on this long after the measured day, so its late releases are found too.
TAIL = dt.timedelta(hours=8)


class SimClock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@dataclasses.dataclass
class Planned:
    id: int
    times: dict[str, dt.datetime]  # when each language version appears (UTC)
    kind: str  # "together", "first-language", "other-language"

    @property
    def first(self) -> dt.datetime:
        return min(self.times.values())


def plan_releases(languages: list[str], timezone: dt.tzinfo, days: int, per_day: int, seed: int,
                  first_id: int) -> list[Planned]:
    rng = random.Random(seed)
    plan = []
    local_start = START.astimezone(timezone).replace(hour=0, minute=0, second=0)
    for day in range(days):
        for _ in range(per_day):
            hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
            first = (local_start + dt.timedelta(days=day, hours=hour, seconds=rng.uniform(0, 3600))
                     ).astimezone(dt.timezone.utc)
            roll = rng.random()
            if roll < TOGETHER:
                kind, lead = "together", _together_leader(rng, languages)
                times = {lang: first + dt.timedelta(seconds=0 if lang == lead else
                                                    rng.uniform(0, 60 * TOGETHER_SPREAD_MINUTES))
                         for lang in languages}
            elif roll < TOGETHER + FIRST_LANGUAGE:
                kind = "first-language"
                times = {lang: first + dt.timedelta(minutes=0 if lang == languages[0] else rng.uniform(30, 240))
                         for lang in languages}
            else:
                kind, lead = "other-language", rng.choice(languages[1:])
                times = {lang: first + dt.timedelta(minutes=0 if lang == lead else rng.uniform(20, 120))
                         for lang in languages}
            plan.append(Planned(0, times, kind))
    # The site numbers releases as it publishes them: ids rise with the first version's time.
    plan.sort(key=lambda planned: planned.first)
    for offset, planned in enumerate(plan):
        planned.id = first_id + offset
    return plan


def _together_leader(rng: random.Random, languages: list[str]) -> str:
    if LEAD_FIRST == 0.5:
        return rng.choice([languages[0], languages[-2]])
    return languages[0] if rng.random() < LEAD_FIRST else languages[-2]


@dataclasses.dataclass
class Result:
    name: str
    requests_per_hour: float
    list_requests_per_hour: float
    mean_minutes: float
    p95_minutes: float
    worst_one_first: float
    worst_other_first: float
    lists_per_poll: float
    missed: int
    next_poll_minutes: float  # the mean wait from a release to the next poll of any list (an oracle's delay)


def simulate(name: str, schedule: ScheduleConfig, plan: list[Planned], days_before: int, days: int,
             workdir: Path, seed: int) -> Result:
    rng = random.Random(seed)
    contents = {planned.id: sample.versions for planned, sample in zip(plan, sample_releases(len(plan)))}
    events = sorted(((when, p.id, lang) for p in plan for lang, when in p.times.items()), key=lambda e: e[0])
    clock = SimClock(START)
    crawler.clock.utc_now = clock  # every timestamp the crawler writes, and the pending retries
    with Mirror(per_page=12) as mirror:
        source_config = dataclasses.replace(SourceConfig(), base_url=mirror.base_url, request_delay=0.0,
                                            max_releases_per_run=1000)
        config = Config(source=source_config, schedule=schedule,
                        store=StoreConfig(path=str(workdir / f"{name}.db")))
        source = source_for(config)
        with Store.open(workdir / f"{name}.db", write=True) as store, Fetcher(source_config,
                                                                               robots_cache=store) as fetcher:
            crawl = Crawler(config, store, fetcher, source=source)
            crawl.crawl()  # the mirror's sample releases: history before the first day
            measured_from = START + dt.timedelta(days=days_before)
            measured_to = measured_from + dt.timedelta(days=days)
            requests_at: dict[str, int] = {}
            polls = lists = 0
            poll_times: list[dt.datetime] = []
            adaptive = polling.strategy_in_force(schedule) == "adaptive"
            next_poll = START
            while next_poll < measured_to + TAIL:
                clock.now = next_poll
                while events and events[0][0] <= clock.now:
                    when, item_id, lang = events.pop(0)
                    mirror.publish(Release(item_id, when.astimezone(source.timezone).date(),
                                           {lang: contents[item_id][lang]}))
                if "from" not in requests_at and clock.now >= measured_from:
                    requests_at["from"] = len(mirror.requests)
                if "to" not in requests_at and clock.now >= measured_to:
                    requests_at["to"] = len(mirror.requests)
                before = mirror.requests.count()
                poll_times.append(clock.now)
                summary = crawl.crawl()
                if measured_from <= clock.now < measured_to:
                    polls += 1
                    lists += sum(1 for entry in mirror.requests.snapshot()[before:] if "/lists/news" in entry.path)
                if summary.outcome == "failed":
                    raise SystemExit(f"{name}: {summary.line()}")
                if adaptive:
                    wait = polling.interval_plan(store, source.name, schedule, source.timezone, clock.now).seconds_at(clock.now)
                    wait += rng.uniform(0, min(schedule.jitter_seconds, wait / 10))
                else:
                    wait = schedule.interval_minutes * 60 + rng.uniform(0, schedule.jitter_seconds)
                next_poll = clock.now + dt.timedelta(seconds=wait)
            if adaptive and os.environ.get("BENCH_DEBUG"):
                plan_now = polling.interval_plan(store, source.name, schedule, source.timezone, clock.now)
                print(name, "plan (source hours):", [round(m, 1) for m in plan_now.minutes],
                      "profile:", polling.publishing_profile(store, source.name, source.timezone, clock.now),
                      "lead:", polling.lead_language(store, source.name, list(source_config.languages)))
            window = mirror.requests.snapshot()[requests_at["from"]:requests_at["to"]]
            found = {row[0]: crawler.clock.parse_iso(row[1]) for row in store.db.execute(
                "select id, min(first_seen) from items group by id")}
    result = _result(name, plan, found, window, measured_from, measured_to, polls, lists, days)
    return dataclasses.replace(result, next_poll_minutes=_next_poll_mean(plan, poll_times, measured_from, measured_to))


def _next_poll_mean(plan: list[Planned], poll_times: list[dt.datetime], start: dt.datetime, end: dt.datetime) -> float:
    waits = [(next(t for t in poll_times if t >= p.first) - p.first).total_seconds() / 60
             for p in plan if start <= p.first < end]
    return statistics.fmean(waits)


def list_choice_bound(budget_per_hour: float, schedule: ScheduleConfig, languages: int) -> tuple[float, float]:
    """(the mean wait to the next poll, the least mean delay ANY choice of one list a poll can reach) at
    `budget_per_hour` polls, spread over the hours by the exact release profile (the best plan there
    is), evenly spaced within each hour, for the three ways releases appear here.

    A release out in one language alone for a while (FIRST_LANGUAGE in the first, OTHER_LANGUAGE in
    one of the others) is found only by a read of that list: with a share f_L of the polls on list L,
    at best every P/f_L minutes, it waits P/(2 f_L) on average; the sum over the languages is least
    at f_L ∝ sqrt(share_L), giving (Σ sqrt(share_L))² × P/2. A release out everywhere within two
    minutes has one language out at once (the first language with a chance LEAD_FIRST, else
    Russian) and each other one a uniform time later: the first poll after it, R minutes on, finds it
    with a chance of at most q + (1 - q) R/2 (R < 2; q the likelier leader's chance, 1/2 by
    default), else the next poll (P later) at best."""
    shares = [FIRST_LANGUAGE] + [OTHER_LANGUAGE / (languages - 1)] * (languages - 1)
    one_language = sum(math.sqrt(share) for share in shares) ** 2
    weights = [weight / sum(HOUR_WEIGHTS) for weight in HOUR_WEIGHTS]
    minutes = polling.hourly_minutes([weight * 1e6 for weight in HOUR_WEIGHTS], budget_per_hour,
                                     schedule.floor_minutes, schedule.ceiling_minutes)

    def together(gap: float, steps: int = 400) -> float:
        waits = [(step + 0.5) / steps * gap for step in range(steps)]
        missed = 1.0 - max(LEAD_FIRST, 1.0 - LEAD_FIRST)  # the likelier leader is not out first
        return statistics.fmean(wait + gap * missed * max(0.0, 1.0 - wait / TOGETHER_SPREAD_MINUTES)
                                for wait in waits)

    next_poll = sum(weight * gap / 2 for weight, gap in zip(weights, minutes))
    bound = sum(weight * (TOGETHER * together(gap) + one_language * gap / 2) for weight, gap in zip(weights, minutes))
    return next_poll, bound


def _result(name: str, plan: list[Planned], found: dict[int, dt.datetime], window: list, start: dt.datetime,
            end: dt.datetime, polls: int, lists: int, days: int) -> Result:
    day = [p for p in plan if start <= p.first < end]
    delays = {p.id: (found[p.id] - p.first).total_seconds() / 60 for p in day if p.id in found}
    if os.environ.get("BENCH_DEBUG"):
        for kind in ("together", "first-language", "other-language"):
            values = [delays[p.id] for p in day if p.kind == kind and p.id in delays]
            print(name, kind, len(values), round(statistics.fmean(values), 2) if values else None,
                  sorted(round(v, 1) for v in values))
    ordered = sorted(delays.values())
    one_first = [delays[p.id] for p in day if p.kind != "together" and p.id in delays]
    other_first = [delays[p.id] for p in day if p.kind == "other-language" and p.id in delays]
    return Result(
        name=name,
        requests_per_hour=len(window) / (24 * days),
        list_requests_per_hour=sum(1 for entry in window if "/lists/news" in entry.path) / (24 * days),
        mean_minutes=statistics.fmean(ordered),
        p95_minutes=ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        worst_one_first=max(one_first, default=0.0),
        worst_other_first=max(other_first, default=0.0),
        lists_per_poll=lists / polls if polls else 0.0,
        missed=len(day) - len(delays),
        next_poll_minutes=0.0,
    )


def poll_bytes(languages: list[str]) -> tuple[int, int]:
    """Bytes of one list poll answered 200 (headers and body) and answered 304 (headers)."""
    with Mirror(per_page=12) as mirror, httpx.Client(base_url=mirror.base_url) as client:
        source = source_for(Config(source=dataclasses.replace(SourceConfig(), base_url=mirror.base_url)))
        url = source.list_url(languages[0], 1)
        full = client.get(url)
        again = client.get(url, headers={"If-None-Match": full.headers["ETag"]})

        def size(response: httpx.Response) -> int:
            head = sum(len(k) + len(v) + 4 for k, v in response.headers.items()) + 17
            return head + len(response.content)

        return size(full), size(again)


def main() -> int:
    global LEAD_FIRST  # --lead-first sets the release model's
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days-before", type=int, default=7, help="days of publishing before the measured one")
    parser.add_argument("--per-day", type=int, default=18, help="releases a day")
    parser.add_argument("--days", type=int, default=2, help="days measured (more: less noise)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--rotate-every", type=int, default=ScheduleConfig.rotate_every,
                        help="adaptive: every this many polls one reads another language's list")
    parser.add_argument("--lead-first", type=float, default=LEAD_FIRST,
                        help="of the releases out everywhere within 2 min, the share first out in the first "
                             "language, else Russian (default %(default)s)")
    args = parser.parse_args()
    LEAD_FIRST = args.lead_first

    config = Config()
    languages = list(config.source.languages)
    source = source_for(config)
    first_id = max(release.id for release in sample_releases()) + 1000
    plan = plan_releases(languages, source.timezone, args.days_before + args.days, args.per_day, args.seed, first_id)
    strategies = [
        ("fixed 10 min, 4 lists", ScheduleConfig(strategy="fixed")),
        ("adaptive, 24 lists/h", ScheduleConfig(strategy="adaptive", budget_requests_per_hour=24.0,
                                                rotate_every=args.rotate_every)),
        ("adaptive, 8 lists/h", ScheduleConfig(strategy="adaptive", budget_requests_per_hour=8.0,
                                               rotate_every=args.rotate_every)),
    ]
    print(f"bench_polling: {machine()}")
    print(f"{args.per_day} releases a day, {args.days_before} days learned, {args.days} measured "
          f"(seed {args.seed}; {LEAD_FIRST:.0%} of the releases out everywhere at once first in the first "
          f"language); adaptive: one poll in {args.rotate_every} reads another list")
    with tempfile.TemporaryDirectory() as tmp:
        results = [simulate(f"s{index}", schedule, plan, args.days_before, args.days, Path(tmp), args.seed)
                   for index, (_, schedule) in enumerate(strategies)]
    header = (f"{'strategy':<24}{'req/h':>7}{'lists/h':>9}{'lists/poll':>11}{'mean min':>10}{'p95 min':>9}"
              f"{'worst 1-lang-first':>20}{'worst other-first':>19}{'missed':>8}")
    print(header)
    for (label, _), result in zip(strategies, results):
        print(f"{label:<24}{result.requests_per_hour:>7.1f}{result.list_requests_per_hour:>9.1f}"
              f"{result.lists_per_poll:>11.2f}{result.mean_minutes:>10.2f}{result.p95_minutes:>9.2f}"
              f"{result.worst_one_first:>20.1f}{result.worst_other_first:>19.1f}{result.missed:>8}")
    base = results[0]
    for (label, _), result in list(zip(strategies, results))[1:]:
        print(f"{label}: {base.mean_minutes / result.mean_minutes:.1f}x sooner on average than "
              f"{strategies[0][0]}, with {result.list_requests_per_hour / base.list_requests_per_hour:.2f}x "
              f"its list requests ({result.requests_per_hour / base.requests_per_hour:.2f}x all requests)")
    for (label, schedule), result in list(zip(strategies, results))[1:]:
        next_poll, bound = list_choice_bound(result.list_requests_per_hour, schedule, len(languages))
        print(f"{label}: the next poll of any list comes {result.next_poll_minutes:.2f} min after a release "
              f"(what an oracle choosing the list would reach at these polls); at {result.list_requests_per_hour:.1f} "
              f"polls/h the best plan gives {next_poll:.2f}, and ANY choice of one list a poll at least "
              f"{bound:.2f} min: at most {base.mean_minutes / bound:.1f}x sooner than {strategies[0][0]}")
    full, not_modified = poll_bytes(languages)
    print(f"bytes of a poll: a list answered 200 is {full:,} bytes, answered 304 {not_modified:,} bytes; "
          f"a fixed poll (4 lists) costs {4 * full:,} bytes without 304, an adaptive poll (1 list) {full:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
