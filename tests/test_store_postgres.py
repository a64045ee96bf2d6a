"""The Postgres store: claims, leases, fenced outcomes, release, against real SQL."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from cascadian.outcome import Counters, apply
from cascadian.ports import ClaimedRun, NodeRun, RunOutcome, RunResult
from cascadian.store_postgres import PostgresStore
from tests.factories import add_strategy, rows, strategy

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


async def claim_one(store: PostgresStore, now: datetime = NOW) -> ClaimedRun:
    [claim] = await store.claim_due(now, 25, 60)
    return claim


async def test_claims_due_strategies_oldest_first_up_to_the_limit(
    store: PostgresStore, db: Any
) -> None:
    ids = [add_strategy(db, next_execution_at=NOW - timedelta(minutes=m)) for m in (1, 3, 2)]
    claims = await store.claim_due(NOW, 2, 60)
    assert [c.workflow.id for c in claims] == [ids[1], ids[2]]
    assert all(c.attempt == 1 and c.lease_expires_at == NOW + timedelta(seconds=60) for c in claims)


async def test_strategies_not_due_paused_or_manual_are_not_claimed(
    store: PostgresStore, db: Any
) -> None:
    add_strategy(db, next_execution_at=NOW + timedelta(seconds=1))
    add_strategy(db, next_execution_at=None)
    add_strategy(db, next_execution_at=NOW, status="paused")
    add_strategy(db, next_execution_at=NOW, status="stopped", auto_run=False)
    add_strategy(db, next_execution_at=NOW, auto_run=False)
    due_in_error = add_strategy(db, next_execution_at=NOW, status="error")
    assert [c.workflow.id for c in await store.claim_due(NOW, 25, 60)] == [due_in_error]


async def test_a_claim_carries_the_workflow_and_inserts_a_running_execution(
    store: PostgresStore, db: Any
) -> None:
    sid = add_strategy(
        db, next_execution_at=NOW, name="alpha", cron="*/5 * * * *", timezone="Europe/Paris"
    )
    claim = await claim_one(store)
    assert claim.workflow.name == "alpha" and claim.workflow.execution_id == claim.execution_id
    assert claim.schedule.cron == "*/5 * * * *" and claim.schedule.timezone == "Europe/Paris"
    [row] = rows(db, "select * from workflow_executions")
    assert row["id"] == claim.execution_id and row["workflow_id"] == sid
    assert (row["status"], row["trigger_kind"], row["scheduled_for"], row["attempt"]) == (
        "running",
        "scheduled",
        NOW,
        1,
    )
    assert row["workflow_snapshot"]["name"] == "alpha"


async def test_a_leased_strategy_is_not_claimed_again(store: PostgresStore, db: Any) -> None:
    add_strategy(db, next_execution_at=NOW)
    await claim_one(store)
    assert await store.claim_due(NOW + timedelta(seconds=59), 25, 60) == []


async def test_concurrent_claims_never_hand_out_a_strategy_twice(
    store: PostgresStore, db: Any
) -> None:
    for i in range(200):
        add_strategy(db, next_execution_at=NOW - timedelta(seconds=i))
    batches = await asyncio.gather(*(store.claim_due(NOW, 25, 60) for _ in range(16)))
    claimed = [c.workflow.id for batch in batches for c in batch]
    assert len(claimed) == 200 == len(set(claimed))


async def test_recording_an_outcome_updates_counters_timestamps_and_the_execution(
    store: PostgresStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    claim = await claim_one(store)
    [rec] = await store.finish_runs([outcome(claim, result(duration_ms=250))], 3)
    assert rec.accepted and not rec.auto_paused
    s = strategy(db, sid)
    assert (s["execution_count"], s["success_count"], s["error_count"]) == (1, 1, 0)
    assert s["average_execution_time_ms"] == 250
    assert s["last_executed_at"] == NOW and s["next_execution_at"] == LATER
    assert s["lease_token"] is None and s["lease_expires_at"] is None
    [e] = rows(db, "select * from workflow_executions")
    assert (e["status"], e["duration_ms"], e["nodes_executed"], e["outputs"]) == (
        "completed",
        250,
        1,
        {"n1": {"k": 1}},
    )
    logs = rows(db, "select node_id, status, output from strategy_execution_logs order by id")
    assert logs == [
        {"node_id": "n1", "status": "success", "output": {"k": 1}},
        {"node_id": "n2", "status": "success", "output": None},
    ]


async def test_sql_outcome_rules_agree_with_the_domain_rules(store: PostgresStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    rng = random.Random(7)
    expected, now = Counters(), NOW
    for _ in range(12):
        success, ms = rng.random() < 0.6, rng.randint(1, 5000)
        claim = await claim_one(store, now)
        [rec] = await store.finish_runs([outcome(claim, result(success, ms), now)], 99)
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
    store: PostgresStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="Momentum")
    paused = []
    for i in range(3):
        claim = await claim_one(store, NOW + timedelta(minutes=5 * i))
        nxt = NOW + timedelta(minutes=5 * (i + 1))
        [rec] = await store.finish_runs([outcome(claim, result(False, error=f"err {i}"), nxt)], 3)
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
    assert await store.claim_due(NOW + timedelta(days=1), 25, 60) == []


async def test_an_expired_lease_is_reclaimed_and_the_stale_outcome_rejected(
    store: PostgresStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    first = await claim_one(store)
    second = await claim_one(store, NOW + timedelta(seconds=61))  # first's process died
    assert second.attempt == 2 and second.scheduled_for == first.scheduled_for

    [stale] = await store.finish_runs([outcome(first, result())], 3)
    assert not stale.accepted
    assert strategy(db, sid)["execution_count"] == 0

    [fresh] = await store.finish_runs([outcome(second, result())], 3)
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
    store: PostgresStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    claim = await claim_one(store)
    db.execute(
        "update workflow_sessions set status = 'stopped', auto_run = false where id = %s", (sid,)
    )
    [rec] = await store.finish_runs([outcome(claim, result(False))], 1)
    s = strategy(db, sid)
    assert rec.accepted and not rec.auto_paused
    assert (s["status"], s["execution_count"], s["next_execution_at"]) == ("stopped", 1, NOW)
    assert rows(db, "select * from notifications") == []


async def test_released_claims_are_due_again_as_if_never_claimed(
    store: PostgresStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    claim = await claim_one(store)
    assert await store.release([claim.execution_id]) == 1
    assert rows(db, "select * from workflow_executions") == []
    assert strategy(db, sid)["lease_token"] is None
    again = await claim_one(store)
    assert again.attempt == 1
    assert await store.release([claim.execution_id]) == 0  # a stale id releases nothing


async def test_a_batch_of_outcomes_is_recorded_in_one_call(store: PostgresStore, db: Any) -> None:
    for _ in range(5):
        add_strategy(db, next_execution_at=NOW)
    claims = await store.claim_due(NOW, 25, 60)
    recs = await store.finish_runs(
        [outcome(c, result(i % 2 == 0)) for i, c in enumerate(claims)], 3
    )
    assert [r.execution_id for r in recs] == [c.execution_id for c in claims]
    assert all(r.accepted for r in recs)
    counts = rows(
        db, "select status, count(*) as n from workflow_executions group by status order by 1"
    )
    assert counts == [{"status": "completed", "n": 3}, {"status": "failed", "n": 2}]


async def test_the_due_query_uses_the_partial_index(store: PostgresStore, db: Any) -> None:
    db.execute("set enable_seqscan = off")
    plan = db.execute(
        "explain select id from workflow_sessions where auto_run and status in ('running','error') "
        "and next_execution_at <= now() order by next_execution_at limit 25"
    ).fetchall()
    assert "workflow_sessions_due_idx" in "\n".join(r[0] for r in plan)


async def test_the_tick_ledger_keeps_one_row_per_tick(store: PostgresStore, db: Any) -> None:
    await store.record_tick(
        {
            "trigger": "cron",
            "started_at": NOW.isoformat(),
            "finished_at": NOW.isoformat(),
            "success": True,
            "strategies_checked": 2,
            "execution_time_ms": 12,
        }
    )
    [tick] = rows(db, "select trigger, strategies_checked, execution_time_ms from cron_ticks")
    assert tick == {"trigger": "cron", "strategies_checked": 2, "execution_time_ms": 12}


async def test_outputs_with_nul_characters_are_recorded_not_refused(
    store: PostgresStore, db: Any
) -> None:
    add_strategy(db, next_execution_at=NOW)
    claim = await claim_one(store)
    res = RunResult(
        False, {"n1": {"body": "a\x00b"}}, [{"node_id": "n1", "error": "bad\x00"}], 1, 5
    )
    [rec] = await store.finish_runs([outcome(claim, res)], 3)
    assert rec.accepted
    [e] = rows(db, "select outputs, error_message from workflow_executions")
    assert e["outputs"] == {"n1": {"body": "a\ufffdb"}}
    assert e["error_message"] == "node 'n1': bad\ufffd"
