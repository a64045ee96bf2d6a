"""The strategy SQL functions (migrations/010) beyond the API tests: versions as rows on
both schemas, over both transports, and an archive meeting a run in flight."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.data import (
    RunOutcome,
    RunResult,
    Schedule,
    StrategyChanges,
    StrategyDraft,
    StrategyGraph,
    StrategyQuery,
)
from cascadian.ports import FullStore
from tests.factories import OPERATOR, USER, add_strategy, rows, strategy

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
GRAPH = StrategyGraph([{"id": "start", "type": "start", "data": {"config": {}}}], [], {"x": 1})


async def test_create_read_and_list_over_both_transports(any_store: FullStore, db: Any) -> None:
    draft = StrategyDraft(USER, "made", GRAPH, Schedule(10, "0 9 * * *", "Europe/Paris"), "d")
    sid = await any_store.create_strategy(draft, True, NOW + timedelta(hours=1), NOW, OPERATOR)
    s = await any_store.strategy(sid, NOW)
    assert s is not None
    assert (s.name, s.description, s.status, s.auto_run, s.version) == (
        "made",
        "d",
        "running",
        True,
        1,
    )
    assert s.schedule == Schedule(10, "0 9 * * *", "Europe/Paris")
    assert s.graph == GRAPH and s.current_version_id == sid
    page = await any_store.strategies(StrategyQuery(q="MAD"), NOW)
    assert (page.total, [r.id for r in page.items]) == (1, [sid])
    assert await any_store.strategy(uuid.uuid4(), NOW) is None


async def test_a_new_version_copies_every_other_column_and_starts_fresh_counters(
    any_store: FullStore, db: Any, schema: str
) -> None:
    extra = {"tags": ["arb"], "folder": "mine", "is_favorite": True} if schema == "existing" else {}
    sid = add_strategy(
        db,
        next_execution_at=NOW,
        execution_count=9,
        success_count=7,
        error_count=2,
        last_error="boom",
    )
    for column, value in extra.items():  # the builder's own columns, as it saves them
        db.execute(f"update workflow_sessions set {column} = %s where id = %s", (value, sid))
    result, new_id = await any_store.new_version(
        sid, StrategyChanges(graph=GRAPH), None, None, NOW, OPERATOR
    )
    assert result == "ok" and new_id is not None
    old, new = strategy(db, sid), strategy(db, new_id)
    assert (old["is_current_version"], old["execution_count"]) == (False, 9)
    assert (new["version"], new["parent_workflow_id"], new["is_current_version"]) == (2, sid, True)
    assert (new["execution_count"], new["error_count"], new["last_error"]) == (0, 0, None)
    assert (new["status"], new["auto_run"], new["next_execution_at"]) == ("running", True, NOW)
    assert new["nodes"] == GRAPH.nodes and new["variables"] == {"x": 1}
    for column, value in extra.items():
        assert new[column] == value
    # A version of a version: the oldest finds the current one down the line.
    _, third = await any_store.new_version(
        new_id, StrategyChanges(graph=GRAPH), None, None, NOW, OPERATOR
    )
    first = await any_store.strategy(sid, NOW)
    assert first is not None and first.current_version_id == third


async def test_a_builders_row_with_null_counters_lists_as_zeros(
    db: Any, store: FullStore, schema: str
) -> None:
    if schema == "fresh":
        pytest.skip("only the builder's schema lets counters be null")
    sid = add_strategy(db, next_execution_at=None)
    db.execute(
        "update workflow_sessions set execution_count = null, success_count = null, "
        "auto_run = null, execution_interval_minutes = null where id = %s",
        (sid,),
    )
    [row] = (await store.strategies(StrategyQuery(), NOW)).items
    assert (row.execution_count, row.success_count, row.success_rate) == (0, 0, None)
    assert (row.auto_run, row.schedule.interval_minutes) == (False, 5)
    detail = await store.strategy(sid, NOW)
    assert detail is not None and (detail.execution_count, detail.auto_run) == (0, False)


async def test_archiving_during_a_run_records_it_and_never_rearms(
    store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    [claim] = await store.claim_due(NOW, 10, 60)
    assert await store.archive_strategy(sid, NOW, OPERATOR) == "ok"
    done = RunOutcome(claim.execution_id, sid, RunResult(True, {}, [], 1, 5), NOW, NOW)
    [recorded] = await store.finish_runs([done], 3)
    assert recorded.accepted
    s = strategy(db, sid)
    assert (s["status"], s["auto_run"], s["execution_count"]) == ("archived", False, 1)
    assert await store.claim_due(NOW + timedelta(days=1), 10, 60) == []
    assert (
        await store.claim_manual(sid, NOW + timedelta(days=1), 60, OPERATOR)
    ).result == "archived"


async def test_a_reschedule_of_an_unscheduled_strategy_leaves_it_unscheduled(
    store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None, status="draft", auto_run=False)
    result = await store.update_strategy(
        sid,
        StrategyChanges(interval_minutes=3),
        Schedule(3),
        NOW + timedelta(minutes=3),
        NOW,
        OPERATOR,
    )
    assert result == "ok"
    s = strategy(db, sid)
    assert (s["execution_interval_minutes"], s["next_execution_at"]) == (3, None)
    assert rows(db, "select count(*) as n from workflow_sessions") == [{"n": 1}]
