"""Malformed graphs: whatever a strategy's graph holds, its run is a success or a failure
with a clear message, recorded; never an exception out of the executor, a crashed tick
or a 500."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from cascadian.config import Settings
from cascadian.data import RunOutcome, RunResult, Workflow
from cascadian.store.run_records import outcomes_json
from cascadian.store.sql_store import SqlStore
from cascadian.web.app import create_app
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeServices
from tests.factories import TABLES, USER
from tests.reliability.conftest import CRON_SECRET, TICK, bearer
from tests.reliability.graphs import graphs

_ENV: dict[str, Any] = {
    "CRON_SECRET": CRON_SECRET,
    "CASCADIAN_STRATEGY_TIMEOUT_SECONDS": 1,
    "CASCADIAN_TICK_BUDGET_SECONDS": 10,
    "CASCADIAN_LEASE_SECONDS": 30,
    "CASCADIAN_POLYMARKET_URL": "https://gamma.invalid",
}
SETTINGS = Settings(**_ENV)


async def _public_address(host: str, port: int) -> Sequence[str]:
    return ["93.184.216.34"]  # never contacted: the transport below answers everything


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=[])


def networkless(store: Any = None) -> NodeServices:
    """Services for nodes that reach nothing outside this process."""
    http = httpx.AsyncClient(transport=httpx.MockTransport(_answer))
    return NodeServices(SETTINGS, http=http, store=store, resolver=_public_address)


def assert_a_success_or_a_clear_failure(result: RunResult) -> None:
    assert isinstance(result, RunResult)
    if not result.success:
        message = result.error_message
        assert isinstance(message, str) and message.strip(), result.errors


@pytest.mark.slow
@settings(max_examples=300, deadline=None, derandomize=True)  # the same graphs in every CI run
@given(graph=graphs())
async def test_any_graph_runs_to_a_success_or_a_failure_with_a_message(graph: Any) -> None:
    nodes, edges, variables = graph
    workflow = Workflow(uuid4(), "fuzzed", nodes, edges, variables, user_id=USER)
    executor = GraphExecutor(services=networkless())
    deadline = asyncio.get_running_loop().time() + 1.0

    result = await asyncio.wait_for(executor.execute(workflow, deadline), 3)

    assert_a_success_or_a_clear_failure(result)
    # What the store would be sent is plain JSON that jsonb accepts.
    now = datetime.now(UTC)
    sent = outcomes_json([RunOutcome(uuid4(), workflow.id, result, now, now)])
    json.dumps(json.loads(sent), allow_nan=False)


# -- through a real tick, over the endpoint -----------------------------------------------


def insert_due(conn: psycopg.Connection[Any], nodes: Any, edges: Any, variables: Any) -> None:
    conn.execute(
        """
        insert into workflow_sessions (
            user_id, name, nodes, edges, variables, status, auto_run,
            execution_interval_minutes, next_execution_at
        )
        values (%s, 'fuzzed', %s, %s, %s, 'running', true, 60, %s)
        """,
        (
            USER,
            Jsonb(nodes),
            Jsonb(edges),
            Jsonb(variables),
            datetime.now(UTC) - timedelta(minutes=1),
        ),
    )


@asynccontextmanager
async def endpoint(store: SqlStore) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SETTINGS, store=store, executor=GraphExecutor(services=networkless(store)))
    async with app.router.lifespan_context(app):
        # raise_app_exceptions=False: an unhandled error is answered 500, as in production.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def tick_and_check(store: SqlStore, conn: psycopg.Connection[Any], strategies: int) -> None:
    async with endpoint(store) as client:
        reply = await client.post(TICK, headers=bearer())
    assert reply.status_code == 200, reply.text[:2000]
    executions = reply.json()["data"]["executions"]
    assert len(executions) == strategies
    for e in executions:
        assert e["recorded"], e
        assert e["status"] == "completed" or (e["status"] == "failed" and e["error"].strip()), e
    # Recorded means recorded: counted once, lease dropped, the execution row closed.
    bad = conn.execute(
        """
        select s.id from workflow_sessions s
        left join cascadian_leases l on l.workflow_id = s.id
        where s.execution_count <> 1 or l.token is not null
           or not exists (select 1 from workflow_executions e
                          where e.workflow_id = s.id and e.status in ('completed', 'failed'))
        """
    ).fetchall()
    assert bad == []


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.slow
@given(batch=st.lists(graphs(max_nodes=6), min_size=1, max_size=4))
async def test_any_graph_in_a_real_tick_is_recorded_and_the_endpoint_answers_200(
    database_url: str, store: SqlStore, batch: list[Any]
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"truncate {', '.join(TABLES)} restart identity cascade")
        for nodes, edges, variables in batch:
            insert_due(conn, nodes, edges, variables)
        await tick_and_check(store, conn, len(batch))


def chain_of(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ids = ["start", *(f"n{i}" for i in range(n - 2)), "end"]
    nodes: list[dict[str, Any]] = [
        {"id": i, "type": "start" if i == "start" else "end", "data": {"config": {}}} for i in ids
    ]
    edges = [{"id": f"{a}-{b}", "source": a, "target": b} for a, b in itertools.pairwise(ids)]
    return nodes, edges


def fan(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    middle = [f"m{i}" for i in range(n)]
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "start"}, {"id": "end", "type": "end"}]
    nodes += [{"id": m, "type": "end"} for m in middle]
    edges = [{"source": "start", "target": m} for m in middle] + [
        {"source": m, "target": "end"} for m in middle
    ]
    return nodes, edges


def cycle() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes = [{"id": i, "type": "end"} for i in ("a", "b", "c")] + [{"id": "start", "type": "start"}]
    edges = [
        {"source": s, "target": t} for s, t in (("start", "a"), ("a", "b"), ("b", "c"), ("c", "a"))
    ]
    return nodes, edges


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "name",
    [
        "a chain of 2,000 nodes",
        "a fan of 1,000 parallel nodes",
        "a cycle",
        "5,000 edges between 3 nodes",
        "config nested 200 deep",
        "variables nested 600 deep",
    ],
)
async def test_huge_cyclic_and_deeply_nested_graphs_are_recorded(
    store: SqlStore, db: psycopg.Connection[Any], name: str
) -> None:
    variables: Any = {}
    if name.startswith("a chain"):
        nodes, edges = chain_of(2_000)
    elif name.startswith("a fan"):
        nodes, edges = fan(1_000)
    elif name == "a cycle":
        nodes, edges = cycle()
    elif name.startswith("5,000 edges"):
        nodes, _ = chain_of(3)
        edges = [{"source": "start", "target": "n0"}] * 5_000
    elif name.startswith("config"):
        nodes, edges = chain_of(3)
        nodes[1]["data"]["config"] = {"x": nested(200)}
    else:
        nodes, edges = chain_of(3)
        variables = {"x": nested(600)}
    insert_due(db, nodes, edges, variables)
    await tick_and_check(store, db, 1)


@pytest.mark.parametrize("column", ["nodes", "variables"])
async def test_json_nested_deeper_than_python_can_load_does_not_stop_the_scheduler(
    store: SqlStore, db: psycopg.Connection[Any], column: str
) -> None:
    # PostgreSQL accepts this nesting; Python's json module cannot load it back.
    deep = "(repeat('[', 3000) || '1' || repeat(']', 3000))::jsonb"
    nodes = (
        f"jsonb_build_array(jsonb_build_object('id', 'start', 'type', 'start', "
        f"'data', jsonb_build_object('config', jsonb_build_object('x', {deep}))))"
        if column == "nodes"
        else '\'[{"id": "start", "type": "start"}]\'::jsonb'
    )
    variables = f"jsonb_build_object('x', {deep})" if column == "variables" else "'{}'::jsonb"
    db.execute(
        f"""
        insert into workflow_sessions (
            user_id, name, nodes, edges, variables, status, auto_run, next_execution_at
        )
        values (%s, 'too deep', {nodes}, '[]', {variables}, 'running', true,
                now() - interval '2 minutes')
        """,
        (USER,),
    )
    healthy = (
        [{"id": "start", "type": "start"}, {"id": "end", "type": "end"}],
        [{"source": "start", "target": "end"}],
    )
    insert_due(db, *healthy, {})  # due after the deep one: claimed in the same batch
    await tick_and_check(store, db, 2)
