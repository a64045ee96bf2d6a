"""WALLET_FILTER's operators over wallet rows, as the original applied them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cascadian.data import Workflow
from cascadian.errors import NodeError
from cascadian.workflow.node_api import NodeContext, NodeServices
from cascadian.workflow.original.nodes.wallet_filter import WALLET_FILTER, WalletFilterConfig
from tests.polymarket_fixtures import settings

ROWS = [
    {"wallet_address": "a", "omega": 1.0, "pnl_30d": 10.0, "win_rate_30d": 0.4},
    {"wallet_address": "b", "omega": 2.0, "pnl_30d": -5.0, "win_rate_30d": 0.6},
    {"wallet_address": "c", "omega": 3.0, "pnl_30d": 30.0, "win_rate_30d": 0.5},
    {"wallet_address": "d", "omega": 4.0, "pnl_30d": 0.0, "win_rate_30d": None},
    {"wallet_address": "e", "omega": None, "pnl_30d": 99.0, "win_rate_30d": 0.9},
]


async def run(**config: Any) -> dict[str, Any]:
    ctx = NodeContext(
        Workflow(uuid.uuid4(), "s", [], [], {}, None),
        "cohort",
        {"source": {"wallets": ROWS}},
        NodeServices(settings()),
    )
    out: dict[str, Any] = await WALLET_FILTER.run(WalletFilterConfig(**config), ctx)
    return out


def ids(out: dict[str, Any]) -> list[str]:
    return [w["wallet_address"] for w in out["wallets"]]


async def test_top_and_bottom_percent_cut_at_the_nearest_rank_percentile() -> None:
    # omega values 1, 2, 3, 4 (e has none): top 25% is at or above the 75th
    # percentile, index ceil(0.75 x 4) - 1 = 2, so 3; bottom 50% at or below index 1, 2.
    top = await run(conditions=[{"metric": "omega", "operator": "top_percent", "value": "25"}])
    assert ids(top) == ["c", "d"]
    bottom = await run(conditions=[{"metric": "omega", "operator": "bottom_percent", "value": 50}])
    assert ids(bottom) == ["a", "b"]


async def test_comparisons_apply_in_turn_and_a_null_fails_them() -> None:
    out = await run(
        conditions=[
            {"metric": "pnl_30d", "operator": ">=", "value": "0"},
            {"metric": "win_rate_30d", "operator": "<", "value": "0.95"},
            {"metric": "omega", "operator": "=", "value": "3"},
        ]
    )
    assert ids(out) == ["c"]
    assert (out["count"], out["original_count"]) == (1, 5)


async def test_sorting_puts_wallets_without_the_metric_last_and_limit_cuts() -> None:
    out = await run(sorting={"primary": "omega DESC"}, limit=3)
    assert ids(out) == ["d", "c", "b"]
    ascending = await run(sorting={"primary": "win_rate_30d ASC", "secondary": "omega DESC"})
    assert ids(ascending) == ["a", "c", "b", "e", "d"]


async def test_an_unknown_operator_is_skipped_and_named() -> None:
    out = await run(conditions=[{"metric": "omega", "operator": "between", "value": "1"}])
    assert len(out["wallets"]) == 5
    assert out["warnings"] == ["unknown operator 'between' on 'omega': skipped"]


async def test_what_public_data_cannot_give_is_an_error_not_an_empty_cohort() -> None:
    with pytest.raises(NodeError, match="primary_category"):
        await run(categories=["Politics"])
    with pytest.raises(NodeError, match="closed positions on Polymarket's Data API carry no"):
        await run(conditions=[{"metric": "primary_category", "operator": "=", "value": "x"}])
    with pytest.raises(NodeError, match="no wallet has the metric 'metric_2_omega_net'"):
        await run(conditions=[{"metric": "metric_2_omega_net", "operator": ">", "value": "1"}])
