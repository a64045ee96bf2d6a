"""The paper order executor: what an order node's order becomes (the OrderExecutor
port). Nothing is ever sent to Polymarket.

It fills the order against the book it is given (fills.py), unless the order is
above its node's own cap (refused `node_max_order`), and hands the fill, or the
refusal, to the store, which checks the kill switch, the limits, the
cash and the position under the portfolio's lock and records the order once per
strategy, slot and node (or per strategy and order key). An order that breaches the
daily loss limit halts and auto-pauses its strategy in the same transaction; the
executor tells its observers (metrics, the operators' alerts) of each order it
records and of a halt, once: a replay of that order does not tell them again.
Without a store (a dry run) it records nothing and answers what the book would have
given, fee included. A live executor would sit behind the same port, after the same
SQL checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_DOWN

from cascadian.data import MarketBook, OrderIntent, OrderOutcome, PaperPlacement
from cascadian.errors import NodeError
from cascadian.ports import TradingObserver, TradingStore
from cascadian.trading.fills import (
    SHARE,
    Book,
    BookMalformed,
    Fill,
    OrderRequest,
    fill,
    parse_book,
)


class PaperExecutor:
    def __init__(
        self, store: TradingStore | None, observers: Sequence[TradingObserver] = ()
    ) -> None:
        """`store` None: a dry run, which records nothing."""
        self.store = store
        self.observers = tuple(observers)

    async def place(self, order: OrderIntent, market: MarketBook, now: datetime) -> OrderOutcome:
        try:
            book = parse_book(market.book)
        except BookMalformed as exc:
            raise NodeError(f"the CLOB's order book for {order.market_id!r}: {exc}") from exc
        if order.node_max_usd is not None and order.amount_usd > order.node_max_usd:
            found = Fill(
                result="refused",
                refusal="node_max_order",
                detail=f"the order is ${order.amount_usd}; the node's maximum is "
                f"${order.node_max_usd}",
            )
        else:
            found = fill(_request(order, book), book, market.fee_rate)
        if self.store is None:
            return _unrecorded(found)
        placement = PaperPlacement(
            order,
            found.result,
            levels=found.levels,
            refusal=found.refusal,
            detail=found.detail,
        )
        outcome = await self.store.place_paper_order(placement, now)
        if not outcome.replayed:
            for observer in self.observers:
                observer.order_placed(order, outcome)
                if outcome.halted is not None:
                    observer.trading_halted(order, outcome.halted)
        return outcome


def _request(order: OrderIntent, book: Book) -> OrderRequest:
    """A buy spends its dollars; a sell sells the shares its dollars buy at the best
    bid (the walk down the bids may raise less). An empty side sells its dollars'
    worth at any price, which the walk answers as no liquidity."""
    shares = None
    if order.side == "sell":
        best = book.bids[0].price if book.bids else None
        shares = order.amount_usd if best is None else order.amount_usd / best
        shares = shares.quantize(SHARE, rounding=ROUND_DOWN)
    return OrderRequest(
        order.side,
        amount_usd=order.amount_usd if order.side == "buy" else None,
        shares=shares,
        time_in_force=order.time_in_force,
        limit_price=order.limit_price,
    )


def _unrecorded(found: Fill) -> OrderOutcome:
    return OrderOutcome(
        result=found.result,
        shares=found.shares,
        notional_usd=found.notional_usd,
        fee_usd=found.fee_usd,
        average_price=found.average_price,
        refusal=found.refusal,
        detail=found.detail,
        recorded=False,
    )
