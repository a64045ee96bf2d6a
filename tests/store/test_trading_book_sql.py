"""The trading book's SQL (migrations/023, its order function's v2 in 024) on both
schemas: an order is recorded once per strategy, slot and node, under the
portfolio's lock, and every limit, the cash, the position and the kill switch are
checked where the write happens. The daily loss halt and order keys:
test_trading_halt.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from cascadian.store.trading import PLACE_PAPER_ORDER
from tests.factories import USER, add_strategy, rows

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def place(
    db: psycopg.Connection[Any],
    sid: uuid.UUID,
    side: str,
    fills: list[tuple[str, str]],
    *,
    slot: str = "slot-1",
    node: str = "buy-1",
    market: str = "m1",
    fee: str = "0",
    now: datetime = NOW,
    key: str | None = None,
    function: str = PLACE_PAPER_ORDER,
    **fields: Any,
) -> dict[str, Any]:
    p = {
        "workflow_id": str(sid),
        "slot": slot,
        "node_id": node,
        "market_id": market,
        "outcome": "Yes",
        "side": side,
        "order_type": "market",
        "result": "filled",
        "fee_usd": fee,
        "fills": [{"price": price, "shares": shares} for price, shares in fills],
    } | fields
    row = db.execute(f"select {function}(%s, %s, %s)", (Jsonb(p), now, key)).fetchone()
    assert row is not None
    return dict(row[0])


def limits(db: psycopg.Connection[Any], sid: uuid.UUID, **settings: Any) -> dict[str, Any]:
    row = db.execute(
        "select cascadian_set_trading_limits_v2(%s, %s, %s)", (sid, Jsonb(settings), NOW)
    ).fetchone()
    assert row is not None
    return dict(row[0])


def portfolio(db: psycopg.Connection[Any], sid: uuid.UUID) -> dict[str, Any]:
    row = db.execute("select cascadian_paper_portfolio_v2(%s, %s)", (sid, NOW)).fetchone()
    assert row is not None
    return dict(row[0])


def switch(db: psycopg.Connection[Any], sid: uuid.UUID | None, on: bool) -> Any:
    row = db.execute(
        "select cascadian_set_kill_switch_v1(%s, %s, %s, %s, %s)",
        (sid, on, "ops@example.com", "runaway strategy", NOW),
    ).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.both_schemas
def test_a_buy_walks_levels_spends_cash_with_the_fee_and_opens_a_position(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    answer = place(db, sid, "buy", [("0.40", "100"), ("0.45", "50")], fee="1.5")
    assert answer["result"] == "filled" and answer["replayed"] is False
    assert Decimal(str(answer["notional_usd"])) == Decimal("62.50")
    book = portfolio(db, sid)
    assert Decimal(str(book["available_cash"])) == Decimal("9936.00")
    assert Decimal(str(book["deployed_capital"])) == Decimal("64.00")
    assert (book["open_positions"], book["total_trades"]) == (1, 1)
    [order] = rows(db, "select * from cascadian_paper_orders")
    assert (order["shares"], order["fee_usd"]) == (Decimal("150"), Decimal("1.5"))


@pytest.mark.both_schemas
def test_a_rerun_of_the_same_slot_and_node_answers_the_first_order_and_records_nothing(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    first = place(db, sid, "buy", [("0.5", "10")])
    again = place(db, sid, "buy", [("0.6", "99")])
    assert again["replayed"] is True
    assert again["order_id"] == first["order_id"] and again["shares"] == first["shares"]
    assert len(rows(db, "select * from cascadian_trading_orders")) == 1
    assert len(rows(db, "select * from cascadian_paper_orders")) == 1
    assert portfolio(db, sid)["total_trades"] == 1
    other_slot = place(db, sid, "buy", [("0.5", "10")], slot="slot-2")
    assert other_slot["replayed"] is False and other_slot["order_id"] != first["order_id"]


@pytest.mark.both_schemas
def test_a_sell_realises_pnl_after_fees_and_counts_a_win(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    place(db, sid, "buy", [("0.5", "100")])
    sold = place(db, sid, "sell", [("0.7", "100")], node="sell-1", fee="1")
    assert Decimal(str(sold["realized_pnl"])) == Decimal("19")
    book = portfolio(db, sid)
    assert Decimal(str(book["available_cash"])) == Decimal("10019")
    assert (book["open_positions"], book["winning_trades"], Decimal(book["win_rate"])) == (0, 1, 1)
    assert Decimal(str(book["largest_win"])) == Decimal("19")


def test_selling_more_than_is_held_is_refused_and_changes_nothing(
    db: psycopg.Connection[Any],
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    place(db, sid, "buy", [("0.5", "10")])
    refused = place(db, sid, "sell", [("0.5", "10.00000001")], node="sell-1")
    assert (refused["result"], refused["refusal"]) == ("refused", "insufficient_shares")
    assert len(rows(db, "select * from cascadian_paper_orders")) == 1
    assert Decimal(str(portfolio(db, sid)["available_cash"])) == Decimal("9995")


@pytest.mark.parametrize(
    ("settings", "fills", "refusal"),
    [
        ({"max_order_usd": 50}, [("0.5", "101")], "max_order_usd"),
        ({"initial_bankroll": 100}, [("0.5", "201")], "insufficient_cash"),
        ({"min_cash_reserve_usd": 9950}, [("0.5", "101")], "min_cash_reserve_usd"),
        ({"max_position_usd": 60}, [("0.5", "101")], "max_position_usd"),
    ],
)
def test_an_order_over_a_limit_is_refused_naming_it_and_nothing_else_changes(
    db: psycopg.Connection[Any], settings: dict[str, Any], fills: Any, refusal: str
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    limits(db, sid, **settings)
    place(db, sid, "buy", [("0.5", "100")], node="first")
    cash = portfolio(db, sid)["available_cash"]
    answer = place(db, sid, "buy", fills, node="second")
    assert (answer["result"], answer["refusal"]) == ("refused", refusal)
    assert refusal.split("_")[0] in answer["detail"] or "$" in answer["detail"]
    assert portfolio(db, sid)["available_cash"] == cash
    assert len(rows(db, "select * from cascadian_paper_orders")) == 1
    [refused] = rows(db, "select * from cascadian_trading_orders where result = 'refused'")
    assert refused["refusal"] == refusal


def test_a_new_position_beyond_max_open_positions_is_refused_but_adding_to_one_is_not(
    db: psycopg.Connection[Any],
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    limits(db, sid, max_open_positions=1)
    place(db, sid, "buy", [("0.5", "10")], node="a")
    assert place(db, sid, "buy", [("0.5", "10")], node="b")["result"] == "filled"
    refused = place(db, sid, "buy", [("0.5", "10")], node="c", market="m2")
    assert refused["refusal"] == "max_open_positions"


def test_a_loss_under_the_daily_limit_leaves_buys_and_sells_going(
    db: psycopg.Connection[Any],
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    limits(db, sid, daily_loss_usd=25)
    place(db, sid, "buy", [("0.5", "200")], node="buy")
    place(db, sid, "sell", [("0.3", "100")], node="sell")  # realises -20
    assert place(db, sid, "buy", [("0.3", "10")], node="again", market="m2")["result"] == "filled"
    assert place(db, sid, "sell", [("0.3", "10")], node="reduce")["result"] == "filled"
    tomorrow = NOW + timedelta(days=1)
    assert place(db, sid, "buy", [("0.3", "10")], node="t", now=tomorrow)["result"] == "filled"
    assert Decimal(str(portfolio(db, sid)["max_drawdown"])) == Decimal("22")


@pytest.mark.both_schemas
def test_the_kill_switch_refuses_every_order_naming_it_until_cleared(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    place(db, sid, "buy", [("0.5", "10")], node="before")
    assert switch(db, None, True)["set_by"] == "ops@example.com"
    refused = place(db, sid, "sell", [("0.5", "10")], node="sell")
    assert (refused["refusal"], "runaway strategy" in refused["detail"]) == ("kill_switch", True)
    switch(db, None, False)
    switch(db, sid, True)
    assert place(db, sid, "buy", [("0.5", "1")], node="mine")["refusal"] == "kill_switch"
    other = add_strategy(db, next_execution_at=None)
    assert place(db, other, "buy", [("0.5", "1")])["result"] == "filled"
    switch(db, sid, False)
    assert place(db, sid, "buy", [("0.5", "1")], node="after")["result"] == "filled"
    assert [k["scope"] for k in portfolio(db, sid)["kill_switches"]] == []


def test_a_portfolio_that_never_traded_takes_its_configured_bankroll(
    db: psycopg.Connection[Any],
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    assert Decimal(str(portfolio(db, sid)["available_cash"])) == Decimal("10000")
    limits(db, sid, initial_bankroll=500)
    assert Decimal(str(portfolio(db, sid)["initial_bankroll"])) == Decimal("500")
    place(db, sid, "buy", [("0.5", "10")])
    assert Decimal(str(portfolio(db, sid)["available_cash"])) == Decimal("495")
    unknown = uuid.uuid4()
    assert limits_or_none(db, unknown) is None


def limits_or_none(db: psycopg.Connection[Any], sid: uuid.UUID) -> Any:
    row = db.execute(
        "select cascadian_set_trading_limits_v2(%s, %s, %s)", (sid, Jsonb({}), NOW)
    ).fetchone()
    return None if row is None else row[0]


@pytest.mark.parametrize(
    "fills", [[], [("0", "10")], [("1", "10")], [("0.5", "0")], [("0.5", "-1")]]
)
def test_a_malformed_order_is_an_error_and_records_nothing(
    db: psycopg.Connection[Any], fills: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        place(db, sid, "buy", fills)
    assert rows(db, "select * from cascadian_trading_orders") == []


@pytest.mark.both_schemas
def test_an_order_the_book_refused_is_recorded_and_tried_again_until_it_fills_once(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    book_said = {"result": "refused", "refusal": "fill_or_kill", "detail": "the book holds 3"}
    first = place(db, sid, "buy", [], **book_said)
    assert (first["result"], first["refusal"], first["detail"]) == (
        "refused",
        "fill_or_kill",
        "the book holds 3",
    )
    # The book holds more at the retry: the refusal did not use up the slot (054).
    filled = place(db, sid, "buy", [("0.5", "10")])
    assert (filled["result"], filled["replayed"]) == ("filled", False)
    again = place(db, sid, "buy", [("0.5", "10")])
    assert (again["replayed"], again["order_id"]) == (True, filled["order_id"])
    assert len(rows(db, "select * from cascadian_paper_orders")) == 1
    assert [
        r["result"] for r in rows(db, "select result from cascadian_trading_orders order by id")
    ] == [
        "refused",
        "filled",
    ]
    switch(db, None, True)
    named = place(db, sid, "buy", [], node="other", **book_said)
    assert named["refusal"] == "kill_switch"


def run_of(db: psycopg.Connection[Any], sid: uuid.UUID, kind: str, attempt: int) -> uuid.UUID:
    row = db.execute(
        "insert into workflow_executions (workflow_id, user_id, execution_started_at, status, "
        "trigger_kind, scheduled_for, attempt) values (%s, %s, %s, 'running', %s, %s, %s) "
        "returning id",
        (sid, USER, NOW, kind, NOW if kind == "scheduled" else None, attempt),
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


@pytest.mark.both_schemas
def test_a_second_attempt_of_a_slot_records_no_second_order_but_a_manual_run_does(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    first, second = run_of(db, sid, "scheduled", 1), run_of(db, sid, "scheduled", 2)
    placed = place(db, sid, "buy", [("0.5", "10")], slot="", execution_id=str(first))
    again = place(db, sid, "buy", [("0.5", "10")], slot="", execution_id=str(second))
    assert (again["replayed"], again["order_id"]) == (True, placed["order_id"])
    manual = run_of(db, sid, "manual", 1)
    assert (
        place(db, sid, "buy", [("0.5", "10")], slot="", execution_id=str(manual))["replayed"]
        is False
    )
    [key] = {r["slot"] for r in rows(db, "select slot from cascadian_trading_orders")} - {
        f"run:{manual}"
    }
    assert key == "slot:2026-06-01T12:00:00.000000Z"
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        place(db, sid, "buy", [("0.5", "10")], slot="")


@pytest.mark.both_schemas
def test_a_rerun_of_an_event_run_places_in_the_events_slot_when_none_is_named(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    event = {"id": str(uuid.uuid4()), "kind": "price_cross"}
    [[run]] = db.execute(
        "insert into workflow_executions (workflow_id, user_id, execution_started_at, status, "
        "trigger_kind, workflow_snapshot) values (%s, %s, %s, 'failed', 'event', %s) "
        "returning id",
        (sid, USER, NOW, Jsonb({"nodes": [], "event": event})),
    ).fetchall()
    [[rerun]] = db.execute(
        "insert into workflow_executions (workflow_id, user_id, execution_started_at, status, "
        "trigger_kind, rerun_of) values (%s, %s, %s, 'running', 'rerun', %s) returning id",
        (sid, USER, NOW, run),
    ).fetchall()
    placed = place(db, sid, "buy", [("0.5", "10")], slot="", execution_id=str(run))
    again = place(db, sid, "buy", [("0.5", "10")], slot="", execution_id=str(rerun))
    assert (again["replayed"], again["order_id"]) == (True, placed["order_id"])
    [order] = rows(db, "select slot from cascadian_trading_orders")
    assert order["slot"] == f"event:{event['id']}"
