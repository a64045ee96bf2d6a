"""GET /api/strategies/{id}/paper/equity: a strategy's paper equity curve and its
value at the last marks, money as decimal strings; and GET /paper with a settlement
among its orders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import respx

from cascadian.data import PositionMark
from cascadian.store.sql_store import SqlStore
from tests.api_client import bearer, client
from tests.factories import add_strategy
from tests.polymarket_fixtures import CLOB, GAMMA
from tests.store.test_trading_book_sql import place

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ENV = {"CASCADIAN_POLYMARKET_URL": GAMMA, "CASCADIAN_CLOB_URL": CLOB}


async def marked(store: SqlStore, price: str, at: datetime) -> None:
    await store.mark_portfolios(
        [PositionMark("253591", "Yes", Decimal(price), "tok")],
        at,
        min_gap=timedelta(minutes=5),
        keep_after=None,
        prune_limit=0,
    )


async def test_the_curve_and_the_marked_value_are_answered_oldest_point_first(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    place(db, sid, "buy", [("0.40", "100")], market="253591")
    await marked(store, "0.35", NOW)
    await marked(store, "0.45", NOW + timedelta(minutes=10))
    async with client(store, **ENV) as api:
        answer = await api.get(f"/api/strategies/{sid}/paper/equity")
        since = await api.get(
            f"/api/strategies/{sid}/paper/equity",
            params={"since": (NOW + timedelta(minutes=1)).isoformat()},
        )
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert data["paper"] is True
    assert [(p["equity"], p["unrealized_pnl"]) for p in data["points"]] == [
        ("9995.00", "-5.00"),
        ("10005.00", "5.00"),
    ]
    assert (data["equity"], data["cash"], data["positions_value"]) == (
        "10005.00",
        "9960.00",
        "45.00",
    )
    [position] = data["positions"]
    assert (position["mark_price"], position["value"]) == ("0.45", "45.00")
    assert [p["equity"] for p in since.json()["data"]["points"]] == ["10005.00"]


async def test_an_unknown_strategy_is_404_a_bad_query_422_and_no_key_401(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    async with client(store, **ENV) as api:
        unknown = await api.get(f"/api/strategies/{uuid.uuid4()}/paper/equity")
        bad = await api.get(f"/api/strategies/{sid}/paper/equity", params={"points": 0})
        anonymous = await api.get(
            f"/api/strategies/{sid}/paper/equity", headers=bearer("not-the-key")
        )
    assert (unknown.status_code, bad.status_code, anonymous.status_code) == (404, 422, 401)


@respx.mock
async def test_the_paper_book_lists_a_settlement_among_its_orders(store: SqlStore, db: Any) -> None:
    respx.get(f"{GAMMA}/markets/253591").respond(404, json={"error": "gone"})
    sid = add_strategy(db, next_execution_at=None)
    place(db, sid, "buy", [("0.40", "100")], market="253591")
    await store.settle_market("253591", {"Yes": Decimal(1), "No": Decimal(0)}, NOW)
    async with client(store, **ENV) as api:
        answer = await api.get(f"/api/strategies/{sid}/paper")
    assert answer.status_code == 200
    orders = answer.json()["data"]["orders"]
    assert [o["side"] for o in orders] == ["settlement", "buy"]


@respx.mock(assert_all_called=False)
async def test_the_paper_book_values_a_marked_position_at_its_stored_bid_without_a_request(
    store: SqlStore, db: Any, respx_mock: respx.MockRouter
) -> None:
    gamma = respx_mock.get(url__regex=rf"{GAMMA}/.*").respond(404, json={"error": "unused"})
    clob = respx_mock.route(url__regex=rf"{CLOB}/.*").respond(500, text="unused")
    sid = add_strategy(db, next_execution_at=None)
    place(db, sid, "buy", [("0.40", "100")], market="253591")
    await marked(store, "0.35", NOW)
    async with client(store, **ENV) as api:
        data = (await api.get(f"/api/strategies/{sid}/paper")).json()["data"]
    [position] = data["positions"]
    assert (position["mark_price"], position["mark_source"]) == (0.35, "best_bid")
    assert position["unrealized_pnl"] == -5
    assert gamma.call_count == clob.call_count == 0
