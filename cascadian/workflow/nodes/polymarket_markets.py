"""The polymarket-markets node: list markets from Gamma's keyset endpoint, filtered,
optionally priced live from the CLOB.

Filters Gamma applies are sent (and checked again here, in case the server ignores
one); the one it lacks, 24h volume, is applied here. Services used: the process's
market data (rate limits and shared requests), settings and retry policy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field, field_validator

from cascadian.workflow.market import Market, MarketQuery
from cascadian.workflow.market.gamma import DEFAULT_ORDER
from cascadian.workflow.node_api import NodeConfig, NodeContext, NodeType

Amount = float | None


class PolymarketMarketsConfig(NodeConfig):
    active: bool = True
    closed: bool = False
    archived: bool | None = None
    # Markets read from Gamma, page after page; local filters may then drop some.
    limit: int = Field(default=100, ge=1, le=1000)
    # A Gamma sort field, e.g. "volume24hr", "liquidityNum", "endDate"; none: volume24hr.
    order: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^\w+$")
    ascending: bool = False
    tag_id: int | None = None
    # Sent to Gamma (liquidity_num_*, volume_num_*, end_date_*); volume is lifetime volume.
    min_liquidity: Amount = Field(default=None, ge=0)
    max_liquidity: Amount = Field(default=None, ge=0)
    min_volume: Amount = Field(default=None, ge=0)
    max_volume: Amount = Field(default=None, ge=0)
    end_date_min: datetime | None = None
    end_date_max: datetime | None = None
    # Applied here: Gamma has no 24h volume filter.
    min_volume_24h: Amount = Field(default=None, ge=0)
    # Replace Gamma's prices (up to 5 minutes old) with the CLOB order book's.
    live_prices: bool = False

    @field_validator("end_date_min", "end_date_max")
    @classmethod
    def _naive_is_utc(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value

    def query(self) -> MarketQuery:
        """What Gamma filters server-side; always with an explicit order."""
        return MarketQuery(
            active=self.active,
            closed=self.closed,
            archived=self.archived,
            tag_id=self.tag_id,
            liquidity_min=self.min_liquidity,
            liquidity_max=self.max_liquidity,
            volume_min=self.min_volume,
            volume_max=self.max_volume,
            end_date_min=self.end_date_min,
            end_date_max=self.end_date_max,
            order=self.order or DEFAULT_ORDER,
            ascending=self.ascending,
        )

    def keeps(self, market: Market) -> bool:
        """Whether `market` passes every filter, checked here."""
        checks = [
            market.active == self.active,
            market.closed == self.closed,
            _within(market.liquidity, self.min_liquidity, self.max_liquidity),
            _within(market.volume, self.min_volume, self.max_volume),
            _within(market.volume_24h, self.min_volume_24h, None),
        ]
        if self.end_date_min or self.end_date_max:
            end = market.end_date
            checks.append(end is not None and _within(end, self.end_date_min, self.end_date_max))
        return all(checks)


def _within(value: Any, low: Any, high: Any) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


async def run(config: PolymarketMarketsConfig, ctx: NodeContext) -> dict[str, Any]:
    async with ctx.services.market_data() as data:
        page = await data.markets(config.query(), config.limit, deadline=ctx.deadline)
        markets = [market for market in page.markets if config.keeps(market)]
        if config.live_prices:
            markets = await data.with_live_prices(markets, deadline=ctx.deadline)
    items = [market.to_output() for market in markets]
    live = sum(1 for market in markets if market.price_source == "clob")
    return {"items": items, "count": len(items), "skipped": page.skipped, "live_priced": live}


POLYMARKET_MARKETS = NodeType(
    name="polymarket-markets",
    config_model=PolymarketMarketsConfig,
    run=run,
    description="List Polymarket markets (Gamma API) with prices, volume and liquidity; "
    "optionally live CLOB prices.",
)
