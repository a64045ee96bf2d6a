"""A paper order fills against the CLOB's book level by level, with Polymarket's taker
fee, its order types, and the market's tick size and minimum order size
(cascadian/trading/fills.py). Books are the CLOB's real /book shape."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cascadian.trading.fills import BookMalformed, OrderRequest, fill, parse_book, taker_fee

D = Decimal
# As GET https://clob.polymarket.com/book?token_id=... answers it (levels as strings;
# the docs disagree on their order, so the asks here come worst first).
BOOK: dict[str, Any] = {
    "market": "0xbd31dc8a20211944f6b70f31557f1001557b59905b7738480ca09bd4532f84af",
    "asset_id": "52114319501245915516055106046884209969926127482827954674443846427813813222426",
    "timestamp": "1761000000000",
    "hash": "0xabc123",
    "bids": [
        {"price": "0.46", "size": "300"},
        {"price": "0.48", "size": "120.5"},
        {"price": "0.47", "size": "200"},
    ],
    "asks": [
        {"price": "0.55", "size": "1000"},
        {"price": "0.50", "size": "40"},
        {"price": "0.52", "size": "100"},
    ],
    "min_order_size": "5",
    "tick_size": "0.01",
    "neg_risk": False,
}
RATE = D("0.02")


def test_a_buy_walks_the_asks_from_the_cheapest_and_pays_each_levels_price() -> None:
    got = fill(OrderRequest("buy", amount_usd=D("100")), parse_book(BOOK), RATE)
    assert got.result == "filled"
    # $20 buys 40 at 0.50, $52 buys 100 at 0.52, the last $28 buys 50.909090 at 0.55.
    assert [(lv.price, lv.shares) for lv in got.levels] == [
        (D("0.50"), D("40")),
        (D("0.52"), D("100")),
        (D("0.55"), D("50.909090")),
    ]
    assert got.notional_usd == pytest.approx(D("99.9999995"), abs=D("0.000001"))


def test_the_taker_fee_is_shares_times_rate_times_p_times_one_minus_p_at_each_level() -> None:
    got = fill(OrderRequest("buy", amount_usd=D("20")), parse_book(BOOK), RATE)
    assert got.fee_usd == D("40") * RATE * D("0.5") * D("0.5") == D("0.2")
    assert taker_fee(D("100"), D("0.9"), RATE) == D("0.18")


def test_a_sell_walks_the_bids_from_the_dearest() -> None:
    got = fill(OrderRequest("sell", shares=D("200")), parse_book(BOOK), RATE)
    assert [(lv.price, lv.shares) for lv in got.levels] == [
        (D("0.48"), D("120.5")),
        (D("0.47"), D("79.5")),
    ]


def test_fill_or_kill_refuses_what_the_book_cannot_fill_whole() -> None:
    got = fill(OrderRequest("sell", shares=D("1000")), parse_book(BOOK), RATE)
    assert (got.result, got.refusal, got.levels) == ("refused", "fill_or_kill", ())
    assert "620.5 shares" in (got.detail or "")


def test_fill_and_kill_takes_what_the_book_holds_and_cancels_the_rest() -> None:
    got = fill(OrderRequest("sell", shares=D("1000"), time_in_force="FAK"), parse_book(BOOK), RATE)
    assert (got.result, got.shares) == ("partly_filled", D("620.5"))


def test_a_limit_order_stops_at_its_price_and_does_not_rest() -> None:
    order = OrderRequest("buy", amount_usd=D("1000"), time_in_force="limit", limit_price=D("0.52"))
    got = fill(order, parse_book(BOOK), RATE)
    assert (got.result, got.shares, got.average_price) == (
        "partly_filled",
        D("140"),
        (D("20") + D("52")) / D("140"),
    )
    beyond = OrderRequest("buy", amount_usd=D("10"), time_in_force="limit", limit_price=D("0.40"))
    assert fill(beyond, parse_book(BOOK), RATE).refusal == "no_liquidity"


def test_a_limit_price_off_the_tick_grid_is_refused_with_the_tick_size() -> None:
    order = OrderRequest("buy", amount_usd=D("10"), time_in_force="limit", limit_price=D("0.515"))
    got = fill(order, parse_book(BOOK), RATE)
    assert (got.refusal, "0.01" in (got.detail or "")) == ("tick_size", True)


def test_an_order_below_the_minimum_size_is_refused() -> None:
    got = fill(OrderRequest("buy", amount_usd=D("1")), parse_book(BOOK), RATE)
    assert (got.result, got.refusal) == ("refused", "min_order_size")
    assert "minimum order of 5" in (got.detail or "")


def test_an_empty_side_of_the_book_gives_no_liquidity() -> None:
    got = fill(OrderRequest("buy", amount_usd=D("10")), parse_book(BOOK | {"asks": []}), RATE)
    assert got.refusal == "no_liquidity"


@pytest.mark.parametrize(
    "payload",
    [
        [],
        BOOK | {"asks": "none"},
        BOOK | {"asks": [{"price": "abc", "size": "1"}]},
        BOOK | {"asks": [{"price": "1.5", "size": "1"}]},
        BOOK | {"bids": [{"price": "0.5", "size": "-1"}]},
        BOOK | {"tick_size": "0"},
        BOOK | {"asks": [{"price": True, "size": "1"}]},
    ],
)
def test_a_book_not_in_the_clobs_shape_is_refused_clearly(payload: Any) -> None:
    with pytest.raises(BookMalformed):
        parse_book(payload)


def test_an_order_without_its_amount_is_refused_not_raised() -> None:
    assert fill(OrderRequest("buy"), parse_book(BOOK), RATE).refusal == "invalid_order"
    assert (
        fill(OrderRequest("sell", shares=D(0)), parse_book(BOOK), RATE).refusal == "invalid_order"
    )
