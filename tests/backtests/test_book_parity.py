"""A backtest's book and the live SQL book agree: random orders, marks and days
(hypothesis) through the backtest's BacktestBook and through the real paper order
path (PaperExecutor -> cascadian_place_paper_order_v4, marks through
cascadian_mark_portfolios_v3) give the same fills, refusals, cash, positions and
daily-loss halts, to the last decimal, on both schemas and both transports."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cascadian.backtests.book import BacktestBook
from cascadian.data import MarketBook, OrderIntent, PositionMark, TradingLimits
from cascadian.ports import FullStore
from cascadian.trading.executor import PaperExecutor
from tests.factories import add_strategy, rows
from tests.store.test_trading_book_sql import limits

pytestmark = pytest.mark.both_schemas

START = datetime(2026, 6, 1, 20, 0, tzinfo=UTC)
PRICE = st.decimals(min_value=Decimal("0.05"), max_value=Decimal("0.95"), places=2)
# Books around a price, mostly deep enough to fill: the limits, not the book, should
# decide most orders.
DEPTH = st.sampled_from(["deep"] * 6 + ["thin", "empty"])
BUY = st.tuples(
    st.just("order"),
    st.just("buy"),
    st.integers(0, 1),  # the market
    st.decimals(min_value=Decimal("1"), max_value=Decimal("200"), places=2),
    PRICE,
    DEPTH,
    st.sampled_from(["FOK", "FAK"]),
)
SELL = st.tuples(
    st.just("order"),
    st.just("sell"),
    st.integers(0, 1),
    st.decimals(min_value=Decimal("1"), max_value=Decimal("40"), places=2),
    PRICE,
    DEPTH,
    st.sampled_from(["FOK", "FAK"]),
)
MARK = st.tuples(st.just("mark"), st.integers(0, 1), PRICE)
STEP = st.tuples(st.one_of(BUY, SELL, MARK), st.integers(min_value=1, max_value=600))  # minutes


def maybe(values: st.SearchStrategy[int]) -> st.SearchStrategy[int | None]:
    return st.none() | values


LIMITS = st.fixed_dictionaries(
    {
        "initial_bankroll": maybe(st.integers(min_value=100, max_value=3_000)),
        "max_order_usd": maybe(st.integers(min_value=5, max_value=200)),
        "max_position_usd": maybe(st.integers(min_value=5, max_value=800)),
        "max_open_positions": maybe(st.integers(min_value=1, max_value=2)),
        "daily_loss_usd": st.integers(min_value=1, max_value=60) | st.none(),
        "min_cash_reserve_usd": maybe(st.integers(min_value=0, max_value=100)),
    },
).map(lambda d: {k: v for k, v in d.items() if v is not None})


def buy(market: int, usd: str, price: str) -> tuple[Any, int]:
    return ("order", "buy", market, Decimal(usd), Decimal(price), "deep", "FOK"), 60


def sell(market: int, usd: str, price: str) -> tuple[Any, int]:
    return ("order", "sell", market, Decimal(usd), Decimal(price), "deep", "FOK"), 60


def mark(market: int, price: str) -> tuple[Any, int]:
    return ("mark", market, Decimal(price)), 60


def book_of(price: Decimal, depth: str) -> dict[str, Any]:
    """The CLOB's GET /book answer around `price`, numbers as strings."""
    cent = Decimal("0.01")
    size = {"deep": Decimal(5000), "thin": Decimal(7), "empty": Decimal(0)}[depth]
    bids = [(price - cent, size), (max(cent, price - 5 * cent), size)]
    asks = [(price + cent, size), (min(Decimal("0.99"), price + 5 * cent), size)]
    return {
        "bids": [{"price": str(p), "size": str(s)} for p, s in bids],
        "asks": [{"price": str(p), "size": str(s)} for p, s in asks],
        "tick_size": "0.01",
        "min_order_size": "1",
    }


def sql_state(db: psycopg.Connection[Any], sid: uuid.UUID) -> tuple[Any, ...]:
    [f] = rows(
        db,
        "select available_cash, halted_at is not null as halted from "
        "cascadian_paper_portfolios where workflow_id = %s",
        sid,
    ) or [{"available_cash": None, "halted": False}]
    held = rows(
        db,
        "select market_id, outcome, shares, cost from cascadian_positions "
        "where workflow_id = %s and shares > 0",
        sid,
    )
    return (
        f["available_cash"],
        f["halted"],
        {(r["market_id"], r["outcome"]): (r["shares"], r["cost"]) for r in held},
    )


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Cases random sequences reach seldom, each named by what it proves.
@example(  # the day's start is read from the last equity point before it
    {"daily_loss_usd": 30},
    [
        buy(0, "100", "0.50"),
        mark(0, "0.45"),
        (mark(0, "0.40")[0], 20 * 60),  # the next day, in New York
        mark(0, "0.33"),
        mark(0, "0.30"),
        mark(0, "0.28"),
        buy(1, "5", "0.5"),
    ],
    Decimal("0.02"),
    "America/New_York",
)
@example(  # a losing sell stands and halts; the next order is refused
    {"daily_loss_usd": 20},
    [buy(0, "100", "0.50"), sell(0, "30", "0.30"), sell(0, "5", "0.30")],
    Decimal("0.02"),
    "UTC",
)
@example(  # a held position may grow at the most open positions; a new one may not
    {"max_open_positions": 1},
    [buy(0, "10", "0.5"), buy(0, "10", "0.5"), buy(1, "10", "0.5")],
    Decimal(0),
    "UTC",
)
@given(
    settings_=LIMITS,
    steps=st.lists(STEP, min_size=3, max_size=16),
    fee_rate=st.sampled_from([Decimal(0), Decimal("0.02"), Decimal("0.1")]),
    timezone=st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]),
)
async def test_random_orders_fill_refuse_and_halt_alike_in_the_backtest_and_the_sql_book(
    schema: str,
    any_store: FullStore,
    db: psycopg.Connection[Any],
    settings_: dict[str, Any],
    steps: list[Any],
    fee_rate: Decimal,
    timezone: str,
) -> None:
    sid = add_strategy(db, next_execution_at=None, timezone=timezone)
    if settings_:
        limits(db, sid, **settings_)
    # Marks are shared by every strategy: these markets are this example's alone.
    markets = [f"m{n}-{uuid.uuid4().hex[:8]}" for n in range(2)]
    live = PaperExecutor(any_store)
    chosen = {k: Decimal(v) if k != "max_open_positions" else v for k, v in settings_.items()}
    backtest = BacktestBook(TradingLimits(**chosen), timezone)
    assert backtest.cash == Decimal(settings_.get("initial_bankroll", 10_000))
    now = START
    for n, (step, minutes) in enumerate(steps):
        now += timedelta(minutes=minutes)
        if step[0] == "mark":
            _, m, price = step
            await any_store.mark_portfolios(
                [PositionMark(markets[m], "Yes", price)],
                now,
                min_gap=timedelta(0),
                keep_after=None,
                prune_limit=0,
            )
            backtest.mark(now, {(markets[m], "Yes"): price})
        else:
            _, side, m, amount, price, depth, tif = step
            intent = OrderIntent(
                sid, None, f"n{n}", markets[m], None, "Yes", side, amount, tif, slot=f"s{n}"
            )
            market = MarketBook(book_of(price, depth), fee_rate, "clob")
            a = await live.place(intent, market, now)
            b = await backtest.place(intent, market, now)
            assert (b.result, b.refusal) == (a.result, a.refusal), (n, a.detail, b.detail)
            assert (b.shares, b.notional_usd, b.fee_usd) == (a.shares, a.notional_usd, a.fee_usd)
        cash, halted, positions = sql_state(db, sid)
        ours = {k: (p.shares, p.cost) for k, p in backtest.positions.items()}
        assert (backtest.halt is not None) == halted, n
        assert positions == ours, n
        if cash is not None:
            assert backtest.cash == cash, n
