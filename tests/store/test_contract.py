"""The store contract, run against both stores over the same real database.

`any_store` is the Postgres store (psycopg, straight to the database) and then
the Supabase store (postgrest-py → PostgREST, forwarded by respx to the same SQL
functions: tests/supabase_forwarder.py). Each behaviour must hold for both.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.data import (
    ClaimedRun,
    NodeRun,
    Notification,
    RunOutcome,
    RunResult,
    Schedule,
    WatchlistEntry,
)
from cascadian.outcome import Counters, apply
from cascadian.ports import Store
from cascadian.reports import TickReport
from tests.factories import NODE_LOGS, OPERATOR, USER, add_strategy, rows, strategy

# The key scenarios: on a fresh database and on one shaped like an existing deployment.
pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


def result(success: bool = True, duration_ms: int = 100, error: str = "boom") -> RunResult:
    errors = [] if success else [{"node_id": "n1", "node_type": "filter", "error": error}]
    runs = [
        NodeRun("n1", "filter", "success" if success else "error", NOW, NOW, 1, None, {"k": 1}),
        NodeRun("n2", "end", "success" if success else "skipped"),
    ]
    return RunResult(success, {"n1": {"k": 1}}, errors, 1, duration_ms, runs)


def outcome(claim: ClaimedRun, res: RunResult, next_at: datetime = LATER) -> RunOutcome:
    return RunOutcome(claim.execution_id, claim.workflow.id, res, next_at, NOW)


async def claim_one(store: Store, now: datetime = NOW) -> ClaimedRun:
    [claim] = await store.claim_due(now, 25, 60)
    return claim


async def test_claims_due_strategies_oldest_first_up_to_the_limit(
    any_store: Store, db: Any
) -> None:
    ids = [add_strategy(db, next_execution_at=NOW - timedelta(minutes=m)) for m in (1, 3, 2)]
    claims = await any_store.claim_due(NOW, 2, 60)
    assert [c.workflow.id for c in claims] == [ids[1], ids[2]]
    assert all(c.attempt == 1 and c.lease_expires_at == NOW + timedelta(seconds=60) for c in claims)


async def test_strategies_not_due_paused_or_manual_are_not_claimed(
    any_store: Store, db: Any
) -> None:
    add_strategy(db, next_execution_at=NOW + timedelta(seconds=1))
    add_strategy(db, next_execution_at=None)
    add_strategy(db, next_execution_at=NOW, status="paused")
    add_strategy(db, next_execution_at=NOW, status="stopped", auto_run=False)
    add_strategy(db, next_execution_at=NOW, auto_run=False)
    due_in_error = add_strategy(db, next_execution_at=NOW, status="error")
    assert [c.workflow.id for c in await any_store.claim_due(NOW, 25, 60)] == [due_in_error]


async def test_a_claim_carries_the_workflow_and_inserts_a_running_execution(
    any_store: Store, db: Any
) -> None:
    sid = add_strategy(
        db,
        next_execution_at=NOW,
        name="alpha",
        cron="*/5 * * * *",
        timezone="Europe/Paris",
        variables={"min": 0.5},
    )
    claim = await claim_one(any_store)
    assert claim.workflow.name == "alpha" and claim.workflow.execution_id == claim.execution_id
    assert claim.workflow.id == sid and claim.workflow.user_id == USER
    assert claim.workflow.variables == {"min": 0.5}
    assert [n["id"] for n in claim.workflow.nodes] == ["start", "end"]
    assert claim.schedule.cron == "*/5 * * * *" and claim.schedule.timezone == "Europe/Paris"
    assert claim.scheduled_for == NOW and claim.scheduled_for.tzinfo is not None
    [row] = rows(db, "select * from workflow_executions")
    assert row["id"] == claim.execution_id and row["workflow_id"] == sid
    assert (row["status"], row["trigger_kind"], row["scheduled_for"], row["attempt"]) == (
        "running",
        "scheduled",
        NOW,
        1,
    )
    assert row["workflow_snapshot"]["name"] == "alpha"


async def test_a_leased_strategy_is_not_claimed_again(any_store: Store, db: Any) -> None:
    add_strategy(db, next_execution_at=NOW)
    await claim_one(any_store)
    assert await any_store.claim_due(NOW + timedelta(seconds=59), 25, 60) == []


async def test_concurrent_claims_never_hand_out_a_strategy_twice(any_store: Store, db: Any) -> None:
    for i in range(200):
        add_strategy(db, next_execution_at=NOW - timedelta(seconds=i))
    batches = await asyncio.gather(*(any_store.claim_due(NOW, 25, 60) for _ in range(16)))
    claimed = [c.workflow.id for batch in batches for c in batch]
    assert len(claimed) == 200 == len(set(claimed))


def recorded_duration(schema: str, measured_ms: int) -> int:
    """An existing deployment's trigger derives a run's duration_ms from its timestamps
    (here the claim and the record, both at NOW); ours keeps the executor's figure."""
    return measured_ms if schema == "fresh" else 0


async def test_recording_an_outcome_updates_counters_timestamps_and_the_execution(
    any_store: Store, db: Any, schema: str
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    claim = await claim_one(any_store)
    [rec] = await any_store.finish_runs([outcome(claim, result(duration_ms=250))], 3)
    assert rec.execution_id == claim.execution_id and rec.accepted and not rec.auto_paused
    s = strategy(db, sid)
    assert (s["execution_count"], s["success_count"], s["error_count"]) == (1, 1, 0)
    assert s["average_execution_time_ms"] == 250
    assert s["last_executed_at"] == NOW and s["next_execution_at"] == LATER
    assert s["lease_token"] is None and s["lease_expires_at"] is None
    [e] = rows(db, "select * from workflow_executions")
    assert (e["status"], e["duration_ms"], e["nodes_executed"], e["outputs"]) == (
        "completed",
        recorded_duration(schema, 250),
        1,
        {"n1": {"k": 1}},
    )
    logs = rows(db, f"select node_id, status, output from {NODE_LOGS} order by node_index")
    assert logs == [
        {"node_id": "n1", "status": "success", "output": {"k": 1}},
        {"node_id": "n2", "status": "success", "output": None},
    ]


async def test_sql_outcome_rules_agree_with_the_domain_rules(any_store: Store, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    rng = random.Random(7)
    expected, now = Counters(), NOW
    for _ in range(12):
        success, ms = rng.random() < 0.6, rng.randint(1, 5000)
        claim = await claim_one(any_store, now)
        [rec] = await any_store.finish_runs([outcome(claim, result(success, ms), now)], 99)
        expected, paused = apply(expected, success, ms, 99)
        s = strategy(db, sid)
        got = Counters(
            s["execution_count"],
            s["success_count"],
            s["error_count"],
            s["average_execution_time_ms"],
        )
        assert got == expected and rec.auto_paused == paused
        now += timedelta(minutes=5)


async def test_third_consecutive_error_auto_pauses_and_notifies_in_the_same_transaction(
    any_store: Store, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="Momentum")
    paused = []
    for i in range(3):
        claim = await claim_one(any_store, NOW + timedelta(minutes=5 * i))
        nxt = NOW + timedelta(minutes=5 * (i + 1))
        [rec] = await any_store.finish_runs(
            [outcome(claim, result(False, error=f"err {i}"), nxt)], 3
        )
        paused.append(rec.auto_paused)
    assert paused == [False, False, True]
    s = strategy(db, sid)
    assert (s["status"], s["auto_run"], s["error_count"], s["last_error"]) == (
        "error",
        False,
        3,
        "node 'n1': err 2",
    )
    [n] = rows(db, "select * from notifications")
    assert (n["user_id"], n["workflow_id"], n["type"], n["priority"]) == (
        s["user_id"],
        sid,
        "strategy_error",
        "high",
    )
    assert "Momentum" in n["title"] and "err 2" in n["message"]
    assert n["link"] == f"/strategies/{sid}"
    assert await any_store.claim_due(NOW + timedelta(days=1), 25, 60) == []


async def test_an_expired_lease_is_reclaimed_and_the_stale_outcome_rejected(
    any_store: Store, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    first = await claim_one(any_store)
    second = await claim_one(any_store, NOW + timedelta(seconds=61))  # first's process died
    assert second.attempt == 2 and second.scheduled_for == first.scheduled_for

    [stale] = await any_store.finish_runs([outcome(first, result())], 3)
    assert not stale.accepted
    assert strategy(db, sid)["execution_count"] == 0

    [fresh] = await any_store.finish_runs([outcome(second, result())], 3)
    assert fresh.accepted
    assert strategy(db, sid)["execution_count"] == 1
    runs = rows(
        db, "select id, status, attempt, error_message from workflow_executions order by attempt"
    )
    assert [(r["id"], r["status"], r["attempt"]) for r in runs] == [
        (first.execution_id, "cancelled", 1),
        (second.execution_id, "completed", 2),
    ]
    assert "abandoned" in runs[0]["error_message"]


async def test_a_strategy_stopped_during_its_run_is_recorded_but_not_rearmed(
    any_store: Store, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    claim = await claim_one(any_store)
    db.execute(
        "update workflow_sessions set status = 'stopped', auto_run = false where id = %s", (sid,)
    )
    [rec] = await any_store.finish_runs([outcome(claim, result(False))], 1)
    s = strategy(db, sid)
    assert rec.accepted and not rec.auto_paused
    assert (s["status"], s["execution_count"], s["next_execution_at"]) == ("stopped", 1, NOW)
    assert rows(db, "select * from notifications") == []


async def test_released_claims_are_due_again_as_if_never_claimed(any_store: Store, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    claim = await claim_one(any_store)
    assert await any_store.release([claim.execution_id]) == 1
    assert rows(db, "select * from workflow_executions") == []
    assert strategy(db, sid)["lease_token"] is None
    again = await claim_one(any_store)
    assert again.attempt == 1
    assert await any_store.release([claim.execution_id]) == 0  # a stale id releases nothing
    assert await any_store.release([]) == 0


async def test_a_batch_of_outcomes_is_recorded_in_order(any_store: Store, db: Any) -> None:
    for _ in range(5):
        add_strategy(db, next_execution_at=NOW)
    claims = await any_store.claim_due(NOW, 25, 60)
    recs = await any_store.finish_runs(
        [outcome(c, result(i % 2 == 0)) for i, c in enumerate(claims)], 3
    )
    assert [r.execution_id for r in recs] == [c.execution_id for c in claims]
    assert all(r.accepted for r in recs)
    counts = rows(
        db, "select status, count(*) as n from workflow_executions group by status order by 1"
    )
    assert counts == [{"status": "completed", "n": 3}, {"status": "failed", "n": 2}]


async def test_the_tick_ledger_keeps_one_row_per_tick(any_store: Store, db: Any) -> None:
    await any_store.record_tick(
        TickReport("cron", NOW, finished_at=NOW, claimed=2, execution_time_ms=12)
    )
    [tick] = rows(
        db,
        "select trigger, started_at, strategies_checked, execution_time_ms, summary "
        "from cron_ticks",
    )
    assert tick == {
        "trigger": "cron",
        "started_at": NOW,
        "strategies_checked": 2,
        "execution_time_ms": 12,
        "summary": {"auto_paused": 0, "cancelled": 0},
    }


async def test_watchlist_entries_are_added_once_and_duplicates_counted(
    any_store: Store, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    claim = await claim_one(any_store)
    entries = [WatchlistEntry("m1", "cheap", {"yes": 0.3}), WatchlistEntry("m2")]
    assert await any_store.add_to_watchlist(sid, claim.execution_id, entries) == (2, 0)
    again = [WatchlistEntry("m2", "again"), WatchlistEntry("m3")]
    assert await any_store.add_to_watchlist(sid, None, again) == (1, 1)
    got = rows(
        db,
        "select market_id, reason, metadata, added_by_execution_id from strategy_watchlists "
        "order by market_id",
    )
    assert got == [
        {
            "market_id": "m1",
            "reason": "cheap",
            "metadata": {"yes": 0.3},
            "added_by_execution_id": claim.execution_id,
        },
        {
            "market_id": "m2",
            "reason": None,
            "metadata": {},
            "added_by_execution_id": claim.execution_id,
        },
        {"market_id": "m3", "reason": None, "metadata": {}, "added_by_execution_id": None},
    ]


async def test_a_notification_reaches_the_owner(any_store: Store, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None)
    owner = USER
    nid = await any_store.notify(
        Notification(
            owner, sid, "Price alert", "m1 under 0.3", priority="urgent", metadata={"m": "m1"}
        ),
        NOW,
    )
    [n] = rows(db, "select * from notifications")
    assert n["id"] == nid
    assert (n["user_id"], n["workflow_id"], n["title"], n["message"]) == (
        owner,
        sid,
        "Price alert",
        "m1 under 0.3",
    )
    assert (n["type"], n["priority"], n["metadata"], n["is_read"]) == (
        "strategy_update",
        "urgent",
        {"m": "m1"},
        False,
    )


async def test_ping_succeeds_against_a_migrated_database(any_store: Store, db: Any) -> None:
    await any_store.ping()


# Manual runs and cut-short runs (migrations/005).


async def test_a_manual_claim_runs_any_strategy_once_without_moving_its_schedule(
    any_store: Store, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=LATER, status="paused", auto_run=False)
    claim = await any_store.claim_manual(sid, NOW, 60, OPERATOR)
    assert claim.result == "ok" and claim.run is not None
    run = claim.run
    assert run.manual and run.workflow.id == sid and run.next_execution_at == LATER
    assert run.lease_expires_at == NOW + timedelta(seconds=60)
    [row] = rows(db, "select id, trigger_kind, scheduled_for, status from workflow_executions")
    assert row == {
        "id": run.execution_id,
        "trigger_kind": "manual",
        "scheduled_for": None,
        "status": "running",
    }
    again = await any_store.claim_manual(sid, NOW + timedelta(seconds=1), 60, OPERATOR)
    assert (again.result, again.run) == ("run_in_flight", None)
    assert (await any_store.claim_manual(uuid.uuid4(), NOW, 60, OPERATOR)).result == "not_found"


async def test_cancelled_runs_give_their_slot_back_for_another_attempt(
    any_store: Store, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    claim = await claim_one(any_store)
    assert await any_store.cancel_runs([claim.execution_id], "worker stopped", NOW) == 1
    [row] = rows(db, "select status, error_message from workflow_executions")
    assert row == {"status": "cancelled", "error_message": "worker stopped"}
    s = strategy(db, sid)
    assert (s["lease_token"], s["execution_count"], s["next_execution_at"]) == (None, 0, NOW)
    assert (await claim_one(any_store)).attempt == 2
    assert await any_store.cancel_runs([claim.execution_id], "again", NOW) == 0
    assert await any_store.cancel_runs([], "nothing", NOW) == 0


# The control store (migrations/005).


async def test_start_pause_stop_and_resume_answer_result_codes(any_store: Any, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, status="draft", auto_run=False, name="Mo")
    hourly = Schedule(interval_minutes=60, cron="0 * * * *", timezone="Europe/Paris")
    assert await any_store.start(sid, hourly, LATER, NOW, OPERATOR) == "ok"
    s = strategy(db, sid)
    assert (s["status"], s["auto_run"], s["next_execution_at"]) == ("running", True, LATER)
    assert (s["execution_interval_minutes"], s["cron_expression"], s["timezone"]) == (
        60,
        "0 * * * *",
        "Europe/Paris",
    )
    assert await any_store.start(sid, hourly, LATER, NOW, OPERATOR) == "already_running"
    assert await any_store.pause(sid, NOW, OPERATOR) == "ok"
    assert await any_store.pause(sid, NOW, OPERATOR) == "already_paused"
    assert await any_store.stop(sid, NOW, OPERATOR) == "ok"
    assert await any_store.stop(sid, NOW, OPERATOR) == "already_stopped"
    assert [n["title"] for n in rows(db, "select title from notifications order by id")] == [
        "Strategy paused: Mo",
        "Strategy stopped: Mo",
    ]
    assert await any_store.resume(sid, LATER, NOW, OPERATOR) == "ok"
    assert await any_store.resume(sid, LATER, NOW, OPERATOR) == "already_running"
    assert await any_store.pause(uuid.uuid4(), NOW, OPERATOR) == "not_found"


async def test_a_strategy_with_a_run_in_flight_cannot_be_restarted(any_store: Any, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    await claim_one(any_store)
    assert await any_store.stop(sid, NOW, OPERATOR) == "ok"  # the run finishes; it is not re-armed
    assert await any_store.resume(sid, LATER, NOW, OPERATOR) == "run_in_flight"
    assert await any_store.start(sid, Schedule(5), LATER, NOW, OPERATOR) == "run_in_flight"


async def test_strategy_status_reports_counters_rate_and_the_lease(any_store: Any, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="b")
    claim = await claim_one(any_store)
    status = await any_store.strategy_status(sid, NOW)
    assert status.id == sid and status.user_id == USER and status.schedule == Schedule(5)
    assert status.run_in_flight and status.lease_expires_at == claim.lease_expires_at
    assert status.success_rate is None and status.next_execution_at == NOW
    await any_store.finish_runs([outcome(claim, result(False, error="bad"))], 3)
    status = await any_store.strategy_status(sid, NOW)
    assert (status.execution_count, status.success_rate, status.run_in_flight) == (1, 0.0, False)
    assert status.last_error == "node 'n1': bad" and status.last_executed_at == NOW
    assert await any_store.strategy_status(uuid.uuid4(), NOW) is None


async def test_executions_page_newest_first_and_one_run_has_its_logs(
    any_store: Any, db: Any, schema: str
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    first = await claim_one(any_store)
    await any_store.finish_runs([outcome(first, result(duration_ms=7))], 3)
    second = await claim_one(any_store, LATER)
    page = await any_store.executions(sid, 1, 0)
    assert page.total == 2 and [e.id for e in page.items] == [second.execution_id]
    assert page.items[0].status == "running"
    older = (await any_store.executions(sid, 1, 1)).items[0]
    assert (older.id, older.status, older.duration_ms, older.attempt) == (
        first.execution_id,
        "completed",
        recorded_duration(schema, 7),
        1,
    )
    detail = await any_store.execution(first.execution_id)
    assert detail.outputs == {"n1": {"k": 1}} and detail.scheduled_for == NOW
    assert [(n.node_id, n.status, n.output) for n in detail.logs] == [
        ("n1", "success", {"k": 1}),
        ("n2", "success", None),
    ]
    assert detail.logs[0].started_at == NOW
    assert await any_store.executions(uuid.uuid4(), 10, 0) is None
    assert await any_store.execution(uuid.uuid4()) is None


async def test_ticks_come_newest_first_with_the_gap_since_the_one_before(
    any_store: Any, db: Any
) -> None:
    for minutes in (0, 1, 4):
        at = NOW + timedelta(minutes=minutes)
        await any_store.record_tick(TickReport("cron", at, finished_at=at))
    ticks = await any_store.ticks(2)
    assert [(t.started_at, t.gap_seconds) for t in ticks] == [
        (NOW + timedelta(minutes=4), 180.0),
        (NOW + timedelta(minutes=1), 60.0),
    ]
    assert ticks[0].trigger == "cron" and ticks[0].summary == {"auto_paused": 0, "cancelled": 0}


async def test_a_ticks_delivery_id_is_kept_and_read_back(any_store: Any, db: Any) -> None:
    await any_store.record_tick(TickReport("cron", NOW, finished_at=NOW, delivery_id="exec_01"))
    later = NOW + timedelta(minutes=1)
    await any_store.record_tick(TickReport("worker", later, finished_at=later))
    assert [(t.trigger, t.delivery_id) for t in await any_store.ticks(5)] == [
        ("worker", None),
        ("cron", "exec_01"),
    ]


async def test_a_deleted_history_row_does_not_block_the_next_attempt(
    any_store: Store, db: Any
) -> None:
    add_strategy(db, next_execution_at=NOW)
    first = await claim_one(any_store)
    second = await claim_one(any_store, NOW + timedelta(seconds=61))
    db.execute("delete from workflow_executions where id = %s", (first.execution_id,))
    third = await claim_one(any_store, NOW + timedelta(seconds=122))
    assert (second.attempt, third.attempt) == (2, 3)


async def test_an_outcome_without_a_next_slot_keeps_the_current_one(
    any_store: Store, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    claim = await claim_one(any_store)
    no_slot = RunOutcome(claim.execution_id, claim.workflow.id, result(), None, NOW)
    [rec] = await any_store.finish_runs([no_slot], 3)
    assert rec.accepted and strategy(db, sid)["next_execution_at"] == NOW
