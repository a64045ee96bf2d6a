"""The tick service's manual runs (run_now) and how a tick stops for a worker shutting down."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.errors import Conflict, NotFound
from cascadian.store.sql_store import SqlStore
from cascadian.tick import CUT_SHORT, TickService
from tests.executors import ScriptedExecutor, failed, hangs, returns, then
from tests.factories import OPERATOR, add_strategy, rows, strategy

# The key scenarios: on a fresh database and on one shaped like an existing deployment.
pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)


def service(store: Any, executor: ScriptedExecutor, **overrides: Any) -> TickService:
    base: dict[str, Any] = {
        "CASCADIAN_TICK_BUDGET_SECONDS": 50,
        "CASCADIAN_STRATEGY_TIMEOUT_SECONDS": 5,
        "CASCADIAN_LEASE_SECONDS": 60,
    }
    return TickService(store, executor, Settings(**(base | overrides)), FakeClock(NOW))


async def test_run_now_records_a_manual_run_without_moving_the_schedule(
    store: SqlStore, db: Any
) -> None:
    later = NOW + timedelta(hours=1)
    sid = add_strategy(db, next_execution_at=later, name="now")
    executor = ScriptedExecutor()
    report = await service(store, executor).run_now(sid, OPERATOR)
    assert executor.calls == ["now"]
    assert report.status == "completed" and report.recorded
    assert report.next_execution_at == later
    s = strategy(db, sid)
    assert (s["execution_count"], s["success_count"], s["next_execution_at"]) == (1, 1, later)
    assert s["last_executed_at"] == NOW and s["lease_token"] is None
    [e] = rows(db, "select trigger_kind, scheduled_for, status from workflow_executions")
    assert e == {"trigger_kind": "manual", "scheduled_for": None, "status": "completed"}


async def test_run_now_counts_towards_the_auto_pause(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW + timedelta(minutes=3), name="bad", error_count=2)
    report = await service(store, ScriptedExecutor(bad=returns(failed()))).run_now(sid, OPERATOR)
    assert report.status == "failed" and report.auto_paused
    s = strategy(db, sid)
    assert (s["status"], s["auto_run"], s["error_count"]) == ("error", False, 3)
    assert rows(db, "select type from notifications") == [{"type": "strategy_error"}]


async def test_a_successful_manual_run_leaves_an_auto_paused_strategy_paused(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="p", status="error", auto_run=False)
    report = await service(store, ScriptedExecutor()).run_now(sid, OPERATOR)
    assert report.status == "completed"
    s = strategy(db, sid)
    assert (s["status"], s["auto_run"], s["error_count"]) == ("error", False, 0)
    assert await store.claim_due(NOW + timedelta(days=1), 25, 60) == []


async def test_run_now_while_a_scheduled_run_holds_the_lease_is_a_conflict(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    await store.claim_due(NOW, 10, 60)
    executor = ScriptedExecutor()
    with pytest.raises(Conflict, match="in flight"):
        await service(store, executor).run_now(sid, OPERATOR)
    assert executor.calls == []
    assert rows(db, "select count(*) as n from workflow_executions") == [{"n": 1}]


async def test_run_now_of_an_unknown_strategy_is_not_found(store: SqlStore, db: Any) -> None:
    with pytest.raises(NotFound):
        await service(store, ScriptedExecutor()).run_now(uuid.uuid4(), OPERATOR)


async def test_a_stopped_tick_claims_nothing(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    stop = asyncio.Event()
    stop.set()
    executor = ScriptedExecutor()
    report = await service(store, executor).tick("worker", stop=stop)
    assert executor.calls == [] and report.claimed == 0 and report.success
    assert strategy(db, sid)["lease_token"] is None


async def test_stopping_lets_the_run_in_flight_finish_and_claims_no_more(
    store: SqlStore, db: Any
) -> None:
    stop = asyncio.Event()
    first = add_strategy(db, next_execution_at=NOW - timedelta(seconds=2), name="first")
    rest = [add_strategy(db, next_execution_at=NOW - timedelta(seconds=i)) for i in (1, 0)]
    executor = ScriptedExecutor(first=then(stop.set))
    report = await service(store, executor, CASCADIAN_MAX_CONCURRENCY=1).tick(
        "worker", stop=stop, grace_seconds=10
    )
    assert executor.calls == ["first"] and report.success
    assert [e.status for e in report.executions] == ["completed"]
    assert strategy(db, first)["execution_count"] == 1
    assert all(strategy(db, s)["lease_token"] is None for s in rest)
    assert rows(db, "select count(*) as n from workflow_executions") == [{"n": 1}]


async def test_runs_still_going_after_the_grace_period_are_cancelled_and_given_back(
    store: SqlStore, db: Any
) -> None:
    stop = asyncio.Event()
    add_strategy(db, next_execution_at=NOW - timedelta(seconds=1), name="stopper")
    hung = add_strategy(db, next_execution_at=NOW, name="hung")
    executor = ScriptedExecutor(stopper=then(stop.set), hung=hangs())
    report = await service(store, executor).tick("worker", stop=stop, grace_seconds=0)
    assert report.cancelled == 1 and report.success
    assert [e.workflow_name for e in report.executions] == ["stopper"]
    s = strategy(db, hung)
    assert (s["lease_token"], s["execution_count"], s["next_execution_at"]) == (None, 0, NOW)
    [cut] = rows(
        db, "select status, error_message from workflow_executions where workflow_id = %s", hung
    )
    assert cut == {"status": "cancelled", "error_message": CUT_SHORT}
    [again] = await store.claim_due(NOW, 10, 60)
    assert again.workflow.id == hung and again.attempt == 2
    [t] = rows(db, "select summary from cron_ticks")
    assert t["summary"]["cancelled"] == 1


class StopDuringClaim:
    """The real store, but the worker is told to stop while a claim is in flight."""

    def __init__(self, inner: SqlStore, stop: asyncio.Event) -> None:
        self.inner, self.stop = inner, stop

    async def claim_due(self, *args: Any) -> Any:
        claims = await self.inner.claim_due(*args)
        self.stop.set()
        return claims

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_claims_that_come_back_as_the_worker_stops_are_released_unstarted(
    store: SqlStore, db: Any
) -> None:
    sids = [add_strategy(db, next_execution_at=NOW) for _ in range(3)]
    stop = asyncio.Event()
    executor = ScriptedExecutor()
    report = await service(StopDuringClaim(store, stop), executor).tick("worker", stop=stop)
    assert executor.calls == [] and report.released == 3
    assert all(strategy(db, s)["lease_token"] is None for s in sids)
    assert rows(db, "select count(*) as n from workflow_executions") == [{"n": 0}]
