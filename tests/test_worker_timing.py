"""When a worker ticks next: at the next strategy's slot, within its interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.worker import Worker
from tests.executors import ScriptedExecutor
from tests.factories import add_strategy, rows

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)


def worker(store: SqlStore, interval: float = 15.0) -> Worker:
    settings = Settings(CASCADIAN_STRATEGY_TIMEOUT_SECONDS=5, CASCADIAN_LEASE_SECONDS=60)
    service = TickService(store, ScriptedExecutor(), settings, FakeClock(NOW))
    return Worker(service, interval=interval)


async def test_a_worker_waits_until_the_next_slot(store: SqlStore, db: Any) -> None:
    add_strategy(db, next_execution_at=NOW + timedelta(seconds=3.25))
    add_strategy(db, next_execution_at=NOW + timedelta(seconds=9))
    assert await worker(store)._until_due() == pytest.approx(3.251)


async def test_a_worker_waits_no_longer_than_its_interval(store: SqlStore, db: Any) -> None:
    add_strategy(db, next_execution_at=NOW + timedelta(minutes=5))
    assert await worker(store, interval=15)._until_due() == 15
    db.execute("update workflow_sessions set auto_run = false")
    assert await worker(store, interval=7)._until_due() == 7  # nothing scheduled


async def test_a_worker_ticks_again_at_once_while_a_strategy_is_due(
    store: SqlStore, db: Any
) -> None:
    add_strategy(db, next_execution_at=NOW - timedelta(seconds=1))
    assert await worker(store)._until_due() <= 0


async def test_a_workers_tick_that_claimed_nothing_is_left_out_of_the_ledger(
    store: SqlStore, db: Any
) -> None:
    w = worker(store)
    await w.service.tick("worker", ledger_if_idle=False)
    assert rows(db, "select * from cron_ticks") == []
    add_strategy(db, next_execution_at=NOW)
    await w.service.tick("worker", ledger_if_idle=False)
    assert [r["strategies_executed"] for r in rows(db, "select * from cron_ticks")] == [1]


async def test_an_idle_worker_still_writes_a_tick_a_minute_so_health_sees_it(
    store: SqlStore, db: Any
) -> None:
    w = worker(store)
    clock = w.service.clock
    assert isinstance(clock, FakeClock)
    await w.service.tick("worker", ledger_if_idle=False)
    clock.advance(61)
    await w.service.tick("worker", ledger_if_idle=False)
    clock.advance(30)
    await w.service.tick("worker", ledger_if_idle=False)
    assert len(rows(db, "select * from cron_ticks")) == 1


async def test_after_a_failed_tick_the_next_idle_tick_is_written(store: SqlStore, db: Any) -> None:
    w = worker(store)
    db.execute(
        "insert into cron_ticks (trigger, started_at, finished_at, success, "
        "execution_time_ms, error) values ('worker', now(), now(), false, 1, 'x')"
    )
    w.service._last_ledgered = (w.service.clock.monotonic(), False)  # that failure was ours
    await w.service.tick("worker", ledger_if_idle=False)
    ticks = rows(db, "select success from cron_ticks")
    assert sorted(t["success"] for t in ticks) == [False, True], "the success is written too"
