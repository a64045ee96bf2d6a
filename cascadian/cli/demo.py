"""Demo strategies that show the scheduler's behaviours on a fresh database."""

from __future__ import annotations

import itertools
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

DEMO_USER = UUID("00000000-0000-4000-8000-00000000d3e0")

_MARKETS = [
    {
        "id": "m1",
        "question": "Will it rain in London tomorrow?",
        "yes_price": 0.31,
        "volume": 250_000,
    },
    {
        "id": "m2",
        "question": "Will BTC close above $150k this year?",
        "yes_price": 0.22,
        "volume": 900_000,
    },
    {
        "id": "m3",
        "question": "Will the Fed cut rates in December?",
        "yes_price": 0.64,
        "volume": 1_200_000,
    },
    {
        "id": "m4",
        "question": "Will a new Pope be named this month?",
        "yes_price": 0.05,
        "volume": 40_000,
    },
]


def _node(node_id: str, node_type: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "data": {"config": config}}


def _chain(*ids: str) -> list[dict[str, Any]]:
    return [{"id": f"{a}-{b}", "source": a, "target": b} for a, b in itertools.pairwise(ids)]


def polymarket_watchlist_graph() -> dict[str, Any]:
    """Fetch active markets with 24h volume over $100k, keep those priced 0.2-0.4,
    add them to the watchlist, and notify the owner."""
    nodes = [
        _node("start", "start"),
        _node(
            "fetch",
            "polymarket-markets",
            active=True,
            closed=False,
            limit=100,
            order="volume24hr",
            min_volume_24h=100_000,
        ),
        _node(
            "cheap",
            "filter",
            conditions=[{"field": "yes_price", "operator": "between", "value": [0.2, 0.4]}],
        ),
        _node("watch", "add-to-watchlist", reason="24h volume > $100k, priced 0.2-0.4"),
        _node(
            "tell",
            "notify",
            title="Watchlist updated",
            message="Added ${watch.added} market(s) priced 0.2-0.4 "
            "(${watch.duplicates} already watched).",
        ),
        _node("end", "end"),
    ]
    return {"nodes": nodes, "edges": _chain("start", "fetch", "cheap", "watch", "tell", "end")}


def demo_strategies() -> list[dict[str, Any]]:
    """The demo's strategies; `expect` says what each is there to show."""
    cheap = {"field": "yes_price", "operator": "between", "value": [0.2, 0.4]}
    return [
        {
            "id": UUID("00000000-0000-4000-8000-000000000001"),
            "name": "Heartbeat (start -> delay -> end)",
            "nodes": [
                _node("start", "start"),
                _node("wait", "delay", seconds=0.2),
                _node("end", "end"),
            ],
            "edges": _chain("start", "wait", "end"),
            "variables": {},
            "expect": "succeeds",
        },
        {
            "id": UUID("00000000-0000-4000-8000-000000000002"),
            "name": "Cheap liquid markets (filter -> rank -> branch)",
            "nodes": [
                _node("start", "start"),
                _node("cheap", "filter", items="${start.markets}", conditions=[cheap]),
                _node(
                    "rank",
                    "transform",
                    operations=[{"op": "sort", "field": "volume", "descending": True}],
                ),
                _node("any", "condition", left="${rank.count}", operator="gt", right=0),
                _node("found", "end"),
                _node("none", "end"),
            ],
            "edges": [
                *_chain("start", "cheap", "rank", "any"),
                {"id": "any-found", "source": "any", "target": "found", "sourceHandle": "true"},
                {"id": "any-none", "source": "any", "target": "none", "sourceHandle": "false"},
            ],
            "variables": {"markets": _MARKETS},
            "expect": "succeeds, on the sample markets it carries (no internet needed)",
        },
        {
            "id": UUID("00000000-0000-4000-8000-000000000004"),
            "name": "Polymarket: cheap, liquid markets to my watchlist",
            **polymarket_watchlist_graph(),
            "variables": {},
            "expect": "needs the internet (Polymarket's Gamma API); offline it fails, "
            "and is auto-paused on its third run",
        },
        {
            "id": UUID("00000000-0000-4000-8000-000000000003"),
            "name": "Broken on purpose (auto-pauses after 3 errors)",
            "nodes": [_node("start", "start"), _node("oops", "no-such-node")],
            "edges": _chain("start", "oops"),
            "variables": {},
            "expect": "fails on purpose (an unknown node type); auto-paused on its third run",
        },
    ]


def seed(conninfo: str, strategies: list[dict[str, Any]] | None = None) -> int:
    """Insert (or re-arm) the demo strategies, due now, running every minute."""
    rows = strategies if strategies is not None else demo_strategies()
    with psycopg.connect(conninfo, autocommit=True, prepare_threshold=None) as conn:
        for s in rows:
            conn.execute(
                """
                insert into workflow_sessions (id, user_id, name, nodes, edges, variables,
                    status, auto_run, execution_interval_minutes, next_execution_at)
                values (%s, %s, %s, %s, %s, %s, 'running', true, 1, now())
                on conflict (id) do update set
                    nodes = excluded.nodes, edges = excluded.edges, variables = excluded.variables,
                    status = 'running', auto_run = true, error_count = 0, next_execution_at = now()
                """,
                (
                    s["id"],
                    DEMO_USER,
                    s["name"],
                    Jsonb(s["nodes"]),
                    Jsonb(s["edges"]),
                    Jsonb(s["variables"]),
                ),
            )
    return len(rows)
