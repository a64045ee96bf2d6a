"""The console service: schedule lag from the slot and the clock, and which ticks
the chart may read gaps into."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cascadian.clock import FakeClock
from cascadian.console.service import MAX_CHART_TICKS, ConsoleService, lag
from cascadian.data import Schedule, StrategyStatus
from cascadian.store.sql_store import SqlStore
from tests.factories import USER

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DUE = StrategyStatus(
    USER, USER, "s", "running", True, Schedule(5), NOW - timedelta(minutes=4), None,
    0, 0, 0, None, None, None, False, None,
)  # fmt: skip


def test_a_strategy_whose_slot_has_come_is_as_late_as_the_time_since() -> None:
    assert lag(DUE, NOW) == timedelta(minutes=4)


def test_no_lag_before_the_slot_while_a_run_holds_it_or_when_not_scheduled() -> None:
    assert lag(replace(DUE, next_execution_at=NOW + timedelta(seconds=1)), NOW) is None
    assert lag(replace(DUE, run_in_flight=True), NOW) is None
    assert lag(replace(DUE, auto_run=False), NOW) is None
    assert lag(replace(DUE, status="paused"), NOW) is None


def ledger(db: Any, ticks: int, every_seconds: int) -> None:
    db.execute(
        "insert into cron_ticks (trigger, started_at, finished_at, success, execution_time_ms) "
        "select 'worker', t, t, true, 5 from generate_series(1, %s) as i, "
        "lateral (select %s::timestamptz - make_interval(secs => i * %s)) as s(t)",
        (ticks, NOW, every_seconds),
    )


async def test_a_window_with_more_ticks_than_are_read_is_incomplete(
    store: SqlStore, db: Any
) -> None:
    ledger(db, MAX_CHART_TICKS + 5, 3)  # a worker ticking every 3 s: 50 min of ticks
    window = await ConsoleService(store, store, FakeClock(NOW)).tick_window(1)
    assert len(window.ticks) == MAX_CHART_TICKS and not window.complete
    assert window.ticks[0].started_at < window.ticks[-1].started_at  # oldest first


async def test_a_window_the_ledger_reaches_past_is_complete(store: SqlStore, db: Any) -> None:
    ledger(db, 200, 60)  # 200 minutes of ticks, a 3 hour window
    window = await ConsoleService(store, store, FakeClock(NOW)).tick_window(3)
    assert window.complete and len(window.ticks) == 180  # 1 to 180 minutes ago
