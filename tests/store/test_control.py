"""The control SQL functions (migrations/005) beyond the store contract: how a
control change meets runs in flight, auto-pauses and abandoned leases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from cascadian.data import ClaimedRun, RunOutcome, RunResult, Schedule
from cascadian.store.sql_store import SqlStore
from tests.factories import OPERATOR, add_strategy, rows, strategy

# The key scenarios: on a fresh database and on one shaped like an existing deployment.
pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


def ok() -> RunResult:
    return RunResult(True, {}, [], 2, 10)


def failed() -> RunResult:
    return RunResult(False, {}, [{"node_id": "n", "node_type": "filter", "error": "x"}], 1, 5)


def outcome(claim: ClaimedRun, res: RunResult, next_at: datetime | None = LATER) -> RunOutcome:
    return RunOutcome(claim.execution_id, claim.workflow.id, res, next_at, NOW)


async def test_stop_during_a_run_records_the_outcome_but_does_not_rearm(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    [claim] = await store.claim_due(NOW, 10, 60)
    assert await store.stop(sid, NOW, OPERATOR) == "ok"
    [rec] = await store.finish_runs([outcome(claim, ok())], 3)
    assert rec.accepted
    s = strategy(db, sid)
    assert (s["status"], s["auto_run"], s["execution_count"]) == ("stopped", False, 1)
    assert s["next_execution_at"] == NOW and s["lease_token"] is None
    assert await store.claim_due(NOW + timedelta(days=1), 10, 60) == []


async def test_pause_and_stop_notify_the_owner_with_normal_priority(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="Arb")
    assert await store.pause(sid, NOW, OPERATOR) == "ok"
    assert await store.stop(sid, NOW, OPERATOR) == "ok"
    notes = rows(
        db, "select type, priority, link, message, metadata from notifications order by id"
    )
    assert [(n["type"], n["priority"], n["link"]) for n in notes] == [
        ("strategy_paused", "normal", f"/strategies/{sid}"),
        ("strategy_stopped", "normal", f"/strategies/{sid}"),
    ]
    assert notes[0]["message"] == 'Strategy "Arb" was paused by an operator.'
    assert notes[1]["metadata"] == {"previous_status": "paused"}


async def test_halt_refuses_a_status_other_than_paused_or_stopped(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    with pytest.raises(psycopg.errors.RaiseException, match="must be paused or stopped"):
        db.execute("select cascadian_halt_v2(%s, 'archived', now())", (sid,))


async def test_resume_after_an_auto_pause_clears_the_error_state(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW, interval=1)
    for i in range(3):
        [claim] = await store.claim_due(NOW + timedelta(minutes=i), 10, 60)
        await store.finish_runs([outcome(claim, failed(), NOW + timedelta(minutes=i + 1))], 3)
    s = strategy(db, sid)
    assert (s["status"], s["auto_run"], s["error_count"]) == ("error", False, 3)

    assert await store.resume(sid, LATER, NOW, OPERATOR) == "ok"
    s = strategy(db, sid)
    assert (s["status"], s["auto_run"], s["error_count"], s["last_error"]) == (
        "running",
        True,
        0,
        None,
    )
    assert s["next_execution_at"] == LATER and s["execution_count"] == 3
    assert [c.workflow.id for c in await store.claim_due(LATER, 10, 60)] == [sid]


async def test_only_a_halted_or_errored_strategy_is_resumed(store: SqlStore, db: Any) -> None:
    draft = add_strategy(db, next_execution_at=None, status="draft", auto_run=False)
    assert await store.resume(draft, LATER, NOW, OPERATOR) == "not_resumable"
    # A successful manual run of an auto-paused strategy leaves it running, unscheduled.
    idle = add_strategy(db, next_execution_at=NOW, status="running", auto_run=False)
    assert await store.resume(idle, LATER, NOW, OPERATOR) == "ok"
    assert strategy(db, idle)["auto_run"] is True


async def test_a_manual_run_holds_the_lease_against_scheduled_claims(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    manual = await store.claim_manual(sid, NOW, 60, OPERATOR)
    assert manual.run is not None
    assert await store.claim_due(NOW + timedelta(seconds=30), 10, 60) == []
    await store.finish_runs([outcome(manual.run, ok(), manual.run.next_execution_at)], 3)
    [scheduled] = await store.claim_due(NOW + timedelta(seconds=30), 10, 60)
    assert scheduled.workflow.id == sid and scheduled.attempt == 1
    s = strategy(db, sid)
    assert s["execution_count"] == 1 and s["next_execution_at"] == NOW


async def test_a_manual_claim_cancels_the_row_of_an_abandoned_run(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=LATER)
    dead = await store.claim_manual(sid, NOW, 60, OPERATOR)
    again = await store.claim_manual(sid, NOW + timedelta(seconds=61), 60, OPERATOR)
    assert dead.run is not None and again.run is not None
    by_id = {
        r["id"]: r for r in rows(db, "select id, status, error_message from workflow_executions")
    }
    assert by_id[dead.run.execution_id]["status"] == "cancelled"
    assert "lease expired" in by_id[dead.run.execution_id]["error_message"]
    assert by_id[again.run.execution_id]["status"] == "running"
    [rec] = await store.finish_runs([outcome(dead.run, ok())], 3)
    assert not rec.accepted


async def test_a_manual_run_of_a_strategy_without_a_next_slot_keeps_it_without_one(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None, status="draft", auto_run=False)
    manual = await store.claim_manual(sid, NOW, 60, OPERATOR)
    assert manual.run is not None and manual.run.next_execution_at is None
    [rec] = await store.finish_runs([outcome(manual.run, ok(), None)], 3)
    assert rec.accepted
    s = strategy(db, sid)
    assert (s["execution_count"], s["next_execution_at"], s["status"]) == (1, None, "draft")


async def test_start_of_an_auto_paused_strategy_begins_a_fresh_error_streak(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(
        db, next_execution_at=NOW, status="error", auto_run=False, error_count=3, last_error="x"
    )
    assert await store.start(sid, Schedule(5), LATER, NOW, OPERATOR) == "ok"
    s = strategy(db, sid)
    assert (s["status"], s["auto_run"], s["error_count"], s["last_error"]) == (
        "running",
        True,
        0,
        None,
    )


async def test_start_writes_the_schedule_it_is_given(store: SqlStore, db: Any) -> None:
    sid = add_strategy(
        db, next_execution_at=None, status="stopped", auto_run=False, cron="* * * * *"
    )
    assert await store.start(sid, Schedule(10), LATER, NOW, OPERATOR) == "ok"
    s = strategy(db, sid)
    assert (s["cron_expression"], s["execution_interval_minutes"], s["timezone"]) == (
        None,
        10,
        "UTC",
    )
    assert await store.start(uuid.uuid4(), Schedule(10), LATER, NOW, OPERATOR) == "not_found"
