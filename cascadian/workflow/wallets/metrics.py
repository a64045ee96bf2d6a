"""A wallet's metrics in the original's field names, from its closed positions.

The original read these from its ClickHouse warehouse (`wallet_metrics_complete`);
here each is worked out from the wallet's newest closed positions on the Data API
(at most CASCADIAN_WALLET_CLOSED_POSITIONS_MAX), exactly, in Decimal:

- `omega`: gains over losses, the sum of positive realised P&L over the absolute sum
  of negative realised P&L, over every position read; null with no losing position;
- `pnl_30d`: realised P&L of the positions closed in the last 30 days;
- `roi_30d`: `pnl_30d` over what those positions cost (shares bought times average price);
- `win_rate_30d`: the share of those positions with a positive realised P&L;
- `sharpe_30d`: the mean over the sample standard deviation of those positions'
  returns (P&L over cost), per position, not per day; null below two positions;
- `trades_30d`: how many positions closed in the last 30 days (positions, not fills);
- `total_volume_usd`, `avg_position_size_usd`, `max_position_size_usd`: the cost of
  the positions read (what was bought, not sold);
- `last_trade_timestamp`: when the newest of them closed (ISO 8601);
- `resolved_bets`: how many closed positions were read (the original's
  `metric_22_resolved_bets`, which OWRR needs at least 10 of).

`primary_category` cannot be computed: closed positions carry no category. It is
left out, and each wallet says so in `unavailable`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cascadian.workflow.wallets.records import ClosedPosition, decimal_of

WINDOW_SECONDS = 30 * 86_400
# Fields of the original's wallet rows that public data cannot give, and why.
UNAVAILABLE: dict[str, str] = {
    "primary_category": "closed positions on Polymarket's Data API carry no category",
}
# Ratios are rounded to this many places in outputs; money keeps its cents and more.
_PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class WalletMetrics:
    wallet_address: str
    omega: Decimal | None
    pnl_30d: Decimal
    roi_30d: Decimal | None
    win_rate_30d: Decimal | None
    sharpe_30d: Decimal | None
    trades_30d: int
    total_volume_usd: Decimal
    avg_position_size_usd: Decimal | None
    max_position_size_usd: Decimal | None
    last_trade_timestamp: str | None
    resolved_bets: int

    def to_record(self) -> dict[str, Any]:
        """As stored (jsonb): numbers as decimal strings, so no digit is lost."""
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(self).items()}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> WalletMetrics:
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = record.get(f.name)
            if f.name in ("wallet_address", "last_trade_timestamp"):
                values[f.name] = raw
            elif f.name in ("trades_30d", "resolved_bets"):
                values[f.name] = int(raw or 0)
            else:
                values[f.name] = decimal_of(raw)
        if values["pnl_30d"] is None or values["total_volume_usd"] is None:
            raise ValueError("a stored wallet's metrics lack pnl_30d or total_volume_usd")
        return cls(**values)

    def to_output(self) -> dict[str, Any]:
        """The original's row: JSON numbers (its filters compare numbers), and
        `unavailable` naming what public data cannot give."""
        out: dict[str, Any] = {}
        for name, value in asdict(self).items():
            out[name] = float(value.quantize(_PLACES)) if isinstance(value, Decimal) else value
        out["unavailable"] = dict(UNAVAILABLE)
        return out


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    return numerator / denominator if denominator else None


def _sharpe(returns: Sequence[Decimal]) -> Decimal | None:
    if len(returns) < 2:
        return None
    mean = sum(returns, Decimal(0)) / len(returns)
    variance = sum(((r - mean) ** 2 for r in returns), Decimal(0)) / (len(returns) - 1)
    return mean / variance.sqrt() if variance else None


def wallet_metrics(
    wallet: str, positions: Sequence[ClosedPosition], now: datetime
) -> WalletMetrics:
    """The metrics of `wallet` from `positions`, as of `now`."""
    since = now.timestamp() - WINDOW_SECONDS
    recent = [p for p in positions if p.closed_at >= since]
    gains = sum((p.realized_pnl for p in positions if p.realized_pnl > 0), Decimal(0))
    losses = -sum((p.realized_pnl for p in positions if p.realized_pnl < 0), Decimal(0))
    costs = [p.cost for p in positions]
    pnl_30d = sum((p.realized_pnl for p in recent), Decimal(0))
    cost_30d = sum((p.cost for p in recent), Decimal(0))
    wins = sum(1 for p in recent if p.realized_pnl > 0)
    returns = [p.realized_pnl / p.cost for p in recent if p.cost]
    newest = max((p.closed_at for p in positions), default=None)
    return WalletMetrics(
        wallet_address=wallet,
        omega=_ratio(gains, losses),
        pnl_30d=pnl_30d,
        roi_30d=_ratio(pnl_30d, cost_30d),
        win_rate_30d=_ratio(Decimal(wins), Decimal(len(recent))),
        sharpe_30d=_sharpe(returns),
        trades_30d=len(recent),
        total_volume_usd=sum(costs, Decimal(0)),
        avg_position_size_usd=_ratio(sum(costs, Decimal(0)), Decimal(len(costs))),
        max_position_size_usd=max(costs, default=None),
        last_trade_timestamp=None
        if newest is None
        else datetime.fromtimestamp(newest, UTC).isoformat().replace("+00:00", "Z"),
        resolved_bets=len(positions),
    )
