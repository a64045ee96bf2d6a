"""A small recorded history, written through the store as the recorder writes it:
two markets recorded hourly from T0, one of which resolves Yes at T0 + 2 h, and the
graph the golden tests run on it (the original builder's Market Data -> Filter on
`currentPrice < ${variables.threshold}` -> Buy 93 dollars of Yes, in the engine's
vocabulary, where `${...}` is a reference everywhere), hourly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from cascadian.data import HistoryRecording, Schedule, Workflow
from cascadian.ports import MarketHistoryStore
from cascadian.workflow.market.record import Market
from cascadian.workflow.market.tap import split_market

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
HOURLY = Schedule(interval_minutes=60)

# Each market's Yes price at T0 + i hours (None: resolved Yes, closed).
M1 = [0.30, 0.40, None, None]
M2 = [0.70, 0.15, 0.40, 0.40]


def record(market_id: str, yes: float | None, volume_24h: float) -> dict[str, Any]:
    closed = yes is None
    prices = [1.0, 0.0] if closed else [yes, round(1 - yes, 4)]
    return {
        "id": market_id,
        "question": f"Will {market_id} happen?",
        "slug": market_id,
        "outcomes": json.dumps(["Yes", "No"]),
        "outcomePrices": json.dumps([str(p) for p in prices]),
        "clobTokenIds": json.dumps([f"{market_id}-yes", f"{market_id}-no"]),
        "volume": "50000",
        "volume24hr": volume_24h,
        "liquidity": "10000",
        "active": True,
        "closed": closed,
        "enableOrderBook": True,
        "orderPriceMinTickSize": 0.01,
        "orderMinSize": 5,
        "category": "Politics",
    }


def recording_at(hour: int) -> HistoryRecording:
    rows = []
    for market_id, path, volume in (("m1", M1, 200.0), ("m2", M2, 100.0)):
        market = Market.model_validate(record(market_id, path[hour], volume))
        static, state = split_market(market)
        rows.append({"id": market_id, "static": static, "state": state})
    return HistoryRecording(rows, [], [])


async def write_history(store: MarketHistoryStore, hours: int = 4) -> None:
    for hour in range(hours):
        await store.record_history(recording_at(hour), T0 + hour * HOUR)


def node(node_id: str, kind: str, config: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": kind,
        "position": {"x": 0, "y": 0},
        "data": {"label": kind, "config": config},
    }


def edge(a: str, b: str) -> dict[str, Any]:
    return {"id": f"{a}-{b}", "source": a, "target": b, "sourceHandle": None, "targetHandle": None}


def graph(threshold: float = 0.35, *extra: dict[str, Any]) -> Workflow:
    nodes = [
        node(
            "stream",
            "original-polymarket-stream",
            {"categories": [], "minVolume": 0, "maxResults": 10},
        ),
        node(
            "cheap",
            "original-filter",
            {
                "conditions": [
                    {"field": "currentPrice", "operator": "lt", "value": "${variables.threshold}"}
                ]
            },
        ),
        node(
            "buy",
            "original-polymarket-buy",
            {"outcome": "Yes", "amount": 93, "orderType": "market"},
        ),
        *extra,
    ]
    edges = [edge("stream", "cheap"), edge("cheap", "buy")]
    return Workflow(
        id=UUID("33333333-3333-4333-8333-333333333333"),
        name="cheap yes",
        nodes=nodes,
        edges=edges,
        variables={"threshold": threshold},
    )
