"""The polymarket-markets node: list markets from the Gamma API, normalised and filtered.

Services used: the HTTP client, settings and retry policy.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from cascadian.workflow.node_api import NodeConfig, NodeContext, NodeType
from cascadian.workflow.polymarket import GammaClient, Market, ParamValue


class PolymarketMarketsConfig(NodeConfig):
    active: bool = True
    closed: bool = False
    limit: int = Field(default=100, ge=1, le=500)
    # A Gamma sort field, e.g. "volume24hr", "liquidity", "endDate".
    order: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^\w+$")
    ascending: bool = False
    tag_id: int | None = None
    # Applied here, after the call: Gamma's own min filters are not relied on.
    min_volume_24h: float | None = Field(default=None, ge=0)
    min_liquidity: float | None = Field(default=None, ge=0)

    def gamma_params(self) -> dict[str, ParamValue]:
        """The query parameters this config sends to Gamma's /markets."""
        return {
            "active": self.active,
            "closed": self.closed,
            "limit": self.limit,
            "order": self.order,
            "ascending": self.ascending,
            "tag_id": self.tag_id,
        }

    def keeps(self, market: Market) -> bool:
        """Whether `market` passes the local minimum filters."""
        if self.min_volume_24h is not None and market.volume_24h < self.min_volume_24h:
            return False
        return self.min_liquidity is None or market.liquidity >= self.min_liquidity


async def run(config: PolymarketMarketsConfig, ctx: NodeContext) -> dict[str, Any]:
    services = ctx.services
    async with services.http_client() as client:
        gamma = GammaClient(client, services.settings.polymarket_base_url, retry=services.retry)
        page = await gamma.list_markets(config.gamma_params(), deadline=ctx.deadline)
    items = [market.to_output() for market in page.markets if config.keeps(market)]
    return {"items": items, "count": len(items), "skipped": page.skipped}


POLYMARKET_MARKETS = NodeType(
    name="polymarket-markets",
    config_model=PolymarketMarketsConfig,
    run=run,
    description="List Polymarket markets (Gamma API) with prices, volume and liquidity.",
)
