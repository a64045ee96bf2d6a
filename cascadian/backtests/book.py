"""A backtest's paper book: in memory, never the strategy's own.

An order fills as a live paper order does, by the same engine (trading/fills.py,
through the PaperExecutor without a store): level by level against the book, with
Polymarket's taker fee. The fill then meets this book's cash and positions: a buy
cannot spend more than the cash (`insufficient_cash`), a sell cannot sell more than
is held (`insufficient_shares`), as the SQL order function refuses them. In memory,
not in a scratch schema rolled back: 8,640 slots cannot afford a transaction per
order on a shared machine, and a book that lives in this object cannot touch a live
portfolio by construction. The risk limits, the kill switch and the daily-loss halt
of the live book are not applied (docs/backtests.md).

Positions settle when their market resolved (its recorded state closed with 1/0
payouts): shares x payout into cash, the P&L realised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from cascadian.backtests.markets import basis
from cascadian.data import MarketBook, OrderIntent, OrderOutcome
from cascadian.trading.executor import PaperExecutor

ZERO = Decimal(0)


@dataclass
class Position:
    shares: Decimal = ZERO
    cost: Decimal = ZERO  # what the shares held cost, fees included


@dataclass(frozen=True)
class Closed:
    """P&L realised: by a sell, or by a settlement."""

    at: datetime
    market_id: str
    outcome: str
    pnl: Decimal
    how: str  # "sell" or "settlement"


@dataclass
class BacktestBook:
    """The OrderExecutor of a backtest."""

    bankroll: Decimal = Decimal(10_000)
    cash: Decimal = field(init=False)
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)
    realized: Decimal = ZERO
    closed: list[Closed] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    slot: datetime | None = None
    variables: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cash = self.bankroll
        self._fills = PaperExecutor(None)

    async def place(self, order: OrderIntent, market: MarketBook, now: datetime) -> OrderOutcome:
        found = await self._fills.place(order, market, now)
        key = (order.market_id, order.outcome)
        held = self.positions.get(key, Position())
        outcome = found
        if found.result != "refused":
            if order.side == "buy":
                spend = found.notional_usd + found.fee_usd
                if spend > self.cash:
                    outcome = _refused(
                        "insufficient_cash", f"the order costs {spend}; the cash is {self.cash}"
                    )
                else:
                    self.cash -= spend
                    held = Position(held.shares + found.shares, held.cost + spend)
                    self.positions[key] = held
            else:
                if found.shares > held.shares:
                    outcome = _refused(
                        "insufficient_shares",
                        f"the order sells {found.shares} shares; {held.shares} are held",
                    )
                else:
                    proceeds = found.notional_usd - found.fee_usd
                    cost = held.cost * found.shares / held.shares
                    self.cash += proceeds
                    self._realise(now, key, proceeds - cost, "sell")
                    held = Position(held.shares - found.shares, held.cost - cost)
                    self._keep(key, held)
        self._record(order, market, now, outcome, held)
        return OrderOutcome(
            result=outcome.result,
            shares=outcome.shares,
            notional_usd=outcome.notional_usd,
            fee_usd=outcome.fee_usd,
            average_price=outcome.average_price,
            refusal=outcome.refusal,
            detail=outcome.detail,
            position_shares=held.shares,
            available_cash=self.cash,
            recorded=False,
        )

    def settle(self, now: datetime, market_id: str, outcomes: list[str], pay: list[Decimal]) -> int:
        """Settle every position in a resolved market at its outcome's payout."""
        settled = 0
        for (mid, outcome), held in list(self.positions.items()):
            if mid != market_id:
                continue
            names = [o.strip().lower() for o in outcomes]
            if outcome.strip().lower() not in names:
                continue
            payout = held.shares * pay[names.index(outcome.strip().lower())]
            self.cash += payout
            self._realise(now, (mid, outcome), payout - held.cost, "settlement")
            del self.positions[(mid, outcome)]
            settled += 1
        return settled

    def _keep(self, key: tuple[str, str], held: Position) -> None:
        if held.shares > 0:
            self.positions[key] = held
        else:
            self.positions.pop(key, None)

    def _realise(self, now: datetime, key: tuple[str, str], pnl: Decimal, how: str) -> None:
        self.realized += pnl
        self.closed.append(Closed(now, key[0], key[1], pnl, how))

    def _record(
        self,
        order: OrderIntent,
        market: MarketBook,
        now: datetime,
        outcome: OrderOutcome,
        held: Position,
    ) -> None:
        based_on = dict(basis.get() or {})
        self.orders.append(
            {
                "at": now.isoformat(),
                "node_id": order.node_id,
                "market_id": order.market_id,
                "question": order.market_question,
                "outcome": order.outcome,
                "side": order.side,
                "amount_usd": str(order.amount_usd),
                "result": outcome.result,
                "refusal": outcome.refusal,
                "detail": outcome.detail,
                "shares": str(outcome.shares),
                "average_price": None
                if outcome.average_price is None
                else str(outcome.average_price),
                "notional_usd": str(outcome.notional_usd),
                "fee_usd": str(outcome.fee_usd),
                "fee_rate": str(market.fee_rate),
                "position_shares": str(held.shares),
                "cash": str(self.cash),
                "variables": self.variables,
                "based_on": based_on,
            }
        )


def _refused(refusal: str, detail: str) -> OrderOutcome:
    return OrderOutcome(result="refused", refusal=refusal, detail=detail, recorded=False)
