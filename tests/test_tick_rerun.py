"""Re-running a failed run (TickService.rerun over cascadian_claim_rerun_v2): the
run's own recorded graph and variables run again, as a manual run marked `rerun`
that links back to it and counts as run now does; a run a trigger event started
runs again with its event, marked as a re-run; every refusal changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.data import (
    Actor,
    DecisionDraft,
    MarketBook,
    OrderIntent,
    RetentionPolicy,
    RunResult,
    Workflow,
)
from cascadian.errors import Conflict, NotFound
from cascadian.ports import FullStore
from cascadian.tick import TickService
from cascadian.trading.executor import PaperExecutor
from cascadian.workflow.executor import GraphExecutor
from tests.factories import NODE_LOGS, add_run, add_strategy, chain, node, rows, strategy

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OPERATOR = Actor.operator("api", "127.0.0.1")
# What the failed run ran: its own node ids and a variable, unlike the strategy's
# graph today, so the re-run's node logs show which graph ran.
RECORDED_NODES, RECORDED_EDGES = chain(
    node("begin", "start"),
    node("shape", "transform", items=[3, 1, 2], operations=[{"op": "limit", "count": 2}]),
    node("finish", "end"),
)
RECORDED = {
    "name": "Cheap markets",
    "nodes": RECORDED_NODES,
    "edges": RECORDED_EDGES,
    "variables": {"threshold": 0.4},
    "trigger": None,
}


def ticks(store: FullStore) -> TickService:
    return TickService(store, GraphExecutor(), Settings(), FakeClock(NOW))


def failed_run(db: Any, **strategy_columns: Any) -> tuple[uuid.UUID, uuid.UUID]:
    columns = {"next_execution_at": NOW + timedelta(minutes=7), "error_count": 1}
    sid = add_strategy(db, name="Cheap markets", **(columns | strategy_columns))
    run = add_run(
        db,
        sid,
        started_at=NOW - timedelta(minutes=10),
        status="failed",
        snapshot=RECORDED,
        error_message="node 'shape': boom",
    )
    return sid, run


async def test_a_failed_run_runs_again_with_its_recorded_graph_marked_as_a_rerun(
    any_store: FullStore, db: Any
) -> None:
    sid, original = failed_run(db)
    before = strategy(db, sid)
    report = await ticks(any_store).rerun(original, OPERATOR)
    assert report.recorded and report.status == "completed"
    [again] = rows(db, "select * from workflow_executions where id = %s", report.execution_id)
    assert (again["trigger_kind"], again["rerun_of"], again["workflow_id"]) == (
        "rerun",
        original,
        sid,
    )
    assert again["workflow_snapshot"] == RECORDED
    logged = rows(
        db,
        f"select node_id from {NODE_LOGS} where execution_id = %s order by node_index",
        report.execution_id,
    )
    assert [r["node_id"] for r in logged] == ["begin", "shape", "finish"]
    after = strategy(db, sid)
    # Counted as run now is; the schedule untouched; the lease given back.
    assert after["execution_count"] == before["execution_count"] + 1
    assert after["error_count"] == 0
    assert after["next_execution_at"] == before["next_execution_at"]
    assert after["lease_token"] is None or after["lease_expires_at"] <= NOW
    detail = await any_store.execution(report.execution_id)
    assert detail is not None and detail.rerun_of == original


async def test_only_a_failed_run_with_a_recorded_graph_is_rerun(
    any_store: FullStore, db: Any
) -> None:
    sid, _ = failed_run(db)
    ok = add_run(db, sid, started_at=NOW - timedelta(minutes=3), snapshot=RECORDED)
    bare = add_run(db, sid, started_at=NOW - timedelta(minutes=2), status="failed")
    service = ticks(any_store)
    with pytest.raises(Conflict, match="only a failed run") as refused:
        await service.rerun(ok, OPERATOR)
    assert refused.value.code == "not_failed"
    with pytest.raises(Conflict, match="kept no copy of its graph"):
        await service.rerun(bare, OPERATOR)
    with pytest.raises(NotFound, match="run not found"):
        await service.rerun(uuid.uuid4(), OPERATOR)
    assert len(rows(db, "select id from workflow_executions")) == 3


@pytest.mark.parametrize(
    ("columns", "reason"),
    [
        ({"lease_expires_at": NOW + timedelta(minutes=1)}, "in flight"),
        ({"status": "archived", "auto_run": False}, "archived"),
        ({"is_current_version": False}, "old version"),
    ],
)
async def test_a_rerun_is_refused_as_run_now_is(
    any_store: FullStore, db: Any, columns: dict[str, Any], reason: str
) -> None:
    sid, original = failed_run(db, **columns)
    before = strategy(db, sid)
    with pytest.raises(Conflict, match=reason):
        await ticks(any_store).rerun(original, OPERATOR)
    assert strategy(db, sid) == before
    assert len(rows(db, "select id from workflow_executions")) == 1


async def test_a_rerun_is_written_to_the_audit_log_and_a_user_reruns_only_their_own(
    any_store: FullStore, db: Any
) -> None:
    sid, original = failed_run(db)
    stranger = Actor.user(uuid.UUID("33333333-3333-4333-8333-333333333333"))
    with pytest.raises(NotFound, match="run not found"):
        await ticks(any_store).rerun(original, stranger)
    report = await ticks(any_store).rerun(original, OPERATOR)
    [entry] = rows(db, "select * from cascadian_audit_log where action = 'rerun'")
    assert (entry["workflow_id"], entry["actor_kind"], entry["source"]) == (sid, "operator", "api")
    assert entry["after"] == {
        "execution_id": str(report.execution_id),
        "rerun_of": str(original),
    }


class Recording:
    """An executor that succeeds and keeps the workflows it was given."""

    def __init__(self) -> None:
        self.workflows: list[Workflow] = []

    async def execute(self, workflow: Workflow, deadline: float | None = None) -> RunResult:
        self.workflows.append(workflow)
        return RunResult(True, {}, [], 0, 1, [])


EVENT = {
    "id": "6f1c2a9e-8f57-4b0e-9a51-1d1f5c4b7e20",
    "trigger": "breakout",
    "kind": "price",
    "crossing": 1,
    "price_before": "0.5",
    "price_after": "0.61",
    "source": "rest",
}


async def test_a_rerun_of_an_event_run_carries_its_event_marked_as_a_rerun(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, name="Breakout", next_execution_at=NOW + timedelta(days=1))
    original = add_run(
        db,
        sid,
        started_at=NOW - timedelta(minutes=10),
        status="failed",
        snapshot=RECORDED | {"event": EVENT},
        error_message="node 'shape': boom",
    )
    executor = Recording()
    report = await TickService(any_store, executor, Settings(), FakeClock(NOW)).rerun(
        original, OPERATOR
    )
    assert report.recorded and report.status == "completed"
    marked = EVENT | {"rerun": True, "rerun_of": str(original)}
    [ran] = executor.workflows
    assert ran.variables == {"threshold": 0.4, "trigger_event": marked}
    # Its orders are the event's: a re-run never places an order its event placed.
    assert ran.order_slot == f"event:{EVENT['id']}"
    [again] = rows(db, "select * from workflow_executions where id = %s", report.execution_id)
    assert again["workflow_snapshot"] == RECORDED | {"event": marked}
    assert report.event_id == uuid.UUID(EVENT["id"])


async def test_a_rerun_of_a_manual_run_has_no_event_and_places_in_its_runs_slot(
    any_store: FullStore, db: Any
) -> None:
    _, original = failed_run(db)
    executor = Recording()
    report = await TickService(any_store, executor, Settings(), FakeClock(NOW)).rerun(
        original, OPERATOR
    )
    [ran] = executor.workflows
    assert "trigger_event" not in ran.variables
    assert ran.order_slot == f"run:{original}"
    [again] = rows(
        db, "select order_slot from workflow_executions where id = %s", report.execution_id
    )
    assert again["order_slot"] == f"run:{original}"


BOOK = MarketBook({"bids": [], "asks": [{"price": "0.5", "size": "1000"}]}, Decimal(0), "default")


def _buy(sid: uuid.UUID, run: uuid.UUID, slot: str | None) -> OrderIntent:
    return OrderIntent(sid, run, "buy_1", "m1", None, "Yes", "buy", Decimal("10"), slot=slot)


def _draft() -> DecisionDraft:
    return DecisionDraft(
        "m1",
        "Will it?",
        "Yes",
        "t1",
        "YES",
        Decimal("50"),
        3,
        "cheap",
        Decimal("0.7"),
        {},
        NOW + timedelta(hours=1),
    )


@pytest.mark.parametrize("kind", ["scheduled", "manual"])
async def test_a_rerun_and_a_rerun_of_it_place_no_order_and_write_no_decision_again(
    any_store: FullStore, db: Any, kind: str
) -> None:
    sid, _ = failed_run(db)
    slot = NOW - timedelta(minutes=5)
    failed = add_run(
        db,
        sid,
        started_at=slot,
        status="failed",
        trigger_kind=kind,
        scheduled_for=slot if kind == "scheduled" else None,
        attempt=1,
        snapshot=RECORDED,
        error_message="a later node failed",
    )
    orders = PaperExecutor(any_store)
    first = await orders.place(_buy(sid, failed, None), BOOK, NOW)
    [decision] = await any_store.create_decisions(sid, failed, "orch", None, [_draft()], NOW)

    runs = [failed]
    for later in (NOW, NOW + timedelta(minutes=2)):  # the re-run fails too, and is re-run
        claim = await any_store.claim_rerun(runs[-1], later, 60, OPERATOR)
        assert claim.run is not None
        rerun = claim.run.execution_id
        again = await orders.place(_buy(sid, rerun, claim.run.workflow.order_slot), BOOK, NOW)
        assert (again.replayed, again.order_id) == (True, first.order_id)
        [same] = await any_store.create_decisions(sid, rerun, "orch", None, [_draft()], NOW)
        assert same.id == decision.id
        db.execute("update workflow_executions set status = 'failed' where id = %s", (rerun,))
        runs.append(rerun)

    placed = rows(db, "select slot, result from cascadian_trading_orders")
    expected = "slot:2026-06-01T11:55:00.000000Z" if kind == "scheduled" else f"run:{failed}"
    assert placed == [{"slot": expected, "result": "filled"}]
    assert len(rows(db, "select id from orchestrator_decisions")) == 1


async def test_a_rerun_of_a_rerun_places_no_order_again_once_retention_pruned_the_original(
    any_store: FullStore, db: Any
) -> None:
    # 063: the re-run records its original's slot on its own row; before, a re-run of a
    # re-run followed rerun_of back to the original, and once retention had pruned it
    # was keyed by the middle run ("run:<id>") and bought again.
    sid = add_strategy(db, name="Cheap markets", next_execution_at=NOW + timedelta(minutes=7))
    slot = NOW - timedelta(days=3)
    original = add_run(
        db,
        sid,
        started_at=slot,
        status="failed",
        trigger_kind="scheduled",
        scheduled_for=slot,
        attempt=1,
        snapshot=RECORDED,
        error_message="a later node failed",
    )
    orders = PaperExecutor(any_store)
    middle = await any_store.claim_rerun(original, NOW - timedelta(days=2), 60, OPERATOR)
    assert middle.run is not None
    first = await orders.place(
        _buy(sid, middle.run.execution_id, middle.run.workflow.order_slot), BOOK, NOW
    )
    db.execute(
        "update workflow_executions set status = 'failed', execution_completed_at = %s"
        " where id = %s",
        (NOW - timedelta(days=2), middle.run.execution_id),
    )
    db.execute("update cascadian_leases set token = null, expires_at = null")
    pruned = await any_store.prune(NOW, RetentionPolicy(86_400.0, 1, None, None, 1000, 5000))
    assert pruned.runs == 1  # the original: the middle run is the newest, kept
    assert rows(db, "select id from workflow_executions where id = %s", original) == []

    last = await any_store.claim_rerun(middle.run.execution_id, NOW, 60, OPERATOR)
    assert last.run is not None
    assert last.run.workflow.order_slot == "slot:2026-05-29T12:00:00.000000Z"
    again = await orders.place(
        _buy(sid, last.run.execution_id, last.run.workflow.order_slot), BOOK, NOW
    )
    assert (again.replayed, again.order_id) == (True, first.order_id)
    placed = rows(db, "select slot, result from cascadian_trading_orders")
    assert placed == [{"slot": "slot:2026-05-29T12:00:00.000000Z", "result": "filled"}]
