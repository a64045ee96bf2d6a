"""Schedule maths: when a strategy runs next. Pure: no I/O, no clock.

A strategy runs every `interval_minutes`, or on a cron expression in an IANA
time zone when one is set. After a run, the next slot is the first one after
*now*, counted from the slot the run was scheduled for: slots missed while the
service was down are coalesced into one run, and interval schedules keep their
phase instead of drifting by each run's duration.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from cascadian.data import Schedule
from cascadian.errors import ScheduleError, excerpt

# The longest interval a schedule may have: a year, leap or not.
MAX_INTERVAL_MINUTES = 366 * 24 * 60


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    # OSError: names like "America" (a directory) or over-long ones.
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ScheduleError(
            f"unknown time zone {excerpt(name)}: use an IANA name like 'Europe/London'"
        ) from exc


def validate(schedule: Schedule) -> None:
    """Raise ScheduleError with a clear message if the schedule cannot be used."""
    found = problems(schedule)
    if found:
        raise ScheduleError(found[0])


def problems(schedule: Schedule) -> list[str]:
    """Every reason the schedule cannot be used (interval, time zone, cron), at once."""
    found = []
    minutes = schedule.interval_minutes
    if not isinstance(minutes, int) or minutes < 1:
        found.append("interval_minutes must be at least 1")
    elif minutes > MAX_INTERVAL_MINUTES:
        found.append(f"interval_minutes must be at most {MAX_INTERVAL_MINUTES} (a year)")
    for check in (lambda: zone(schedule.timezone), lambda: check_cron(schedule.cron)):
        try:
            check()
        except ScheduleError as exc:
            found.append(str(exc))
    return found


def check_cron(expr: str | None) -> None:
    """Raise ScheduleError unless `expr` is None or a cron expression that matches."""
    if expr is not None:
        _cron_after(expr, datetime(2000, 1, 1, tzinfo=UTC))


def _cron_after(expr: str, after: datetime) -> datetime:
    if len(expr.split()) != 5:
        raise ScheduleError(
            f"invalid cron expression {excerpt(expr)}: "
            "expected 5 fields (minute hour day month weekday)"
        )
    try:
        return next(CronSim(expr, after))
    except CronSimError as exc:
        raise ScheduleError(f"invalid cron expression {excerpt(expr)}: {str(exc)[:120]}") from exc
    except StopIteration as exc:  # e.g. "0 0 30 2 *": February 30th never comes
        raise ScheduleError(f"cron expression {excerpt(expr)} never matches") from exc


def next_slot(schedule: Schedule, scheduled_for: datetime, now: datetime) -> datetime:
    """The first slot strictly after `now`, in the phase of `scheduled_for`."""
    if schedule.cron is not None:
        tz = zone(schedule.timezone)
        after = max(now, scheduled_for).astimezone(tz)
        # CronSim works in whole minutes from the minute after `after`.
        return _cron_after(schedule.cron, after.replace(second=0, microsecond=0)).astimezone(UTC)
    step = timedelta(minutes=schedule.interval_minutes)
    if scheduled_for > now:
        return scheduled_for + step
    behind = (now - scheduled_for) / step  # slots elapsed since the scheduled one
    return scheduled_for + step * (math.floor(behind) + 1)


def first_slot(schedule: Schedule, now: datetime) -> datetime:
    """When a strategy that is started (or resumed) at `now` first runs."""
    if schedule.cron is not None:
        return next_slot(schedule, now, now)
    return now + timedelta(minutes=schedule.interval_minutes)


def missed_slots(schedule: Schedule, scheduled_for: datetime, now: datetime) -> int:
    """How many slots after `scheduled_for` passed before `now` (coalesced, not replayed).

    Counted for interval schedules only; cron slots are not enumerated (a month
    of a minutely cron would be 43,200 steps), so this returns 0 for them.
    """
    if schedule.cron is not None or now <= scheduled_for:
        return 0
    return math.floor((now - scheduled_for) / timedelta(minutes=schedule.interval_minutes))
