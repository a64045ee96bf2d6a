"""A wallet's metrics from its closed positions, against values worked out by hand.

The fixture wallet (tests/fixtures/data_api/closed_positions_hand.json), at NOW:

| position | cost (shares x avg) | realised P&L | closed    | return |
|----------|---------------------|--------------|-----------|--------|
| 1        | 100 x 0.40 = 40     | +60          | 5 d ago   | +1.5   |
| 2        | 200 x 0.50 = 100    | -100         | 10 d ago  | -1.0   |
| 3        | 80 x 0.25 = 20      | +10          | 20 d ago  | +0.5   |
| 4        | 50 x 0.60 = 30      | -30          | 40 d ago  |        |
| 5        | 1000 x 0.10 = 100   | +150         | 90 d ago  |        |

omega = (60 + 10 + 150) / (100 + 30) = 220 / 130 = 1.692308; in the last 30 days
(1-3): pnl -30, cost 160, roi -30/160 = -0.1875, win rate 2/3; returns 1.5, -1, 0.5
have mean 1/3 and sample variance (49/36 + 64/36 + 1/36) / 2 = 19/12, so sharpe =
(1/3) / sqrt(19/12) = 0.264906; volume 290, average 58, largest 100, 5 resolved.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from cascadian.workflow.wallets.metrics import WalletMetrics, wallet_metrics
from cascadian.workflow.wallets.records import closed_position
from tests.wallet_fixtures import HAND_POSITIONS, HAND_WALLET, NOW


def _hand() -> WalletMetrics:
    positions = [p for p in map(closed_position, HAND_POSITIONS) if p is not None]
    return wallet_metrics(HAND_WALLET, positions, NOW)


def test_the_metrics_are_the_values_worked_out_by_hand() -> None:
    out = _hand().to_output()
    assert out == {
        "wallet_address": HAND_WALLET,
        "omega": 1.692308,
        "pnl_30d": -30.0,
        "roi_30d": -0.1875,
        "win_rate_30d": 0.666667,
        "sharpe_30d": 0.264906,
        "trades_30d": 3,
        "total_volume_usd": 290.0,
        "avg_position_size_usd": 58.0,
        "max_position_size_usd": 100.0,
        "last_trade_timestamp": (NOW - timedelta(days=5)).isoformat().replace("+00:00", "Z"),
        "resolved_bets": 5,
        "unavailable": {
            "primary_category": "closed positions on Polymarket's Data API carry no category"
        },
    }


def test_money_stays_exact_and_survives_the_stored_record() -> None:
    metrics = _hand()
    assert metrics.total_volume_usd == Decimal("290.00")
    stored = metrics.to_record()
    assert stored["pnl_30d"] == "-30" and isinstance(stored["omega"], str)
    assert WalletMetrics.from_record(stored) == metrics


def test_a_wallet_without_a_loss_has_no_omega_and_one_without_recent_positions_no_ratios() -> None:
    winners = [p for p in map(closed_position, HAND_POSITIONS) if p and p.realized_pnl > 0]
    old = [p for p in winners if p.closed_at < (NOW - timedelta(days=30)).timestamp()]
    metrics = wallet_metrics(HAND_WALLET, old, NOW)
    assert metrics.omega is None
    assert (metrics.trades_30d, metrics.roi_30d, metrics.win_rate_30d, metrics.sharpe_30d) == (
        0,
        None,
        None,
        None,
    )
    assert metrics.pnl_30d == 0


def test_a_position_missing_what_it_needs_is_skipped() -> None:
    broken = dict(HAND_POSITIONS[0])
    del broken["realizedPnl"]
    assert closed_position(broken) is None
    assert closed_position(dict(HAND_POSITIONS[0], avgPrice="0.4")) is not None  # strings too
