"""The tick: claim -> run -> record, with isolation, timeouts and the budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.errors import StoreRejected
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from tests.executors import ScriptedExecutor, failed, hangs, raises, returns, then
from tests.factories import add_strategy, rows, strategy

# The key scenarios: on a fresh database and on one shaped like an existing deployment.
pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "CASCADIAN_TICK_BUDGET_SECONDS": 50,
        "CASCADIAN_STRATEGY_TIMEOUT_SECONDS": 5,
        "CASCADIAN_LEASE_SECONDS": 60,
    }
    return Settings(**(base | overrides))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


def service(
    store: Any, executor: ScriptedExecutor, clock: FakeClock, **overrides: Any
) -> TickService:
    return TickService(store, executor, settings(**overrides), clock)


async def test_due_strategies_run_and_not_due_ones_are_skipped(
    store: SqlStore, db: Any, clock: FakeClock
) -> None:
    due = add_strategy(db, next_execution_at=NOW - timedelta(seconds=30), name="due")
    later = add_strategy(db, next_execution_at=NOW + timedelta(minutes=1), name="later")
    executor = ScriptedExecutor()
    report = await service(store, executor, clock).tick()
    assert executor.calls == ["due"]
    assert report.summary().strategies_checked == 1 and report.summary().strategies_executed == 1
    assert strategy(db, due)["execution_count"] == 1
    assert strategy(db, later)["execution_count"] == 0


async def test_a_run_updates_timestamps_counters_and_the_next_slot(
    store: SqlStore, db: Any, clock: FakeClock
) -> None:
    slot = NOW - timedelta(seconds=30)
    sid = add_strategy(db, next_execution_at=slot, interval=5)
    await service(store, ScriptedExecutor(), clock).tick()
    s = strategy(db, sid)
    assert s["last_executed_at"] == NOW
    assert s["next_execution_at"] == slot + timedelta(minutes=5)
    assert (s["execution_count"], s["success_count"], s["error_count"]) == (1, 1, 0)
    assert s["average_execution_time_ms"] == 10


async def test_missed_slots_are_coalesced_into_one_run(
    store: SqlStore, db: Any, clock: FakeClock
) -> None:
    slot = NOW - timedelta(minutes=17)  # the 5-minute slots at -12, -7 and -2 were missed
    sid = add_strategy(db, next_execution_at=slot, interval=5)
    executor = ScriptedExecutor()
    await service(store, executor, clock).tick()
    await service(store, executor, clock).tick()
    assert len(executor.calls) == 1
    assert strategy(db, sid)["next_execution_at"] == slot + timedelta(minutes=20)


async def test_one_failing_strategy_leaves_the_others_running(
    store: SqlStore, db: Any, clock: FakeClock
) -> None:
    for name in ("a", "bad", "crash", "b"):
        add_strategy(db, next_execution_at=NOW, name=name)
    executor = ScriptedExecutor(
        bad=returns(failed("no markets")), crash=raises(RuntimeError("kaput"))
    )
    report = await service(store, executor, clock).tick()
    by_name = {e.workflow_name: e for e in report.executions}
    assert {n: e.status for n, e in by_name.items()} == {
        "a": "completed",
        "b": "completed",
        "bad": "failed",
        "crash": "failed",
    }
    assert by_name["bad"].error == "node 'n': no markets"
    assert by_name["crash"].error == "executor error: RuntimeError: kaput"
    assert report.success and all(e.recorded for e in report.executions)
    assert rows(db, "select count(*) as n from workflow_executions where status = 'failed'") == [
        {"n": 2}
    ]


async def test_a_hung_strategy_times_out_and_the_others_finish(
    store: SqlStore, db: Any, clock: FakeClock
) -> None:
    hung = add_strategy(db, next_execution_at=NOW, name="hung")
    fine = add_strategy(db, next_execution_at=NOW, name="fine")
    executor = ScriptedExecutor(hung=hangs())
    report = await service(store, executor, clock, CASCADIAN_STRATEGY_TIMEOUT_SECONDS=0.2).tick()
    by_name = {e.workflow_name: e for e in report.executions}
    assert by_name["hung"].status == "failed" and by_name["hung"].error == "timed out after 0.2s"
    assert by_name["fine"].status == "completed"
    assert strategy(db, hung)["error_count"] == 1
    assert strategy(db, fine)["success_count"] == 1


async def test_concurrency_is_bounded_and_a_backlog_drains_in_one_tick(
    store: SqlStore, db: Any, clock: FakeClock
) -> None:
    for i in range(60):
        add_strategy(db, next_execution_at=NOW - timedelta(seconds=i))
    executor = ScriptedExecutor()
    report = await service(
        store, executor, clock, CASCADIAN_MAX_CONCURRENCY=4, CASCADIAN_CLAIM_LIMIT=25
    ).tick()
    assert len(report.executions) == 60 == len(set(executor.calls))
    assert executor.max_running <= 4
    assert rows(db, "select count(*) as n from workflow_sessions where execution_count = 1") == [
        {"n": 60}
    ]


async def test_claiming_stops_when_a_new_run_could_not_finish_in_the_budget(
    store: SqlStore, db: Any, clock: FakeClock
) -> None:
    # Budget 10 s, timeout 5 s: nothing is claimed once 5 s have gone.
    add_strategy(db, next_execution_at=NOW - timedelta(seconds=3), name="slow")
    left = [add_strategy(db, next_execution_at=NOW - timedelta(seconds=i)) for i in (2, 1)]
    executor = ScriptedExecutor(slow=then(lambda: clock.advance(6)))
    report = await service(
        store,
        executor,
        clock,
        CASCADIAN_MAX_CONCURRENCY=1,
        CASCADIAN_TICK_BUDGET_SECONDS=10,
    ).tick()
    assert executor.calls == ["slow"] and report.summary().strategies_checked == 1
    for sid in left:
        s = strategy(db, sid)
        assert s["execution_count"] == 0 and s["lease_token"] is None
    assert rows(db, "select count(*) as n from workflow_executions") == [{"n": 1}]


class SlowClaimStore:
    """The real store, but the clock passes the claim cutoff while a claim is in flight."""

    def __init__(self, inner: SqlStore, clock: FakeClock) -> None:
        self.inner, self.clock = inner, clock

    async def claim_due(self, *args: Any) -> Any:
        claims = await self.inner.claim_due(*args)
        self.clock.advance(46)  # cutoff: 50 s budget - 5 s timeout
        return claims

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_claims_that_come_back_too_late_are_released_not_lost(
    store: SqlStore, db: Any, clock: FakeClock
) -> None:
    sids = [add_strategy(db, next_execution_at=NOW) for _ in range(3)]
    executor = ScriptedExecutor()
    report = await TickService(SlowClaimStore(store, clock), executor, settings(), clock).tick()
    assert executor.calls == []
    assert report.summary().released == 3 and report.summary().strategies_executed == 0
    assert all(strategy(db, s)["lease_token"] is None for s in sids)
    assert rows(db, "select count(*) as n from workflow_executions") == [{"n": 0}]
    assert len(await store.claim_due(NOW, 25, 60)) == 3


async def test_auto_pause_on_the_third_consecutive_error_over_three_ticks(
    store: SqlStore, db: Any, clock: FakeClock
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="flaky", interval=1)
    executor = ScriptedExecutor(flaky=returns(failed("upstream 500")))
    paused = []
    for _ in range(4):
        report = await service(store, executor, clock).tick()
        paused += [e.auto_paused for e in report.executions]
        clock.advance(60)
    assert paused == [False, False, True]  # the 4th tick found nothing due
    s = strategy(db, sid)
    assert (s["status"], s["auto_run"], s["error_count"]) == ("error", False, 3)
    [n] = rows(db, "select type, priority, link from notifications")
    assert n == {"type": "strategy_error", "priority": "high", "link": f"/strategies/{sid}"}


async def test_an_invalid_cron_is_recorded_as_a_failure_and_falls_back_to_the_interval(
    store: SqlStore, db: Any, clock: FakeClock
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, cron="every minute", interval=2)
    executor = ScriptedExecutor()
    report = await service(store, executor, clock).tick()
    assert executor.calls == []
    assert "invalid schedule" in (report.executions[0].error or "")
    assert strategy(db, sid)["next_execution_at"] == NOW + timedelta(minutes=2)


async def test_a_database_outage_fails_the_tick_without_running_anything(clock: FakeClock) -> None:
    down = SqlStore.postgres("postgresql://postgres@127.0.0.1:9/none", timeout=0.5)
    await down.open()
    executor = ScriptedExecutor()
    try:
        report = await service(down, executor, clock).tick()
    finally:
        await down.close()
    assert not report.success and "database unavailable" in (report.error or "")
    assert executor.calls == []


async def test_every_tick_is_written_to_the_ledger(
    store: SqlStore, db: Any, clock: FakeClock
) -> None:
    add_strategy(db, next_execution_at=NOW)
    await service(store, ScriptedExecutor(), clock).tick(trigger="cli")
    [t] = rows(db, "select trigger, success, strategies_executed, succeeded from cron_ticks")
    assert t == {"trigger": "cli", "success": True, "strategies_executed": 1, "succeeded": 1}


class FailingFinishStore:
    """The real store, except that recording one named strategy's outcome fails."""

    def __init__(self, inner: SqlStore, poisoned: str) -> None:
        self.inner, self.poisoned = inner, poisoned

    async def finish_runs(self, outcomes: Any, threshold: int) -> Any:
        if any(o.workflow_id == self.poisoned for o in outcomes):
            raise StoreRejected("database error: simulated")
        return await self.inner.finish_runs(outcomes, threshold)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_an_outcome_that_cannot_be_recorded_does_not_stop_the_others(
    store: SqlStore, db: Any, clock: FakeClock
) -> None:
    poisoned = add_strategy(db, next_execution_at=NOW, name="poisoned")
    others = [add_strategy(db, next_execution_at=NOW) for _ in range(3)]
    report = await TickService(
        FailingFinishStore(store, poisoned), ScriptedExecutor(), settings(), clock
    ).tick()
    assert len(report.executions) == 4
    assert [e.workflow_name for e in report.executions if not e.recorded] == ["poisoned"]
    assert all(strategy(db, s)["execution_count"] == 1 for s in others)
    # Unrecorded: still leased, so a later tick re-runs it once the lease expires.
    assert strategy(db, poisoned)["lease_token"] is not None
    assert not report.success and "1 outcome(s) not recorded" in (report.error or "")


async def test_a_cron_strategy_is_rearmed_at_its_next_wall_clock_slot_across_dst(
    store: SqlStore, db: Any
) -> None:
    # 09:00 New York daily. The Saturday run is at 14:00 UTC (EST); Sunday the clocks
    # change, and the next run is 09:00 EDT = 13:00 UTC, not 14:00.
    saturday = datetime(2026, 3, 7, 14, 0, tzinfo=UTC)
    sid = add_strategy(
        db, next_execution_at=saturday, cron="0 9 * * *", timezone="America/New_York"
    )
    clock = FakeClock(saturday + timedelta(seconds=2))
    await service(store, ScriptedExecutor(), clock).tick()
    assert strategy(db, sid)["next_execution_at"] == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)


async def test_an_unusable_time_zone_is_a_recorded_failure_not_a_crashed_tick(
    store: SqlStore, db: Any, clock: FakeClock
) -> None:
    bad = add_strategy(db, next_execution_at=NOW, cron="0 9 * * *", timezone="America", interval=3)
    fine = add_strategy(db, next_execution_at=NOW)
    report = await service(store, ScriptedExecutor(), clock).tick()
    assert report.success and len(report.executions) == 2
    s = strategy(db, bad)
    assert "unknown time zone 'America'" in s["last_error"]
    assert s["next_execution_at"] == NOW + timedelta(minutes=3)
    assert strategy(db, fine)["success_count"] == 1


async def test_an_executors_own_timeout_error_is_not_reported_as_our_timeout(
    store: SqlStore, db: Any, clock: FakeClock
) -> None:
    add_strategy(db, next_execution_at=NOW, name="upstream")
    executor = ScriptedExecutor(upstream=raises(TimeoutError("upstream read timed out")))
    report = await service(store, executor, clock).tick()
    assert report.executions[0].error == "executor error: TimeoutError: upstream read timed out"
