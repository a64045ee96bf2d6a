"""CASCADIAN_EXECUTOR picks the WorkflowExecutor adapter; the JavaScript sandbox is
the process's, shared and closed with its services."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import httpx
import pytest
import respx

from cascadian.bootstrap import build_executor, services
from cascadian.config import Settings
from cascadian.data import StrategyGraph, Workflow
from cascadian.store.sql_store import SqlStore
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.http_executor import HttpExecutor
from cascadian.workflow.market import MarketData

FLOW = Workflow(id=uuid4(), name="w", nodes=[], edges=[])


async def test_the_graph_executor_is_the_default() -> None:
    async with httpx.AsyncClient() as http:
        assert isinstance(build_executor(Settings(), http), GraphExecutor)


async def test_graph_nodes_share_the_market_data_the_process_builds_once() -> None:
    async with httpx.AsyncClient() as http:
        executor = build_executor(Settings(), http)
    assert isinstance(executor, GraphExecutor)
    assert isinstance(executor.services.markets, MarketData)


@respx.mock
async def test_executor_http_posts_workflows_to_the_configured_service() -> None:
    route = respx.post("https://executor.example/run").respond(
        200, json={"success": True, "outputs": {"end": 1}, "nodes_executed": 2}
    )
    settings = Settings(
        CASCADIAN_EXECUTOR="http",
        CASCADIAN_EXECUTOR_URL="https://executor.example/run",
        CASCADIAN_EXECUTOR_TOKEN="exec-token-1",
    )
    async with httpx.AsyncClient() as http:
        executor = build_executor(settings, http)
        result = await executor.execute(FLOW)
    assert isinstance(executor, HttpExecutor)
    assert result.success and result.nodes_executed == 2
    assert route.calls.last.request.headers["authorization"] == "Bearer exec-token-1"


def test_executor_http_without_a_url_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="CASCADIAN_EXECUTOR=http needs CASCADIAN_EXECUTOR_URL"):
        Settings(CASCADIAN_EXECUTOR="http")


def running(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


async def test_runs_and_dry_runs_share_one_javascript_sandbox_closed_with_the_services(
    store: SqlStore,
) -> None:
    nodes = [{"id": "js", "type": "javascript", "data": {"code": "return 6 * 7"}}]
    async with services(Settings(), store=store) as s:
        executor = s.ticks.executor
        assert isinstance(executor, GraphExecutor)
        assert executor.services.javascript is s.javascript
        result = await executor.execute(Workflow(id=uuid4(), name="w", nodes=nodes, edges=[]))
        assert result.outputs["js"] == 42
        dry = await s.strategies.dry_run_graph(StrategyGraph(nodes))
        assert dry.result.outputs["js"] == 42
        pids = s.javascript.pids
        assert len(pids) == 1, "the dry run reused the run's warm sandbox process"
    [pid] = pids
    assert not running(pid), "the sandbox outlived the services"
