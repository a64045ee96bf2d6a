"""The orchestrator's decisions as their owners and operators act on them (the API, the
CLI and the console share it): list them, approve one, reject one.

An approval fills the decision's paper buy against its outcome's order book now
(fills.py, fill-and-kill, at most the decision's size before fees) and hands the fill
to one SQL call (migrations/046) that, under the decision's lock, checks it is still
pending and not expired, places the order through the trading book's own function (the
kill switch, halt, limits, cash) with the key 'decision:<id>', marks it approved and
writes the audit entry, all in one transaction. So approving twice places once, and an
expired or rejected decision never places. Nothing is ever sent to Polymarket.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from cascadian.clock import Clock
from cascadian.data import (
    DECISION_STATUSES,
    Actor,
    Decision,
    DecisionAnswer,
    MarketBook,
    OrderIntent,
    Page,
    PaperPlacement,
    scope,
)
from cascadian.errors import InvalidInput, MarketUnavailable, NodeError, NotFound
from cascadian.ports import DecisionStore, TradingObserver
from cascadian.trading.fills import BookMalformed, OrderRequest, fill, parse_book

MAX_PAGE = 200
# What a rejection keeps of its reason.
MAX_REASON = 500


class MarketBooks(Protocol):
    async def market_book(self, token_id: str) -> MarketBook | None:
        """The token's order book now, and its fee rate; None when the CLOB has none
        for it (the market closed, say); NodeError when it cannot be read."""
        ...


class DecisionService:
    def __init__(
        self,
        store: DecisionStore,
        books: MarketBooks | None,
        clock: Clock,
        observers: Sequence[TradingObserver] = (),
    ) -> None:
        """`books` None: approvals cannot be filled (they answer 503, saying so).
        `observers` hear of each order an approval records (the metrics count it, the
        operators' alerts hear of a halt), as the paper executor's do."""
        self.store, self.books, self.clock = store, books, clock
        self.observers = tuple(observers)

    async def decisions(
        self,
        strategy_id: UUID | None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
        actor: Actor | None = None,
    ) -> Page[Decision]:
        if status is not None and status not in DECISION_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(DECISION_STATUSES)}")
        if not 1 <= limit <= MAX_PAGE or offset < 0:
            raise InvalidInput(f"limit must be 1-{MAX_PAGE} and offset at least 0")
        found = await self.store.decisions(
            strategy_id, status, limit, offset, self.clock.now(), scope(actor)
        )
        if found is None:
            raise NotFound("strategy not found")
        return found

    async def decision(
        self, decision_id: UUID, strategy_id: UUID | None = None, actor: Actor | None = None
    ) -> Decision:
        found = await self.store.decision(decision_id, self.clock.now(), scope(actor))
        if found is None or (strategy_id is not None and found.workflow_id != strategy_id):
            raise NotFound("decision not found")
        return found

    async def approve(
        self, decision_id: UUID, actor: Actor, strategy_id: UUID | None = None
    ) -> DecisionAnswer:
        found = await self.decision(decision_id, strategy_id, actor)
        placement = None
        if found.status == "pending":
            placement = await self._placement(found)
        answer = await self.store.decide(
            decision_id, True, placement, None, self.clock.now(), actor
        )
        if answer is None:
            raise NotFound("decision not found")
        order = answer.order
        if placement is not None and order is not None and not order.replayed:
            for observer in self.observers:
                observer.order_placed(placement.intent, order)
                if order.halted is not None:
                    observer.trading_halted(placement.intent, order.halted)
        return answer

    async def reject(
        self,
        decision_id: UUID,
        reason: str | None,
        actor: Actor,
        strategy_id: UUID | None = None,
    ) -> DecisionAnswer:
        if reason is not None and len(reason) > MAX_REASON:
            raise InvalidInput(f"reason is at most {MAX_REASON} characters")
        await self.decision(decision_id, strategy_id, actor)
        answer = await self.store.decide(
            decision_id, False, None, (reason or "").strip() or None, self.clock.now(), actor
        )
        if answer is None:
            raise NotFound("decision not found")
        return answer

    async def _placement(self, decision: Decision) -> PaperPlacement:
        intent = OrderIntent(
            workflow_id=decision.workflow_id,
            execution_id=decision.execution_id,
            node_id=decision.node_id,
            market_id=decision.market_id,
            market_question=decision.market_question,
            outcome=decision.outcome or "",
            side="buy",
            amount_usd=decision.recommended_size,
            time_in_force="FAK",
            order_key=f"decision:{decision.id}",
        )
        if self.books is None:
            raise MarketUnavailable("approvals need Polymarket's order books, and none is set up")
        if not decision.token_id:
            return PaperPlacement(
                intent, "refused", refusal="no_order_book", detail="the decision has no token"
            )
        try:
            market = await self.books.market_book(decision.token_id)
        except NodeError as exc:
            raise MarketUnavailable(f"the order book could not be read: {exc}") from exc
        if market is None:
            return PaperPlacement(
                intent, "refused", refusal="no_order_book", detail="the CLOB has no order book"
            )
        try:
            book = parse_book(market.book)
        except BookMalformed as exc:
            raise MarketUnavailable(f"the CLOB's order book is malformed: {exc}") from exc
        request = OrderRequest("buy", amount_usd=decision.recommended_size, time_in_force="FAK")
        found = fill(request, book, market.fee_rate)
        return PaperPlacement(
            intent, found.result, levels=found.levels, refusal=found.refusal, detail=found.detail
        )
