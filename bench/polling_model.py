"""Which list a poll reads, compared on many draws of bench_polling's publishing days, without the mirror.

    python bench/polling_model.py [--seeds 20] [--budget 24] [--together 0.65] [--lead-first 0.5] [--grid]

`--together` changes the share of releases out in every language within two minutes (the rest
keeps bench_polling's 5:2 split between "first language alone" and "another language alone"):
how much of a language's lead is real on the live site is not known, and the gain depends on it.

bench_polling.py replays two days through the real crawler and the mirror (minutes a seed, and 36
releases: noisy). This replays the same releases (bench_polling.plan_releases, the same kinds and
hours) against a model of a poll: a poll at time t reading list L finds every release whose L
version is out by t; the waits come from crawler.polling.hourly_minutes over the hours at which
the model has found releases (as crawler.polling learns them), plus the same jitter. So list
choices can be compared over many seeds in seconds. Printed per policy: the mean delay over all
seeds, the mean and least ratio to the fixed strategy (4 lists every 10 min) seed by seed, the
worst delay, and each kind's mean delay.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import statistics
from collections import Counter
from collections.abc import Callable

import bench_polling  # bench/ is on sys.path when run as a script
from bench_polling import START, plan_releases

from crawler import polling

LANGS = ["uz", "oz", "ru", "en"]
TASHKENT_HOURS = 5
Policy = Callable[[float, dict, list], str]


def run(policy: Policy | None, seed: int, budget: float = 24.0, days_before: int = 7, days: int = 2,
        per_day: int = 18, jitter_minutes: float = 1.0) -> tuple[float, float, dict[str, list[float]]]:
    """(mean delay, worst delay, delays by kind) of the measured days; policy None: every list
    every 10 min (+ up to the jitter)."""
    timezone = dt.timezone(dt.timedelta(hours=TASHKENT_HOURS))
    releases = [(p.id, {lang: (when - START).total_seconds() / 60 for lang, when in p.times.items()}, p.kind,
                 (p.first - START).total_seconds() / 60)
                for p in plan_releases(LANGS, timezone, days_before + days, per_day, seed, 1)]
    rng = random.Random(seed)
    found: dict[int, float] = {}
    state: dict = {"last": {lang: 0.0 for lang in LANGS}, "polls": 0, "history": []}
    measured_from, measured_to = days_before * 1440, (days_before + days) * 1440
    now = 0.0
    while now < measured_to + 480:
        waiting = [r for r in releases if r[0] not in found and r[3] <= now]
        for lang in (LANGS if policy is None else [policy(now, state, waiting)]):
            state["last"][lang] = now
            for release_id, times, _, _ in waiting:
                if release_id not in found and times[lang] <= now:
                    found[release_id] = now
                    state["history"].append({other for other in LANGS if times[other] <= now})
        state["polls"] += 1
        if policy is None:
            now += 10 + rng.uniform(0, jitter_minutes)
            continue
        counts = [0] * 24
        for moment in found.values():
            counts[int(moment / 60 + TASHKENT_HOURS) % 24] += 1
        wait = polling.hourly_minutes(counts, budget, 1.0, 30.0)[int(now / 60 + TASHKENT_HOURS) % 24]
        now += wait + rng.uniform(0, min(jitter_minutes, wait / 10))
    by_kind: dict[str, list[float]] = {}
    for release_id, _, kind, first in releases:
        if measured_from <= first < measured_to:
            by_kind.setdefault(kind, []).append(found[release_id] - first)
    delays = [delay for values in by_kind.values() for delay in values]
    return statistics.fmean(delays), max(delays), by_kind


def rotation(rotate_every: int = 2) -> Policy:
    """crawler.polling as shipped: the lead (the first language here) with every rotate_every-th poll
    on another list in turn."""
    def policy(now: float, state: dict, waiting: list) -> str:
        return polling.list_for_poll(state["polls"], LANGS, "uz", rotate_every)
    return policy


def expected_value(power: float = 0.5, prior: float = 1.0, cap: int | None = None) -> Policy:
    """Read the list maximising share_L ** power × polls since it was read, share_L the share of the
    last 200 releases out in L alone when found (plus a prior); a list unread for `cap` polls first."""
    def policy(now: float, state: dict, waiting: list) -> str:
        last = state.setdefault("last_poll", {lang: -1 for lang in LANGS})
        alone = {lang: prior for lang in LANGS}
        for out in state["history"][-200:]:
            if len(out) == 1:
                alone[next(iter(out))] += 1
        polls = state["polls"]
        chosen = max(LANGS, key=lambda lang: alone[lang] ** power * (polls - last[lang]))
        overdue = [lang for lang in LANGS if cap and polls - last[lang] >= cap]
        chosen = min(overdue, key=lambda lang: last[lang]) if overdue else chosen
        last[chosen] = polls
        return chosen
    return policy


def learned(bound: int = 6) -> Policy:
    """The learned choice tried for #16 and NOT shipped (BENCHMARKS.md, "Polling"; its crawler side and
    tests are commit 7673ae3): each list's share of the polls ∝ sqrt(its releases out in it alone
    when found, of the last 200, plus 1), at least 1/bound each; each poll reads the list most
    overdue against its share (due 1/share polls after its last read), but every list at least once
    in any `bound` polls (earliest deadline first); each list in turn with less than MIN_HISTORY."""
    def policy(now: float, state: dict, waiting: list) -> str:
        last_read = state.setdefault("last_read", {})
        history = state["history"][-polling.LEARN_RELEASES:]
        if len(history) < polling.MIN_HISTORY:
            chosen = polling.list_for_poll(state["polls"], LANGS, None, 2)
        else:
            alone = Counter(next(iter(out)) for out in history if len(out) == 1)
            chosen = choose_list(state["polls"], last_read, learned_shares(alone, bound), bound)
        last_read[chosen] = state["polls"]
        return chosen
    return policy


def learned_shares(alone: Counter, bound: int) -> dict[str, float]:
    """sqrt(releases out alone + 1), normalised, each at least 1/bound (what the bound takes anyway;
    asked for more, a list's reads come in bunches)."""
    weights = {lang: math.sqrt(alone[lang] + 1.0) for lang in LANGS}
    floor = 1.0 / max(bound, len(LANGS))
    at_floor: set[str] = set()
    for _ in LANGS:  # each pass puts at least one more list at the floor, or ends
        free = sum(weight for lang, weight in weights.items() if lang not in at_floor)
        left = 1.0 - floor * len(at_floor)
        low = {lang for lang, weight in weights.items() if lang not in at_floor and weight / free * left < floor}
        if not low:
            break
        at_floor |= low
    free = sum(weight for lang, weight in weights.items() if lang not in at_floor)
    left = 1.0 - floor * len(at_floor)
    return {lang: floor if lang in at_floor else weight / free * left for lang, weight in weights.items()}


def choose_list(poll: int, last_read: dict[str, int], shares: dict[str, float], bound: int) -> str:
    never = [lang for lang in LANGS if lang not in last_read]
    if never:
        return never[0]
    deadlines = sorted((last_read[lang] + bound, LANGS.index(lang), lang) for lang in LANGS)
    if any(deadline - poll + 1 <= rank for rank, (deadline, _, _) in enumerate(deadlines, start=1)):
        return deadlines[0][2]  # must be read now for every list to be read within `bound` polls
    # a tie goes to the smaller share, so lists read in a row at the start drift apart
    return max(LANGS, key=lambda lang: (round(poll - last_read[lang] - 1.0 / shares[lang], 9), -shares[lang]))


def cycle(order: list[str]) -> Policy:
    def policy(now: float, state: dict, waiting: list) -> str:
        return order[state["polls"] % len(order)]
    return policy


def oracle(now: float, state: dict, waiting: list) -> str:
    """Knows which lists hold the releases not found yet: the best any list choice could do."""
    return max(LANGS, key=lambda lang: (sum(1 for r in waiting if r[1][lang] <= now), lang == "uz"))


POLICIES: list[tuple[str, Callable[[], Policy]]] = [
    ("rotation, every 2nd poll another list (shipped)", lambda: rotation(2)),
    ("rotation, every 3rd poll another list", lambda: rotation(3)),
    ("expected value, sqrt(share) x polls", lambda: expected_value(0.5)),
    ("expected value, capped at 6 polls", lambda: expected_value(0.5, cap=6)),
    ("expected value, share x polls", lambda: expected_value(1.0)),
    ("learned, every list within 6 polls", lambda: learned(6)),
    ("learned, within 12 polls (rotate_every 4)", lambda: learned(12)),
    ("uz ru uz ru ... (the two that lead)", lambda: cycle(["uz", "ru"])),
    ("uz ru oz uz ru en", lambda: cycle(["uz", "ru", "oz", "uz", "ru", "en"])),
    ("oracle list choice", lambda: oracle),
]
# The grid: the shipped rotation against the learned choice (not shipped), and the oracle for scale.
GRID_POLICIES = ("rotation, every 2nd poll another list (shipped)", "learned, every list within 6 polls",
                 "learned, within 12 polls (rotate_every 4)", "oracle list choice")


def set_release_model(together: float, lead_first: float) -> None:
    """bench_polling's release model with `together` out everywhere within 2 min (the rest split 5:2
    between "first language alone" and "another language alone"), the first language out first in
    `lead_first` of those."""
    alone = 1.0 - together
    bench_polling.TOGETHER, bench_polling.LEAD_FIRST = together, lead_first
    bench_polling.FIRST_LANGUAGE, bench_polling.OTHER_LANGUAGE = alone * 5 / 7, alone * 2 / 7


def compare(names: list[str], seeds: range, budget: float) -> tuple[float, dict[str, tuple]]:
    """The fixed strategy's mean delay, and per policy: (mean, ratio mean, ratio least, worst, kinds)."""
    fixed = {seed: run(None, seed)[0] for seed in seeds}
    rows = {}
    for name, make in POLICIES:
        if name not in names:
            continue
        results = [run(make(), seed, budget) for seed in seeds]
        ratios = [fixed[seed] / result[0] for seed, result in zip(seeds, results)]
        kinds: dict[str, list[float]] = {}
        for result in results:
            for kind, values in result[2].items():
                kinds.setdefault(kind, []).extend(values)
        rows[name] = (statistics.fmean(r[0] for r in results), statistics.fmean(ratios), min(ratios),
                      max(r[1] for r in results), {kind: statistics.fmean(v) for kind, v in sorted(kinds.items())})
    return statistics.fmean(fixed.values()), rows


def print_grid(seeds: range, budget: float) -> None:
    print(f"grid: {len(seeds)} seeds, {budget:g} polls/h; mean delay in min, ratio to fixed (mean / least of the seeds)")
    print(f"{'together':>8} {'lead first':>10} {'fixed':>6}  " + "  ".join(f"{name[:30]:>30}" for name in GRID_POLICIES))
    for together in (0.65, 0.9):
        for lead_first in (0.5, 0.8, 0.95):
            set_release_model(together, lead_first)
            fixed, rows = compare(list(GRID_POLICIES), seeds, budget)
            cells = [f"{rows[name][0]:5.2f} {rows[name][1]:.2f}x/{rows[name][2]:.2f}x" for name in GRID_POLICIES]
            print(f"{together:>8.0%} {lead_first:>10.0%} {fixed:>6.2f}  " + "  ".join(f"{cell:>30}" for cell in cells),
                  flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=float, default=24.0)
    parser.add_argument("--together", type=float, default=bench_polling.TOGETHER,
                        help="share of releases out in every language within 2 min (default %(default)s)")
    parser.add_argument("--lead-first", type=float, default=bench_polling.LEAD_FIRST,
                        help="of those, the share whose first-language version is out first, else Russian "
                             "(default %(default)s)")
    parser.add_argument("--policies", default="", help="only the policies whose name holds this text")
    parser.add_argument("--grid", action="store_true",
                        help="the rotation and the learned choice over lead-first 0.5/0.8/0.95 x together 0.65/0.9")
    args = parser.parse_args()
    seeds = range(1, args.seeds + 1)
    if args.grid:
        print_grid(seeds, args.budget)
        return 0
    set_release_model(args.together, args.lead_first)
    names = [name for name, _ in POLICIES if args.policies in name]
    fixed, rows = compare(names, seeds, args.budget)
    print(f"{len(seeds)} seeds, {args.budget:g} polls/h, {args.together:.0%} of releases out everywhere within 2 min "
          f"({args.lead_first:.0%} of them first in the first language); fixed (4 lists every 10 min): mean {fixed:.2f} min")
    for name, (mean, ratio, least, worst, kinds) in rows.items():
        print(f"{name:<40} mean {mean:5.2f} min  ratio mean {ratio:.2f}x least {least:.2f}x  worst {worst:5.1f} min  "
              + "  ".join(f"{kind} {value:.2f}" for kind, value in kinds.items()))
    alone = 1.0 - args.together
    print(f"(sqrt of the shares out alone: {math.sqrt(alone * 5 / 7):.2f} for the first language, "
          f"{math.sqrt(alone * 2 / 7 / 3):.2f} for each other one)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
