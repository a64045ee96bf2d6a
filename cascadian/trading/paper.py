"""A strategy's paper trading, as operators and dashboards read it.

The original builder's buy and sell nodes record simulated orders (never real ones;
migrations/011). Reading a strategy's book values its open positions at the marks the
tick's bookkeeping step stored (each outcome's best bid, trading/marking.py: no
request to Polymarket), a position not marked yet at live prices when a mark source
can give them, else at its last order price; the SQL function does the arithmetic:
positions, cost, market value, realised and unrealised P&L.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from cascadian.data import Actor, PaperBook, PaperMark, PaperPosition, scope
from cascadian.errors import NodeError, NotFound
from cascadian.ports import ControlStore, MarkStore

log = logging.getLogger(__name__)

# The mark source of a position valued at the bookkeeping step's stored best bid.
STORED = "best_bid"
NOTE = "Paper trading: every order here is simulated; cascadian never places a real order."


class MarkSource(Protocol):
    async def marks(self, positions: Sequence[PaperPosition]) -> list[PaperMark]:
        """Current prices for these positions; those it cannot price are left out."""
        ...


class PaperService:
    def __init__(
        self,
        store: ControlStore,
        marks: MarkSource | None = None,
        stored: MarkStore | None = None,
    ) -> None:
        """`stored`: where the bookkeeping step keeps its marks (read first)."""
        self.store, self.mark_source, self.stored = store, marks, stored

    async def book(
        self,
        strategy_id: UUID,
        order_limit: int = 50,
        live: bool = True,
        actor: Actor | None = None,
    ) -> PaperBook:
        """NotFound for an unknown strategy, or (a user acting) another user's. `live`
        False: positions at their stored marks, else their last order's price, asking
        no market (the console's page)."""
        user = scope(actor)
        unpriced = await self.store.paper_book(strategy_id, [], 0 if live else order_limit, user)
        if unpriced is None:
            raise NotFound("strategy not found")
        marks: list[PaperMark] = []
        open_positions = unpriced.open_positions()
        if open_positions and self.stored is not None:
            marks = await self._stored_marks(strategy_id)
        if not live and not marks:
            return unpriced
        marked = {(m.market_id, m.outcome) for m in marks}
        unmarked = [p for p in open_positions if (p.market_id, p.outcome) not in marked]
        if live and unmarked and self.mark_source is not None:
            try:
                marks += await self.mark_source.marks(unmarked)
            except NodeError as exc:  # the market data's errors say what failed
                log.warning("paper book of %s valued at last order prices: %s", strategy_id, exc)
        book = await self.store.paper_book(strategy_id, marks, order_limit, user)
        if book is None:
            raise NotFound("strategy not found")
        return book

    async def _stored_marks(self, strategy_id: UUID) -> list[PaperMark]:
        assert self.stored is not None
        curve = await self.stored.equity_curve(strategy_id, None, 0)
        return [
            PaperMark(p.market_id, p.outcome, float(p.mark_price), STORED)
            for p in (curve.positions if curve else ())
            if p.mark_price is not None
        ]
