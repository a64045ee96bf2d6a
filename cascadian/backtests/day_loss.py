"""The daily loss of a backtest's book, by the rule SQL's day loss function
(store/trading.py, migrations/041) decides every live breach with:

    loss = -(realised P&L since the day's start
             + unrealised P&L now (positions at their marks; unmarked at cost)
             - unrealised P&L at the day's start (the last equity point at or
               before it; 0 without one))

the day starting at midnight in the strategy's time zone (UTC for a zone that is
not known). Equity points are written where SQL writes them: when a marking values
a position the book holds (the marking function, migrations/041), so the day's start is
read as live reads it, quirks included (tests/backtests/test_book_parity.py).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ZERO = Decimal(0)


def zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def day_start(now: datetime, tz: tzinfo) -> datetime:
    """Midnight of `now`'s day in `tz`, as PostgreSQL's
    date_trunc('day', now at time zone tz) at time zone tz gives it."""
    local = now.astimezone(tz)
    midnight = datetime.combine(local.date(), time(0), tzinfo=tz)
    return midnight.astimezone(UTC)


@dataclass(frozen=True)
class DayLoss:
    loss: Decimal
    realized: Decimal
    unrealized_change: Decimal
    day_start: datetime

    def detail(self, limit: Decimal) -> str:
        """In the words SQL tells a breach in (041)."""
        cents = Decimal("0.01")
        return (
            f"today's loss is ${self.loss.quantize(cents)} (realised "
            f"${(-self.realized).quantize(cents)}, unrealised since the day's start "
            f"${(-self.unrealized_change).quantize(cents)}); the limit is ${limit}"
        )


@dataclass
class DayLedger:
    """Realised P&L and equity points in time order, for the day's loss."""

    timezone: tzinfo = UTC
    _realized_at: list[datetime] = field(default_factory=list)
    _realized: list[Decimal] = field(default_factory=list)
    _points_at: list[datetime] = field(default_factory=list)
    _points: list[Decimal] = field(default_factory=list)  # unrealised P&L at each

    def realise(self, at: datetime, pnl: Decimal) -> None:
        self._realized_at.append(at)
        self._realized.append(pnl)

    def point(self, at: datetime, unrealized: Decimal) -> None:
        self._points_at.append(at)
        self._points.append(unrealized)

    def loss(self, now: datetime, unrealized: Decimal, extra_realized: Decimal = ZERO) -> DayLoss:
        start = day_start(now, self.timezone)
        realized = sum(self._realized[bisect.bisect_left(self._realized_at, start) :], ZERO)
        realized += extra_realized
        at_start = bisect.bisect_right(self._points_at, start)
        start_unrealized = self._points[at_start - 1] if at_start else ZERO
        change = unrealized - start_unrealized
        return DayLoss(-(realized + change), realized, change, start)
