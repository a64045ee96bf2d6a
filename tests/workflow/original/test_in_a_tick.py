"""An original builder's strategy, as a workflow_sessions row, run by a tick through the
composition root's executor: claimed, run, and recorded with a log per node."""

from __future__ import annotations

from typing import Any

import httpx
import respx

from cascadian.bootstrap import build_executor
from cascadian.clock import FakeClock
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from tests.factories import NODE_LOGS, add_strategy, rows
from tests.polymarket_fixtures import settings
from tests.workflow.original.helpers import NOW, polymarket, saved


@respx.mock
async def test_a_saved_original_strategy_runs_in_a_tick_and_logs_each_node(
    store: SqlStore, db: Any
) -> None:
    polymarket(respx.mock)
    sid = add_strategy(db, next_execution_at=NOW, graph=saved("stream_filter_watch.json"))
    env = settings()
    async with httpx.AsyncClient() as http:
        report = await TickService(
            store, build_executor(env, http, store), env, FakeClock(NOW)
        ).tick()
    [run] = report.executions
    assert run.status == "completed", run.error
    logs = rows(
        db, f"select node_id, node_type, status from {NODE_LOGS} order by execution_id, node_index"
    )
    assert [(r["node_id"], r["status"]) for r in logs] == [
        ("start-1", "success"),
        ("stream-1", "success"),
        ("filter-1", "success"),
        ("watch-1", "success"),
        ("end-1", "success"),
    ]
    assert logs[1]["node_type"] == "original-polymarket-stream"
    assert len(rows(db, "select * from strategy_watchlists where workflow_id = %s", sid)) == 2


async def test_a_refused_original_strategy_is_recorded_failed_before_any_node_runs(
    store: SqlStore, db: Any
) -> None:
    add_strategy(db, next_execution_at=NOW, graph=saved("warehouse.json"))
    env = settings()
    async with httpx.AsyncClient() as http:
        report = await TickService(
            store, build_executor(env, http, store), env, FakeClock(NOW)
        ).tick()
    [run] = report.executions
    assert run.status == "failed" and "llm-research" in (run.error or "")
    logs = rows(
        db, f"select node_id, node_type, status from {NODE_LOGS} order by execution_id, node_index"
    )
    assert [r["status"] for r in logs].count("error") == 3
    assert {r["status"] for r in logs} <= {"error", "skipped"}
