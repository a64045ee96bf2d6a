"""Group commit: outcomes that finish together are written in one call, and one bad
outcome does not fail the others."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cascadian.data import RunOutcome, RunResult
from cascadian.errors import StoreRejected, StoreUnavailable
from cascadian.recorder import OutcomeRecorder
from cascadian.store.sql_store import SqlStore
from tests.factories import add_strategy, rows, strategy

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class CountingStore:
    """The real store, counting finish calls. `refuse(outcome)` returns the error the
    database would raise for an outcome, or None to write it."""

    def __init__(self, inner: SqlStore, refuse: Any = lambda o: None) -> None:
        self.inner, self.refuse, self.calls = inner, refuse, []

    async def finish_runs(self, outcomes: Any, threshold: int) -> Any:
        self.calls.append(len(outcomes))
        for o in outcomes:
            if (exc := self.refuse(o)) is not None:
                raise exc
        return await self.inner.finish_runs(outcomes, threshold)


async def outcomes(store: SqlStore, db: Any, n: int) -> list[RunOutcome]:
    for _ in range(n):
        add_strategy(db, next_execution_at=NOW)
    claims = await store.claim_due(NOW, n, 60)
    ok = RunResult(True, {}, [], 1, 5)
    later = NOW + timedelta(minutes=5)
    return [RunOutcome(c.execution_id, c.workflow.id, ok, later, NOW) for c in claims]


async def test_outcomes_finishing_together_are_written_in_few_calls(
    store: SqlStore, db: Any
) -> None:
    items = await outcomes(store, db, 50)
    counting = CountingStore(store)
    recorder = OutcomeRecorder(counting, 3)  # type: ignore[arg-type]
    results = await asyncio.gather(*(recorder.record(o) for o in items))
    assert all(r.accepted for r in results)
    assert [r.execution_id for r in results] == [o.execution_id for o in items]
    assert sum(counting.calls) == 50 and len(counting.calls) <= 2
    assert all(strategy(db, o.workflow_id)["execution_count"] == 1 for o in items)


async def test_a_refused_outcome_in_a_batch_does_not_sink_the_others(
    store: SqlStore, db: Any
) -> None:
    items = await outcomes(store, db, 5)
    bad = items[2].workflow_id
    counting = CountingStore(
        store,
        lambda o: StoreRejected("database error: simulated") if o.workflow_id == bad else None,
    )
    recorder = OutcomeRecorder(counting, 3)  # type: ignore[arg-type]
    results = await asyncio.gather(*(recorder.record(o) for o in items), return_exceptions=True)
    assert isinstance(results[2], StoreRejected)
    assert [getattr(r, "accepted", None) for i, r in enumerate(results) if i != 2] == [True] * 4
    assert strategy(db, bad)["execution_count"] == 0


async def test_an_outcome_whose_outputs_are_refused_is_recorded_without_them(
    store: SqlStore, db: Any
) -> None:
    [item] = await outcomes(store, db, 1)
    item = replace(item, result=RunResult(True, {"n": "unstorable"}, [], 1, 5))

    def refuse(o: RunOutcome) -> Exception | None:
        return StoreRejected("database error: bad json") if "n" in o.result.outputs else None

    recorder = OutcomeRecorder(CountingStore(store, refuse), 3)  # type: ignore[arg-type]
    recorded = await recorder.record(item)
    assert recorded.accepted
    s = strategy(db, item.workflow_id)
    assert (s["execution_count"], s["success_count"], s["lease_token"]) == (1, 1, None)
    [e] = rows(db, "select outputs from workflow_executions")
    assert e["outputs"] == {"note": "outputs not stored: database error: bad json"}


async def test_an_unavailable_database_fails_the_batch_in_one_call(
    store: SqlStore, db: Any
) -> None:
    items = await outcomes(store, db, 10)
    counting = CountingStore(store, lambda o: StoreUnavailable("database unavailable"))
    recorder = OutcomeRecorder(counting, 3)  # type: ignore[arg-type]
    results = await asyncio.gather(*(recorder.record(o) for o in items), return_exceptions=True)
    assert all(isinstance(r, StoreUnavailable) for r in results)
    assert counting.calls == [10]
