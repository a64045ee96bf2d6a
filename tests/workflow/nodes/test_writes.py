"""Nodes that write: add-to-watchlist and notify, against the real tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from cascadian.bootstrap import build_executor
from cascadian.cli.demo import polymarket_watchlist_graph
from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.data import Workflow
from cascadian.outbound.retry import RetryPolicy
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeServices
from tests.factories import NODE_LOGS, USER, add_strategy, chain, node, rows
from tests.polymarket_fixtures import ONE_PAGE

# The key scenarios: on a fresh database and on one shaped like an existing deployment.
pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
KEYSET = "https://gamma-api.polymarket.com/markets/keyset"
MARKETS = [{"id": "m1", "question": "Q1", "yes_price": 0.3}, {"id": "m2", "question": "Q2"}]


async def run_graph(store: SqlStore, db: Any, graph: Any, **variables: Any) -> Any:
    sid = add_strategy(db, next_execution_at=None, graph=graph, variables=variables)
    [[eid]] = db.execute(
        "insert into workflow_executions (workflow_id, user_id, status) "
        "values (%s, %s, 'running') returning id",
        (sid, USER),
    ).fetchall()
    nodes, edges = graph
    flow = Workflow(sid, "w", nodes, edges, variables, None, USER, eid)
    return (
        sid,
        eid,
        await GraphExecutor(services=NodeServices(Settings(), store=store)).execute(flow),
    )


async def test_watchlist_adds_markets_once_and_counts_duplicates(store: SqlStore, db: Any) -> None:
    graph = chain(
        node("start", "start"), node("watch", "add-to-watchlist", items="${start.markets}")
    )
    sid, eid, first = await run_graph(store, db, graph, markets=MARKETS)
    assert first.outputs["watch"] == {"added": 2, "duplicates": 0, "count": 2}
    db.execute("update workflow_sessions set variables = %s", (json.dumps({"markets": MARKETS}),))
    nodes, edges = graph
    again = await GraphExecutor(services=NodeServices(Settings(), store=store)).execute(
        Workflow(sid, "w", nodes, edges, {"markets": MARKETS}, None, USER, eid)
    )
    assert again.outputs["watch"] == {"added": 0, "duplicates": 2, "count": 2}
    entries = rows(
        db, "select market_id, added_by_execution_id, metadata from strategy_watchlists order by 1"
    )
    assert [(e["market_id"], e["added_by_execution_id"]) for e in entries] == [
        ("m1", eid),
        ("m2", eid),
    ]
    assert entries[0]["metadata"] == {"question": "Q1", "yes_price": 0.3}


async def test_watchlist_item_without_a_market_id_fails_the_node(store: SqlStore, db: Any) -> None:
    graph = chain(
        node("start", "start"), node("watch", "add-to-watchlist", items="${start.markets}")
    )
    _, _, result = await run_graph(store, db, graph, markets=[{"name": "no id"}])
    assert not result.success
    assert "item #0 has no market id at 'id'" in result.errors[0]["error"]
    assert rows(db, "select * from strategy_watchlists") == []


async def test_notify_templates_upstream_outputs_into_the_message(store: SqlStore, db: Any) -> None:
    graph = chain(
        node("start", "start"),
        node("watch", "add-to-watchlist", items="${start.markets}"),
        node(
            "tell",
            "notify",
            title="Watchlist",
            message="Added ${watch.added} markets",
            priority="high",
        ),
    )
    sid, eid, result = await run_graph(store, db, graph, markets=MARKETS)
    assert result.success
    [n] = rows(db, "select * from notifications")
    assert (n["user_id"], n["workflow_id"], n["message"], n["priority"], n["type"]) == (
        USER,
        sid,
        "Added 2 markets",
        "high",
        "strategy_update",
    )
    assert n["link"] == f"/strategies/{sid}" and n["metadata"]["execution_id"] == str(eid)
    assert result.outputs["tell"] == {"notification_id": n["id"], "suppressed": False}


@respx.mock
async def test_the_opening_paragraph_strategy_runs_end_to_end_in_a_tick(
    store: SqlStore, db: Any
) -> None:
    gamma = respx.get(KEYSET).respond(200, json=ONE_PAGE)
    g = polymarket_watchlist_graph()
    sid = add_strategy(
        db, next_execution_at=NOW, graph=(g["nodes"], g["edges"]), name="cheap liquid"
    )
    settings = Settings()
    async with httpx.AsyncClient() as http:
        service = TickService(
            store, build_executor(settings, http, store), settings, FakeClock(NOW)
        )
        report = await service.tick()
    [run] = report.executions
    assert run.status == "completed", run.error
    assert gamma.calls.last.request.url.params["active"] == "true"
    # 253591 (24h $128k, yes 0.355) qualifies; 517740 has the volume but yes is 0.71.
    [entry] = rows(db, "select market_id, added_by_execution_id from strategy_watchlists")
    assert entry["market_id"] == "253591"
    assert entry["added_by_execution_id"] == run.execution_id
    [n] = rows(db, "select workflow_id, title, message from notifications")
    assert n["workflow_id"] == sid
    assert n["message"] == "Added 1 market(s) priced 0.2-0.4 (0 already watched)."
    logs = rows(db, f"select node_id, status from {NODE_LOGS} order by node_index")
    assert [r["status"] for r in logs] == ["success"] * 6


@respx.mock
async def test_an_unreachable_polymarket_api_is_a_plain_recorded_error(
    store: SqlStore, db: Any
) -> None:
    respx.get(KEYSET).mock(side_effect=httpx.ConnectError("Name or service not known"))
    g = polymarket_watchlist_graph()
    add_strategy(db, next_execution_at=NOW, graph=(g["nodes"], g["edges"]))
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    settings = Settings()
    async with httpx.AsyncClient() as http:
        services = NodeServices(settings, http=http, store=store, retry=RetryPolicy(sleep=no_wait))
        executor = GraphExecutor(services=services)
        report = await TickService(store, executor, settings, FakeClock(NOW)).tick()
    assert len(waits) == 3  # 4 attempts, then it gave up
    error = report.executions[0].error or ""
    assert "Polymarket API" in error and "could not be reached" in error
    [log] = rows(db, f"select error_message from {NODE_LOGS} where node_id = 'fetch'")
    assert "could not be reached" in log["error_message"]
