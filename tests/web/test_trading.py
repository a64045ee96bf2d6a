"""The trading routes: a strategy's limits, the kill switches, and its paper portfolio
with its orders page by page, on both schemas and through both transports. Bad input
is a 4xx naming what was wrong, and changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from cascadian.ports import FullStore
from tests.api_client import client
from tests.factories import add_strategy, rows, strategy
from tests.store.test_trading_book_sql import place

pytestmark = pytest.mark.both_schemas


async def test_limits_read_as_defaults_then_change_only_what_a_put_names(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    async with client(any_store) as api:
        before = (await api.get(f"/api/strategies/{sid}/limits")).json()["data"]
        first = await api.put(
            f"/api/strategies/{sid}/limits",
            json={"max_order_usd": "250.50", "daily_loss_usd": 100, "max_open_positions": 3},
        )
        second = await api.put(f"/api/strategies/{sid}/limits", json={"max_order_usd": None})
        after = (await api.get(f"/api/strategies/{sid}/limits")).json()["data"]

    assert before["initial_bankroll"] == "10000" and before["updated_at"] is None
    assert before["max_order_usd"] is None
    assert first.status_code == 200
    assert first.json()["data"]["max_order_usd"] == "250.50"
    assert second.status_code == 200
    assert (after["max_order_usd"], after["daily_loss_usd"], after["max_open_positions"]) == (
        None,
        "100",
        3,
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"max_order_usd": -5}, "max_order_usd is more than 0"),
        ({"daily_loss_usd": "0"}, "daily_loss_usd is more than 0"),
        ({"min_cash_reserve_usd": "-0.01"}, "min_cash_reserve_usd is 0 or more"),
        ({"max_open_positions": -1}, "max_open_positions"),
        ({"max_order_usd": "lots"}, "max_order_usd"),
        ({"initial_bankroll": "1e-999999"}, "initial_bankroll has more than 6 decimal places"),
        ({"max_order_usd": "0.0000001"}, "max_order_usd has more than 6 decimal places"),
        ({"stop_loss": 5}, "stop_loss"),
        ({}, "name at least one"),
    ],
)
async def test_a_bad_limit_is_a_422_naming_it_and_changes_nothing(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any], body: Any, says: str
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    async with client(any_store) as api:
        await api.put(f"/api/strategies/{sid}/limits", json={"max_order_usd": 10})
        answer = await api.put(f"/api/strategies/{sid}/limits", json=body)
    assert answer.status_code == 422
    assert says in str(answer.json())
    [limits] = rows(db, "select max_order_usd, daily_loss_usd from cascadian_trading_limits")
    assert (limits["max_order_usd"], limits["daily_loss_usd"]) == (Decimal(10), None)
    # The change is written to the audit log as the operator from the API; the 422 is not.
    logged = rows(db, "select action, actor_kind, source, after from cascadian_audit_log")
    assert logged == [
        {
            "action": "set_limits",
            "actor_kind": "operator",
            "source": "api",
            "after": {"max_order_usd": "10"},
        }
    ]


async def test_limits_of_an_unknown_strategy_are_a_404(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    unknown = uuid.uuid4()
    async with client(any_store) as api:
        read = await api.get(f"/api/strategies/{unknown}/limits")
        written = await api.put(f"/api/strategies/{unknown}/limits", json={"max_order_usd": 1})
        switched = await api.put(
            f"/api/strategies/{unknown}/kill-switch", json={"set_by": "ops", "reason": "x"}
        )
    assert [a.status_code for a in (read, written, switched)] == [404, 404, 404]
    assert rows(db, "select * from cascadian_trading_limits") == []
    assert rows(db, "select * from cascadian_kill_switches") == []


async def test_the_kill_switches_record_who_when_and_why_and_refuse_orders_until_cleared(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None, name="Runaway")
    async with client(any_store) as api:
        on = await api.put(
            "/api/kill-switch", json={"set_by": "ana@ops", "reason": "exchange incident"}
        )
        mine = await api.put(
            f"/api/strategies/{sid}/kill-switch", json={"set_by": "bo", "reason": "looping"}
        )
        listed = (await api.get("/api/kill-switch")).json()["data"]
        refused = place(db, sid, "buy", [("0.5", "10")], node="a")
        off = await api.delete("/api/kill-switch")
        still = place(db, sid, "buy", [("0.5", "10")], node="b")
        mine_off = await api.delete(f"/api/strategies/{sid}/kill-switch")
        again_off = await api.delete(f"/api/strategies/{sid}/kill-switch")
        filled = place(db, sid, "buy", [("0.5", "10")], node="c")

    assert on.status_code == 200 and mine.status_code == 200
    assert [(k["scope"], k["set_by"], k["reason"], k["workflow_name"]) for k in listed] == [
        ("global", "ana@ops", "exchange incident", None),
        (str(sid), "bo", "looping", "Runaway"),
    ]
    assert abs(datetime.fromisoformat(listed[0]["set_at"]) - datetime.now(UTC)) < timedelta(
        minutes=1
    )
    assert refused["refusal"] == "kill_switch" and "exchange incident" in refused["detail"]
    assert [k["scope"] for k in off.json()["data"]] == [str(sid)]
    assert still["refusal"] == "kill_switch" and "looping" in still["detail"]
    assert (mine_off.json()["data"], again_off.status_code) == ([], 200)
    assert filled["result"] == "filled"
    assert strategy(db, sid)["status"] == "running"  # nothing else about it changed


@pytest.mark.parametrize(
    "body",
    [
        {"set_by": "ana"},
        {"reason": "why"},
        {"set_by": "  ", "reason": "why"},
        {"set_by": "ana", "reason": ""},
        {"set_by": "ana", "reason": "x" * 501},
    ],
)
async def test_a_kill_switch_without_who_or_why_is_a_422_and_stays_off(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any], body: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    async with client(any_store) as api:
        global_ = await api.put("/api/kill-switch", json=body)
        own = await api.put(f"/api/strategies/{sid}/kill-switch", json=body)
    assert (global_.status_code, own.status_code) == (422, 422)
    assert rows(db, "select * from cascadian_kill_switches") == []


async def test_the_paper_answer_has_the_portfolio_its_day_and_every_order_page_by_page(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    now = datetime.now(UTC)
    db.execute(
        "select cascadian_set_trading_limits_v2(%s, %s, %s)",
        (sid, Jsonb({"max_order_usd": "200", "daily_loss_usd": "15"}), now),
    )
    place(db, sid, "buy", [("0.5", "200")], node="buy", now=now)
    place(db, sid, "buy", [("0.5", "1000")], node="too-big", now=now)  # refused
    place(db, sid, "sell", [("0.4", "100")], node="sell", now=now)  # -10
    place(db, sid, "sell", [("0.4", "50")], node="sell-2", now=now)  # -5: halts

    async with client(any_store) as api:
        first = (await api.get(f"/api/strategies/{sid}/paper?limit=2")).json()
        second = (await api.get(f"/api/strategies/{sid}/paper?limit=2&offset=2")).json()
        refused = (await api.get(f"/api/strategies/{sid}/paper?result=refused")).json()
        bad = await api.get(f"/api/strategies/{sid}/paper?result=lost")

    p = first["data"]["portfolio"]
    assert (p["initial_bankroll"], p["total_trades"], p["losing_trades"]) == ("10000", 3, 2)
    assert Decimal(p["realized_pnl"]) == Decimal(-15)
    assert Decimal(p["deployed_capital"]) == Decimal(25)  # 50 shares left at 0.5
    assert Decimal(p["available_cash"]) == Decimal(10000 - 100 + 40 + 20)
    assert Decimal(p["max_drawdown"]) == Decimal(15)
    assert p["limits"]["max_order_usd"] == "200"
    assert p["halt"]["reason"] == "daily_loss_usd"
    day = p["day"]
    assert (Decimal(day["realized_pnl"]), day["orders"], day["refused"]) == (Decimal(-15), 4, 1)
    assert first["metadata"] == {"total": 4, "limit": 2, "offset": 0}
    orders = first["data"]["orders"] + second["data"]["orders"]
    assert [o["node_id"] for o in orders] == ["sell-2", "sell", "too-big", "buy"]
    assert [o["result"] for o in orders] == ["filled", "filled", "refused", "filled"]
    assert [o["refusal"] for o in refused["data"]["orders"]] == ["max_order_usd"]
    assert "the limit is $200" in refused["data"]["orders"][0]["detail"]
    assert bad.status_code == 422


async def test_status_shows_cash_exposure_the_days_pnl_and_what_stops_trading(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    now = datetime.now(UTC)
    place(db, sid, "buy", [("0.5", "200")], node="buy", now=now)
    place(db, sid, "sell", [("0.4", "100")], node="sell", now=now)  # -10
    async with client(any_store) as api:
        before = (await api.get(f"/api/strategies/{sid}/status")).json()["data"]["trading"]
        await api.put(f"/api/strategies/{sid}/kill-switch", json={"set_by": "a", "reason": "b"})
        after = (await api.get(f"/api/strategies/{sid}/status")).json()["data"]["trading"]
    assert (Decimal(before["exposure_usd"]), before["open_positions"]) == (Decimal(50), 1)
    assert Decimal(before["day_realized_pnl"]) == Decimal(-10)
    assert Decimal(before["available_cash"]) == Decimal(10000 - 100 + 40)
    assert (before["stopped_by"], after["stopped_by"]) == (None, "kill_switch")
