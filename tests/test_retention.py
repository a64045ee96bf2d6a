"""Retention: what a prune deletes, what it never deletes, its caps, and the tick's prune."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.data import PruneResult, RetentionPolicy
from cascadian.errors import StoreUnavailable
from cascadian.retention import Pruner, retention_policy
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from tests.executors import ScriptedExecutor
from tests.factories import USER, add_strategy, rows, set_lease

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = 86_400.0


def policy(**overrides: Any) -> RetentionPolicy:
    base: dict[str, Any] = {
        "run_retention_seconds": 30 * DAY,
        "keep_runs": 1,
        "tick_retention_seconds": 14 * DAY,
        "notification_retention_seconds": 90 * DAY,
        "max_rows": 10_000,
        "max_ms": 5_000,
    }
    return RetentionPolicy(**(base | overrides))


def add_run(
    db: Any, sid: uuid.UUID, started: datetime, *, status: str = "completed", logs: int = 2
) -> uuid.UUID:
    row = db.execute(
        "insert into workflow_executions (workflow_id, user_id, execution_started_at, status, "
        "trigger_kind, scheduled_for, attempt) values (%s, %s, %s, %s, 'scheduled', %s, 1) "
        "returning id",
        (sid, USER, started, status, started),
    ).fetchone()
    eid = uuid.UUID(str(row[0]))
    for i in range(logs):
        db.execute(
            "insert into strategy_execution_logs (execution_id, workflow_id, node_id, node_type, "
            "status, started_at) values (%s, %s, %s, 'start', 'success', %s)",
            (eid, sid, f"n{i}", started),
        )
    return eid


def run_ids(db: Any) -> set[uuid.UUID]:
    return {uuid.UUID(str(r["id"])) for r in rows(db, "select id from workflow_executions")}


def count(db: Any, table: str) -> int:
    return int(rows(db, f"select count(*) as n from {table}")[0]["n"])


def add_tick(db: Any, started: datetime) -> None:
    db.execute(
        "insert into cron_ticks (trigger, started_at, finished_at, success, execution_time_ms) "
        "values ('cron', %s, %s, true, 1)",
        (started, started),
    )


def add_notification(db: Any, schema: str, created: datetime, *, read: bool) -> None:
    read_at = ", read_at" if schema == "existing" else ""
    db.execute(
        "insert into notifications (user_id, type, title, message, is_read, created_at"
        f"{read_at}) values (%s, 'system', 't', 'm', %s, %s{', %s' if read_at else ''})",
        (USER, read, created, *([created if read else None] if read_at else [])),
    )


async def test_runs_past_the_window_go_with_their_node_logs_and_newer_ones_stay(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    old = add_run(db, sid, NOW - timedelta(days=30, seconds=1))
    edge = add_run(db, sid, NOW - timedelta(days=30))
    new = add_run(db, sid, NOW - timedelta(days=1))
    result = await store.prune(NOW, policy())
    assert (result.runs, result.node_logs, result.complete) == (1, 2, True)
    assert run_ids(db) == {edge, new}
    assert old not in {
        r["execution_id"] for r in rows(db, "select execution_id from strategy_execution_logs")
    }
    assert count(db, "strategy_execution_logs") == 4


async def test_the_newest_runs_of_each_strategy_stay_whatever_their_age(
    store: SqlStore, db: Any
) -> None:
    quiet = add_strategy(db, next_execution_at=None, status="stopped", auto_run=False)
    busy = add_strategy(db, next_execution_at=NOW)
    ancient = [add_run(db, quiet, NOW - timedelta(days=400 - d)) for d in range(4)]
    busy_runs = [add_run(db, busy, NOW - timedelta(days=60 - d)) for d in range(4)]
    await store.prune(NOW, policy(keep_runs=3))
    assert run_ids(db) == set(ancient[1:]) | set(busy_runs[1:])
    # keep_runs below 1 still keeps each strategy's latest run
    await store.prune(NOW, policy(keep_runs=0))
    assert run_ids(db) == {ancient[-1], busy_runs[-1]}


async def test_a_running_run_and_the_run_a_lease_points_at_are_never_deleted(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    running = add_run(db, sid, NOW - timedelta(days=90), status="running")
    leased = add_run(db, sid, NOW - timedelta(days=80), status="cancelled")
    gone = add_run(db, sid, NOW - timedelta(days=70))
    latest = add_run(db, sid, NOW - timedelta(days=60))
    set_lease(db, sid, leased, NOW - timedelta(days=79))  # expired, but still named
    await store.prune(NOW, policy())
    assert run_ids(db) == {running, leased, latest}
    assert gone not in run_ids(db)


async def test_ticks_past_their_window_go_but_the_newest_tick_stays(
    store: SqlStore, db: Any
) -> None:
    for days in (30, 20, 15, 13):
        add_tick(db, NOW - timedelta(days=days))
    result = await store.prune(NOW, policy())
    assert result.ticks == 3
    assert [r["started_at"] for r in rows(db, "select started_at from cron_ticks")] == [
        NOW - timedelta(days=13)
    ]
    await store.prune(NOW + timedelta(days=100), policy())
    assert count(db, "cron_ticks") == 1  # the newest, however old


async def test_only_read_notifications_past_their_window_go(
    store: SqlStore, db: Any, schema: str
) -> None:
    add_notification(db, schema, NOW - timedelta(days=91), read=True)
    add_notification(db, schema, NOW - timedelta(days=91), read=False)
    add_notification(db, schema, NOW - timedelta(days=89), read=True)
    result = await store.prune(NOW, policy())
    assert result.notifications == 1
    left = rows(db, "select is_read, created_at from notifications order by created_at, is_read")
    assert [(r["is_read"], r["created_at"]) for r in left] == [
        (False, NOW - timedelta(days=91)),
        (True, NOW - timedelta(days=89)),
    ]


async def test_a_window_of_none_keeps_that_history_for_ever(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    for days in (400, 300):
        add_run(db, sid, NOW - timedelta(days=days))
        add_tick(db, NOW - timedelta(days=days))
    nothing = policy(run_retention_seconds=None, tick_retention_seconds=None)
    assert (await store.prune(NOW, nothing)).rows == 0
    assert (count(db, "workflow_executions"), count(db, "cron_ticks")) == (2, 2)


async def test_a_dry_run_counts_everything_due_and_deletes_nothing(
    store: SqlStore, db: Any, schema: str
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    for days in (50, 40, 35, 1):
        add_run(db, sid, NOW - timedelta(days=days), logs=3)
        add_tick(db, NOW - timedelta(days=days))
    add_notification(db, schema, NOW - timedelta(days=100), read=True)
    counted = await store.prune(NOW, policy(max_rows=1), dry_run=True)
    assert (counted.runs, counted.node_logs, counted.ticks, counted.notifications) == (3, 9, 3, 1)
    assert count(db, "workflow_executions") == 4 and count(db, "cron_ticks") == 4
    done = await store.prune(NOW, policy())
    assert (done.runs, done.node_logs, done.ticks, done.notifications) == (3, 9, 3, 1)


async def test_the_row_cap_bounds_a_call_and_the_next_goes_on_where_it_stopped(
    store: SqlStore, db: Any
) -> None:
    strategies = [add_strategy(db, next_execution_at=NOW) for _ in range(3)]
    for sid in strategies:
        for days in (33, 32, 31, 1):
            add_run(db, sid, NOW - timedelta(days=days), logs=1)
    capped = policy(max_rows=4)
    first = await store.prune(NOW, capped)
    # A batch takes at most the cap in runs; their node logs may take it over.
    assert not first.complete and first.runs == 4 and first.node_logs == 4
    results = [first]
    while not results[-1].complete and len(results) < 20:
        results.append(await store.prune(NOW, capped, after=results[-1].resume_after))
    assert results[-1].complete
    assert sum(r.runs for r in results) == 9
    assert all(r.runs <= 4 and r.rows <= 8 for r in results)
    assert count(db, "workflow_executions") == 3


async def test_prune_everything_loops_bounded_calls_until_done(store: SqlStore, db: Any) -> None:
    for _ in range(4):
        sid = add_strategy(db, next_execution_at=NOW)
        for days in range(31, 41):
            add_run(db, sid, NOW - timedelta(days=days), logs=1)
        add_run(db, sid, NOW)
    settings = Settings(CASCADIAN_RETENTION_KEEP_RUNS=1)
    total = await Pruner(store, settings, FakeClock(NOW)).everything()
    assert (total.runs, total.node_logs, total.complete) == (40, 40, True)
    assert count(db, "workflow_executions") == 4


async def test_a_tick_prunes_within_its_caps_and_reports_it(store: SqlStore, db: Any) -> None:
    clock = FakeClock(NOW)
    sid = add_strategy(db, next_execution_at=NOW, interval=1)
    for days in (45, 40, 35):
        add_run(db, sid, NOW - timedelta(days=days), logs=2)
    add_tick(db, NOW - timedelta(days=20))
    add_tick(db, NOW - timedelta(days=19))  # the newest stays until this tick is recorded
    settings = Settings(CASCADIAN_RETENTION_KEEP_RUNS=1, CASCADIAN_PRUNE_MAX_ROWS=100)
    report = await TickService(store, ScriptedExecutor(), settings, clock).tick()
    pruned = report.summary().pruned
    assert pruned is not None
    assert (pruned.runs, pruned.node_logs, pruned.ticks, pruned.error) == (3, 6, 1, None)
    [ledger] = rows(db, "select summary from cron_ticks where id = %s", report.id)
    assert ledger["summary"]["pruned"]["runs"] == 3
    assert count(db, "workflow_executions") == 1  # this tick's run


class PruneFails(SqlStore):
    """The real store, whose prune fails as a database outage would."""

    async def prune(self, *args: Any, **kwargs: Any) -> PruneResult:
        raise StoreUnavailable("database unavailable: prune timed out")


async def test_a_failing_prune_is_reported_and_the_tick_still_succeeds_and_records(
    store: SqlStore, db: Any
) -> None:
    failing = PruneFails(store.transport)
    add_strategy(db, next_execution_at=NOW, name="due")
    report = await TickService(failing, ScriptedExecutor(), Settings(), FakeClock(NOW)).tick()
    assert report.success and report.summary().succeeded == 1
    pruned = report.summary().pruned
    assert pruned is not None and pruned.error is not None and "prune timed out" in pruned.error
    [ledger] = rows(db, "select success, summary from cron_ticks")
    assert ledger["success"] is True
    assert "prune timed out" in ledger["summary"]["pruned"]["error"]


async def test_ticks_do_not_prune_when_the_row_cap_is_zero(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    add_run(db, sid, NOW - timedelta(days=100))
    add_run(db, sid, NOW - timedelta(days=99))
    settings = Settings(CASCADIAN_PRUNE_MAX_ROWS=0, CASCADIAN_RETENTION_KEEP_RUNS=1)
    report = await TickService(store, ScriptedExecutor(), settings, FakeClock(NOW)).tick()
    assert report.summary().pruned is None
    assert count(db, "workflow_executions") == 3


def test_zero_days_means_for_ever_in_the_policy() -> None:
    p = retention_policy(Settings(CASCADIAN_RETENTION_RUN_DAYS=0, CASCADIAN_RETENTION_TICK_DAYS=7))
    assert p.run_retention_seconds is None and p.tick_retention_seconds == 7 * DAY
    assert (p.keep_runs, p.max_rows, p.max_ms) == (50, 5000, 250)


async def test_both_stores_prune_and_read_the_lag_the_backlog_and_the_gauges(
    any_store: Any, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW - timedelta(seconds=20))
    for days in (40, 35, 1):
        add_run(db, sid, NOW - timedelta(days=days))
    result = await any_store.prune(NOW, policy(), dry_run=False, after=None)
    assert (result.runs, result.node_logs, result.complete) == (2, 4, True)
    lag = await any_store.schedule_lag(sid, 20)
    assert (lag.runs, lag.last_lag_seconds) == (1, 0.0)
    backlog = await any_store.backlog(NOW)
    assert (backlog.due, backlog.oldest_lag_seconds) == (1, 20.0)
    gauges = await any_store.gauges(NOW)
    assert gauges.due == 1 and gauges.strategies_by_status == {"running": 1}


async def test_back_to_back_ticks_prune_at_most_every_30_seconds(store: SqlStore, db: Any) -> None:
    clock = FakeClock(NOW)
    ticks = TickService(store, ScriptedExecutor(), Settings(), clock)
    assert (await ticks.tick()).prune is not None
    clock.advance(10)
    assert (await ticks.tick()).prune is None
    clock.advance(20)
    assert (await ticks.tick()).prune is not None
