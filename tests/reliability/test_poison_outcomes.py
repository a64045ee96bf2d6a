"""Poison outcomes: whatever a run produces, it ends recorded; one outcome that cannot
be written never keeps the others of its batch unrecorded; and a slot whose outcome
is never recorded is given up after a bounded number of attempts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.workflow.executor import GraphExecutor
from tests.executors import ScriptedExecutor
from tests.factories import add_strategy, chain, node, rows, strategy

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)
# Two numbers as long as Python will read back; their sum is one digit longer,
# which json.dumps refuses (Python's int-to-string limit).
HUGE = int("9" * 4300)
SUM_GRAPH = chain(
    node("start", "start"),
    node(
        "total",
        "transform",
        items="${start.rows}",
        operations=[{"op": "aggregate", "function": "sum", "field": "v"}],
    ),
)


def settings(**overrides: Any) -> Settings:
    base = {"CASCADIAN_STRATEGY_TIMEOUT_SECONDS": 5, "CASCADIAN_LEASE_SECONDS": 60}
    return Settings(**(base | overrides))


def add_poisoned(db: Any) -> uuid.UUID:
    # Stored as jsonb numbers: the strategy reads them back as Python ints.
    sid = add_strategy(db, next_execution_at=NOW, name="poisoned", graph=SUM_GRAPH)
    db.execute(
        "update workflow_sessions set variables = %s where id = %s",
        (Jsonb({"rows": [{"v": HUGE}, {"v": HUGE}]}), sid),
    )
    return sid


async def test_an_output_json_cannot_hold_is_replaced_and_the_run_is_recorded(
    store: SqlStore, db: Any
) -> None:
    sid = add_poisoned(db)
    report = await TickService(store, GraphExecutor(), settings(), FakeClock(NOW)).tick()
    assert report.success
    [run] = report.executions
    assert run.status == "completed" and run.recorded
    s = strategy(db, sid)
    assert (s["execution_count"], s["success_count"], s["lease_token"]) == (1, 1, None)
    [e] = rows(db, "select status, outputs, errors from workflow_executions")
    assert e["status"] == "completed"
    assert e["outputs"]["total"]["value"] == "(not stored: an integer of more than 4300 digits)"
    assert "some values could not be stored and were replaced" in e["errors"][-1]["error"]


class BatchRefusingStore:
    """The real store, except that a batch with the poisoned strategy's outcome in it
    fails in Python, before reaching the database (as a serialisation bug would)."""

    def __init__(self, inner: SqlStore, poisoned: uuid.UUID) -> None:
        self.inner, self.poisoned = inner, poisoned
        self.batches: list[int] = []

    async def finish_runs(self, outcomes: Any, threshold: int) -> Any:
        self.batches.append(len(outcomes))
        if len(outcomes) > 1 and any(o.workflow_id == self.poisoned for o in outcomes):
            raise ValueError("Exceeds the limit (4300 digits) for integer string conversion")
        return await self.inner.finish_runs(outcomes, threshold)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_one_refused_outcome_leaves_every_other_outcome_of_its_batch_recorded(
    store: SqlStore, db: Any
) -> None:
    poisoned = add_strategy(db, next_execution_at=NOW, name="poisoned")
    innocent = [add_strategy(db, next_execution_at=NOW) for _ in range(10)]
    refusing = BatchRefusingStore(store, poisoned)
    report = await TickService(refusing, ScriptedExecutor(), settings(), FakeClock(NOW)).tick()
    assert max(refusing.batches) > 1  # outcomes were batched, and the batch was refused
    assert len(report.executions) == 11 and all(r.recorded for r in report.executions)
    assert all(strategy(db, s)["execution_count"] == 1 for s in innocent)
    assert strategy(db, poisoned)["execution_count"] == 1


async def test_a_slot_never_recorded_is_given_up_after_three_attempts_and_counts_as_an_error(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="lost", interval=5)
    clock = FakeClock(NOW)
    for _ in range(3):  # three attempts whose process died before recording
        [claim] = await store.claim_due(clock.now(), 25, 60)
        clock.advance(61)
    assert claim.attempt == 3
    executor = ScriptedExecutor()
    report = await TickService(store, executor, settings(), clock).tick()
    assert executor.calls == []  # not run a fourth time
    [run] = report.executions
    assert run.recorded and run.status == "failed" and run.attempt == 4
    assert "gave up on the slot 2026-06-01 12:00:30 UTC: 3 attempts" in (run.error or "")
    s = strategy(db, sid)
    assert (s["execution_count"], s["error_count"], s["lease_token"]) == (1, 1, None)
    assert s["next_execution_at"] > clock.now() - timedelta(seconds=1)
