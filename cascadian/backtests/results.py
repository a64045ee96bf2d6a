"""What a backtest made, from its equity curve, its orders and its closed positions.

- equity at each slot: cash + each position's shares at its mark (the token's price at
  the slot: its recorded midpoint, else the market's recorded outcome price, else the
  position's cost); exposure: the positions' marked value;
- ROI: (final equity - bankroll) / bankroll; total P&L: final equity - bankroll;
  realised P&L: sells and settlements;
- win rate: closed positions (a sell or a settlement realising P&L) with P&L > 0 over
  those with P&L != 0; profit factor: gross wins / gross losses (None without losses);
- max drawdown: the largest fall of equity from its running peak (the bankroll the
  first), in dollars and as a fraction of the peak;
- Sharpe: the mean of the per-slot simple returns of equity (e_i / e_{i-1} - 1) over
  their standard deviation (population), times the square root of the slots in a year
  (the schedule's slots over the window, scaled to 365 days); no risk-free rate. None
  with fewer than two returns or none that vary.
Money is Decimal, rendered as strings; ratios are floats.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from cascadian.backtests.book import Closed

YEAR_SECONDS = 365 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Point:
    at: datetime
    equity: Decimal
    cash: Decimal
    exposure: Decimal
    realized: Decimal


def sharpe(points: Sequence[Point], slots_per_year: float) -> float | None:
    returns = [
        float(b.equity / a.equity - 1) for a, b in itertools.pairwise(points) if a.equity > 0
    ]
    if len(returns) < 2:
        return None
    spread = statistics.pstdev(returns)
    if spread == 0:
        return None
    return round(statistics.fmean(returns) / spread * math.sqrt(slots_per_year), 4)


def drawdown(points: Sequence[Point], start: Decimal) -> tuple[Decimal, float]:
    """The largest fall from the running peak, the bankroll the first peak."""
    peak = start
    worst, worst_fraction = Decimal(0), 0.0
    for p in points:
        peak = max(peak, p.equity)
        fall = peak - p.equity
        if fall > worst:
            worst = fall
        if peak > 0:
            worst_fraction = max(worst_fraction, float(fall / peak))
    return worst, round(worst_fraction, 6)


def metrics(
    points: Sequence[Point],
    closed: Sequence[Closed],
    orders: Sequence[dict[str, Any]],
    bankroll: Decimal,
    slots_per_year: float,
) -> dict[str, Any]:
    final = points[-1].equity if points else bankroll
    realized = points[-1].realized if points else Decimal(0)
    wins = [c.pnl for c in closed if c.pnl > 0]
    losses = [-c.pnl for c in closed if c.pnl < 0]
    gross_win, gross_loss = sum(wins, Decimal(0)), sum(losses, Decimal(0))
    fall, fraction = drawdown(points, bankroll)
    filled = [o for o in orders if o["result"] in ("filled", "partly_filled")]
    return {
        "initial_bankroll": str(bankroll),
        "final_equity": str(final),
        "roi": round(float((final - bankroll) / bankroll), 8),
        "total_pnl": str(final - bankroll),
        "realized_pnl": str(realized),
        "unrealized_pnl": str(final - bankroll - realized),
        "orders": len(orders),
        "orders_filled": len(filled),
        "orders_refused": len(orders) - len(filled),
        "closed_positions": len(closed),
        "win_rate": round(len(wins) / (len(wins) + len(losses)), 6) if wins or losses else None,
        "profit_factor": round(float(gross_win / gross_loss), 6) if gross_loss else None,
        "max_drawdown_usd": str(fall),
        "max_drawdown": fraction,
        "sharpe": sharpe(points, slots_per_year),
        "max_exposure_usd": str(max((p.exposure for p in points), default=Decimal(0))),
    }


def curve(points: Sequence[Point]) -> list[dict[str, Any]]:
    return [
        {
            "at": p.at.isoformat(),
            "equity": str(p.equity),
            "cash": str(p.cash),
            "exposure": str(p.exposure),
            "realized_pnl": str(p.realized),
        }
        for p in points
    ]
