"""The crawl's schedule: [schedule] as an APScheduler trigger, its interval, and its description.

The config check (crawler.config) and the daemon build the trigger with the same `make_trigger`,
so a cron expression the config accepts is one the daemon can run. Two strategies: "fixed" (every
list at interval_minutes or on cron) and "adaptive" (crawler.polling decides which list and how
long to wait; `PlanTrigger` fires by its plan).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger


class ScheduleConfig(Protocol):
    """The [schedule] keys this module reads (crawler.config.ScheduleConfig, which imports this
    module to check schedule.cron)."""

    interval_minutes: float
    jitter_seconds: float
    cron: str
    strategy: str
    budget_requests_per_hour: float
    floor_minutes: float
    ceiling_minutes: float
    rotate_every: int
    set_in_file: tuple[str, ...]


STRATEGIES = ("auto", "adaptive", "fixed")
# A file that sets one of these keeps the fixed schedule under strategy "auto".
FIXED_SCHEDULE_KEYS = ("interval_minutes", "cron")


def strategy_in_force(schedule: ScheduleConfig) -> str:
    """"fixed" or "adaptive": "auto" is adaptive unless the config file sets interval_minutes or
    cron (or cron is set at all), so users who chose a fixed schedule keep it."""
    if schedule.strategy != "auto":
        return schedule.strategy
    if schedule.cron.strip() or any(key in schedule.set_in_file for key in FIXED_SCHEDULE_KEYS):
        return "fixed"
    return "adaptive"

_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CRON_DAY_NUMBERS = {name: number for number, name in enumerate(_CRON_DAYS[:7])}
# A day of week as crontab writes it: a number 0-7 or a day's name, a range, a step. ASCII digits
# only: int() would take other scripts' digits too.
_WEEKDAY_PART = re.compile(r"(\*|[0-9]+|[a-z]{3})(?:-([0-9]+|[a-z]{3}))?(?:/([0-9]+))?", re.IGNORECASE)


def _cron_day(text: str, *, range_end: bool = False) -> int:
    if text.isdigit():
        return int(text)
    if text.lower() not in _CRON_DAY_NUMBERS:
        raise ValueError(f"unknown day of week {text!r}")
    # "fri-sun": a range may end on Sunday written as a name, as it may with 7
    return 7 if range_end and text.lower() == "sun" else _CRON_DAY_NUMBERS[text.lower()]


def _cron_weekdays(field: str) -> str:
    """Crontab day-of-week numbers and names (0 or 7 = Sunday) as APScheduler's day names.

    APScheduler 3 counts 0 = Monday, and its weeks end on Sunday ("sun-tue" is refused there, so
    a range from Sunday is spelled out).
    A step without a range ("*/2", "1/2") runs to 7, as in crontab.
    """
    parts = []
    for part in field.split(","):
        match = _WEEKDAY_PART.fullmatch(part)
        if not match or (match.group(1) == "*" and not match.group(3)):
            parts.append(part)  # "*", or something APScheduler will judge
            continue
        start, end, step = match.groups()
        first = 0 if start == "*" else _cron_day(start)
        if end and not end.isdigit():
            _cron_day(end)
        if start.isalpha() and first != 0 and not step:
            parts.append(part.lower())  # "mon-fri": the same days in APScheduler's week
            continue
        if end:
            last = _cron_day(end, range_end=True)
        else:
            last = 7 if start == "*" or step else first
        if last > 7 or first > last:
            raise ValueError(f"day of week {part!r} is out of range")
        parts.extend(_CRON_DAYS[day] for day in range(first, last + 1, int(step or 1)))
    return ",".join(dict.fromkeys(parts))


def make_trigger(schedule: ScheduleConfig) -> BaseTrigger:
    """The APScheduler trigger for [schedule]; ValueError for a cron expression it cannot use.

    A cron expression reads as crontab(5) does: 5 fields in the host's time zone, 0 or 7 = Sunday,
    and when both the day of month and the day of week are restricted (neither starts with "*"),
    a day matching either one fires ("0 8 1 * 1": the 1st of each month and every Monday).
    An expression that never fires ("0 0 30 2 *") is refused.
    """
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    jitter = schedule.jitter_seconds or None
    if not schedule.cron.strip():
        return IntervalTrigger(seconds=schedule.interval_minutes * 60, jitter=jitter)
    fields = schedule.cron.split()
    if len(fields) != 5:
        raise ValueError(f"a cron expression has 5 fields, got {len(fields)}: {schedule.cron!r}")
    minute, hour, day, month, weekday = fields
    weekdays = _cron_weekdays(weekday)
    if day.startswith("*") or weekday.startswith("*"):
        trigger = CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=weekdays, jitter=jitter)
    else:
        from apscheduler.triggers.combining import OrTrigger

        trigger = OrTrigger([CronTrigger(minute=minute, hour=hour, day=day, month=month),
                             CronTrigger(minute=minute, hour=hour, month=month, day_of_week=weekdays)],
                            jitter=jitter)
    if trigger.get_next_fire_time(None, dt.datetime.now(dt.timezone.utc)) is None:
        raise ValueError(f"the cron expression never fires: {schedule.cron!r}")
    return trigger


class PlanTrigger:
    """Fires by a plan: `plan(moment)` gives the seconds to wait after a run that starts at
    `moment` (crawler.polling.IntervalPlan.seconds_at). The daemon swaps `plan` after each run;
    the trigger itself reads nothing, so it never touches the store from the scheduler's thread."""

    def __init__(self, plan: Callable[[dt.datetime], float], jitter_seconds: float = 0.0) -> None:
        self.plan = plan
        self.jitter_seconds = jitter_seconds

    def get_next_fire_time(self, previous_fire_time: dt.datetime | None, now: dt.datetime) -> dt.datetime:
        start = previous_fire_time or now
        wait = self.plan(start)
        # Jitter stays a small part of a short interval: at most a tenth of it.
        jitter = random.uniform(0, min(self.jitter_seconds, wait / 10)) if self.jitter_seconds else 0.0
        return max(start + dt.timedelta(seconds=wait + jitter), now)


def make_plan_trigger(plan: Callable[[dt.datetime], float], jitter_seconds: float = 0.0) -> BaseTrigger:
    """A PlanTrigger that APScheduler accepts (its triggers must subclass BaseTrigger)."""
    from apscheduler.triggers.base import BaseTrigger as _Base

    class _Trigger(PlanTrigger, _Base):
        pass

    return _Trigger(plan, jitter_seconds)


def adaptive_mean_seconds(schedule: ScheduleConfig) -> float:
    """The mean wait between two adaptive polls: one list request a poll, the budget spread evenly,
    within the floor and the ceiling."""
    minutes = 60.0 / schedule.budget_requests_per_hour
    return min(max(minutes, schedule.floor_minutes), schedule.ceiling_minutes) * 60


def schedule_interval(schedule: ScheduleConfig) -> float:
    """Seconds between two scheduled runs (for cron, the gap between its next two fire times; for
    the adaptive strategy, its mean interval)."""
    if strategy_in_force(schedule) == "adaptive":
        return adaptive_mean_seconds(schedule)
    if not schedule.cron.strip():
        return schedule.interval_minutes * 60
    trigger = make_trigger(dataclasses.replace(schedule, jitter_seconds=0.0))
    now = dt.datetime.now(dt.timezone.utc).astimezone()
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + dt.timedelta(seconds=1)) if first else None
    return (second - first).total_seconds() if first and second else 3600.0


def describe_schedule(schedule: ScheduleConfig) -> str:
    """The schedule in a few words, for the daemon's start and reload lines and `status`."""
    if strategy_in_force(schedule) == "adaptive":
        return (f"adaptive: one list a poll, {schedule.budget_requests_per_hour:g} list requests an hour "
                f"on average, every {schedule.floor_minutes:g} to {schedule.ceiling_minutes:g} min by the "
                f"source's publishing hours")
    if schedule.cron.strip():
        what = f"cron {schedule.cron!r} (host time zone)"
    else:
        what = f"every {schedule.interval_minutes:g} min"
    return what + (f" + up to {schedule.jitter_seconds:g} s jitter" if schedule.jitter_seconds else "")
