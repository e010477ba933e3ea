"""[schedule].cron read as crontab reads it, by the config check and the daemon alike (crawler.schedule)."""

from __future__ import annotations

import datetime as dt

import pytest

from crawler.config import ConfigError, ScheduleConfig, load_config
from crawler.schedule import _cron_weekdays, make_trigger


def fire_times(cron: str, start: dt.datetime, count: int) -> list[dt.datetime]:
    trigger = make_trigger(ScheduleConfig(cron=cron, jitter_seconds=0.0))
    now = start.replace(tzinfo=trigger_zone(trigger))
    times, previous = [], None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, now)
        times.append(previous.replace(tzinfo=None))
        now = previous + dt.timedelta(seconds=1)
    return times


def trigger_zone(trigger) -> dt.tzinfo:
    return getattr(trigger, "triggers", [trigger])[0].timezone


def test_seven_is_sunday_in_the_config_and_in_the_trigger(tmp_path):
    path = tmp_path / "presswatch.toml"
    path.write_text('[schedule]\ncron = "0 8 * * 7"\njitter_seconds = 0\n', encoding="utf-8")
    config = load_config(path)
    trigger = make_trigger(config.schedule)
    wednesday = dt.datetime(2026, 3, 4, 10, 0, tzinfo=trigger_zone(trigger))
    fired = trigger.get_next_fire_time(None, wednesday)
    assert fired.replace(tzinfo=None) == dt.datetime(2026, 3, 8, 8, 0)
    assert fired.strftime("%A") == "Sunday"


def test_day_of_month_or_day_of_week_as_in_crontab():
    # crontab(5): both fields restricted -> a day matching either one (not both) fires
    assert fire_times("0 8 1 * 1", dt.datetime(2026, 1, 2), 6) == [
        dt.datetime(2026, 1, 5, 8), dt.datetime(2026, 1, 12, 8), dt.datetime(2026, 1, 19, 8),
        dt.datetime(2026, 1, 26, 8), dt.datetime(2026, 2, 1, 8), dt.datetime(2026, 2, 2, 8),
    ]
    # one field starting with "*" leaves the other alone
    assert fire_times("0 8 */10 * 1", dt.datetime(2026, 1, 2), 2) == [dt.datetime(2026, 5, 11, 8),
                                                                     dt.datetime(2026, 6, 1, 8)]


def test_weekday_fields_as_crontab_writes_them():
    assert _cron_weekdays("1/2") == "mon,wed,fri,sun"  # a step runs to 7, as in crontab
    assert _cron_weekdays("*/7") == "sun"
    assert _cron_weekdays("sun-tue") == "sun,mon,tue"  # APScheduler alone refuses this range
    assert _cron_weekdays("fri-sun") == "fri-sun"
    assert _cron_weekdays("5-7") == "fri,sat,sun"
    assert _cron_weekdays("MON-FRI") == "mon-fri"
    assert _cron_weekdays("0,7") == "sun"
    assert _cron_weekdays("mon/2") == "mon,wed,fri,sun"
    with pytest.raises(ValueError):
        make_trigger(ScheduleConfig(cron="0 8 * * \u0667"))  # an Arabic-Indic seven is not crontab


@pytest.mark.parametrize("cron, problem", [
    ("0 0 30 2 *", "never fires"),
    ("0 8 * * 8", "out of range"),
    ("0 8 * * xyz", "unknown day of week"),
    ("0 8 * *", "5 fields"),
])
def test_the_config_refuses_what_the_daemon_could_not_run(tmp_path, cron, problem):
    path = tmp_path / "presswatch.toml"
    path.write_text(f'[schedule]\ncron = "{cron}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == "schedule.cron"
    assert "not a valid cron expression" in str(caught.value) and problem in str(caught.value)
