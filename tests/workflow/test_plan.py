"""A graph's plan: what its runs share is worked out once per graph, and each run
still sees its own values where a config depends on them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import model_validator

from cascadian.config import Settings
from cascadian.data import Workflow
from cascadian.store.claims import DECODED_MAX_CHARS, _decoded, claimed_run
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeConfig, NodeContext, NodeServices, NodeType
from cascadian.workflow.registry import default_registry

VALIDATED: list[Any] = []


class CountedConfig(NodeConfig):
    value: Any = None

    @model_validator(mode="before")
    @classmethod
    def _count(cls, data: Any) -> Any:
        VALIDATED.append(data)
        return data


async def _echo(config: CountedConfig, ctx: NodeContext) -> Any:
    return {"value": config.value, "sandbox": ctx.javascript is not None}


def executor(javascript: bool = False) -> GraphExecutor:
    registry = default_registry().copy()
    registry.register(NodeType("echo", CountedConfig, _echo, javascript=javascript))
    return GraphExecutor(registry=registry, services=NodeServices(Settings()))


def workflow(config: dict[str, Any], variables: dict[str, Any] | None = None) -> Workflow:
    nodes = [
        {"id": "start", "type": "start", "data": {}},
        {"id": "echo", "type": "echo", "data": {"config": config}},
    ]
    edges = [{"id": "e", "source": "start", "target": "echo"}]
    return Workflow(uuid.uuid4(), "w", nodes, edges, variables=variables or {})


async def test_a_config_without_templates_is_validated_once_for_every_run() -> None:
    ex = executor()
    VALIDATED.clear()
    results = [await ex.execute(workflow({"value": "$${not a template}"})) for _ in range(3)]
    assert [r.outputs["echo"]["value"] for r in results] == ["${not a template}"] * 3
    # Once by validation's check, once for the plan; none by the runs.
    assert len(VALIDATED) == 2


async def test_a_config_with_a_template_is_validated_at_each_run_with_its_values() -> None:
    ex = executor()
    VALIDATED.clear()
    first = await ex.execute(workflow({"value": "${variables.x}"}, {"x": 1}))
    second = await ex.execute(workflow({"value": "${variables.x}"}, {"x": 2}))
    assert (first.outputs["echo"]["value"], second.outputs["echo"]["value"]) == (1, 2)
    assert VALIDATED == [{"value": 1}, {"value": 2}]


async def test_only_a_graph_that_runs_javascript_opens_a_share_of_the_sandbox() -> None:
    plain = await executor(javascript=False).execute(workflow({}))
    scripted = await executor(javascript=True).execute(workflow({}))
    assert plain.outputs["echo"]["sandbox"] is False
    assert scripted.outputs["echo"]["sandbox"] is True


def claim_row(graph: tuple[list[Any], list[Any]]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "execution_id": uuid.uuid4(),
        "workflow_id": uuid.uuid4(),
        "user_id": uuid.uuid4(),
        "name": "w",
        "nodes": json.dumps(graph[0]),
        "edges": json.dumps(graph[1]),
        "variables": '{"x": 1}',
        "trigger": None,
        "execution_interval_minutes": 5,
        "cron_expression": None,
        "timezone": "UTC",
        "scheduled_for": now,
        "attempt": 1,
        "lease_expires_at": now,
    }


def test_a_claimed_graph_is_decoded_once_per_stored_text() -> None:
    graph = ([{"id": "start", "type": "start", "data": {"n": str(uuid.uuid4())}}], [])
    before = _decoded.cache_info()
    first, second = claimed_run(claim_row(graph)), claimed_run(claim_row(graph))
    after = _decoded.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    assert first.workflow.nodes == second.workflow.nodes == graph[0]
    assert first.workflow.variables == {"x": 1}
    assert first.workflow.id != second.workflow.id


def test_a_large_graph_is_decoded_at_each_claim_not_kept() -> None:
    big = "x" * DECODED_MAX_CHARS
    graph = ([{"id": "start", "type": "start", "data": {"note": big}}], [])
    before = _decoded.cache_info()
    first, second = claimed_run(claim_row(graph)), claimed_run(claim_row(graph))
    after = _decoded.cache_info()
    assert (after.misses, after.hits, after.currsize) == (
        before.misses,
        before.hits,
        before.currsize,
    )
    assert first.workflow.nodes == second.workflow.nodes == graph[0]
    assert first.workflow.nodes is not second.workflow.nodes


def test_a_claimed_graph_that_cannot_be_read_fails_alone_every_time() -> None:
    row = claim_row(([], []))
    row["nodes"] = "[" * 100_000 + "]" * 100_000
    for _ in range(2):
        claim = claimed_run(row)
        assert claim.problem == "the strategy's stored graph cannot be read: nested too deeply"


def test_claims_of_one_stored_graph_and_schedule_share_their_values() -> None:
    graph = ([{"id": "start", "type": "start", "data": {"n": str(uuid.uuid4())}}], [])
    rows = [claim_row(graph), claim_row(graph)]
    for row in rows:
        row["variables"] = None
        row["execution_interval_minutes"] = 7
    first, second = (claimed_run(row) for row in rows)
    assert first.workflow.variables == {} and first.workflow.variables is second.workflow.variables
    assert first.schedule is second.schedule and first.schedule.interval_minutes == 7
    other = claim_row(graph)
    other["timezone"] = None
    assert claimed_run(other).schedule.timezone == "UTC"
    assert claimed_run(other).schedule is not first.schedule


async def test_a_run_of_a_kept_graph_runs_its_claims_own_workflow() -> None:
    seen: list[Workflow] = []

    async def record(config: CountedConfig, ctx: NodeContext) -> Any:
        seen.append(ctx.workflow)
        return {}

    registry = default_registry().copy()
    registry.register(NodeType("echo", CountedConfig, record))
    ex = GraphExecutor(registry=registry, services=NodeServices(Settings()))
    graph = (workflow({}).nodes, workflow({}).edges)
    first, second = claimed_run(claim_row(graph)), claimed_run(claim_row(graph))
    assert (await ex.execute(first.workflow)).success
    assert (await ex.execute(second.workflow)).success
    assert ex.graphs.hits == 1
    assert seen[1] is second.workflow  # not a copy of it built for the run
    assert (seen[1].id, seen[1].execution_id) == (second.workflow.id, second.workflow.execution_id)
