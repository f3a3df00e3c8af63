"""Schedules as pure functions: which logical times a ``schedule:`` has, and what to catch up.

A *logical time* is the instant a scheduled run stands for (the ``02:00`` of a nightly run,
even if it starts at ``02:00:03`` or, after downtime, hours later). It is an aware UTC
:class:`~datetime.datetime`, shown as ISO-8601 with ``Z`` (:func:`format_logical_time`), and
names the run's idempotency key (:func:`idempotency_key`), so one logical time never gets
two runs.

* ``cron`` schedules are read by croniter, in the schedule's ``timezone`` (default UTC), so
  ``0 2 * * *`` in ``Europe/Paris`` is 01:00Z in winter and 00:00Z in summer. Five fields,
  or six with *seconds first* (as Quartz and Spring read them). croniter is imported on
  first use, never by ``flowbuilder --help`` or ``run``.
* ``every`` schedules are the multiples of the interval since 1970-01-01T00:00Z (``15m`` is
  :00, :15, :30, :45 of every hour), so every scheduler process computes the same times
  without sharing a start.

Nothing here touches a store or a clock: the callers (:mod:`flowbuilder.scheduler`,
``flowbuilder backfill``) pass ``now`` in, which is what makes the rules testable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from flowbuilder.errors import quoted

if TYPE_CHECKING:
    from flowbuilder.model import Schedule

UTC = UTC
_ONE_MICROSECOND = timedelta(microseconds=1)
_ONE_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""Interval times count from here, in exact integer microseconds (a float timestamp drops them by year 9999)."""


# -- checks (called by the model when a file is loaded) -------------------------------------


def check_cron(expression: str) -> None:
    """Raise ``ValueError`` with advice unless croniter reads ``expression`` (5 or 6 fields)."""
    fields = expression.split()
    if expression.strip() in _MACROS:
        fields = ["@"] * 5
    elif len(fields) not in (5, 6):
        count = f"{len(fields)} field{'s' if len(fields) != 1 else ''}"
        raise ValueError(f"cron {expression!r} has {count}; write five (minute hour day month weekday),"
                         " or six with seconds first, e.g. '0 2 * * *' (or @hourly, @daily, ...)")  # fmt: skip
    random = [part for field in fields for part in field.split(",") if _RANDOM_PART.match(part)]
    if random:
        raise ValueError(f"cron {expression!r} has the random field {random[0]!r}, which croniter draws anew on every"
                         " reading, so the schedule would have no fixed times (each scheduler, each round, would see"
                         " others); write a fixed value, e.g. '17' for the minute")  # fmt: skip
    from croniter import croniter

    try:
        croniter(expression, datetime(2000, 1, 1, tzinfo=UTC), second_at_beginning=len(fields) == 6).get_next(datetime)
    except Exception as error:  # croniter's own errors (CroniterBadCronError, ...) and the ValueErrors it lets through
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"cron {expression!r} is not valid ({reason}); e.g. '0 2 * * *' is 02:00 every day") from None


_RANDOM_PART = re.compile(r"^[rR](\(\d+-\d+\))?(/\d+)?$")
"""croniter's random field (``R``, ``R(0-29)``, ``R/15``): a new draw every time an expression is read."""

_MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
"""The named schedules croniter reads (``@daily`` is ``0 0 * * *``)."""


def check_timezone(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` is an IANA timezone this machine knows."""
    _zone(name)


@lru_cache(maxsize=64)
def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder name such as "Europe"
        raise ValueError(f"unknown timezone {name!r}; use an IANA name such as 'UTC' or 'Europe/Paris'") from None


# -- logical times --------------------------------------------------------------------------


def format_logical_time(moment: datetime) -> str:
    """``2026-12-05T02:00:00Z`` (microseconds only when there are some)."""
    moment = moment.astimezone(UTC)
    spec = "seconds" if moment.microsecond == 0 else "microseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def parse_instant(text: str) -> datetime:
    """An aware UTC datetime from ISO-8601 text (``Z`` or an offset; no offset means UTC).

    Raises ``ValueError`` with an example for anything else.
    """
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(
            f"{quoted(text)} is not an ISO-8601 time; write e.g. 2026-12-05T02:00:00Z or 2026-12-05"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first instant a datetime holds
        raise ValueError(f"{text!r} is out of range: outside the years 1 to 9999 in UTC; write a time within them"
                         ) from None  # fmt: skip


def idempotency_key(workflow: str, logical_time: datetime) -> str:
    """``schedule:<workflow>:<logical time>``: the key the store claims once per logical time."""
    return f"schedule:{workflow}:{format_logical_time(logical_time)}"


def _cron(schedule: Schedule, start: datetime) -> Any:
    from croniter import croniter

    assert schedule.cron is not None
    zone = _zone(schedule.timezone) if schedule.timezone else UTC
    six = len(schedule.cron.split()) == 6
    return croniter(schedule.cron, start.astimezone(zone), second_at_beginning=six)


def next_time(schedule: Schedule, after: datetime) -> datetime:
    """The first logical time strictly after ``after``."""
    if schedule.every is not None:
        every = timedelta(seconds=int(schedule.every))
        return _EPOCH + ((after - _EPOCH) // every + 1) * every
    times = _cron(schedule, after)
    moment: datetime = times.get_next(datetime)
    while _is_repeated_wall_time(schedule, moment):
        moment = times.get_next(datetime)
    return moment.astimezone(UTC)


def previous_time(schedule: Schedule, at: datetime) -> datetime:
    """The newest logical time at or before ``at``."""
    if schedule.every is not None:
        every = timedelta(seconds=int(schedule.every))
        return _EPOCH + ((at - _EPOCH) // every) * every
    # croniter's get_prev is strict: ask from just after ``at`` so that ``at`` itself counts.
    times = _cron(schedule, at + _ONE_MICROSECOND)
    moment: datetime = times.get_prev(datetime)
    while _is_repeated_wall_time(schedule, moment):
        moment = times.get_prev(datetime)
    return moment.astimezone(UTC)


def _is_repeated_wall_time(schedule: Schedule, moment: datetime) -> bool:
    """Whether ``moment`` is the second time its zone's clock shows this wall time (the hour
    repeated when daylight saving ends) and the cron names its hours.

    croniter gives both instants of ``30 1 * * *`` on such a day, so a nightly run ran twice;
    like cron, a schedule with fixed hours runs at the first of them only. One whose hour
    field is ``*`` runs every hour by the clock, so it keeps the repeated hour's times.
    """
    assert schedule.cron is not None
    if not schedule.timezone or _hour_field(schedule.cron) == "*":
        return False
    local = moment.astimezone(_zone(schedule.timezone))
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def _hour_field(expression: str) -> str:
    fields = expression.split()
    if len(fields) == 1:  # @hourly is every hour; @daily, @weekly, ... name midnight
        return "*" if fields[0] == "@hourly" else "0"
    return fields[2] if len(fields) == 6 else fields[1]


def newest_times(
    schedule: Schedule, after: datetime | None, until: datetime, count: int
) -> tuple[list[datetime], bool]:
    """The newest ``count`` logical times in ``(after, until]``, oldest first, and whether older
    ones in that range were left out. ``after=None`` means no lower bound (then the answer
    always says older ones were left out: a schedule has no first time).

    Costs ``count`` steps, however long the range: a month of downtime on a one-second
    schedule is not enumerated.
    """
    if count <= 0 or (after is not None and until <= after):
        return [], after is None or next_time(schedule, after) <= until
    found: list[datetime] = []
    moment = previous_time(schedule, until)
    while after is None or moment > after:
        if len(found) == count:
            return found[::-1], True
        found.append(moment)
        moment = previous_time(schedule, moment - _ONE_MICROSECOND)
    return found[::-1], False


def times_in_range(schedule: Schedule, start: datetime, end: datetime, limit: int) -> list[datetime]:
    """Every logical time in ``[start, end]``, oldest first; ``ValueError`` past ``limit`` of them."""
    if end < start:
        raise ValueError(f"the range ends ({format_logical_time(end)}) before it starts ({format_logical_time(start)})")
    times: list[datetime] = []
    # Logical times fall on whole seconds: the first one at or after ``start`` is the first one
    # after the whole second before it (one microsecond before ``start`` would be exact too, but
    # croniter computes with float timestamps, which lose microseconds in the far future).
    whole_second = start.replace(microsecond=0)
    try:
        moment: datetime | None = next_time(schedule, whole_second - (_ONE_SECOND if whole_second == start else
                                                                      timedelta(0)))  # fmt: skip
    except (OverflowError, ValueError) as error:  # croniter says "year 10000 is out of range" as a ValueError
        raise ValueError(f"the range starts at {format_logical_time(start)}, at the edge of the calendar, before the"
                         f" first time this schedule can compute ({error}); keep it within the years 1 to 9999"
                         ) from None  # fmt: skip
    while moment is not None and moment <= end:
        if len(times) == limit:
            raise ValueError(f"the range holds more than {limit} logical times; split it into smaller ranges")
        times.append(moment)
        moment = _next_before_the_calendar_ends(schedule, moment)
    return times


def _next_before_the_calendar_ends(schedule: Schedule, after: datetime) -> datetime | None:
    """:func:`next_time`, or None when it would fall after 9999-12-31 (a datetime holds no later time)."""
    try:
        return next_time(schedule, after)
    except (OverflowError, ValueError):
        return None


# -- catch-up -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatchupPlan:
    """What a scheduler does at one tick for one workflow.

    ``run``: logical times to start, oldest first. ``missed``: how many of them were due
    before this scheduler took over (``run`` holds those the policy keeps). ``skipped``:
    missed times the policy left out (a lower bound when ``more_skipped``: older ones were
    not even counted). ``handled_up_to``: the newest due time (run or skipped) — what the
    scheduler records as handled; None when nothing was due.
    """

    run: list[datetime]
    skipped: int
    more_skipped: bool
    handled_up_to: datetime | None


def plan_catchup(schedule: Schedule, handled_up_to: datetime | None, now: datetime,
                 leader_since: datetime) -> CatchupPlan:  # fmt: skip
    """Which logical times to start now.

    ``handled_up_to`` is the newest logical time already handled (None: the workflow was
    never scheduled, so nothing before ``leader_since`` counts as missed). Times due since
    this scheduler became leader (``>= leader_since``) always run; times due in
    ``(handled_up_to, leader_since)`` were *missed* while no scheduler ran, and
    ``schedule.catchup`` says which of them run: ``none`` (no missed time), ``latest`` (the
    newest missed time only) or ``all`` (the newest ``max_catchup`` of them).
    """
    start = leader_since - _ONE_MICROSECOND if handled_up_to is None else handled_up_to
    missed_until = leader_since - _ONE_MICROSECOND
    keep = {"none": 0, "latest": 1, "all": schedule.max_catchup}[schedule.catchup]
    missed: list[datetime] = []
    skipped, more_skipped = 0, False
    if start < missed_until:
        missed, older = newest_times(schedule, start, missed_until, keep)
        if older or keep == 0:
            counted, more_skipped = newest_times(schedule, start, missed_until, keep + _COUNTED_SKIPS)
            skipped = len(counted) - len(missed)
    fresh_start = max(start, missed_until)
    fresh, dropped = newest_times(schedule, fresh_start, now, _MAX_FRESH)
    if dropped:  # the loop stalled for thousands of periods: treat it like downtime, keep the newest
        more_skipped = True
    due = [*missed, *fresh]
    newest = fresh[-1] if fresh else (missed[-1] if missed else None)
    if newest is None and skipped:
        newest = previous_time(schedule, missed_until)
    return CatchupPlan(due, skipped, more_skipped, newest)


_COUNTED_SKIPS = 1000
"""Skipped missed times counted exactly for the log; beyond it the plan says "more"."""
_MAX_FRESH = 1000
"""Times due since the scheduler took over that one tick starts at most."""


__all__ = [
    "CatchupPlan",
    "UTC",
    "check_cron",
    "check_timezone",
    "format_logical_time",
    "idempotency_key",
    "newest_times",
    "next_time",
    "parse_instant",
    "plan_catchup",
    "previous_time",
    "times_in_range",
]
