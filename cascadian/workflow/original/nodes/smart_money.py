"""original-smart-money-signal: the original's SMART_MONEY_SIGNAL, on public data.

For each input market (from the input's `markets` or `data`; it needs a
`conditionId`, as polymarket-stream's and MARKET_FILTER's markets have, and a
`category`, as the original required): OWRR from the market's top holders on
/v2/holders and their wallets' metrics (kept in the database for every strategy;
workflow/wallets/owrr.py says where this differs from the original). Then the
original's thresholds: BUY_YES when OWRR >= `min_owrr_yes` (0.65) and the
confidence is at least `min_confidence` (medium), BUY_NO when OWRR <= `max_owrr_no`
(0.35) likewise; with a signal and a price for its side (`current_yes_price` /
`current_no_price`, else `outcomePrices`), edge = (implied / price - 1) x 100 must
reach `min_edge_percent` (0). The implied probability is OWRR for YES and 1 - OWRR
for NO (the original used OWRR for both, so a NO signal almost never had an edge).

Output, the original's shape: `{markets (those with a signal, each with signal,
reason, recommended_side, edge_percent, owrr, slider, confidence, yes_/no_qualified,
yes_/no_avg_omega, yes_/no_avg_risk, analyzed_at), count, total_analyzed, signals:
{buy_yes, buy_no}, timestamp}`, plus `method` (the approximation) and `skipped`
(each market without a signal and why).
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from cascadian.workflow.node_api import NodeContext, NodeType
from cascadian.workflow.original.jsvalues import to_number, to_string
from cascadian.workflow.original.nodes.common import OriginalConfig, epoch_ms, items
from cascadian.workflow.wallets.owrr import CONFIDENCE_LEVELS, METHOD, Owrr, owrr

KEYS = ("markets", "data", "filtered", "transformed")


class SmartMoneyConfig(OriginalConfig):
    min_owrr_yes: float = Field(default=0.65, ge=0, le=1)
    max_owrr_no: float = Field(default=0.35, ge=0, le=1)
    min_confidence: Literal["insufficient_data", "low", "medium", "high"] = "medium"
    min_edge_percent: float = 0


def _price(market: dict[str, Any], side: str) -> float | None:
    named = market.get(f"current_{side.lower()}_price")
    if named is None:
        prices = market.get("outcomePrices")
        index = 0 if side == "YES" else 1
        named = prices[index] if isinstance(prices, list) and len(prices) > index else None
    price = to_number(named) if named is not None else None
    return price if price is not None and price > 0 else None


def _float(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.000001")))


def _signal(
    config: SmartMoneyConfig, market: dict[str, Any], result: Owrr
) -> tuple[str, str, str | None, float]:
    ratio = float(result.owrr)
    met = CONFIDENCE_LEVELS.index(result.confidence) >= CONFIDENCE_LEVELS.index(
        config.min_confidence
    )
    signal, side = "SKIP", None
    if ratio >= config.min_owrr_yes and met:
        signal, side = "BUY_YES", "YES"
        reason = (
            f"Strong smart money on YES (OWRR {result.slider}/100, "
            f"{len(result.yes_votes)} qualified wallets)"
        )
    elif ratio <= config.max_owrr_no and met:
        signal, side = "BUY_NO", "NO"
        reason = (
            f"Strong smart money on NO (OWRR {result.slider}/100, "
            f"{len(result.no_votes)} qualified wallets)"
        )
    elif not met:
        reason = (
            f"Insufficient data (confidence: {result.confidence}, need {config.min_confidence})"
        )
    else:
        reason = f"Neutral OWRR ({result.slider}/100, not strong enough)"
    edge = 0.0
    price = _price(market, side) if side else None
    if side and price:
        implied = ratio if side == "YES" else 1 - ratio
        edge = (implied / price - 1) * 100
    if signal != "SKIP" and edge < config.min_edge_percent:
        signal, side = "SKIP", None
        reason = f"Edge too low ({edge:.1f}%, need {config.min_edge_percent:g}%)"
    return signal, reason, side, edge


async def _run(config: SmartMoneyConfig, ctx: NodeContext) -> dict[str, Any]:
    markets = items(ctx, KEYS)
    analyzed: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    now = ctx.services.clock.now
    async with ctx.services.wallet_data() as data:
        for market in markets:
            if not isinstance(market, dict):
                continue
            market_id = to_string(market.get("id", market.get("market_id", "")))
            condition = market.get("conditionId") or market.get("condition_id")
            if not market.get("category") or not isinstance(condition, str) or not condition:
                missing = "category" if not market.get("category") else "conditionId"
                skipped.append({"market_id": market_id, "reason": f"no {missing}"})
                continue
            holders = await data.holders(condition, deadline=ctx.deadline)
            wallets = sorted({h.wallet for h in holders})
            metrics = await data.metrics(wallets, now, deadline=ctx.deadline)
            result = owrr(holders, metrics)
            signal, reason, side, edge = _signal(config, market, result)
            if signal == "SKIP":
                skipped.append({"market_id": market_id, "reason": reason})
                continue
            yes_omega, yes_risk = result.averages(result.yes_votes)
            no_omega, no_risk = result.averages(result.no_votes)
            analyzed.append(
                {
                    **market,
                    "signal": signal,
                    "reason": reason,
                    "recommended_side": side,
                    "edge_percent": edge,
                    "owrr": _float(result.owrr),
                    "slider": result.slider,
                    "confidence": result.confidence,
                    "yes_qualified": len(result.yes_votes),
                    "no_qualified": len(result.no_votes),
                    "yes_avg_omega": _float(yes_omega),
                    "no_avg_omega": _float(no_omega),
                    "yes_avg_risk": _float(yes_risk),
                    "no_avg_risk": _float(no_risk),
                    "analyzed_at": now().astimezone(UTC).isoformat().replace("+00:00", "Z"),
                    "method": METHOD,
                }
            )
    return {
        "markets": analyzed,
        "count": len(analyzed),
        "total_analyzed": len(markets),
        "signals": {
            "buy_yes": sum(1 for m in analyzed if m["signal"] == "BUY_YES"),
            "buy_no": sum(1 for m in analyzed if m["signal"] == "BUY_NO"),
        },
        "timestamp": epoch_ms(ctx),
        "method": METHOD,
        "skipped": skipped,
    }


SMART_MONEY_SIGNAL = NodeType(
    name="original-smart-money-signal",
    config_model=SmartMoneyConfig,
    run=_run,
    description="The original's SMART_MONEY_SIGNAL: OWRR from public holders and wallet metrics.",
)
