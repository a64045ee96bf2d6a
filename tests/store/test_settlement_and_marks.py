"""Settlement and marks (migrations/025) on both schemas and through both transports:
a resolved market settles each open position once at its payout, under the
portfolio's lock, as an entry of its own with its P&L; marks value portfolios at
their tokens' best bids and write a compact, pruned equity curve."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from cascadian.data import PositionMark
from cascadian.ports import FullStore
from tests.factories import add_strategy, rows
from tests.store.test_trading_book_sql import place, portfolio

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
D = Decimal
GAP = timedelta(minutes=5)


def buy(
    db: psycopg.Connection[Any],
    sid: uuid.UUID,
    *,
    market: str = "m1",
    outcome: str = "Yes",
    price: str = "0.40",
    shares: str = "100",
    slot: str = "slot-1",
) -> dict[str, Any]:
    return place(
        db,
        sid,
        "buy",
        [(price, shares)],
        market=market,
        outcome=outcome,
        slot=slot,
        node=f"buy-{market}-{outcome}",
    )


async def mark(
    store: FullStore,
    *marks: tuple[str, str, str],
    now: datetime = NOW,
    keep_after: datetime | None = None,
    prune_limit: int = 1000,
) -> Any:
    return await store.mark_portfolios(
        [PositionMark(m, o, D(p), token_id=f"tok-{m}-{o}") for m, o, p in marks],
        now,
        min_gap=GAP,
        keep_after=keep_after,
        prune_limit=prune_limit,
    )


@pytest.mark.both_schemas
async def test_a_winning_position_settles_at_one_into_cash_with_its_pnl_once(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    buy(db, sid, price="0.40", shares="100")  # costs 40
    later = NOW + timedelta(days=2)

    done = await any_store.settle_market("m1", {"Yes": D(1), "No": D(0)}, later)

    [settled] = done.settled
    assert (settled.workflow_id, settled.outcome, settled.shares) == (sid, "Yes", D(100))
    assert (settled.price, settled.payout, settled.realized_pnl) == (D(1), D(100), D(60))
    book = portfolio(db, sid)
    assert D(str(book["available_cash"])) == D(10060)
    assert D(str(book["deployed_capital"])) == 0 and book["open_positions"] == 0
    assert D(str(book["realized_pnl"])) == D(60)
    assert (book["winning_trades"], book["losing_trades"]) == (1, 0)
    entry = rows(
        db,
        "select side, result, slot, node_id, shares, notional_usd, realized_pnl "
        "from cascadian_trading_orders where result = 'settled'",
    )
    assert entry == [
        {
            "side": "settlement",
            "result": "settled",
            "slot": "settlement:m1",
            "node_id": "Yes",
            "shares": D(100),
            "notional_usd": D(100),
            "realized_pnl": D(60),
        }
    ]
    [paper] = rows(
        db,
        "select side, price, position_shares from cascadian_paper_orders where side = 'settlement'",
    )
    assert paper == {"side": "settlement", "price": D(1), "position_shares": D(0)}

    again = await any_store.settle_market("m1", {"Yes": D(1), "No": D(0)}, later)

    assert again.settled == ()
    assert D(str(portfolio(db, sid)["available_cash"])) == D(10060)
    assert len(rows(db, "select 1 from cascadian_trading_orders where result = 'settled'")) == 1


@pytest.mark.both_schemas
async def test_a_losing_position_settles_at_zero_as_a_loss_and_frees_its_capital(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    buy(db, sid, outcome="Yes", price="0.70", shares="10")  # costs 7

    done = await any_store.settle_market("m1", {"yes": D(0), "no": D(1)}, NOW)

    assert [(s.payout, s.realized_pnl) for s in done.settled] == [(D(0), D(-7))]
    book = portfolio(db, sid)
    assert D(str(book["available_cash"])) == D(9993)
    assert (book["losing_trades"], D(str(book["largest_loss"]))) == (1, D(7))
    assert D(str(book["deployed_capital"])) == 0


@pytest.mark.both_schemas
async def test_a_fifty_fifty_resolution_pays_half_to_every_outcome_held(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    a = add_strategy(db, next_execution_at=None)
    b = add_strategy(db, next_execution_at=None)
    buy(db, a, outcome="Yes", price="0.80", shares="10")  # costs 8, pays 5
    buy(db, b, outcome="No", price="0.20", shares="10")  # costs 2, pays 5

    done = await any_store.settle_market("m1", {"Yes": D("0.5"), "No": D("0.5")}, NOW)

    by_strategy = {s.workflow_id: s.realized_pnl for s in done.settled}
    assert by_strategy == {a: D(-3), b: D(3)}
    assert D(str(portfolio(db, a)["available_cash"])) == D(10000) - 8 + 5
    assert D(str(portfolio(db, b)["available_cash"])) == D(10000) - 2 + 5


@pytest.mark.both_schemas
async def test_a_settled_position_cannot_be_sold_and_a_new_buy_starts_a_new_position(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    buy(db, sid, price="0.40", shares="100")
    await any_store.settle_market("m1", {"Yes": D(1), "No": D(0)}, NOW)

    sold = place(db, sid, "sell", [("0.50", "10")], slot="slot-2", node="sell-1")

    assert (sold["result"], sold["refusal"]) == ("refused", "insufficient_shares")
    assert await any_store.open_markets() == []


@pytest.mark.both_schemas
async def test_an_outcome_without_a_payout_is_left_open_and_named(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    buy(db, sid, outcome="Maybe", price="0.40", shares="10")

    done = await any_store.settle_market("m1", {"Yes": D(1), "No": D(0)}, NOW)

    assert done.settled == () and done.unpriced == ((sid, "Maybe"),)
    assert [m.market_id for m in await any_store.open_markets()] == ["m1"]


@pytest.mark.both_schemas
def test_a_bad_settlement_is_refused_and_changes_nothing(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    buy(db, sid)
    for prices in ("{}", '{"Yes": "1.5"}', '{"Yes": "-1"}', '{"Yes": "lots"}', "[]"):
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            db.execute("select cascadian_settle_market_v2('m1', %s::jsonb, %s)", (prices, NOW))
    assert rows(db, "select 1 from cascadian_trading_orders where result = 'settled'") == []
    assert D(str(portfolio(db, sid)["available_cash"])) == D(10000) - D(40)


@pytest.mark.both_schemas
async def test_open_markets_lists_each_market_held_once_with_its_outcomes(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    a = add_strategy(db, next_execution_at=None)
    b = add_strategy(db, next_execution_at=None)
    buy(db, a, market="m1", outcome="Yes")
    buy(db, b, market="m1", outcome="No")
    buy(db, b, market="m2", outcome="Yes")
    place(db, b, "sell", [("0.5", "100")], market="m2", slot="slot-2", node="sell-m2")

    found = await any_store.open_markets()

    assert [(m.market_id, sorted(m.outcomes)) for m in found] == [("m1", ["No", "Yes"])]


@pytest.mark.both_schemas
async def test_marks_value_positions_at_the_best_bid_and_write_an_equity_point(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    buy(db, sid, market="m1", price="0.40", shares="100")  # 40
    buy(db, sid, market="m2", price="0.50", shares="20")  # 10, never marked

    result = await mark(any_store, ("m1", "Yes", "0.35"), ("m1", "No", "0.60"))

    assert (result.marks, result.portfolios, result.points) == (2, 1, 1)
    curve = await any_store.equity_curve(sid, None, 100)
    assert curve is not None
    # m1 at its bid (35), m2 at its cost (10) until marked.
    assert (curve.positions_value, curve.unrealized_pnl) == (D(45), D(-5))
    assert (curve.cash, curve.equity) == (D(9950), D(9995))
    [point] = curve.points
    assert (point.at, point.equity, point.unrealized_pnl) == (NOW, D(9995), D(-5))
    marked = {p.market_id: p.mark_price for p in curve.positions}
    assert marked == {"m1": D("0.35"), "m2": None}
    assert D(str(portfolio(db, sid)["max_drawdown"])) == D(5)


@pytest.mark.both_schemas
async def test_a_strategy_gets_at_most_one_point_per_gap_and_old_points_are_pruned(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    buy(db, sid)
    for minutes in (0, 1, 2, 6, 12):
        await mark(any_store, ("m1", "Yes", "0.41"), now=NOW + timedelta(minutes=minutes))
    curve = await any_store.equity_curve(sid, None, 100)
    assert curve is not None
    assert [p.at - NOW for p in curve.points] == [
        timedelta(0),
        timedelta(minutes=6),
        timedelta(minutes=12),
    ]

    pruned = await mark(
        any_store,
        ("m1", "Yes", "0.42"),
        now=NOW + timedelta(minutes=20),
        keep_after=NOW + timedelta(minutes=10),
        prune_limit=1,
    )

    assert (pruned.points, pruned.pruned) == (1, 1)
    curve = await any_store.equity_curve(sid, NOW + timedelta(minutes=1), 2)
    assert curve is not None
    assert [p.at - NOW for p in curve.points] == [timedelta(minutes=12), timedelta(minutes=20)]


@pytest.mark.both_schemas
async def test_one_mark_row_per_outcome_serves_every_strategy_holding_it(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    ids = [add_strategy(db, next_execution_at=None) for _ in range(3)]
    for sid in ids:
        buy(db, sid)

    result = await mark(any_store, ("m1", "Yes", "0.5"))

    assert (result.marks, result.portfolios, result.points) == (1, 3, 3)
    assert rows(db, "select count(*) as n from cascadian_marks") == [{"n": 1}]


@pytest.mark.both_schemas
async def test_a_settlement_writes_a_point_with_the_cash_it_paid(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    buy(db, sid)
    await mark(any_store, ("m1", "Yes", "0.45"))

    await any_store.settle_market("m1", {"Yes": D(1), "No": D(0)}, NOW + timedelta(minutes=1))

    curve = await any_store.equity_curve(sid, None, 10)
    assert curve is not None
    assert [p.equity for p in curve.points] == [D(10005), D(10060)]
    assert curve.positions == () and curve.equity == D(10060)


@pytest.mark.both_schemas
async def test_the_curve_of_a_strategy_that_never_traded_is_its_bankroll(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    curve = await any_store.equity_curve(sid, None, 10)
    assert curve is not None
    assert (curve.points, curve.equity, curve.cash) == ((), D(10000), D(10000))
    assert await any_store.equity_curve(uuid.uuid4(), None, 10) is None


@pytest.mark.both_schemas
def test_a_bad_mark_is_refused_and_changes_nothing(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    buy(db, sid)
    for marks in (
        "{}",
        '[{"market_id": "m1", "outcome": "Yes", "price": "1.2"}]',
        '[{"market_id": "m1", "price": "0.5"}]',
    ):
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            db.execute(
                "select cascadian_mark_portfolios_v2(%s::jsonb, %s, '5 minutes', null, 0)",
                (marks, NOW),
            )
    assert rows(db, "select 1 from cascadian_marks") == []
    assert rows(db, "select 1 from cascadian_equity_points") == []


@pytest.mark.both_schemas
def test_positions_opened_before_025_are_tracked_from_their_latest_order(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    buy(db, sid, shares="100")
    place(db, sid, "sell", [("0.5", "40")], slot="slot-2", node="sell-1")
    [position] = rows(db, "select shares, cost from cascadian_positions")
    assert position == {"shares": D(60), "cost": D(24)}


@pytest.mark.both_schemas
async def test_a_settlement_point_never_holds_back_the_marks_point_of_the_same_step(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    buy(db, sid, market="m1")  # 40, resolves Yes
    buy(db, sid, market="m2", price="0.50", shares="20")  # 10, still trading

    await any_store.settle_market("m1", {"Yes": D(1), "No": D(0)}, NOW)
    result = await mark(any_store, ("m2", "Yes", "0.60"), now=NOW + timedelta(seconds=1))

    assert result.points == 1
    curve = await any_store.equity_curve(sid, None, 10)
    assert curve is not None
    # Settled at the cost of m2 (10), then m2 marked at 12.
    assert [p.equity for p in curve.points] == [D(10060), D(10062)]
