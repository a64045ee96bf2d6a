"""GraphCache: a graph is validated once per content, and a run keeps its own identity."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.config import Settings
from cascadian.data import Workflow
from cascadian.workflow import executor as executor_module
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeServices
from tests.factories import add_strategy

NODES = [{"id": "start", "type": "start", "data": {}}, {"id": "end", "type": "end", "data": {}}]
EDGES = [{"id": "e", "source": "start", "target": "end"}]


def workflow(nodes: Any = NODES, edges: Any = EDGES) -> Workflow:
    return Workflow(
        id=uuid.uuid4(),
        name="w",
        nodes=nodes,
        edges=edges,
        user_id=uuid.uuid4(),
        execution_id=uuid.uuid4(),
    )


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[Workflow]:
    """Every workflow the executor really validates."""
    seen: list[Workflow] = []
    real = executor_module.validate

    def counting(wf: Workflow, *args: Any) -> Any:
        seen.append(wf)
        return real(wf, *args)

    monkeypatch.setattr(executor_module, "validate", counting)
    return seen


def executor(size: int = 1_000) -> GraphExecutor:
    settings = Settings(CASCADIAN_GRAPH_CACHE_SIZE=size)  # type: ignore[call-arg]
    return GraphExecutor(services=NodeServices(settings))


async def test_identical_graphs_are_validated_once(validations: list[Workflow]) -> None:
    ex = executor()
    first, second = workflow(), workflow()
    assert (await ex.execute(first)).success
    assert (await ex.execute(second)).success
    assert validations == [first]
    assert (ex.graphs.hits, ex.graphs.misses) == (1, 1)


async def test_a_hit_carries_the_runs_own_identity() -> None:
    ex = executor()
    await ex.execute(workflow())
    later = workflow()
    checked = ex.validated(later)
    assert checked.ok
    assert (checked.workflow.id, checked.workflow.execution_id, checked.workflow.user_id) == (
        later.id,
        later.execution_id,
        later.user_id,
    )


async def test_a_changed_graph_is_validated_again(validations: list[Workflow]) -> None:
    ex = executor()
    assert (await ex.execute(workflow())).success
    broken = workflow(edges=[{"id": "e", "source": "start", "target": "nowhere"}])
    result = await ex.execute(broken)
    assert not result.success
    assert "nowhere" in str(result.errors)
    assert len(validations) == 2


async def test_refused_graphs_are_not_kept(validations: list[Workflow]) -> None:
    ex = executor()
    broken = workflow(nodes=[{"id": "a", "type": "no-such-type"}], edges=[])
    assert not (await ex.execute(broken)).success
    assert not (await ex.execute(broken)).success
    assert len(validations) == 2  # its node logs carry the time of each refusal


async def test_the_cache_is_bounded_least_recently_used(validations: list[Workflow]) -> None:
    ex = executor(size=2)
    graphs = [workflow(nodes=[*NODES, {"id": f"x{i}", "type": "end"}]) for i in range(3)]
    for wf in graphs:
        await ex.execute(wf)
    await ex.execute(graphs[2])  # kept
    await ex.execute(graphs[0])  # dropped when the third came in
    assert validations == [graphs[0], graphs[1], graphs[2], graphs[0]]


async def test_size_zero_validates_every_run(validations: list[Workflow]) -> None:
    ex = executor(size=0)
    await ex.execute(workflow())
    await ex.execute(workflow())
    assert len(validations) == 2


async def test_content_json_cannot_hold_is_validated_uncached(
    validations: list[Workflow],
) -> None:
    ex = executor()
    odd = workflow(nodes=[{"id": "start", "type": "start", "data": {"v": float("nan")}}], edges=[])
    await ex.execute(odd)
    await ex.execute(odd)
    assert len(validations) == 2


async def test_a_node_raising_cancelled_itself_fails_alone() -> None:
    """A chain runs its nodes inline; a node that raises CancelledError without being
    cancelled fails its run, and does not cancel the caller."""
    import asyncio

    from cascadian.workflow.node_api import NodeConfig, NodeContext, NodeType
    from cascadian.workflow.registry import default_registry

    async def rude(config: NodeConfig, ctx: NodeContext) -> Any:
        raise asyncio.CancelledError

    registry = default_registry().copy()
    registry.register(NodeType("rude", NodeConfig, rude))
    ex = GraphExecutor(registry=registry)
    nodes = [*NODES[:1], {"id": "r", "type": "rude", "data": {}}]
    edges = [{"id": "e", "source": "start", "target": "r"}]
    result = await ex.execute(workflow(nodes=nodes, edges=edges))
    assert not result.success
    assert result.errors[0]["node_id"] == "r"
    assert "cancelled or crashed" in result.errors[0]["error"]


async def test_claimed_graphs_are_keyed_by_their_stored_text(
    store: Any, db: Any, validations: list[Workflow]
) -> None:
    now = datetime.now(UTC)
    changed = [*NODES[:1], {"id": "end", "type": "end", "data": {"label": "other"}}]
    for graph in ((NODES, EDGES), (NODES, EDGES), (changed, EDGES)):
        add_strategy(db, next_execution_at=now - timedelta(seconds=5), graph=graph)
    claims = await store.claim_due(now, 10, 60)
    texts = [c.workflow.stored_text for c in claims]
    assert all(texts) and len(set(texts)) == 2
    ex = executor()
    for claim in claims:
        assert (await ex.execute(claim.workflow)).success
    assert len(validations) == 2  # one per distinct stored graph
    assert (ex.graphs.hits, ex.graphs.misses) == (1, 2)
    # The same graph built here is keyed by its content, apart from the stored text's.
    assert (await ex.execute(workflow())).success
    assert len(validations) == 3
