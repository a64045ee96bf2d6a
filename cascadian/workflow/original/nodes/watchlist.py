"""original-add-to-watchlist: the original's Add to Watchlist node.

Markets come from the input's `markets`, `filtered`, `data` (or a transform's
`transformed`), else the input itself; each one's id is its `id`, `market_id` or
`marketId`, and one without an id is an error in the output, not a failure. The
entry keeps the original's metadata (volume_24h, current_price, category, question,
liquidity, endDate), read also from the fields polymarket-stream emits
(`volume24h`, `currentPrice`, `endsAt`), which the original forgot. `reason` is the
config's (smart-flow by default in its panel), else "Added by workflow"; its
`category` and `autoMonitor` fields were never read and are not here either.

When markets were added, the owner gets one `watchlist_updated` notification (the
original sent one per market), unless their notification settings suppress it.
Wallets (`inputs.wallets`) fed the original's copy trading from its wallet warehouse:
they fail the node. Output: `{added: [ids], duplicates: [ids], errors?, count,
total_processed, timestamp}`.
"""

from __future__ import annotations

from typing import Any

from cascadian.data import Notification, WatchlistEntry
from cascadian.errors import StoreRejected
from cascadian.workflow.node_api import NodeContext, NodeError, NodeType
from cascadian.workflow.original.jsvalues import item_id, to_number, to_string, truthy
from cascadian.workflow.original.nodes.common import OriginalConfig, epoch_ms, items, upstream

KEYS = ("markets", "filtered", "data", "transformed")


class WatchlistConfig(OriginalConfig):
    reason: str | None = None


def _first(market: dict[str, Any], *keys: str) -> Any:
    return next((market[k] for k in keys if truthy(market.get(k))), None)


def _metadata(market: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "volume_24h": _first(market, "volume_24h", "volume24h", "volume") or 0,
        "current_price": _first(market, "current_price", "price", "currentPrice") or 0,
        "category": market.get("category") or "Unknown",
    }
    for key, names in (
        ("question", ("question",)),
        ("liquidity", ("liquidity",)),
        ("endDate", ("endDate", "endsAt", "end_date")),
    ):
        value = _first(market, *names)
        if value is not None:
            metadata[key] = value
    return metadata


def _message(added: list[str], names: dict[str, dict[str, Any]]) -> str:
    if len(added) == 1:
        meta = names[added[0]]
        volume = to_number(meta.get("volume_24h"))
        shown = f" (${round(volume / 1000)}K volume)" if volume > 0 else ""
        return f"Added '{meta.get('question') or added[0]}'{shown}"
    listed = ", ".join(f"'{names[m].get('question') or m}'" for m in added[:3])
    more = f" and {len(added) - 3} more" if len(added) > 3 else ""
    return f"Added {len(added)} markets: {listed}{more}"


async def run(config: WatchlistConfig, ctx: NodeContext) -> dict[str, Any]:
    if any(
        isinstance(v, dict) and isinstance(v.get("wallets"), list) and v["wallets"]
        for v in upstream(ctx)
    ):
        raise NodeError(
            "wallets cannot be watched here: the original kept wallet watchlists for its "
            "copy trading, fed by its wallet-analytics warehouse, which cascadian does not have"
        )
    markets = items(ctx, KEYS)
    errors: list[str] = []
    entries: dict[str, WatchlistEntry] = {}
    for market in markets:
        market_id = item_id(market)
        if market_id is None or isinstance(market_id, dict | list):
            errors.append("Market missing ID field")
            continue
        key = to_string(market_id)
        entries.setdefault(
            key, WatchlistEntry(key, config.reason or "Added by workflow", _metadata(market))
        )
    watched = (
        await ctx.services.node_store().watch_markets(
            ctx.workflow.id, ctx.workflow.execution_id, list(entries.values())
        )
        if entries
        else None
    )
    added = watched.added if watched else []
    duplicates = watched.duplicates if watched else []
    if added and ctx.workflow.user_id is not None:
        notification = Notification(
            user_id=ctx.workflow.user_id,
            workflow_id=ctx.workflow.id,
            title=f"{ctx.workflow.name or 'Strategy'} added "
            f"{'market' if len(added) == 1 else 'markets'} to watchlist",
            message=_message(added, {k: e.metadata for k, e in entries.items()}),
            type="watchlist_updated",
            link=f"/strategies/{ctx.workflow.id}",
            metadata={
                "execution_id": str(ctx.workflow.execution_id),
                "node_id": ctx.node_id,
                "market_ids": added,
            },
        )
        try:
            await ctx.services.node_store().notify(notification, ctx.services.clock.now())
        except StoreRejected as exc:
            errors.append(f"the watchlist_updated notification was refused: {exc}")
    output: dict[str, Any] = {"added": added, "duplicates": duplicates}
    if errors:
        output["errors"] = errors
    return {
        **output,
        "count": len(added),
        "total_processed": len(markets),
        "timestamp": epoch_ms(ctx),
    }


ADD_TO_WATCHLIST = NodeType(
    name="original-add-to-watchlist",
    config_model=WatchlistConfig,
    run=run,
    description="The original's Add to Watchlist: {added, duplicates, count, ...}.",
)
