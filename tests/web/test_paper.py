"""GET /api/strategies/{id}/paper: a strategy's paper book, valued at live prices."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import respx

from cascadian.data import PaperOrder
from cascadian.store.sql_store import SqlStore
from tests.api_client import client
from tests.factories import add_strategy
from tests.polymarket_fixtures import CLOB, GAMMA, MIDPOINTS, PRICES, RECORDS

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ENV = {"CASCADIAN_POLYMARKET_URL": GAMMA, "CASCADIAN_CLOB_URL": CLOB}


async def bought(store: SqlStore, sid: uuid.UUID, market_id: str, price: float) -> None:
    await store.record_paper_order(
        PaperOrder(sid, None, "buy", market_id, "Q", "Yes", "buy", "market", 39, price, "clob"), NOW
    )


@respx.mock
async def test_the_book_values_open_positions_at_the_live_midpoint(
    store: SqlStore, db: Any
) -> None:
    respx.get(f"{GAMMA}/markets/253591").respond(200, json=RECORDS[0])
    respx.post(f"{CLOB}/midpoints").respond(200, json=MIDPOINTS)
    respx.post(f"{CLOB}/prices").respond(200, json=PRICES)
    sid = add_strategy(db, next_execution_at=None)
    await bought(store, sid, "253591", 0.39)
    async with client(store, **ENV) as api:
        answer = await api.get(f"/api/strategies/{sid}/paper")
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert data["paper"] is True and "never places a real order" in data["note"]
    [position] = data["positions"]
    assert (position["shares"], position["mark_price"], position["mark_source"]) == (
        100,
        0.385,
        "clob",
    )
    assert position["unrealized_pnl"] == round(100 * 0.385 - 39, 6)
    # An order recorded before the trading book reads as filled.
    assert data["total_orders"] == 1 and data["orders"][0]["result"] == "filled"


@respx.mock
async def test_without_market_data_positions_keep_their_last_order_price(
    store: SqlStore, db: Any
) -> None:
    respx.get(f"{GAMMA}/markets/253591").respond(404, json={"error": "gone"})
    sid = add_strategy(db, next_execution_at=None)
    await bought(store, sid, "253591", 0.39)
    async with client(store, **ENV) as api:
        data = (await api.get(f"/api/strategies/{sid}/paper")).json()["data"]
    assert data["positions"][0]["mark_source"] == "last_order"
    assert data["unrealized_pnl"] == 0


async def test_an_unknown_strategy_is_404_and_the_key_is_required(store: SqlStore, db: Any) -> None:
    async with client(store) as api:
        missing = await api.get(f"/api/strategies/{uuid.uuid4()}/paper")
        anonymous = await api.get(
            f"/api/strategies/{uuid.uuid4()}/paper", headers={"Authorization": ""}
        )
    assert missing.status_code == 404
    assert anonymous.status_code == 401
