"""CPU isolation: one strategy's heavy node work neither freezes the others nor outlives
its own deadline, and a node refuses more items than it may handle."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.data import Workflow
from cascadian.errors import NodeError
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeContext, NodeServices
from cascadian.workflow.nodes.filter import FILTER, FilterConfig
from tests.factories import add_strategy, chain, node, strategy

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)
SORT = chain(
    node("start", "start"),
    node("rank", "transform", items="${start.rows}", operations=[{"op": "sort", "field": "v"}]),
)
LIGHT = chain(node("start", "start"), node("wait", "delay", seconds=0.1), node("end", "end"))


def add_heavy(db: Any, items: int) -> uuid.UUID:
    sid = add_strategy(db, next_execution_at=NOW, name="heavy", graph=SORT)
    rows = [{"v": (i * 7919) % items} for i in range(items)]
    db.execute(
        "update workflow_sessions set variables = %s where id = %s", (Jsonb({"rows": rows}), sid)
    )
    return sid


async def tick(store: SqlStore, **env: Any) -> dict[str, Any]:
    base = {"CASCADIAN_STRATEGY_TIMEOUT_SECONDS": 2, "CASCADIAN_LEASE_SECONDS": 60}
    settings = Settings(**(base | env))
    executor = GraphExecutor(services=NodeServices(settings))
    report = await TickService(store, executor, settings, FakeClock(NOW)).tick()
    return {r.workflow_name: r for r in report.executions}


async def test_a_node_given_more_items_than_it_may_handle_fails_saying_so(
    store: SqlStore, db: Any
) -> None:
    sid = add_heavy(db, 100_001)
    runs = await tick(store)
    assert runs["heavy"].status == "failed" and runs["heavy"].recorded
    assert "100001 items is more than a node handles (100000, CASCADIAN_NODE_MAX_ITEMS)" in (
        runs["heavy"].error or ""
    )
    assert strategy(db, sid)["error_count"] == 1


async def test_a_heavy_sort_does_not_make_another_strategys_run_time_out(
    store: SqlStore, db: Any
) -> None:
    # 600,000 items sorted in the event loop held it for longer than the 2 s timeout,
    # and the light run beside it was recorded as failed: "timed out after 2s".
    add_heavy(db, 600_000)
    light = add_strategy(db, next_execution_at=NOW, name="light", graph=LIGHT)
    runs = await tick(store, CASCADIAN_NODE_MAX_ITEMS=1_000_000)
    assert runs["light"].status == "completed", runs["light"].error
    assert strategy(db, light)["error_count"] == 0


async def test_cpu_work_stops_once_the_runs_deadline_has_passed() -> None:
    loop = asyncio.get_running_loop()
    ctx = NodeContext(
        Workflow(uuid.uuid4(), "w", [], []),
        "keep",
        {},
        NodeServices(Settings()),
        deadline=loop.time() - 1,
    )
    config = FilterConfig.model_validate(
        {
            "items": [{"v": i} for i in range(5_000)],
            "conditions": [{"field": "v", "operator": "gte", "value": 0}],
        }
    )
    with pytest.raises(NodeError, match="the run's time is up"):
        await FILTER.run(config, ctx)
