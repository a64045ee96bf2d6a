"""GraphExecutor: validation, ordering, concurrency, failure, routing, cancellation."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascadian.config import Settings
from cascadian.data import Workflow
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeConfig, NodeContext, NodeError, NodeServices, NodeType
from cascadian.workflow.registry import NodeRegistry, default_registry

# Test-only node types. They coordinate through asyncio.Events in a shared `state`.


class ProbeConfig(NodeConfig):
    signal: str | None = None  # event to set when the node starts
    wait_for: str | None = None  # event to await before finishing
    value: Any = None


def probe_types(state: dict[str, Any]) -> tuple[NodeType, ...]:
    """probe, boom and increment, recording what they do in `state`."""

    async def _probe(config: ProbeConfig, ctx: NodeContext) -> Any:
        events: dict[str, asyncio.Event] = state.setdefault("events", {})
        state.setdefault("ran", []).append(ctx.node_id)
        if config.signal:
            events.setdefault(config.signal, asyncio.Event()).set()
        try:
            if config.wait_for:
                await events.setdefault(config.wait_for, asyncio.Event()).wait()
        except asyncio.CancelledError:
            state.setdefault("cancelled", []).append(ctx.node_id)
            raise
        return {"node": ctx.node_id, "inputs": ctx.inputs, "value": config.value}

    async def _boom(config: ProbeConfig, ctx: NodeContext) -> Any:
        await _probe(config, ctx)
        if config.value == "unexpected":
            raise KeyError("price")
        raise NodeError("the market is closed")

    async def _increment(config: NodeConfig, ctx: NodeContext) -> int:
        return int(ctx.input or 0) + 1

    return (
        NodeType("probe", ProbeConfig, _probe),
        NodeType("boom", ProbeConfig, _boom),
        NodeType("increment", NodeConfig, _increment),
    )


def node(node_id: str, node_type: str = "probe", **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "data": {"config": config}}


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    return {"id": f"{source}->{target}", "source": source, "target": target, "sourceHandle": handle}


def workflow(nodes: Any, edges: Any = (), variables: dict[str, Any] | None = None) -> Workflow:
    edges = list(edges) if isinstance(edges, tuple) else edges
    return Workflow(uuid.uuid4(), "test", nodes, edges, variables=variables or {})


@pytest.fixture
def state() -> dict[str, Any]:
    return {}


@pytest.fixture
def registry(state: dict[str, Any]) -> NodeRegistry:
    registry = default_registry()
    for node_type in probe_types(state):
        registry.register(node_type)
    return registry


@pytest.fixture
def executor(registry: NodeRegistry) -> GraphExecutor:
    return GraphExecutor(registry)


def statuses(result: Any) -> dict[str, str]:
    return {run.node_id: run.status for run in result.node_runs}


# validation: every problem fails the run with the node named, and nothing runs


@pytest.mark.parametrize("nodes", [[], None])
async def test_a_workflow_without_nodes_fails(executor: GraphExecutor, nodes: Any) -> None:
    result = await executor.execute(workflow(nodes))
    assert not result.success
    assert result.errors == [{"node_id": None, "node_type": None, "error": "workflow has no nodes"}]


async def test_duplicate_node_ids_fail_naming_the_id(executor: GraphExecutor) -> None:
    result = await executor.execute(workflow([node("a"), node("a")]))
    assert result.errors[0]["error"] == "duplicate node id 'a'"
    assert result.nodes_executed == 0


async def test_nodes_without_id_or_type_fail(executor: GraphExecutor) -> None:
    result = await executor.execute(workflow([{"type": "probe"}, {"id": "b"}]))
    assert [e["error"] for e in result.errors] == [
        "node #0 must be an object with an 'id'",
        "node 'b' has no 'type'",
    ]


@pytest.mark.parametrize(
    ("nodes", "edges", "message"),
    [
        ("start", [], "workflow nodes must be a list of objects"),
        ([42], [], "node #0 must be an object"),
        ([{"id": 7, "type": "probe"}], [], "node #0 must be an object with an 'id'"),
        ([{"id": "a", "type": "probe", "data": "x"}], [], "data.config must be an object"),
        ([{"id": "a", "type": "probe", "data": {"config": [1]}}], [], "data.config must be"),
        ([node("a")], {"source": "a"}, "workflow edges must be a list of objects"),
        ([node("a")], [None], "edge #0 must be an object"),
        ([node("a")], [{"source": "a", "target": 3}], "edge '#0' has no target node id"),
        ([node("a")], [{"id": "e", "source": "a", "target": "a", "sourceHandle": 1}], "must be"),
    ],
)
async def test_malformed_shapes_fail_without_raising(
    executor: GraphExecutor, nodes: Any, edges: Any, message: str
) -> None:
    result = await executor.execute(workflow(nodes, edges))
    assert not result.success
    assert message in result.errors[0]["error"]


async def test_an_edge_to_a_missing_node_names_it(executor: GraphExecutor) -> None:
    result = await executor.execute(workflow([node("a")], [edge("a", "ghost")]))
    assert result.errors[0]["error"] == "edge 'a->ghost' refers to missing target node 'ghost'"


async def test_a_cycle_names_the_nodes_on_it_and_nothing_runs(
    executor: GraphExecutor, state: dict[str, Any]
) -> None:
    nodes = [node("start"), node("a"), node("b"), node("c"), node("after")]
    edges = [edge("start", "a"), edge("a", "b"), edge("b", "c"), edge("c", "a"), edge("c", "after")]
    result = await executor.execute(workflow(nodes, edges))
    assert result.errors == [
        {
            "node_id": "a",
            "node_type": "probe",
            "error": "workflow has a cycle: 'a' -> 'b' -> 'c' -> 'a'",
        }
    ]
    assert "ran" not in state
    # Nothing ran: the node the error names is logged as the error, the rest skipped.
    assert statuses(result) == {
        "start": "skipped",
        "a": "error",
        "b": "skipped",
        "c": "skipped",
        "after": "skipped",
    }


async def test_an_unknown_node_type_names_the_node_type_and_only_the_types_one_writes(
    executor: GraphExecutor,
) -> None:
    result = await executor.execute(workflow([node("x", "teleport")]))
    message = result.errors[0]["error"]
    assert message.startswith("node 'x' has unknown type 'teleport'; known types: ")
    assert "filter" in message and "probe" in message and "docs/nodes.md" in message
    assert "original-" not in message


async def test_a_bad_static_config_names_node_and_field_and_nothing_runs(
    executor: GraphExecutor, state: dict[str, Any]
) -> None:
    bad = node("f1", "filter", conditions=[{"field": "p", "operator": "like", "value": 1}])
    result = await executor.execute(workflow([node("a"), bad], [edge("a", "f1")]))
    assert result.errors[0]["node_id"] == "f1"
    assert result.errors[0]["error"].startswith(
        "node 'f1' (filter): config.conditions.0.operator: Input should be 'eq'"
    )
    assert "ran" not in state
    assert result.node_runs[1].error == result.errors[0]["error"]
    assert result.error_message is not None and "f1" in result.error_message


async def test_a_template_config_is_validated_after_resolution_and_fails_that_node(
    executor: GraphExecutor,
) -> None:
    nodes = [node("a", value="soon"), node("wait", "delay", seconds="${a.value}")]
    result = await executor.execute(workflow(nodes, [edge("a", "wait")]))
    assert statuses(result) == {"a": "success", "wait": "error"}
    assert result.errors[0]["error"].startswith("node 'wait' (delay): config.seconds: Input should")


async def test_templates_must_refer_to_upstream_nodes(executor: GraphExecutor) -> None:
    nodes = [node("a"), node("b", value="${a.value}"), node("c", value="${ghost.x}")]
    result = await executor.execute(workflow(nodes))
    assert [e["error"] for e in result.errors] == [
        "node 'b' (probe): ${a.value} refers to node 'a', which is not upstream",
        "node 'c' (probe): ${ghost.x} refers to missing node 'ghost'",
    ]


async def test_edges_from_a_routing_node_need_a_source_handle(executor: GraphExecutor) -> None:
    nodes = [node("c", "condition", left=1, operator="exists"), node("x")]
    result = await executor.execute(workflow(nodes, [edge("c", "x")]))
    assert (
        result.errors[0]["error"]
        == "node 'c' (condition): edge 'c->x' needs a sourceHandle (the branch it follows)"
    )


async def test_a_routing_edge_must_name_one_of_the_nodes_handles(executor: GraphExecutor) -> None:
    nodes = [node("c", "condition", left=1, operator="exists"), node("x")]
    result = await executor.execute(workflow(nodes, [edge("c", "x", handle="yes")]))
    assert result.errors[0]["error"] == (
        "node 'c' (condition): edge 'c->x' has sourceHandle 'yes'; expected 'true' or 'false'"
    )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
NODE_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from(["a", "b", "c"]) | JSON,
        "type": st.sampled_from(["probe", "filter", "condition", "start"]) | JSON,
        "data": st.fixed_dictionaries({}, optional={"config": JSON}) | JSON,
    },
)
EDGE_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "source": st.sampled_from(["a", "b", "c"]) | JSON,
        "target": st.sampled_from(["a", "b", "c"]) | JSON,
        "sourceHandle": st.sampled_from(["true", "false"]) | JSON,
    },
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    nodes=st.lists(NODE_LIKE | JSON, max_size=4) | JSON,
    edges=st.lists(EDGE_LIKE | JSON, max_size=4) | JSON,
)
def test_any_json_shape_gives_a_result_instead_of_raising(
    registry: NodeRegistry, nodes: Any, edges: Any
) -> None:
    result = asyncio.run(GraphExecutor(registry).execute(workflow(nodes, edges)))
    assert result.success or result.errors


# running: order, data flow, concurrency


async def test_nodes_run_in_topological_order_and_receive_upstream_outputs(
    executor: GraphExecutor, state: dict[str, Any]
) -> None:
    nodes = [node("c"), node("b", value=2), node("a", value=1)]
    result = await executor.execute(workflow(nodes, [edge("a", "b"), edge("b", "c")]))
    assert result.success
    assert state["ran"] == ["a", "b", "c"]
    assert [run.node_id for run in result.node_runs] == ["a", "b", "c"]
    assert result.outputs["b"]["inputs"] == {"a": result.outputs["a"]}
    assert result.outputs["c"]["inputs"] == {"b": result.outputs["b"]}


async def test_a_node_with_several_upstreams_receives_all_their_outputs(
    executor: GraphExecutor,
) -> None:
    nodes = [node("a"), node("b"), node("c"), node("merge")]
    edges = [edge("a", "b"), edge("a", "c"), edge("b", "merge"), edge("c", "merge")]
    result = await executor.execute(workflow(nodes, edges))
    assert set(result.outputs["merge"]["inputs"]) == {"b", "c"}


async def test_independent_branches_run_concurrently(executor: GraphExecutor) -> None:
    # Each branch waits for the other's signal: only concurrent branches can finish.
    nodes = [
        node("root"),
        node("left", signal="left", wait_for="right"),
        node("right", signal="right", wait_for="left"),
        node("join"),
    ]
    edges = [
        edge("root", "left"),
        edge("root", "right"),
        edge("left", "join"),
        edge("right", "join"),
    ]
    async with asyncio.timeout(5):
        result = await executor.execute(workflow(nodes, edges))
    assert result.success
    assert result.nodes_executed == 4


async def test_templates_resolve_against_upstream_outputs_and_variables(
    executor: GraphExecutor,
) -> None:
    nodes = [
        node("start", "start"),
        node(
            "f",
            "filter",
            items="${start.markets}",
            conditions=[{"field": "p", "operator": "gte", "value": "${variables.min}"}],
        ),
        node("t", "transform", items="${f.items}", operations=[{"op": "pick", "fields": ["id"]}]),
    ]
    variables = {"min": 0.5, "markets": [{"id": "x", "p": 0.4}, {"id": "y", "p": 0.6}]}
    result = await executor.execute(
        workflow(nodes, [edge("start", "f"), edge("f", "t")], variables)
    )
    assert result.outputs["t"] == {"items": [{"id": "y"}], "count": 1}


async def test_nodes_get_the_workflow_services_and_deadline(registry: NodeRegistry) -> None:
    seen: list[NodeContext] = []

    async def capture(config: NodeConfig, ctx: NodeContext) -> None:
        seen.append(ctx)

    registry.register(NodeType("capture", NodeConfig, capture))
    services = NodeServices(Settings())
    flow = workflow([node("n", "capture")])
    await GraphExecutor(registry, services).execute(flow, deadline=123.0)
    assert seen[0].services is services
    assert seen[0].deadline == 123.0
    assert seen[0].workflow is flow
    assert (seen[0].node_id, seen[0].inputs) == ("n", {})


async def test_the_result_has_a_timed_node_run_for_every_node(executor: GraphExecutor) -> None:
    result = await executor.execute(workflow([node("a"), node("b")], [edge("a", "b")]))
    assert result.nodes_executed == 2
    for run in result.node_runs:
        assert run.status == "success"
        assert run.started_at is not None and run.started_at.tzinfo == UTC
        assert run.completed_at is not None and run.completed_at >= run.started_at
        assert run.duration_ms >= 0
        assert run.output == result.outputs[run.node_id]


async def test_a_5000_node_chain_runs_without_recursion_limits(registry: NodeRegistry) -> None:
    count = 5000
    nodes = [node(f"n{i}", "increment") for i in reversed(range(count))]
    edges = [edge(f"n{i}", f"n{i + 1}") for i in range(count - 1)]
    result = await GraphExecutor(registry).execute(workflow(nodes, edges))
    assert result.success
    assert result.outputs[f"n{count - 1}"] == count
    assert [run.node_id for run in result.node_runs] == [f"n{i}" for i in range(count)]


# failure


async def test_the_first_failure_stops_the_run_and_the_rest_is_skipped(
    executor: GraphExecutor, state: dict[str, Any]
) -> None:
    nodes = [
        node("root"),
        node("slow", signal="slow started", wait_for="never"),
        node("bad", "boom", wait_for="slow started"),
        node("after_bad"),
        node("after_slow"),
    ]
    edges = [
        edge("root", "slow"),
        edge("root", "bad"),
        edge("bad", "after_bad"),
        edge("slow", "after_slow"),
    ]
    async with asyncio.timeout(5):
        result = await executor.execute(workflow(nodes, edges))
    assert not result.success
    assert result.errors == [
        {"node_id": "bad", "node_type": "boom", "error": "the market is closed"}
    ]
    assert result.error_message == "node 'bad': the market is closed"
    assert state["cancelled"] == ["slow"]
    assert statuses(result) == {
        "root": "success",
        "slow": "skipped",
        "bad": "error",
        "after_bad": "skipped",
        "after_slow": "skipped",
    }
    assert result.node_runs[1].error == "cancelled: node 'bad' failed"
    assert result.nodes_executed == 2
    assert set(result.outputs) == {"root"}


async def test_an_unexpected_exception_is_reported_with_its_class_name(
    executor: GraphExecutor,
) -> None:
    result = await executor.execute(workflow([node("bad", "boom", value="unexpected")]))
    assert result.errors[0]["error"] == "KeyError: 'price'"


async def test_a_missing_template_reference_fails_the_node_naming_it(
    executor: GraphExecutor,
) -> None:
    result = await executor.execute(
        workflow([node("a"), node("b", value="${a.nope}")], [edge("a", "b")])
    )
    assert result.errors[0]["node_id"] == "b"
    assert "${a.nope}" in result.errors[0]["error"]


async def test_cancelling_execute_cancels_running_nodes_and_propagates(
    executor: GraphExecutor, state: dict[str, Any]
) -> None:
    started = state.setdefault("events", {}).setdefault("started", asyncio.Event())
    flow = workflow([node("stuck", signal="started", wait_for="never")])
    run = asyncio.create_task(executor.execute(flow))
    await started.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert state["cancelled"] == ["stuck"]


# routing


def routed_workflow(left: Any) -> Workflow:
    nodes = [
        node("check", "condition", left=left, operator="gt", right=0),
        node("yes"),
        node("yes_after"),
        node("no"),
        node("no_after"),
        node("join"),
    ]
    edges = [
        edge("check", "yes", "true"),
        edge("yes", "yes_after"),
        edge("check", "no", "false"),
        edge("no", "no_after"),
        edge("yes_after", "join"),
        edge("no_after", "join"),
    ]
    return workflow(nodes, edges)


@pytest.mark.parametrize(("left", "taken", "skipped"), [(5, "yes", "no"), (-5, "no", "yes")])
async def test_a_condition_runs_only_its_chosen_branch_and_skips_the_other_recursively(
    executor: GraphExecutor, left: int, taken: str, skipped: str
) -> None:
    result = await executor.execute(routed_workflow(left))
    assert result.success
    runs = statuses(result)
    assert runs[taken] == runs[f"{taken}_after"] == "success"
    assert runs[skipped] == runs[f"{skipped}_after"] == "skipped"
    assert result.outputs["join"]["inputs"] == {f"{taken}_after": result.outputs[f"{taken}_after"]}
    assert result.nodes_executed == 4
    assert len(result.node_runs) == 6


async def test_a_node_whose_upstreams_were_all_skipped_is_skipped(executor: GraphExecutor) -> None:
    nodes = [
        node("check", "condition", left=None, operator="exists"),
        node("a"),
        node("b"),
        node("both"),
    ]
    edges = [
        edge("check", "a", "true"),
        edge("check", "b", "true"),
        edge("a", "both"),
        edge("b", "both"),
    ]
    result = await executor.execute(workflow(nodes, edges))
    assert statuses(result) == {
        "check": "success",
        "a": "skipped",
        "b": "skipped",
        "both": "skipped",
    }
    assert set(result.outputs) == {"check"}
