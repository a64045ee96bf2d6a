"""The paper executor fills an order against a real-shaped CLOB book and the store
records it once, limits checked, on both schemas and through both transports
(psycopg and PostgREST); without a store (a dry run) it records nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from cascadian.data import MarketBook, OrderIntent, OrderOutcome, TradingHalt
from cascadian.errors import NodeError
from cascadian.ports import FullStore
from cascadian.trading.executor import PaperExecutor
from tests.factories import add_strategy, rows
from tests.trading.test_fills import BOOK

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
D = Decimal
MARKET = MarketBook(BOOK, D("0.02"), "clob")


def intent(sid: uuid.UUID, side: str = "buy", amount: str = "100", **kw: Any) -> OrderIntent:
    fields: dict[str, Any] = {
        "workflow_id": sid,
        "execution_id": None,
        "node_id": f"{side}-1",
        "market_id": "253591",
        "market_question": "Will it?",
        "outcome": "Yes",
        "side": side,
        "amount_usd": D(amount),
        "slot": "slot-1",
    } | kw
    return OrderIntent(**fields)


@pytest.mark.both_schemas
async def test_a_buy_is_filled_level_by_level_with_its_fee_and_recorded_once(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    executor = PaperExecutor(any_store)
    placed = await executor.place(intent(sid), MARKET, NOW)
    assert (placed.result, placed.recorded, placed.replayed) == ("filled", True, False)
    assert placed.shares == D("190.909090")
    # 40 x 0.02 x 0.5 x 0.5 + 100 x 0.02 x 0.52 x 0.48 + 50.90909 x 0.02 x 0.55 x 0.45
    assert placed.fee_usd == D("0.2") + D("0.4992") + D("0.25199999")
    assert placed.available_cash == D("10000") - placed.notional_usd - placed.fee_usd
    again = await executor.place(intent(sid, amount="5000"), MARKET, NOW)
    assert (again.replayed, again.order_id, again.shares) == (True, placed.order_id, placed.shares)
    assert len(rows(db, "select * from cascadian_trading_orders")) == 1


@pytest.mark.both_schemas
async def test_an_order_the_book_or_a_limit_refuses_is_an_outcome_recorded_as_refused(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    db.execute(
        "select cascadian_set_trading_limits_v2(%s, %s, %s)",
        (sid, Jsonb({"max_order_usd": 50}), NOW),
    )
    executor = PaperExecutor(any_store)
    too_big = await executor.place(intent(sid, node_id="a"), MARKET, NOW)
    assert (too_big.result, too_big.refusal) == ("refused", "max_order_usd")
    unfillable = await executor.place(intent(sid, "sell", "10", node_id="b"), MARKET, NOW)
    assert (unfillable.result, unfillable.refusal) == ("refused", "insufficient_shares")
    fok = await executor.place(
        intent(sid, amount="45", node_id="c"),
        MarketBook(BOOK | {"asks": [{"price": "0.5", "size": "10"}]}, D("0.02"), "clob"),
        NOW,
    )
    assert (fok.result, fok.refusal) == ("refused", "fill_or_kill")
    recorded = rows(db, "select node_id, refusal from cascadian_trading_orders order by id")
    assert [(r["node_id"], r["refusal"]) for r in recorded] == [
        ("a", "max_order_usd"),
        ("b", "insufficient_shares"),
        ("c", "fill_or_kill"),
    ]
    assert rows(db, "select * from cascadian_paper_orders") == []


async def test_a_sell_raises_its_dollars_at_the_best_bid(
    store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    executor = PaperExecutor(store)
    await executor.place(intent(sid, amount="100"), MARKET, NOW)
    sold = await executor.place(intent(sid, "sell", "48", node_id="sell"), MARKET, NOW)
    # $48 at the best bid (0.48) is 100 shares, all at 0.48.
    assert (sold.result, sold.shares, sold.notional_usd) == ("filled", D("100"), D("48"))
    assert sold.position_shares == D("90.909090")


async def test_a_dry_run_records_nothing_and_says_what_it_would_have_filled(
    db: psycopg.Connection[Any],
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    would = await PaperExecutor(None).place(intent(sid, amount="20"), MARKET, NOW)
    assert (would.result, would.recorded, would.shares, would.fee_usd) == (
        "filled",
        False,
        D("40"),
        D("0.2"),
    )
    assert rows(db, "select * from cascadian_trading_orders") == []


async def test_a_book_not_in_the_clobs_shape_fails_the_node_naming_the_market() -> None:
    with pytest.raises(NodeError, match="253591"):
        await PaperExecutor(None).place(
            intent(uuid.uuid4()), MarketBook({"asks": "x"}, D(0), "default"), NOW
        )


class Heard:
    """A TradingObserver that keeps what it hears."""

    def __init__(self) -> None:
        self.placed: list[tuple[str, str]] = []
        self.heard: list[tuple[OrderIntent, TradingHalt]] = []

    def order_placed(self, order: OrderIntent, outcome: OrderOutcome) -> None:
        self.placed.append((order.node_id, outcome.result))

    def trading_halted(self, order: OrderIntent, halt: TradingHalt) -> None:
        self.heard.append((order, halt))


@pytest.mark.both_schemas
async def test_each_order_and_a_halt_are_told_to_the_observers_once(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="Loser")
    db.execute(
        "select cascadian_set_trading_limits_v2(%s, %s, %s)",
        (sid, Jsonb({"daily_loss_usd": "1"}), NOW),
    )
    halts = Heard()
    executor = PaperExecutor(any_store, [halts])
    await executor.place(intent(sid, amount="100"), MARKET, NOW)
    # Sold at the bids below what the asks cost: a loss of more than $1.
    sold = await executor.place(intent(sid, "sell", "48", node_id="sell"), MARKET, NOW)
    replayed = await executor.place(intent(sid, "sell", "48", node_id="sell"), MARKET, NOW)

    assert sold.result == "filled" and sold.halted is not None
    assert (sold.halted.reason, sold.halted.strategy_name, sold.halted.auto_paused) == (
        "daily_loss_usd",
        "Loser",
        True,
    )
    assert (replayed.replayed, replayed.halted) == (True, sold.halted)
    assert [(o.node_id, h) for o, h in halts.heard] == [("sell", sold.halted)]
    assert halts.placed == [("buy-1", "filled"), ("sell", "filled")]
    [row] = rows(db, "select status, auto_run from workflow_sessions")
    assert (row["status"], row["auto_run"]) == ("error", False)


@pytest.mark.both_schemas
async def test_orders_with_keys_are_several_per_node_and_run_each_recorded_once(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    executor = PaperExecutor(any_store)
    first = await executor.place(intent(sid, amount="10", order_key="copy:1"), MARKET, NOW)
    second = await executor.place(intent(sid, amount="20", order_key="copy:2"), MARKET, NOW)
    again = await executor.place(intent(sid, amount="30", order_key="copy:1"), MARKET, NOW)
    assert [o.replayed for o in (first, second, again)] == [False, False, True]
    assert again.order_id == first.order_id and again.shares == first.shares
    keys = rows(db, "select order_key from cascadian_trading_orders order by id")
    assert [k["order_key"] for k in keys] == ["copy:1", "copy:2"]
