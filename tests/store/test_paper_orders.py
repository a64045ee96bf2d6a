"""Paper orders, the paper book and the watchlist write that names what it added,
on both stores over the same real database (migrations/011)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from cascadian.data import PaperMark, PaperOrder, WatchlistEntry
from cascadian.ports import FullStore
from tests.factories import add_strategy, rows

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def order(workflow_id: uuid.UUID, side: str, amount: float, price: float, **kw: Any) -> PaperOrder:
    fields: dict[str, Any] = {
        "workflow_id": workflow_id,
        "execution_id": None,
        "node_id": "buy-1",
        "market_id": "m1",
        "market_question": "Will it?",
        "outcome": "Yes",
        "side": side,
        "order_type": "market",
        "amount_usd": amount,
        "price": price,
        "price_source": "clob",
    } | kw
    return PaperOrder(**fields)


async def test_orders_carry_the_position_and_a_sell_realises_at_average_cost(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    first = await any_store.record_paper_order(order(sid, "buy", 10, 0.5), NOW)
    assert (first.result, first.shares, first.held_shares) == ("filled", 20, 20)
    await any_store.record_paper_order(order(sid, "buy", 10, 0.25), NOW)
    sold = await any_store.record_paper_order(order(sid, "sell", 15, 0.5), NOW)
    # 60 shares cost $20 (1/3 each); 30 sold for $15 realise $5.
    assert (sold.shares, sold.held_shares, sold.realized_pnl) == (30, 30, pytest.approx(5))
    assert sold.order_id is not None and sold.created_at == NOW
    [row] = rows(db, "select * from cascadian_paper_orders where order_id = %s", sold.order_id)
    assert (row["side"], float(row["position_cost"])) == ("sell", pytest.approx(10))


async def test_selling_more_than_is_held_records_nothing(any_store: FullStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None)
    await any_store.record_paper_order(order(sid, "buy", 5, 0.5), NOW)
    refused = await any_store.record_paper_order(order(sid, "sell", 50, 0.5), NOW)
    assert (refused.result, refused.shares, refused.held_shares) == ("insufficient_shares", 100, 10)
    assert len(rows(db, "select * from cascadian_paper_orders")) == 1


async def test_the_book_values_positions_at_the_marks_or_the_last_order_price(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    await any_store.record_paper_order(order(sid, "buy", 10, 0.5), NOW)
    await any_store.record_paper_order(order(sid, "buy", 4, 0.4, market_id="m2", outcome="No"), NOW)
    marks = [PaperMark("m1", "Yes", 0.6, "clob")]
    book = await any_store.paper_book(sid, marks, 1)
    assert book is not None
    by_market = {p.market_id: p for p in book.positions}
    assert (by_market["m1"].mark_price, by_market["m1"].mark_source) == (0.6, "clob")
    assert by_market["m1"].unrealized_pnl == pytest.approx(20 * 0.6 - 10)
    assert (by_market["m2"].mark_price, by_market["m2"].mark_source) == (0.4, "last_order")
    assert book.cost_basis == 14 and book.total_orders == 2 and len(book.orders) == 1
    assert book.orders[0].market_id == "m2", "newest first"
    assert book.total_pnl == pytest.approx(2)
    assert await any_store.paper_book(uuid.uuid4(), [], 10) is None


async def test_a_paper_order_with_no_price_is_refused(any_store: FullStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None)
    with pytest.raises(Exception, match="price"):
        await any_store.record_paper_order(order(sid, "buy", 10, 0), NOW)
    assert rows(db, "select * from cascadian_paper_orders") == []


async def test_watching_markets_names_the_added_and_the_duplicates(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    first = await any_store.watch_markets(sid, None, [WatchlistEntry("b"), WatchlistEntry("a")])
    assert (first.added, first.duplicates) == (["b", "a"], [])
    again = await any_store.watch_markets(sid, None, [WatchlistEntry("c"), WatchlistEntry("a")])
    assert (again.added, again.duplicates) == (["c"], ["a"])
