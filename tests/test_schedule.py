"""Schedule maths: next slots, coalescing, cron in a time zone, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cascadian.data import Schedule
from cascadian.errors import ScheduleError
from cascadian.schedule import first_slot, missed_slots, next_slot, problems, validate

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
EVERY_5 = Schedule(interval_minutes=5)


def test_next_interval_slot_keeps_the_phase_of_the_scheduled_slot() -> None:
    # The run for 12:00 finished at 12:00:42; the next slot is 12:05, not 12:05:42.
    assert next_slot(EVERY_5, T0, T0 + timedelta(seconds=42)) == T0 + timedelta(minutes=5)


def test_missed_interval_slots_are_coalesced_into_one_next_slot() -> None:
    now = T0 + timedelta(minutes=23, seconds=10)  # slots 12:05 .. 12:20 were missed
    assert next_slot(EVERY_5, T0, now) == T0 + timedelta(minutes=25)
    assert missed_slots(EVERY_5, T0, now) == 4


def test_a_slot_exactly_at_now_is_not_the_next_one() -> None:
    assert next_slot(EVERY_5, T0, T0 + timedelta(minutes=5)) == T0 + timedelta(minutes=10)


def test_next_slot_is_always_after_now() -> None:
    for seconds in range(0, 3600, 7):
        now = T0 + timedelta(seconds=seconds)
        nxt = next_slot(EVERY_5, T0, now)
        assert now < nxt <= now + timedelta(minutes=5)
        assert (nxt - T0) % timedelta(minutes=5) == timedelta(0)


def test_cron_schedule_runs_in_its_time_zone() -> None:
    nine_in_ny = Schedule(interval_minutes=5, cron="0 9 * * *", timezone="America/New_York")
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # 08:00 in New York (EDT, UTC-4)
    assert next_slot(nine_in_ny, now, now) == datetime(2026, 6, 1, 13, 0, tzinfo=UTC)


def test_cron_follows_the_wall_clock_across_the_spring_dst_change() -> None:
    nine_in_ny = Schedule(interval_minutes=5, cron="0 9 * * *", timezone="America/New_York")
    # Before the change (EST, UTC-5), 9:00 is 14:00 UTC; after it (EDT), 13:00 UTC.
    saturday = datetime(2026, 3, 7, 14, 0, tzinfo=UTC)
    sunday = next_slot(nine_in_ny, saturday, saturday + timedelta(seconds=5))
    assert sunday == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)


def test_cron_in_the_skipped_spring_hour_still_runs_once_that_day() -> None:
    two_thirty = Schedule(interval_minutes=5, cron="30 2 * * *", timezone="America/New_York")
    before = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    slot = next_slot(two_thirty, before, before)
    assert slot.date() == datetime(2026, 3, 8).date()
    assert next_slot(two_thirty, slot, slot) - slot < timedelta(days=1, hours=1)


def test_cron_in_the_repeated_autumn_hour_runs_once() -> None:
    one_thirty = Schedule(interval_minutes=5, cron="30 1 * * *", timezone="America/New_York")
    first = next_slot(
        one_thirty, datetime(2026, 10, 31, 12, tzinfo=UTC), datetime(2026, 10, 31, 12, tzinfo=UTC)
    )
    second = next_slot(one_thirty, first, first)
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert second == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)  # next day, 01:30 EST


def test_missed_cron_slots_are_coalesced() -> None:
    hourly = Schedule(interval_minutes=5, cron="0 * * * *")
    now = T0 + timedelta(hours=5, minutes=10)
    assert next_slot(hourly, T0, now) == T0 + timedelta(hours=6)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (Schedule(5, cron="61 * * * *"), "invalid cron expression '61 \\* \\* \\* \\*'"),
        (Schedule(5, cron="* * *"), "expected 5 fields"),
        (Schedule(5, cron="0 0 30 2 *"), "Bad day-of-month"),
        (Schedule(5, timezone="Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
        (Schedule(5, cron="0 9 * * *", timezone="America"), "unknown time zone 'America'"),
        (Schedule(0), "interval_minutes must be at least 1"),
        (Schedule(366 * 24 * 60 + 1), "interval_minutes must be at most 527040 \\(a year\\)"),
    ],
)
def test_unusable_schedules_are_refused_with_a_clear_message(
    schedule: Schedule, message: str
) -> None:
    with pytest.raises(ScheduleError, match=message):
        validate(schedule)


def test_every_problem_of_a_schedule_is_named_at_once() -> None:
    found = problems(Schedule(0, "61 * * * *", "Mars/Olympus"))
    assert [p.split()[0] for p in found] == ["interval_minutes", "unknown", "invalid"]
    assert problems(Schedule(5, "*/15 * * * *", "Europe/London")) == []


def test_first_slot_of_a_started_strategy() -> None:
    assert first_slot(EVERY_5, T0) == T0 + timedelta(minutes=5)
    assert first_slot(
        Schedule(5, cron="*/15 * * * *"), T0 + timedelta(minutes=1)
    ) == T0 + timedelta(minutes=15)
