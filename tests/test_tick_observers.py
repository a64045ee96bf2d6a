"""The tick's observers (ports.TickObserver): every one is told of the claims, the
store errors, the finished tick and a run now, in the order they were given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.errors import StoreUnavailable
from cascadian.reports import RunReport, TickReport
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from tests.executors import ScriptedExecutor
from tests.factories import OPERATOR, add_strategy

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)


class Heard:
    """An observer writing what it is told to a log it shares with others."""

    def __init__(self, name: str, log: list[tuple[str, str, Any]]) -> None:
        self.name, self.log = name, log

    def claimed(self, n: int) -> None:
        self.log.append((self.name, "claimed", n))

    def store_error(self, operation: str) -> None:
        self.log.append((self.name, "store_error", operation))

    def tick_finished(self, report: TickReport) -> None:
        self.log.append((self.name, "tick_finished", report.id))

    def run_now_finished(self, report: RunReport) -> None:
        self.log.append((self.name, "run_now_finished", report.execution_id))


class ClaimsFail:
    """The real store, but its claims find the database unreachable."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def claim_due(self, *args: Any) -> Any:
        raise StoreUnavailable("database unavailable: connection refused")


def ticks(store: Any, log: list[tuple[str, str, Any]]) -> TickService:
    observers = [Heard("first", log), Heard("second", log)]
    return TickService(store, ScriptedExecutor(), Settings(), FakeClock(NOW), observers=observers)


@pytest.mark.both_schemas
async def test_every_observer_hears_the_claim_and_then_the_finished_tick_in_the_order_given(
    store: SqlStore, db: Any
) -> None:
    for name in ("a", "b"):
        add_strategy(db, next_execution_at=NOW - timedelta(minutes=1), name=name)
    log: list[tuple[str, str, Any]] = []
    report = await ticks(store, log).tick()
    assert report.claimed == 2
    assert log == [
        ("first", "claimed", 2),
        ("second", "claimed", 2),
        ("first", "tick_finished", report.id),
        ("second", "tick_finished", report.id),
    ]


async def test_a_claim_that_finds_the_database_down_is_heard_as_a_store_error(
    store: SqlStore,
) -> None:
    log: list[tuple[str, str, Any]] = []
    report = await ticks(ClaimsFail(store), log).tick()
    assert not report.success
    assert log == [
        ("first", "store_error", "claim"),
        ("second", "store_error", "claim"),
        ("first", "tick_finished", report.id),
        ("second", "tick_finished", report.id),
    ]


@pytest.mark.both_schemas
async def test_a_run_now_is_heard_as_a_run_now_and_not_as_a_tick(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW + timedelta(hours=1), name="now")
    log: list[tuple[str, str, Any]] = []
    run = await ticks(store, log).run_now(sid, OPERATOR)
    assert log == [
        ("first", "run_now_finished", run.execution_id),
        ("second", "run_now_finished", run.execution_id),
    ]


async def test_a_tick_without_observers_still_runs_and_records(store: SqlStore, db: Any) -> None:
    add_strategy(db, next_execution_at=NOW - timedelta(minutes=1), name="alone")
    report = await TickService(store, ScriptedExecutor(), Settings(), FakeClock(NOW)).tick()
    assert report.claimed == 1 and report.executions[0].recorded
