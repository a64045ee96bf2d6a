"""End to end in-process: a tick runs real graphs and records outputs and per-node logs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.data import Workflow
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeConfig, NodeType
from cascadian.workflow.registry import default_registry
from tests.factories import NODE_LOGS, add_strategy, chain, node, rows, strategy

# The key scenarios: on a fresh database and on one shaped like an existing deployment.
pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MARKETS = [{"id": "a", "p": 0.3}, {"id": "b", "p": 0.9}, {"id": "c", "p": 0.25}]


async def tick(store: SqlStore) -> Any:
    return await TickService(store, GraphExecutor(), Settings(), FakeClock(NOW)).tick()


async def test_a_graph_runs_with_data_flowing_between_nodes(store: SqlStore, db: Any) -> None:
    graph = chain(
        node("start", "start"),
        node(
            "cheap",
            "filter",
            items="${start.markets}",
            conditions=[{"field": "p", "operator": "lt", "value": 0.5}],
        ),
        node("end", "end"),
    )
    sid = add_strategy(db, next_execution_at=NOW, graph=graph, variables={"markets": MARKETS})
    report = await tick(store)
    assert report.executions[0].status == "completed" and report.executions[0].nodes_executed == 3
    [e] = rows(db, "select outputs from workflow_executions where workflow_id = %s", sid)
    assert [m["id"] for m in e["outputs"]["end"]["items"]] == ["a", "c"]
    logs = rows(db, f"select node_id, node_type, status from {NODE_LOGS} order by node_index")
    assert [(r["node_id"], r["status"]) for r in logs] == [
        ("start", "success"),
        ("cheap", "success"),
        ("end", "success"),
    ]


async def test_a_failed_run_logs_the_failing_node_and_skips_the_rest(
    store: SqlStore, db: Any
) -> None:
    graph = chain(
        node("start", "start"),
        node("cheap", "filter", items="${start.missing}", conditions=[]),
        node("end", "end"),
    )
    sid = add_strategy(db, next_execution_at=NOW, graph=graph)
    report = await tick(store)
    assert report.executions[0].status == "failed"
    assert "cheap" in (report.executions[0].error or "")
    logs = rows(db, f"select node_id, status, error_message from {NODE_LOGS} order by node_index")
    assert [(r["node_id"], r["status"]) for r in logs] == [
        ("start", "success"),
        ("cheap", "error"),
        ("end", "skipped"),
    ]
    assert "${start.missing}" in logs[1]["error_message"]
    assert strategy(db, sid)["last_error"] == report.executions[0].error


async def test_a_malformed_graph_is_a_recorded_failure_naming_the_node(
    store: SqlStore, db: Any
) -> None:
    graph = chain(node("start", "start"), node("mystery", "quantum-oracle"))
    add_strategy(db, next_execution_at=NOW, graph=graph)
    report = await tick(store)
    error = report.executions[0].error or ""
    assert "mystery" in error and "quantum-oracle" in error
    assert report.success


async def test_a_timed_out_run_logs_how_far_it_got(store: SqlStore, db: Any) -> None:
    async def forever(config: Any, ctx: Any) -> None:
        await asyncio.Event().wait()

    registry = default_registry()
    registry.register(NodeType("forever", NodeConfig, forever))
    graph = chain(node("start", "start"), node("wait", "forever"), node("end", "end"))
    add_strategy(db, next_execution_at=NOW, graph=graph)
    settings = Settings(CASCADIAN_STRATEGY_TIMEOUT_SECONDS=0.3)
    report = await TickService(store, GraphExecutor(registry), settings, FakeClock(NOW)).tick()
    assert report.executions[0].error == "node 'wait': timed out after 0.3s"
    logs = rows(db, f"select node_id, status from {NODE_LOGS} order by node_index")
    assert [(r["node_id"], r["status"]) for r in logs] == [
        ("start", "success"),
        ("wait", "error"),
        ("end", "skipped"),
    ]


async def test_a_graph_with_duplicate_ids_still_logs_its_nodes(store: SqlStore, db: Any) -> None:
    graph = ([node("start", "start"), node("start", "end")], [])
    add_strategy(db, next_execution_at=NOW, graph=graph)
    report = await tick(store)
    assert "duplicate node id 'start'" in (report.executions[0].error or "")
    logs = rows(db, f"select node_id, status from {NODE_LOGS} order by node_index")
    assert [(r["node_id"], r["status"]) for r in logs] == [("start", "error"), ("start", "error")]


async def test_a_claims_runs_share_one_deadline_and_each_times_out_alone(
    store: SqlStore, db: Any
) -> None:
    async def forever(config: Any, ctx: Any) -> None:
        await asyncio.Event().wait()

    registry = default_registry()
    registry.register(NodeType("forever", NodeConfig, forever))
    slow = chain(node("start", "start"), node("wait", "forever"), node("end", "end"))
    quick = chain(node("start", "start"), node("end", "end"))
    for _ in range(3):
        add_strategy(db, next_execution_at=NOW, graph=slow)
    add_strategy(db, next_execution_at=NOW, graph=quick)
    executor = GraphExecutor(registry)
    settings = Settings(CASCADIAN_STRATEGY_TIMEOUT_SECONDS=0.3)
    report = await TickService(store, executor, settings, FakeClock(NOW)).tick()
    errors = sorted(str(e.error) for e in report.executions)
    assert errors == ["None"] + ["node 'wait': timed out after 0.3s"] * 3
    assert report.claimed == 4 and executor.deadlines.pending() == 0  # one timer, fired


async def test_a_run_that_starts_after_its_claims_deadline_is_timed_from_its_own_start(
    store: SqlStore,
) -> None:
    # Another strategy's run of the same claim held the event loop (work of its own
    # before its first wait) until past the claim's deadline: this run is not charged
    # for it. It failed at once, "timed out", in CI's CPU-isolation test.
    service = TickService(
        store, GraphExecutor(), Settings(CASCADIAN_STRATEGY_TIMEOUT_SECONDS=5), FakeClock(NOW)
    )
    nodes, edges = chain(node("start", "start"), node("wait", "delay", seconds=0.01))
    passed = asyncio.get_running_loop().time() - 1
    result = await service._execute(Workflow(uuid4(), "late", nodes, edges), passed)
    assert result.success, result.error_message
