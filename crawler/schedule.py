"""The crawl's schedule: [schedule] as an APScheduler trigger, its interval, and its description.

The config check (crawler.config) and the daemon build the trigger with the same `make_trigger`,
so a cron expression the config accepts is one the daemon can run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # crawler.config imports this module to check schedule.cron
    from crawler.config import ScheduleConfig

_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _cron_weekdays(field: str) -> str:
    """Crontab day-of-week numbers (0 or 7 = Sunday) as names: APScheduler 3 counts 0 = Monday."""
    parts = []
    for part in field.split(","):
        match = re.fullmatch(r"(\*|\d+)(?:-(\d+))?(?:/(\d+))?", part)
        if not match or (match.group(1) == "*" and not match.group(3)):
            parts.append(part)  # names, "*", or something APScheduler will judge
            continue
        first = 0 if match.group(1) == "*" else int(match.group(1))
        last = 6 if match.group(1) == "*" else int(match.group(2) or (6 if match.group(3) else first))
        step = int(match.group(3) or 1)
        if last > 7 or first > last:
            raise ValueError(f"day of week {part!r} is out of range")
        parts.extend(_CRON_DAYS[day] for day in range(first, last + 1, step))
    return ",".join(dict.fromkeys(parts))


def make_trigger(schedule: ScheduleConfig):
    """The APScheduler trigger for [schedule]; ValueError for a cron expression it cannot use."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    jitter = schedule.jitter_seconds or None
    if schedule.cron.strip():
        fields = schedule.cron.split()
        if len(fields) != 5:
            raise ValueError(f"a cron expression has 5 fields, got {len(fields)}: {schedule.cron!r}")
        minute, hour, day, month, weekday = fields
        return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                           day_of_week=_cron_weekdays(weekday), jitter=jitter)
    return IntervalTrigger(seconds=schedule.interval_minutes * 60, jitter=jitter)


def schedule_interval(schedule: ScheduleConfig) -> float:
    """Seconds between two scheduled runs (for cron, the gap between its next two fire times)."""
    if not schedule.cron.strip():
        return schedule.interval_minutes * 60
    trigger = make_trigger(dataclasses.replace(schedule, jitter_seconds=0.0))
    now = dt.datetime.now(dt.timezone.utc).astimezone()
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + dt.timedelta(seconds=1)) if first else None
    return (second - first).total_seconds() if first and second else 3600.0


def describe_schedule(schedule: ScheduleConfig) -> str:
    if schedule.cron.strip():
        what = f"cron {schedule.cron!r} (host time zone)"
    else:
        what = f"every {schedule.interval_minutes:g} min"
    return what + (f" + up to {schedule.jitter_seconds:g} s jitter" if schedule.jitter_seconds else "")
