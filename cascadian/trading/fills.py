"""How a paper order fills against the CLOB's order book, as Polymarket would fill a
taker: pure arithmetic on the book, no I/O, money in Decimal.

A buy walks the asks from the cheapest up, a sell the bids from the dearest down,
taking each level's size at that level's price until the order's dollars are spent
(buy) or its shares are sold (sell). A limit stops at its price. What is left over
decides the answer by the order's type:

- fill-or-kill (FOK, the default for market orders): all of it, or nothing;
- fill-and-kill (FAK): what the book holds, the rest cancelled;
- a limit order that does not rest (GTC here fills now or not at all): what the book
  holds at or better than its price, the rest cancelled, as FAK.

The taker fee is Polymarket's: shares x fee_rate x p x (1 - p) at each level's price
p (docs.polymarket.com/trading/fees), the rate read from the CLOB's /fee-rate. The
order must respect the market's tick size (a limit price on the grid) and minimum
order size (in shares), as the CLOB refuses otherwise. The SQL function that records
the fill checks cash, position and limits again under the portfolio's lock; this
module only says what the book would give.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, Literal

from cascadian.data import FilledLevel, TimeInForce

Side = Literal["buy", "sell"]
# Shares are kept to 1e-6 and dollars to 1e-8; the CLOB itself trades in 1e-6 units.
SHARE = Decimal("0.000001")
CENT_FRACTION = Decimal("0.00000001")


class BookMalformed(ValueError):
    """The CLOB's /book answer is not the shape it documents."""


@dataclass(frozen=True, slots=True)
class Level:
    price: Decimal
    size: Decimal  # shares resting at the price


@dataclass(frozen=True, slots=True)
class Book:
    """One token's order book: bids and asks, each best first."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    tick_size: Decimal
    min_order_size: Decimal


@dataclass(frozen=True, slots=True)
class OrderRequest:
    side: Side
    # A buy spends up to `amount_usd` (before fees); a sell sells `shares`.
    amount_usd: Decimal | None = None
    shares: Decimal | None = None
    time_in_force: TimeInForce = "FOK"
    limit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Fill:
    """What the book gives an order: filled, partly filled, or refused with a reason."""

    result: Literal["filled", "partly_filled", "refused"]
    levels: tuple[FilledLevel, ...] = ()
    refusal: str | None = None
    detail: str | None = None

    @property
    def shares(self) -> Decimal:
        return sum((lv.shares for lv in self.levels), Decimal(0))

    @property
    def notional_usd(self) -> Decimal:
        return sum((lv.shares * lv.price for lv in self.levels), Decimal(0))

    @property
    def fee_usd(self) -> Decimal:
        return sum((lv.fee_usd for lv in self.levels), Decimal(0))

    @property
    def average_price(self) -> Decimal | None:
        return self.notional_usd / self.shares if self.levels else None


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise BookMalformed(f"{what} is not a number: {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise BookMalformed(f"{what} is not a number: {value!r}") from exc
    if not number.is_finite():
        raise BookMalformed(f"{what} is not finite: {value!r}")
    return number


def _levels(raw: Any, side: str, best_first_descending: bool) -> tuple[Level, ...]:
    if not isinstance(raw, list):
        raise BookMalformed(f"the book's {side} is not a list")
    levels = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            raise BookMalformed(f"a level of the book's {side} is not an object")
        price = _decimal(entry.get("price"), f"a {side} price")
        size = _decimal(entry.get("size"), f"a {side} size")
        if not Decimal(0) < price < Decimal(1) or size < 0:
            raise BookMalformed(f"a {side} level is out of range: {price} x {size}")
        if size > 0:
            levels.append(Level(price, size))
    # The CLOB's docs disagree on the order of the levels; sort, best first.
    return tuple(sorted(levels, key=lambda lv: lv.price, reverse=best_first_descending))


def parse_book(payload: Any) -> Book:
    """The CLOB's GET /book answer: {bids: [{price, size}], asks: [...], tick_size,
    min_order_size}, numbers as strings. BookMalformed for anything else."""
    if not isinstance(payload, Mapping):
        raise BookMalformed("the book is not an object")
    tick = _decimal(payload.get("tick_size", "0.01"), "tick_size")
    minimum = _decimal(payload.get("min_order_size", "0"), "min_order_size")
    if tick <= 0 or minimum < 0:
        raise BookMalformed(f"tick_size {tick} or min_order_size {minimum} is out of range")
    return Book(
        bids=_levels(payload.get("bids"), "bids", best_first_descending=True),
        asks=_levels(payload.get("asks"), "asks", best_first_descending=False),
        tick_size=tick,
        min_order_size=minimum,
    )


def taker_fee(shares: Decimal, price: Decimal, fee_rate: Decimal) -> Decimal:
    """Polymarket's taker fee for `shares` at `price`: shares x rate x p x (1 - p)."""
    fee = shares * fee_rate * price * (Decimal(1) - price)
    return fee.quantize(CENT_FRACTION, rounding=ROUND_DOWN)


def _refused(refusal: str, detail: str) -> Fill:
    return Fill(result="refused", refusal=refusal, detail=detail)


def _check(order: OrderRequest, book: Book) -> Fill | None:
    if order.side == "buy" and (order.amount_usd is None or order.amount_usd <= 0):
        return _refused("invalid_order", "a buy needs an amount in dollars above 0")
    if order.side == "sell" and (order.shares is None or order.shares <= 0):
        return _refused("invalid_order", "a sell needs a number of shares above 0")
    if order.time_in_force == "limit" and order.limit_price is None:
        return _refused("invalid_order", "a limit order needs a limit price")
    if order.limit_price is not None:
        if not Decimal(0) < order.limit_price < Decimal(1):
            return _refused(
                "invalid_order", f"the limit price {order.limit_price} is not in (0, 1)"
            )
        if order.limit_price % book.tick_size != 0:
            return _refused(
                "tick_size",
                f"the limit price {order.limit_price} is not a multiple of the market's "
                f"tick size {book.tick_size}",
            )
    return None


def _walk(order: OrderRequest, book: Book, fee_rate: Decimal) -> tuple[list[FilledLevel], bool]:
    """The levels taken, and whether the order's whole amount was filled."""
    levels = book.asks if order.side == "buy" else book.bids
    want = order.amount_usd if order.side == "buy" else order.shares
    assert want is not None  # _check refused it otherwise
    taken: list[FilledLevel] = []
    for level in levels:
        if order.limit_price is not None and (
            level.price > order.limit_price
            if order.side == "buy"
            else level.price < order.limit_price
        ):
            break
        if order.side == "buy":
            shares = min(level.size, (want / level.price).quantize(SHARE, rounding=ROUND_DOWN))
            want -= shares * level.price
        else:
            shares = min(level.size, want)
            want -= shares
        if shares > 0:
            taken.append(FilledLevel(level.price, shares, taker_fee(shares, level.price, fee_rate)))
        # A buy's dollars left over below one share-unit at this price are spent.
        if want <= 0 or (order.side == "buy" and want < level.price * SHARE):
            return taken, True
    return taken, False


def fill(order: OrderRequest, book: Book, fee_rate: Decimal) -> Fill:
    """What `book` gives `order` now, at `fee_rate` (a fraction: 0.02 is 2%)."""
    refused = _check(order, book)
    if refused is not None:
        return refused
    taken, complete = _walk(order, book, fee_rate)
    got = sum((lv.shares for lv in taken), Decimal(0))
    if not taken:
        where = f" at or better than {order.limit_price}" if order.limit_price is not None else ""
        return _refused("no_liquidity", f"the book has nothing to {order.side}{where}")
    if got < book.min_order_size:
        return _refused(
            "min_order_size",
            f"{got} shares is below the market's minimum order of {book.min_order_size}",
        )
    if complete:
        return Fill(result="filled", levels=tuple(taken))
    if order.time_in_force == "FOK":
        return _refused(
            "fill_or_kill",
            f"the book holds {got} shares{' within the limit' if order.limit_price else ''}; "
            "a fill-or-kill order takes all or nothing",
        )
    return Fill(result="partly_filled", levels=tuple(taken))


def fills_of(levels: Sequence[FilledLevel]) -> list[dict[str, str]]:
    """The levels as the SQL function takes them (strings keep every digit)."""
    return [{"price": str(lv.price), "shares": str(lv.shares)} for lv in levels]
