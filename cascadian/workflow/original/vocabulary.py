"""The original Cascadian builder's node types, and what cascadian does with each.

Each type either runs, as one of cascadian's `original-*` node types that keeps the
original's config fields, inputs and output shape, or is refused before anything
runs, with the reason below. docs/nodes.md has the same table for people.
"""

from __future__ import annotations

from typing import Final

# original type -> the engine type that runs it with the original's semantics.
RUNS: Final[dict[str, str]] = {
    "start": "original-start",
    "end": "original-end",
    "httpRequest": "original-http-request",
    "javascript": "original-javascript",
    "conditional": "original-conditional",
    "polymarket-stream": "original-polymarket-stream",
    "filter": "original-filter",
    # The HEAD builder's enhanced filter saves the v2 filter's config.
    "ENHANCED_FILTER": "original-filter",
    "transform": "original-transform",
    "condition": "original-condition",
    "llm-analysis": "original-llm-analysis",
    "polymarket-buy": "original-polymarket-buy",
    "polymarket-sell": "original-polymarket-sell",
    "add-to-watchlist": "original-add-to-watchlist",
    "MARKET_FILTER": "original-market-filter",
    # Warehouse-bound in the original; here from Polymarket's public Data API.
    "DATA_SOURCE": "original-data-source",
    "WALLET_FILTER": "original-wallet-filter",
    "SMART_MONEY_SIGNAL": "original-smart-money-signal",
    # Browser-only in the original; here on public trades, copies as paper orders.
    "COPY_TRADE_WATCH": "original-copy-trade-watch",
    "MANUAL_COPY_TRADE": "original-manual-copy-trade",
    # Browser-only in the original; here over the strategy's paper positions.
    "POSITION_TRACKER": "original-position-tracker",
    "EXIT_SIGNAL": "original-exit-signal",
    # Sizing over the strategy's paper portfolio; approval mode's decisions wait in
    # orchestrator_decisions for the owner.
    "orchestrator": "original-orchestrator",
    "ORCHESTRATOR": "original-orchestrator",
}

# Types whose fields the original's panels wrote at `data.*`, not `data.config.*`.
LEGACY: Final = frozenset({"javascript", "conditional", "httpRequest"})

# Targets of these number their inputs (input1, input2, ...), so an edge from start
# is one of them; other nodes read one data input, to which start adds nothing.
NUMBERED_INPUTS: Final = frozenset({"javascript", "conditional", "httpRequest"})

_WAREHOUSE = "the original's ClickHouse wallet-analytics warehouse, which cascadian does not have"
_NO_EXECUTOR = "had no executor in the original (it failed there as an unknown node type)"
_BROWSER_ONLY = "only ever ran in the original's browser pages; no server ever executed it"
_SCREENING = (
    "belongs to the original's wallet-screening strategy builder, whose data came from "
    + _WAREHOUSE
)

# original type -> why it cannot run here (said before any node runs).
REFUSED: Final[dict[str, str]] = {
    "llm-research": "was never implemented in the original (it always failed with "
    "'LLM Research node not yet implemented (post-MVP)')",
    "FILTER": _SCREENING,
    "LOGIC": _SCREENING,
    "AGGREGATION": _SCREENING,
    "SIGNAL": _SCREENING,
    "ACTION": _SCREENING,
    "MARKET_UNIVERSE": _BROWSER_ONLY,
    "MARKET_MONITOR": _BROWSER_ONLY,
    "ALERT": _BROWSER_ONLY,
    "PERFORMANCE_STATS": _BROWSER_ONLY,
    "monitor-momentum": _NO_EXECUTOR,
    "wallet-intelligence": _NO_EXECUTOR,
    "notification": _NO_EXECUTOR,
    "loop": _NO_EXECUTOR,
    # The AI-agent builder that came before: its Run button knew these; its
    # models and tools were stubs or the Vercel AI Gateway.
    "prompt": _NO_EXECUTOR,
    "textModel": _NO_EXECUTOR,
    "imageGeneration": _NO_EXECUTOR,
    "audio": _NO_EXECUTOR,
    "embeddingModel": _NO_EXECUTOR,
    "structuredOutput": _NO_EXECUTOR,
    "tool": _NO_EXECUTOR,
}

# Names both vocabularies use, for different configs and outputs.
SHARED: Final = frozenset({"start", "end", "filter", "transform", "condition", "add-to-watchlist"})
# Only the original used these names: a graph holding one is in its vocabulary.
ORIGINAL_ONLY: Final = (frozenset(RUNS) | frozenset(REFUSED)) - SHARED

# Keys of a ReactFlow node's `data` that are the builder's, not the node's config.
NOT_CONFIG: Final = frozenset(
    {"label", "nodeType", "status", "output", "config", "inputs", "description", "icon"}
)
