"""OWRR, the original's smart-money signal, from public data (lib/metrics/owrr.ts).

For one market: each side's top 20 holders by what they put in; a holder votes when
its wallet has at least 10 resolved bets, with vote = omega (capped to [0.1, 5];
none or 0 counts as 1, as the original's `|| 1.0` did) x sqrt(open risk);
OWRR = S_yes / (S_yes + S_no), its slider round(100 x OWRR); with fewer than 3
votes on either side it is 0.5 with confidence `insufficient_data`, else `high`
from 20 votes, `medium` from 12, else `low`.

Where the public-data approximation differs from the original (METHOD says so in
every output):
- holders and their entry come from /v2/holders (top 100 per outcome, with their
  average price and entry cost), not the warehouse's open trades;
- omega and resolved bets are the wallet's over its newest closed positions (all
  categories, metrics.py), not per market category over its whole history;
- open risk is what the holder put in, the entry cost of its own outcome's shares
  (shares x its average price); the original priced a NO position at 1 - its YES
  entry price, which is the same amount when the two prices sum to 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from cascadian.workflow.wallets.metrics import WalletMetrics
from cascadian.workflow.wallets.records import Holder

METHOD = (
    "public-data approximation of the original's OWRR: top 20 holders per side from "
    "Polymarket's /v2/holders (entry cost = open risk), omega and resolved bets from "
    "each wallet's closed positions on the Data API across all categories (the "
    "original used per-category warehouse metrics)"
)
TOP_HOLDERS = 20
MIN_RESOLVED_BETS = 10
MIN_VOTES_PER_SIDE = 3
OMEGA_FLOOR, OMEGA_CAP = Decimal("0.1"), Decimal("5")
YES, NO = 0, 1

Confidence = Literal["high", "medium", "low", "insufficient_data"]
CONFIDENCE_LEVELS: tuple[Confidence, ...] = ("insufficient_data", "low", "medium", "high")


@dataclass(frozen=True)
class Vote:
    wallet: str
    omega: Decimal
    open_risk: Decimal
    vote: Decimal
    resolved_bets: int


@dataclass(frozen=True)
class Owrr:
    owrr: Decimal
    slider: int
    yes_score: Decimal
    no_score: Decimal
    yes_votes: list[Vote]
    no_votes: list[Vote]
    confidence: Confidence

    def averages(self, side: list[Vote]) -> tuple[Decimal, Decimal]:
        if not side:
            return Decimal(0), Decimal(0)
        n = len(side)
        return (
            sum((v.omega for v in side), Decimal(0)) / n,
            sum((v.open_risk for v in side), Decimal(0)) / n,
        )


def open_risk(holder: Holder) -> Decimal:
    """What the holder put in: its entry cost, else shares x average price."""
    if holder.entry_cost is not None:
        return holder.entry_cost
    return holder.amount * (holder.avg_price or Decimal(0))


def top_holders(holders: Sequence[Holder], outcome: int) -> list[Holder]:
    side = [h for h in holders if h.outcome_index == outcome]
    return sorted(side, key=open_risk, reverse=True)[:TOP_HOLDERS]


def _vote(holder: Holder, metrics: WalletMetrics | None) -> Vote | None:
    if metrics is None or metrics.resolved_bets < MIN_RESOLVED_BETS:
        return None
    omega = metrics.omega or Decimal(1)
    omega = min(max(omega, OMEGA_FLOOR), OMEGA_CAP)
    risk = open_risk(holder)
    vote = omega * risk.sqrt() if risk > 0 else Decimal(0)
    if vote <= 0:
        return None
    return Vote(holder.wallet, omega, risk, vote, metrics.resolved_bets)


def owrr(holders: Sequence[Holder], metrics: Mapping[str, WalletMetrics]) -> Owrr:
    yes = [v for h in top_holders(holders, YES) if (v := _vote(h, metrics.get(h.wallet)))]
    no = [v for h in top_holders(holders, NO) if (v := _vote(h, metrics.get(h.wallet)))]
    s_yes = sum((v.vote for v in yes), Decimal(0))
    s_no = sum((v.vote for v in no), Decimal(0))
    if len(yes) < MIN_VOTES_PER_SIDE or len(no) < MIN_VOTES_PER_SIDE:
        return Owrr(Decimal("0.5"), 50, Decimal(0), Decimal(0), yes, no, "insufficient_data")
    ratio = s_yes / (s_yes + s_no)
    total = len(yes) + len(no)
    confidence: Confidence = "high" if total >= 20 else "medium" if total >= 12 else "low"
    slider = int((ratio * 100).to_integral_value(rounding="ROUND_HALF_UP"))
    return Owrr(ratio, slider, s_yes, s_no, yes, no, confidence)
