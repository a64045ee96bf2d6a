"""Running the original builder's saved graphs (tests/fixtures/original/) against
Polymarket answered by respx and, where nodes write, the real database."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import respx

from cascadian.clock import FakeClock
from cascadian.data import RunResult, Workflow
from cascadian.outbound.ssrf import Resolver
from cascadian.store.sql_store import SqlStore
from cascadian.trading.executor import PaperExecutor
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeServices
from cascadian.workflow.wallets import WalletData
from tests.factories import USER, add_strategy
from tests.polymarket_fixtures import (
    CLOB,
    GAMMA,
    MIDPOINTS,
    ONE_PAGE,
    PRICES,
    RECORDS,
    market_data,
    no_wait_retry,
    settings,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "original"
# Before the fixtures' markets close (the first, 2025-12-10).
NOW = datetime(2025, 11, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


def saved(name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    graph = json.loads((FIXTURES / name).read_text())
    return graph["nodes"], graph["edges"]


def polymarket(router: respx.Router, fee_bps: int = 0) -> None:
    """Gamma's listing, each market by id, the CLOB's live prices, each token's book
    and a fee rate (`fee_bps` basis points)."""
    router.get(f"{GAMMA}/markets/keyset").respond(200, json=ONE_PAGE)
    for record in RECORDS:
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            router.get(f"{GAMMA}/markets/{record['id']}").respond(200, json=record)
    router.get(url__regex=rf"{GAMMA}/markets/\w+$").respond(404, json={"error": "not found"})
    router.post(f"{CLOB}/midpoints").respond(200, json=MIDPOINTS)
    router.post(f"{CLOB}/prices").respond(200, json=PRICES)
    router.get(f"{CLOB}/book").mock(side_effect=book)
    router.get(f"{CLOB}/fee-rate").respond(200, json={"base_fee": fee_bps})


def book(request: httpx.Request) -> httpx.Response:
    """GET /book for a token, in the CLOB's shape: its best bid and ask from the
    fixtures' /prices, 1,000 shares each, and a deeper level behind each."""
    token = request.url.params["token_id"]
    quote = PRICES.get(token)
    if quote is None:
        return httpx.Response(404, json={"error": "No orderbook exists for the requested token id"})
    bid, ask = Decimal(quote["BUY"]), Decimal(quote["SELL"])
    return httpx.Response(
        200,
        json={
            "market": "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1",
            "asset_id": token,
            "timestamp": "1761998400000",
            "hash": "0x1fd2a1c6d5c9a1a0",
            "bids": [
                {"price": str(bid - Decimal("0.01")), "size": "5000"},
                {"price": str(bid), "size": "1000"},
            ],
            "asks": [
                {"price": str(ask + Decimal("0.01")), "size": "5000"},
                {"price": str(ask), "size": "1000"},
            ],
            "min_order_size": "5",
            "tick_size": "0.01",
            "neg_risk": False,
        },
    )


async def run_saved(
    graph: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    *,
    store: SqlStore | None = None,
    db: Any = None,
    http: httpx.AsyncClient | None = None,
    name: str = "Saved strategy",
    resolver: Resolver | None = None,
    again: uuid.UUID | None = None,
    arrange: Callable[[uuid.UUID], object] | None = None,
    wallets: WalletData | None = None,
    recorded: bool = False,
    **env: Any,
) -> tuple[RunResult, uuid.UUID]:
    """Run the graph once as a strategy (a real row when a database is given), or
    once more as the strategy `again` (as a recorded run of its own: `recorded`)."""
    nodes, edges = graph
    workflow_id, execution_id = again or uuid.uuid4(), None
    if db is not None and again is None:
        workflow_id = add_strategy(db, next_execution_at=None, graph=graph, name=name)
        if arrange is not None:
            arrange(workflow_id)
    if db is not None and (again is None or recorded):
        [[execution_id]] = db.execute(
            "insert into workflow_executions (workflow_id, user_id, status)"
            " values (%s, %s, 'running') returning id",
            (workflow_id, USER),
        ).fetchall()
    client = http or httpx.AsyncClient()
    services = NodeServices(
        settings(**env),
        http=client,
        store=store,
        retry=no_wait_retry(),
        clock=FakeClock(NOW),
        markets=market_data(client, **env),
        resolver=resolver,
        orders=None if store is None else PaperExecutor(store),
        wallets=wallets,
        copy_trades=store,
        marks=store,
        decisions=store,
    )
    workflow = Workflow(workflow_id, name, nodes, edges, {}, None, USER, execution_id)
    try:
        return await GraphExecutor(services=services).execute(workflow), workflow_id
    finally:
        if http is None:
            await client.aclose()
