"""The pure rules of schedules: logical times, DST, catch-up policies, ranges, and the DSL checks."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from flowbuilder.model import Schedule
from flowbuilder.schedules import (
    UTC,
    format_logical_time,
    idempotency_key,
    newest_times,
    next_time,
    parse_instant,
    plan_catchup,
    previous_time,
    times_in_range,
)

T0 = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_interval_times_are_multiples_of_the_interval_since_the_epoch() -> None:
    every = Schedule(every="15m")
    assert next_time(every, datetime(2026, 7, 1, 10, 7, tzinfo=UTC)) == datetime(2026, 7, 1, 10, 15, tzinfo=UTC)
    assert previous_time(every, datetime(2026, 7, 1, 10, 15, tzinfo=UTC)) == datetime(2026, 7, 1, 10, 15, tzinfo=UTC)
    assert next_time(every, datetime(2026, 7, 1, 10, 15, tzinfo=UTC)) == datetime(2026, 7, 1, 10, 30, tzinfo=UTC)


def test_cron_is_read_in_its_timezone_across_daylight_saving() -> None:
    paris = Schedule(cron="0 2 * * *", timezone="Europe/Paris")
    assert next_time(paris, datetime(2026, 1, 10, tzinfo=UTC)) == datetime(2026, 1, 10, 1, 0, tzinfo=UTC)
    assert next_time(paris, datetime(2026, 7, 9, 12, tzinfo=UTC)) == datetime(2026, 7, 10, 0, 0, tzinfo=UTC)


def test_a_cron_with_fixed_hours_runs_once_in_the_hour_repeated_when_daylight_saving_ends() -> None:
    """Rule: 01:30 happens twice in New York on 2026-11-01 (EDT, then EST); a nightly run runs at
    the first only, forward (scheduler, backfill) and backward (catch-up) alike."""
    nightly = Schedule(cron="30 1 * * *", timezone="America/New_York")
    start, end = datetime(2026, 10, 31, 12, tzinfo=UTC), datetime(2026, 11, 2, 6, tzinfo=UTC)
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT; 01:30 EST would be 06:30Z
    assert times_in_range(nightly, start, end, 10) == [first]
    assert newest_times(nightly, start, end, 10) == ([first], False)
    assert next_time(nightly, first) == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
    assert previous_time(nightly, datetime(2026, 11, 1, 7, tzinfo=UTC)) == first
    hourly = Schedule(cron="30 * * * *", timezone="America/New_York")  # every hour by the clock: both
    assert datetime(2026, 11, 1, 6, 30, tzinfo=UTC) in times_in_range(hourly, start, end, 100)


def test_a_six_field_cron_has_seconds_first() -> None:
    seconds = Schedule(cron="*/20 * * * * *")
    assert times_in_range(seconds, T0, at(59), 10) == [T0, at(20), at(40)]


def test_named_cron_schedules_are_read_in_the_timezone() -> None:
    daily = Schedule(cron="@daily", timezone="Europe/Paris")
    assert next_time(daily, datetime(2026, 1, 1, 12, tzinfo=UTC)) == datetime(2026, 1, 1, 23, 0, tzinfo=UTC)


def test_newest_times_costs_count_steps_and_says_older_ones_were_left_out() -> None:
    every = Schedule(every="1s")
    times, older = newest_times(every, T0 - timedelta(days=30), T0, 3)
    assert times == [at(-2), at(-1), T0] and older
    assert newest_times(every, at(-2), T0, 5) == ([at(-1), T0], False)


def test_catchup_all_runs_the_newest_max_catchup_missed_times_and_counts_the_rest() -> None:
    every = Schedule(every="2s", catchup="all", max_catchup=3)
    plan = plan_catchup(every, handled_up_to=at(-10), now=at(1), leader_since=T0)
    assert plan.run == [at(-6), at(-4), at(-2), T0]  # three missed, and the one due since taking over
    assert (plan.skipped, plan.more_skipped, plan.handled_up_to) == (1, False, T0)


def test_catchup_latest_runs_only_the_newest_missed_time() -> None:
    plan = plan_catchup(Schedule(every="2s", catchup="latest"), handled_up_to=at(-10), now=at(-1), leader_since=at(-1))
    assert plan.run == [at(-2)] and plan.skipped == 3 and plan.handled_up_to == at(-2)


def test_catchup_none_runs_no_missed_time_but_records_them_handled() -> None:
    plan = plan_catchup(Schedule(every="2s", catchup="none"), handled_up_to=at(-10), now=at(-1), leader_since=at(-1))
    assert plan.run == [] and plan.skipped == 4 and plan.handled_up_to == at(-2)


def test_times_due_while_leading_always_run_whatever_the_policy() -> None:
    plan = plan_catchup(Schedule(every="2s", catchup="none"), handled_up_to=at(-2), now=at(4), leader_since=at(-1))
    assert plan.run == [T0, at(2), at(4)] and plan.skipped == 0


def test_a_workflow_never_scheduled_owes_nothing_from_before_the_scheduler_started() -> None:
    plan = plan_catchup(Schedule(every="2s", catchup="all"), handled_up_to=None, now=at(3), leader_since=at(-1))
    assert plan.run == [T0, at(2)] and plan.skipped == 0


def test_a_month_of_downtime_on_a_one_second_schedule_is_not_enumerated() -> None:
    plan = plan_catchup(Schedule(every="1s", catchup="all", max_catchup=2), handled_up_to=T0 - timedelta(days=30),
                        now=T0, leader_since=T0)  # fmt: skip
    assert plan.run == [at(-2), at(-1), T0] and plan.more_skipped


def test_times_in_range_refuses_a_reversed_or_too_long_range() -> None:
    hourly = Schedule(every="1h")
    with pytest.raises(ValueError, match="ends"):
        times_in_range(hourly, T0, at(-1), 10)
    with pytest.raises(ValueError, match="more than 10 logical times"):
        times_in_range(hourly, T0, T0 + timedelta(days=1), 10)


@pytest.mark.parametrize("schedule", [Schedule(every="1h"), Schedule(cron="0 * * * *")], ids=["every", "cron"])
def test_a_range_at_the_ends_of_the_calendar_is_computed_or_refused_never_overflows(schedule: Schedule) -> None:
    """Years 1 and 9999 are datetime's ends: a step past them is no time, not an OverflowError."""
    last_day = datetime(9999, 12, 31, tzinfo=UTC)
    assert times_in_range(schedule, last_day.replace(hour=21), last_day.replace(hour=23, minute=59), 10) == [
        last_day.replace(hour=21), last_day.replace(hour=22), last_day.replace(hour=23)]  # fmt: skip
    with pytest.raises(ValueError, match="edge of the calendar"):  # its next time would be in the year 10000
        times_in_range(schedule, last_day.replace(hour=23, minute=30), last_day.replace(hour=23, minute=59), 10)
    with pytest.raises(ValueError, match="before the first time this schedule can compute"):
        times_in_range(schedule, datetime(1, 1, 1, tzinfo=UTC), last_day, 10)


def test_an_instant_outside_the_years_datetime_holds_in_utc_is_a_value_error() -> None:
    for text in ("0001-01-01T00:00+05:00", "9999-12-31T23:00-05:00"):
        with pytest.raises(ValueError, match="out of range"):
            parse_instant(text)


def test_logical_times_and_keys_are_iso_utc_with_z() -> None:
    moment = parse_instant("2026-12-05T03:00:00+01:00")
    assert format_logical_time(moment) == "2026-12-05T02:00:00Z"
    assert parse_instant("2026-12-05") == datetime(2026, 12, 5, tzinfo=UTC)
    assert idempotency_key("nightly", moment) == "schedule:nightly:2026-12-05T02:00:00Z"
    with pytest.raises(ValueError, match="not an ISO-8601 time"):
        parse_instant("tomorrow")


def test_times_in_range_at_the_ends_of_the_calendar_are_refused_or_exact_never_an_overflow() -> None:
    """Rule: a backfill range next to years 1 or 9999 is a ValueError that says so (the CLI's one line,
    not exit 70), and an interval's times there are exact to the second."""
    every_second = Schedule(every="1s")
    last = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert times_in_range(every_second, last - timedelta(seconds=1), last, 10) == [last - timedelta(seconds=1), last]
    # The calendar's last second itself: asked from the whole second before it, croniter finds it.
    assert times_in_range(Schedule(cron="* * * * * *"), last, last, 10) == [last]
    with pytest.raises(ValueError, match="edge of the calendar"):
        times_in_range(every_second, datetime(1, 1, 1, tzinfo=UTC), datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC), 10)
    for outside in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"):
        with pytest.raises(ValueError, match="outside the years 1 to 9999"):
            parse_instant(outside)


def test_a_random_cron_field_is_refused_since_it_would_give_new_times_at_every_reading() -> None:
    """Rule: croniter's ``R`` draws again each time an expression is read, so every round of the
    scheduler (and every scheduler) would see other times and start runs at random; refused."""
    with pytest.raises(ValueError, match="no fixed times"):
        Schedule(cron="R * * * *")
    assert Schedule(cron="0 0 * * fri").cron == "0 0 * * fri"  # a name that holds an r is no random field


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cron": "61 * * * *"}, "is not valid"),
        ({"cron": "0 2 * *"}, "has 4 fields"),
        ({"cron": "* * * * * * *"}, "has 7 fields"),
        ({"cron": "@often"}, "has 1 field;"),
        ({"cron": "0 2 30 2 *"}, "is not valid"),
        ({"cron": "R 2 * * *"}, "random field 'R'"),
        ({"cron": "0 r(0-5) * * *"}, "random field 'r\\(0-5\\)'"),
        ({"cron": "0,R/15 * * * * *"}, "random field 'R/15'"),
        ({"every": 0}, "greater than 0"),
        ({"every": "-5s"}, "is not a duration"),
        ({"every": "1.5s"}, "whole seconds"),
        ({"every": "400d"}, "at most 366d"),
        ({"cron": "0 2 * * *", "timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"cron": "0 2 * * *", "timezone": "Europe"}, "unknown timezone"),
        ({}, "exactly one of `cron` and `every`"),
        ({"cron": "0 2 * * *", "every": 60}, "exactly one of `cron` and `every`"),
        ({"every": 60, "timezone": "UTC"}, "applies to `cron` only"),
        ({"every": 60, "catchup": "some"}, "'none', 'latest' or 'all'"),
        ({"every": 60, "max_catchup": 0}, "greater than or equal to 1"),
        ({"every": 60, "max_catchup": 10**9}, "less than or equal to 1000"),
        ({"every": 60, "max_catchup": "many"}, "valid integer"),
    ],
)
def test_a_bad_schedule_is_refused_with_advice(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Schedule.model_validate(fields)


def test_croniter_is_not_imported_by_help_run_or_an_interval_schedule() -> None:
    code = (
        "import sys\n"
        "from flowbuilder.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "from flowbuilder.model import Workflow\n"
        "Workflow.model_validate({'name': 'w', 'schedule': {'every': '1h'}, 'tasks': [{'name': 'a', 'type': 'x'}]})\n"
        "print('croniter' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr
