"""original-market-filter: the original's MARKET_FILTER, on market data.

Each step applies only when set, in this order: `min_liquidity_usd` (liquidity_usd or
liquidity at least this), `min_days_to_close` / `max_days_to_close` (whole days left,
rounded up, from closes_at, end_date, endDate or endsAt; a market without a readable
close date is kept), `categories` (exact), `exclude_keywords` and `include_keywords`
(case-insensitive, in the title or question and the description). The other fields
its panel saved (limit, sorting, status, ...) only fed the original's browser preview;
its server ignored them, and so does this node. Rows come from the input's `markets`
or `data` (or a filter's or transform's list). Output: `{markets, count,
original_count, filter_applied: true, timestamp}`.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import Field

from cascadian.workflow.node_api import Checkpoint, NodeContext, NodeType
from cascadian.workflow.original.jsvalues import to_number, to_string, truthy
from cascadian.workflow.original.nodes.common import OriginalConfig, epoch_ms, items

KEYS = ("markets", "data", "filtered", "transformed")
DAY_MS = 86_400_000


class MarketFilterConfig(OriginalConfig):
    min_liquidity_usd: float | None = None
    min_days_to_close: float | None = None
    max_days_to_close: float | None = None
    categories: list[str] = Field(default_factory=list)
    include_keywords: list[str] = Field(default_factory=list)
    exclude_keywords: list[str] = Field(default_factory=list)


def _get(market: Any, *keys: str) -> Any:
    if not isinstance(market, dict):
        return None
    return next((market[k] for k in keys if truthy(market.get(k))), None)


def _days_left(market: Any, now_ms: int) -> float:
    when = _get(market, "closes_at", "end_date", "endDate", "endsAt")
    if not isinstance(when, str):
        return math.nan
    try:
        closes = datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return math.nan
    return float(math.ceil((closes - now_ms) / DAY_MS))


def _text(market: Any) -> str:
    title = _get(market, "title", "question") or ""
    description = _get(market, "description") or ""
    return f"{to_string(title)} {to_string(description)}".lower()


def _kept(config: MarketFilterConfig, market: Any, now: int) -> bool:
    """Every step that is set, in the documented order (each only narrows the list)."""
    if config.min_liquidity_usd:
        liquidity = to_number(_get(market, "liquidity_usd", "liquidity"))
        if not liquidity >= config.min_liquidity_usd:
            return False
    if config.min_days_to_close is not None or config.max_days_to_close is not None:
        days = _days_left(market, now)
        low, high = config.min_days_to_close, config.max_days_to_close
        inside = (high is None or days <= high) and (low is None or days >= low)
        if not math.isnan(days) and not inside:
            return False
    if config.categories and not (
        isinstance(market, dict) and market.get("category") in config.categories
    ):
        return False
    if any(k.lower() in _text(market) for k in config.exclude_keywords):
        return False
    return not config.include_keywords or any(
        k.lower() in _text(market) for k in config.include_keywords
    )


def _select(
    config: MarketFilterConfig, markets: list[Any], now: int, checkpoint: Checkpoint
) -> list[Any]:
    kept = []
    for market in markets:
        checkpoint()
        if _kept(config, market, now):
            kept.append(market)
    return kept


async def run(config: MarketFilterConfig, ctx: NodeContext) -> dict[str, Any]:
    markets = items(ctx, KEYS)
    now = epoch_ms(ctx)
    # Off the event loop: a long list must not hold up other strategies' runs.
    kept = await ctx.offload(lambda checkpoint: _select(config, markets, now, checkpoint))
    return {
        "markets": kept,
        "count": len(kept),
        "original_count": len(markets),
        "filter_applied": True,
        "timestamp": now,
    }


MARKET_FILTER = NodeType(
    name="original-market-filter",
    config_model=MarketFilterConfig,
    run=run,
    description="The original's MARKET_FILTER: liquidity, days to close, categories, keywords.",
)
