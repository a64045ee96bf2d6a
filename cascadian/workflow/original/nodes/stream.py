"""original-polymarket-stream: the original's Market Data node, on live Gamma data.

Config as saved: `categories` (a list, or the comma-separated text of its panel),
`minVolume` (lifetime volume, 0), `maxResults` (10), `active` (true: open markets
only; false: closed ones too; the original ignored it and always asked for open
ones). Markets come from cascadian's shared market data, most traded in 24 hours
first; a category filter reads further down that list to fill `maxResults`.
Categories match the original's names (workflow/original/markets.py), without
regard to case or to its Sport/Sports, Tech/Technology spellings. Output:
`{markets: [...], count, timestamp}`, each market in the original's field names.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from cascadian.workflow.market import MarketQuery
from cascadian.workflow.node_api import NodeContext, NodeType
from cascadian.workflow.original.markets import normal_category, original_record
from cascadian.workflow.original.nodes.common import OriginalConfig, epoch_ms

# The most markets read to fill maxResults when categories narrow them.
SCAN_LIMIT = 500


class StreamConfig(OriginalConfig):
    categories: list[str] = Field(default_factory=list)
    minVolume: float | None = Field(default=0, ge=0)
    maxResults: int = Field(default=10, ge=1, le=SCAN_LIMIT)
    active: bool = True

    @field_validator("categories", mode="before")
    @classmethod
    def _comma_text(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


async def run(config: StreamConfig, ctx: NodeContext) -> dict[str, Any]:
    wanted = {normal_category(c) for c in config.categories}
    minimum = config.minVolume or 0
    query = MarketQuery(
        active=True if config.active else None,
        closed=False if config.active else None,
        volume_min=minimum or None,
    )
    limit = config.maxResults if not wanted else min(SCAN_LIMIT, max(100, config.maxResults * 10))
    async with ctx.services.market_data() as markets:
        page = await markets.markets(query, limit, deadline=ctx.deadline)
    found = [original_record(m) for m in page.markets]
    found = [m for m in found if not wanted or normal_category(m["category"]) in wanted]
    found = [m for m in found if m["volume"] >= minimum][: config.maxResults]
    return {"markets": found, "count": len(found), "timestamp": epoch_ms(ctx)}


POLYMARKET_STREAM = NodeType(
    name="original-polymarket-stream",
    config_model=StreamConfig,
    run=run,
    description="The original's Market Data: Polymarket markets in its field names.",
)
