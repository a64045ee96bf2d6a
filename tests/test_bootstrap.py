"""CASCADIAN_EXECUTOR picks the WorkflowExecutor adapter."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest
import respx

from cascadian.bootstrap import build_executor
from cascadian.config import Settings
from cascadian.data import Workflow
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
