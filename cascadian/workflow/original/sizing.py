"""How much the orchestrator bets: fractional Kelly over the strategy's paper portfolio,
then the builder's caps, in exact Decimal arithmetic (never a float).

The original asked a model to work out this closed form; here it is worked out
directly, the same way every time:

1. Kelly for a binary share bought at `price` that pays 1: f* = (p - price) / (1 - price)
   (no edge, f* <= 0: no bet);
2. fractional: f = `fractional_kelly_lambda` x f*, and the bet is f x equity;
3. drawdown protection (when enabled): at a drawdown of `drawdown_threshold` or more
   (peak equity to equity now, a fraction), the bet is reduced by `size_reduction`
   (0.5: halved), as the builder's panel says ("reduce bet sizes by this %");
4. caps, each recorded by name when it binds: `max_bet` (USD, before fees, as an
   order's amount is); `max_per_position` of equity, less what the position in this
   outcome already cost; the heat limit (`portfolio_heat_limit` of equity, less what
   every open position cost); the cash. A position's cost and the cash spent count
   the taker fee, so these three caps hold the bet and its fee: a dollar of shares
   pays at most `fee_rate` in fee (Polymarket's fee per dollar bought at price q is
   rate x (1 - q), below the rate whatever the fill's price), so each is divided by
   1 + fee_rate;
5. below `min_bet` the bet is not made (the original's SIZE_TOO_SMALL); the rest is
   rounded down to the cent.

The result is never negative, never above `max_bet`, and with its fee never takes the
position above `max_per_position` of equity, nor the cash below zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class SizingRules:
    fractional_kelly_lambda: Decimal
    max_per_position: Decimal  # a fraction of equity, (0, 1]
    min_bet: Decimal
    max_bet: Decimal
    portfolio_heat_limit: Decimal | None = None  # a fraction of equity, (0, 1]
    drawdown_protection: bool = False
    drawdown_threshold: Decimal = Decimal("0.10")
    size_reduction: Decimal = Decimal("0.50")


@dataclass(frozen=True)
class SizingPortfolio:
    equity: Decimal
    cash: Decimal
    deployed: Decimal  # what the open positions cost
    peak_equity: Decimal
    position_cost: Decimal = ZERO  # what the position in this outcome cost so far

    @property
    def drawdown(self) -> Decimal:
        """From the peak to now, a fraction (0 at or above the peak)."""
        if self.peak_equity <= 0 or self.equity >= self.peak_equity:
            return ZERO
        return (self.peak_equity - self.equity) / self.peak_equity


@dataclass(frozen=True)
class Sizing:
    size: Decimal  # USD, to the cent; 0: no bet
    kelly_raw: Decimal
    kelly_fraction: Decimal
    drawdown: Decimal
    constraints: list[str] = field(default_factory=list)

    @property
    def bet(self) -> bool:
        return self.size > 0


def size_bet(
    price: Decimal,
    p_win: Decimal,
    rules: SizingRules,
    book: SizingPortfolio,
    fee_rate: Decimal = ZERO,
) -> Sizing:
    """The bet on one outcome at `price` believed to win with probability `p_win`,
    bought at the taker `fee_rate` (a fraction: the CLOB's base fee / 10,000)."""
    drawdown = book.drawdown
    if not ZERO < price < ONE:
        return Sizing(ZERO, ZERO, ZERO, drawdown, ["no price between 0 and 1"])
    raw = (p_win - price) / (ONE - price)
    if raw <= 0:
        return Sizing(ZERO, raw, ZERO, drawdown, ["no edge: p_win is not above the price"])
    fraction = rules.fractional_kelly_lambda * raw
    size = max(book.equity, ZERO) * fraction
    notes: list[str] = []
    if rules.drawdown_protection and drawdown >= rules.drawdown_threshold:
        size *= max(ONE - rules.size_reduction, ZERO)
        notes.append(
            f"drawdown_protection: {_pct(drawdown)} drawdown, "
            f"reduced by {_pct(rules.size_reduction)}"
        )
    with_fee = ONE + max(fee_rate, ZERO)
    caps = [
        ("max_bet", rules.max_bet),
        (
            "max_per_position",
            (rules.max_per_position * book.equity - book.position_cost) / with_fee,
        ),
        ("cash", book.cash / with_fee),
    ]
    if rules.portfolio_heat_limit is not None:
        heat = (rules.portfolio_heat_limit * book.equity - book.deployed) / with_fee
        caps.append(("portfolio_heat_limit", heat))
    for name, cap in caps:
        cap = max(cap, ZERO)
        if size > cap:
            size = cap
            notes.append(f"{name}: capped at ${cap.quantize(CENT, rounding=ROUND_DOWN)}")
    size = max(size, ZERO).quantize(CENT, rounding=ROUND_DOWN)
    if size < rules.min_bet or size <= 0:
        notes.append(f"min_bet: ${size} is below ${rules.min_bet}")
        size = ZERO
    return Sizing(size, raw, fraction, drawdown, notes)


def _pct(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal('0.1'))}%"
