"""The polymarket-markets node: its config becomes Gamma's query, the filters Gamma
lacks apply here, live prices on request, failures in plain words, and one upstream
request for any number of strategies asking the same thing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
import pytest
import respx
from pydantic import ValidationError

from cascadian.bootstrap import build_executor
from cascadian.clock import FakeClock
from cascadian.data import Workflow
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeContext, NodeError, NodeServices
from cascadian.workflow.nodes.polymarket_markets import POLYMARKET_MARKETS, PolymarketMarketsConfig
from tests.factories import add_strategy, chain, node
from tests.polymarket_fixtures import (
    CLOB,
    GAMMA,
    KEYSET,
    MIDPOINTS,
    ONE_PAGE,
    PRICES,
    market_data,
    no_wait_retry,
    settings,
)


def context(waits: list[float] | None = None, services: NodeServices | None = None) -> NodeContext:
    return NodeContext(
        workflow=Workflow(id=uuid4(), name="strategy", nodes=[], edges=[]),
        node_id="markets",
        inputs={},
        # No market data service: the node makes its own, as in tests and tools.
        services=services or NodeServices(settings(), retry=no_wait_retry(waits)),
    )


async def run(ctx: NodeContext, **config: Any) -> Any:
    return await POLYMARKET_MARKETS.run(PolymarketMarketsConfig.model_validate(config), ctx)


@respx.mock
async def test_the_config_becomes_gammas_query_with_an_explicit_order() -> None:
    route = respx.get(KEYSET).respond(200, json=ONE_PAGE)
    out = await run(context(), tag_id=2, limit=50, min_liquidity=1000, min_volume=5000)
    assert dict(route.calls.last.request.url.params) == {
        "active": "true", "closed": "false", "tag_id": "2", "liquidity_num_min": "1000.0",
        "volume_num_min": "5000.0", "order": "volume24hr", "ascending": "false", "limit": "100",
    }  # fmt: skip
    # Checked again here: 530001 traded $3,120 in all, and 488203 is closed.
    assert [m["id"] for m in out["items"]] == ["253591", "501122", "517740", "530017"]
    assert out["count"] == 4
    assert out["skipped"] == 2
    assert out["live_priced"] == 0
    first = out["items"][0]
    assert first["end_date"] == "2025-12-10T12:00:00Z"
    assert first["yes_price"] == 0.355 and first["price_source"] == "gamma"
    json.dumps(out)  # serialisable as is


@respx.mock
async def test_an_order_given_is_sent_as_is() -> None:
    route = respx.get(KEYSET).respond(200, json=ONE_PAGE)
    await run(context(), order="endDate", ascending=True)
    params = route.calls.last.request.url.params
    assert (params["order"], params["ascending"]) == ("endDate", "true")


@respx.mock
async def test_24h_volume_applies_here_and_the_server_side_filters_are_checked_again() -> None:
    route = respx.get(KEYSET).respond(200, json=ONE_PAGE)
    out = await run(context(), min_volume_24h=40000, min_liquidity=100000)
    assert [m["id"] for m in out["items"]] == ["253591", "517740"]
    assert "min_volume_24h" not in route.calls.last.request.url.params
    assert "volume24hr" not in "".join(route.calls.last.request.url.params.keys())


@respx.mock
async def test_markets_the_server_should_have_left_out_are_dropped_here() -> None:
    closed = [{**r, "closed": True} if r["id"] == "253591" else r for r in ONE_PAGE["markets"]]
    respx.get(KEYSET).respond(200, json={"markets": closed})
    out = await run(context(), end_date_max="2026-01-31T12:00:00")  # naive: UTC
    # 253591 and 488203 are closed; 517740 ends later; 530017 has no end date.
    assert [m["id"] for m in out["items"]] == ["501122", "530001"]


@respx.mock
async def test_live_prices_come_from_the_order_book() -> None:
    respx.get(KEYSET).respond(200, json=ONE_PAGE)
    respx.post(f"{CLOB}/midpoints").respond(200, json=MIDPOINTS)
    respx.post(f"{CLOB}/prices").respond(200, json=PRICES)
    out = await run(context(), live_prices=True)
    by_id = {m["id"]: m for m in out["items"]}
    assert by_id["253591"]["yes_price"] == 0.385 and by_id["253591"]["price_source"] == "clob"
    assert by_id["501122"]["outcome_prices"] == [0.125, 0.875]
    assert by_id["517740"]["price_source"] == "gamma"  # no order book tokens
    assert out["live_priced"] == 2


@respx.mock
async def test_an_unreachable_api_says_so_plainly_after_retries() -> None:
    waits: list[float] = []
    respx.get(KEYSET).mock(side_effect=httpx.ConnectError("Connection refused"))
    with pytest.raises(NodeError) as info:
        await run(context(waits))
    message = str(info.value)
    assert message.startswith(f"The Polymarket API at {GAMMA} could not be reached")
    assert "ConnectError: Connection refused" in message
    assert "retried 3 times" in message
    assert waits == [0.5, 1.0, 2.0]


@respx.mock
async def test_server_errors_exhausting_retries_are_reported() -> None:
    respx.get(KEYSET).respond(502)
    with pytest.raises(NodeError, match=r"could not be reached.*HTTP 502 Bad Gateway"):
        await run(context())


@respx.mock
async def test_a_rejected_request_names_the_status() -> None:
    respx.get(KEYSET).respond(422, json={"error": "invalid order"})
    with pytest.raises(NodeError, match="rejected the request: HTTP 422"):
        await run(context(), order="nonsense")
    assert respx.calls.call_count == 1


@respx.mock
async def test_a_non_json_reply_is_reported() -> None:
    respx.get(KEYSET).respond(200, text="<html>maintenance</html>")
    with pytest.raises(NodeError, match="not JSON"):
        await run(context())


@respx.mock
async def test_a_thousand_strategies_with_one_query_make_one_upstream_request() -> None:
    route = respx.get(KEYSET).respond(200, json=ONE_PAGE)
    graph = chain(node("start", "start"), node("fetch", "polymarket-markets", limit=50))
    async with httpx.AsyncClient() as http:
        services = NodeServices(settings(), http=http, markets=market_data(http))
        executor = GraphExecutor(services=services)
        flows = [Workflow(uuid4(), f"s{i}", *graph) for i in range(1000)]
        results = await asyncio.gather(*(executor.execute(flow) for flow in flows))
    assert all(r.success for r in results)
    assert {r.outputs["fetch"]["count"] for r in results} == {5}
    assert route.call_count == 1


@respx.mock
async def test_a_tick_of_strategies_asking_the_same_calls_gamma_once(
    store: SqlStore, db: Any
) -> None:
    route = respx.get(KEYSET).respond(200, json=ONE_PAGE)
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    for limit in (20, 50, 100) * 20:  # limits differ, the pages asked for do not
        graph = chain(node("start", "start"), node("fetch", "polymarket-markets", limit=limit))
        add_strategy(db, next_execution_at=now, graph=graph)
    config = settings(CASCADIAN_CLAIM_LIMIT=10, CASCADIAN_MAX_CONCURRENCY=10)
    async with httpx.AsyncClient() as http:
        executor = build_executor(config, http, store)  # what every process builds once
        report = await TickService(store, executor, config, FakeClock(now)).tick()
    assert [e.status for e in report.executions] == ["completed"] * 60
    assert route.call_count == 1


@pytest.mark.parametrize(
    "config",
    [{"limit": 0}, {"limit": 1001}, {"order": "x&y=1"}, {"min_liquidity": -1},
     {"end_date_min": "someday"}, {"live_prices": "maybe"}],
)  # fmt: skip
def test_invalid_configs_are_rejected(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PolymarketMarketsConfig.model_validate(config)


def test_the_defaults_ask_for_the_top_100_active_markets_by_24h_volume() -> None:
    assert PolymarketMarketsConfig().query().params() == {
        "active": "true",
        "closed": "false",
        "order": "volume24hr",
        "ascending": "false",
    }
    assert POLYMARKET_MARKETS.name == "polymarket-markets"
