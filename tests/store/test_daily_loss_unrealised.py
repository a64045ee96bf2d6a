"""The daily loss counts unrealised P&L (migrations/040; the order is
cascadian_place_paper_order_v4 of 041 now, marked with 033's v2 so the order decides),
on both schemas: the day's loss is its realised P&L plus the change in unrealised P&L
since the day's start (the stored best-bid marks now, against the equity curve's
last point at or before the day's start); a buy at or past the limit is refused and
halts the strategy, as a realised loss does."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.factories import add_strategy, rows, strategy
from tests.store.test_trading_book_sql import NOW, limits, place

pytestmark = pytest.mark.both_schemas


def mark(db: psycopg.Connection[Any], price: str, at: Any = NOW) -> None:
    """Mark m1's Yes at its best bid as the marking step does (an equity point too)."""
    marks = [{"market_id": "m1", "outcome": "Yes", "price": price}]
    db.execute(
        "select cascadian_mark_portfolios_v2(%s, %s, '5 minutes', null, 0)", (Jsonb(marks), at)
    )


def held(db: psycopg.Connection[Any], sid: uuid.UUID) -> None:
    """200 shares of m1 Yes bought at 0.5 ($100), with a daily loss limit of $20."""
    place(db, sid, "buy", [("0.5", "200")], node="buy")
    limits(db, sid, daily_loss_usd=20)


@pytest.mark.parametrize(
    ("bid", "result"),
    [
        ("0.5", "filled"),
        ("0.45", "filled"),
        ("0.41", "filled"),
        ("0.4", "refused"),
        ("0.1", "refused"),
    ],
)
def test_a_buy_is_refused_once_the_marks_alone_take_the_days_loss_to_the_limit(
    schema: str, db: psycopg.Connection[Any], bid: str, result: str
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="Momentum")
    held(db, sid)
    mark(db, bid)  # unrealised 200 * (bid - 0.5): -$20 at 0.4

    answer = place(db, sid, "buy", [("0.5", "2")], node="buy-2")

    assert answer["result"] == result
    if result == "refused":
        loss = 200 * (0.5 - float(bid))
        assert answer["refusal"] == "daily_loss_usd"
        assert answer["detail"] == (
            f"today's loss is ${loss:.2f} (realised $0.00, unrealised since the day's "
            f"start ${loss:.2f}); the limit is $20"
        )
        assert answer["halted"]["auto_paused"] is True
        assert strategy(db, sid)["status"] == "error"
    else:
        assert "halted" not in answer and strategy(db, sid)["status"] == "running"


def test_a_loss_marked_before_the_days_start_is_not_todays(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    yesterday = NOW - timedelta(days=1)
    place(db, sid, "buy", [("0.5", "200")], node="buy", now=yesterday)
    limits(db, sid, daily_loss_usd=20)
    mark(db, "0.4", yesterday)  # -$20 unrealised, yesterday

    today = place(db, sid, "buy", [("0.4", "10")], node="buy-2")
    assert today["result"] == "filled"

    mark(db, "0.3")  # today: 210 shares at 0.3 against cost 104 is -41; -20 was yesterday's
    refused = place(db, sid, "buy", [("0.3", "1")], node="buy-3")
    assert (refused["result"], refused["refusal"]) == ("refused", "daily_loss_usd")
    assert "unrealised since the day's start $21.00" in refused["detail"]


def test_realised_and_unrealised_add_up_and_a_sell_is_never_refused_for_the_loss(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    held(db, sid)
    sold = place(db, sid, "sell", [("0.4", "50")], node="sell")  # realises -5
    mark(db, "0.4")  # the 150 left: -15 unrealised; the day's loss: 20
    assert (sold["result"], "halted" in sold) == ("filled", False)

    # Realises -1; with the 140 left at the mark the day's loss reaches $20: the sell
    # stands and halts (041: the same rule after a sell as before a buy).
    another_sell = place(db, sid, "sell", [("0.4", "10")], node="sell-2")
    refused = place(db, sid, "buy", [("0.4", "1")], node="buy-2")

    assert another_sell["result"] == "filled"
    assert (
        "today's loss is $20.00 (realised $6.00, unrealised since the day's start $14.00)"
        in another_sell["halted"]["detail"]
    )
    assert (refused["result"], refused["refusal"]) == ("refused", "halted")


def test_a_retry_of_the_refused_buy_is_refused_as_halted_and_halts_nothing_more(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="Momentum")
    held(db, sid)
    mark(db, "0.3")
    first = place(db, sid, "buy", [("0.3", "1")], node="buy-2")
    # A refusal uses up nothing (054): the retry is tried, and the halt refuses it.
    again = place(db, sid, "buy", [("0.3", "1")], node="buy-2")
    assert (again["replayed"], again["refusal"], "halted" in again) == (False, "halted", False)
    assert first["halted"] is not None
    notes = rows(db, "select 1 from notifications where workflow_id = %s", sid)
    assert len(notes) == 1
    order, _ = rows(
        db, "select refusal from cascadian_trading_orders where node_id = 'buy-2' order by id"
    )
    assert order["refusal"] == "daily_loss_usd"
