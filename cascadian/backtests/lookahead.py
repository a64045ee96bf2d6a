"""Before a backtest runs: which nodes would read something the history does not
have at a slot, so that the backtest would have to guess, or look ahead.

Each node of the graph (after translation from the original builder's vocabulary)
is checked against the window and the history's span:

- market data (polymarket-markets, the original's Market Data, buy and sell) needs
  recorded market states from the window's start: before recording began only
  prices are known (Polymarket's public price history), never volume, liquidity or
  the listing itself, so such a window is refused, naming the node and the field
  `markets`, and the first time that would do;
- the fields Gamma filters on that are not recorded (`tag_id`, `archived`) are refused;
  `live_prices` needs token prices (recorded quotes or public history) from the start;
- nodes that read the world at run time (http-request, the original's httpRequest) would
  read today's answer at every slot: refused, naming `url`; an LLM (which knows what
  happened after the slot) is refused unless the caller asks for it, then flagged;
- node types not known to be pure are refused: a backtest does not guess either.

Orders without a recorded book fill against the spread model: flagged, not refused.
Answers GraphProblems (refusals) and warnings (flags), each naming node and field.
"""

from __future__ import annotations

from datetime import datetime

from cascadian.data import GraphProblem, HistorySpan
from cascadian.workflow.graph import Graph

MARKET_LISTINGS = {"polymarket-markets", "original-polymarket-stream"}
ORDERS = {"original-polymarket-buy", "original-polymarket-sell"}
LIVE_WEB = {"http-request", "original-http-request"}
LLM = {"original-llm-analysis"}
# Pure: what they output is a function of their inputs and config (and the clock,
# which is the slot's); writes become intents, as in a dry run.
PURE = {
    "start",
    "end",
    "delay",
    "filter",
    "transform",
    "condition",
    "add-to-watchlist",
    "notify",
    "original-start",
    "original-end",
    "original-filter",
    "original-transform",
    "original-condition",
    "original-conditional",
    "original-javascript",
    "original-market-filter",
    "original-add-to-watchlist",
}


def check(
    graph: Graph, span: HistorySpan, start: datetime, allow_llm: bool = False
) -> tuple[list[GraphProblem], list[GraphProblem]]:
    """(refusals, flags) for running `graph` from `start` on this history."""
    refused: list[GraphProblem] = []
    flagged: list[GraphProblem] = []
    markets_from = span.markets_from
    for node in graph.nodes.values():
        kind, config = node.type_name, node.config

        def problem(field: str, message: str, into: list[GraphProblem]) -> None:
            into.append(GraphProblem(node.id, kind, field, message))  # noqa: B023

        listing = kind in MARKET_LISTINGS or kind in ORDERS
        if listing and (markets_from is None or markets_from > start):
            since = (
                "no markets are recorded"
                if markets_from is None
                else f"markets are recorded from {markets_from.isoformat()}"
            )
            problem(
                "markets",
                f"not backtestable over this window: {since}; before that only prices are "
                "known (public price history), never the listing, volume or liquidity",
                refused,
            )
        if kind == "polymarket-markets":
            for name in ("tag_id", "archived"):
                if config.get(name) is not None:
                    problem(
                        f"data.config.{name}",
                        f"not backtestable: {name} is not recorded in the market history",
                        refused,
                    )
            prices_from = span.prices_from
            if config.get("live_prices") and (prices_from is None or prices_from > start):
                problem(
                    "data.config.live_prices",
                    "not backtestable over this window: no token prices are recorded from "
                    "its start",
                    refused,
                )
        if kind in ORDERS and (span.books_from is None or span.books_from > start):
            problem(
                "book",
                "no order books are recorded from the window's start: orders fill against "
                "the spread model (the midpoint with a half-spread either side)",
                flagged,
            )
        if kind in LIVE_WEB:
            problem(
                "data.config.url",
                "not backtestable: it reads the web at run time, which has no history "
                "(every slot would see today's answer)",
                refused,
            )
        elif kind in LLM:
            if allow_llm:
                problem(
                    "data.config.model",
                    "the LLM is called at every slot and may know what happened after it",
                    flagged,
                )
            else:
                problem(
                    "data.config.model",
                    "not backtestable unless LLM calls are allowed: the model may know what "
                    "happened after the slot",
                    refused,
                )
        elif kind not in PURE and kind not in MARKET_LISTINGS and kind not in ORDERS:
            problem("type", f"not backtestable: {kind} is not known to read only history", refused)
    return refused, flagged
