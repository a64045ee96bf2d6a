"""A backtest's paper book: in memory, never the strategy's own, by the live book's
rules.

An order fills as a live paper order does, by the same engine (trading/fills.py,
through the PaperExecutor without a store): level by level against the book, with
Polymarket's taker fee. The fill then meets this book's checks in the order
the live order function (store/trading.py, migrations/041) makes them: a halt, the book's own
refusal, shares held, the strategy's max order, and for a buy the daily loss
(day_loss.py: breaching it refuses the buy and halts), the cash, the cash reserve,
the max position and the max open positions. A sell that takes the day's loss to
the limit stands, and halts. A halt is for good in a backtest (a live halt waits for
an operator): every later order is refused `halted`. Sold cost is kept to 1e-8 as
SQL keeps it. tests/backtests/test_book_parity.py runs random orders through this
book and the SQL one and finds the same fills, refusals, cash and positions.

In memory, not in a scratch schema rolled back: 8,640 slots cannot afford a
transaction per order on a shared machine, and a book that lives in this object
cannot touch a live portfolio by construction. Not applied: kill switches (a switch
is an operator's act now; no history of them is kept to say when one was on).

Positions settle when their market resolved (its recorded state closed with 1/0
payouts): shares x payout into cash, the P&L realised. A marking values positions
and, as the live marking step does, halts the book when the day's loss reaches the
limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cascadian.backtests.day_loss import DayLedger, zone
from cascadian.backtests.markets import basis
from cascadian.data import MarketBook, OrderIntent, OrderOutcome, TradingLimits
from cascadian.trading.executor import PaperExecutor

ZERO = Decimal(0)
COST = Decimal("0.00000001")
Key = tuple[str, str]


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


@dataclass(frozen=True)
class Halt:
    at: datetime
    reason: str
    detail: str

    def json(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "reason": self.reason, "detail": self.detail}


@dataclass
class BacktestBook:
    """The OrderExecutor of a backtest. `bankroll` None: the limits' bankroll."""

    limits: TradingLimits = field(default_factory=TradingLimits)
    timezone: str = "UTC"
    bankroll: Decimal | None = None
    cash: Decimal = field(init=False)
    positions: dict[Key, Position] = field(default_factory=dict)
    marks: dict[Key, Decimal] = field(default_factory=dict)
    realized: Decimal = ZERO
    closed: list[Closed] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    halt: Halt | None = None
    variables: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.bankroll is None:
            self.bankroll = self.limits.initial_bankroll
        self.cash = self.bankroll
        self.ledger = DayLedger(zone(self.timezone))
        self._fills = PaperExecutor(None)

    @property
    def start_cash(self) -> Decimal:
        assert self.bankroll is not None
        return self.bankroll

    async def place(self, order: OrderIntent, market: MarketBook, now: datetime) -> OrderOutcome:
        found = await self._fills.place(order, market, now)
        key = (order.market_id, order.outcome)
        held = self.positions.get(key, Position())
        refusal = self._refusal(order, found, held, now)
        if refusal is not None:
            outcome = _refused(*refusal)
        elif order.side == "buy":
            outcome = found
            spend = found.notional_usd + found.fee_usd
            self.cash -= spend
            held = Position(held.shares + found.shares, held.cost + spend)
            self.positions[key] = held
        else:
            outcome = found
            sold_cost = (
                held.cost
                if found.shares == held.shares
                else (held.cost * found.shares / held.shares).quantize(COST, ROUND_HALF_UP)
            )
            held = Position(held.shares - found.shares, held.cost - sold_cost)
            self._keep(key, held)
            self.cash += found.notional_usd - found.fee_usd
            self._realise(now, key, found.notional_usd - found.fee_usd - sold_cost, "sell")
            limit = self.limits.daily_loss_usd
            if limit is not None and self.halt is None:
                day = self.ledger.loss(now, self.unrealized())
                if day.loss >= limit:
                    self.halt = Halt(now, "daily_loss_usd", day.detail(limit))
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

    def _refusal(
        self, order: OrderIntent, found: OrderOutcome, held: Position, now: datetime
    ) -> tuple[str, str] | None:
        """The first check the order fails, in the live order function's order."""
        lim, cash = self.limits, self.cash
        if self.halt is not None:
            return "halted", f"trading halted at {self.halt.at.isoformat()}: {self.halt.detail}"
        if found.result == "refused":
            return found.refusal or "refused", found.detail or ""
        notional = found.notional_usd
        if order.side == "sell" and found.shares > held.shares:
            return "insufficient_shares", f"selling {found.shares}; {held.shares} are held"
        if lim.max_order_usd is not None and notional > lim.max_order_usd:
            return "max_order_usd", f"the order is ${notional}; the limit is ${lim.max_order_usd}"
        if order.side == "sell":
            return None
        spend = notional + found.fee_usd
        if lim.daily_loss_usd is not None:
            day = self.ledger.loss(now, self.unrealized())
            if day.loss >= lim.daily_loss_usd:
                detail = day.detail(lim.daily_loss_usd)
                self.halt = Halt(now, "daily_loss_usd", detail)
                return "daily_loss_usd", detail
        if spend > cash:
            return "insufficient_cash", f"the order costs ${spend} with fees; the cash is ${cash}"
        reserve = lim.min_cash_reserve_usd
        if reserve is not None and cash - spend < reserve:
            return "min_cash_reserve_usd", f"it leaves ${cash - spend}; the reserve is ${reserve}"
        most = lim.max_position_usd
        if most is not None and held.cost + spend > most:
            return (
                "max_position_usd",
                f"the position would cost ${held.cost + spend}; at most ${most}",
            )
        n, open_ = lim.max_open_positions, len(self.positions)
        if n is not None and held.shares == 0 and open_ >= n:
            return "max_open_positions", f"{open_} positions are open; the limit is {n}"
        return None

    def mark(self, now: datetime, prices: Mapping[Key, Decimal]) -> None:
        """Value positions at `prices` as the live marking step does: marks kept, an
        equity point when a held position was marked, and a halt when the day's loss
        reaches the limit."""
        self.marks.update(prices)
        if not any(key in prices for key in self.positions):
            return
        unrealized = self.unrealized()
        self.ledger.point(now, unrealized)
        limit = self.limits.daily_loss_usd
        if limit is not None and self.halt is None:
            day = self.ledger.loss(now, unrealized)
            if day.loss >= limit:
                self.halt = Halt(now, "daily_loss_usd", day.detail(limit))

    def positions_value(self) -> Decimal:
        """Positions at their marks, at cost where unmarked, as SQL values them (025)."""
        value = ZERO
        for key, held in self.positions.items():
            price = self.marks.get(key)
            value += held.cost if price is None else held.shares * price
        return value

    def unrealized(self) -> Decimal:
        return self.positions_value() - sum((p.cost for p in self.positions.values()), ZERO)

    def settle(self, now: datetime, market_id: str, outcomes: list[str], pay: list[Decimal]) -> int:
        """Settle every position in a resolved market at its outcome's payout."""
        settled = 0
        names = [o.strip().lower() for o in outcomes]
        for (mid, outcome), held in list(self.positions.items()):
            if mid != market_id or outcome.strip().lower() not in names:
                continue
            payout = held.shares * pay[names.index(outcome.strip().lower())]
            self.cash += payout
            self._realise(now, (mid, outcome), payout - held.cost, "settlement")
            del self.positions[(mid, outcome)]
            settled += 1
        return settled

    def _keep(self, key: Key, held: Position) -> None:
        if held.shares > 0:
            self.positions[key] = held
        else:
            self.positions.pop(key, None)

    def _realise(self, now: datetime, key: Key, pnl: Decimal, how: str) -> None:
        self.realized += pnl
        self.ledger.realise(now, pnl)
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
