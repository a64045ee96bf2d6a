"""add-to-watchlist: put markets on the strategy's watchlist.

Items come from config `items` or the input (see filter). Each item's market id
is read at `market_id_field`. Markets already on the watchlist are counted as
duplicates. Output: {"added": n, "duplicates": m, "count": n + m}.
Services used: the node store.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from cascadian.data import WatchlistEntry
from cascadian.workflow.node_api import NodeConfig, NodeContext, NodeError, NodeType
from cascadian.workflow.nodes.common import collect_items
from cascadian.workflow.templates import MISSING, get_path


class WatchlistConfig(NodeConfig):
    items: Any = None
    market_id_field: str = Field(default="id", min_length=1)
    reason: str | None = Field(default=None, max_length=500)
    # Item fields copied into each entry's metadata, e.g. ["question", "yes_price"].
    metadata_fields: list[str] = Field(default=["question", "yes_price"], max_length=20)


async def run(config: WatchlistConfig, ctx: NodeContext) -> dict[str, Any]:
    entries = []
    for index, item in enumerate(collect_items(config, ctx)):
        market_id = get_path(item, config.market_id_field)
        if market_id is MISSING or market_id is None or isinstance(market_id, dict | list):
            raise NodeError(f"item #{index} has no market id at {config.market_id_field!r}")
        meta = {f: v for f in config.metadata_fields if (v := get_path(item, f)) is not MISSING}
        entries.append(WatchlistEntry(str(market_id), config.reason, meta))
    if not entries:
        return {"added": 0, "duplicates": 0, "count": 0}
    added, duplicates = await ctx.services.node_store().add_to_watchlist(
        ctx.workflow.id, ctx.workflow.execution_id, entries
    )
    return {"added": added, "duplicates": duplicates, "count": added + duplicates}


ADD_TO_WATCHLIST = NodeType(
    name="add-to-watchlist",
    config_model=WatchlistConfig,
    run=run,
    description="Add markets to the strategy's watchlist (duplicates are counted, not errors).",
)
