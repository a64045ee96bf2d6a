"""The original's wallet nodes on Polymarket's public data, in graphs saved as its
strategy builder saved them (tests/fixtures/original/wallet_cohort.json,
smart_money.json): DATA_SOURCE (WALLETS) -> WALLET_FILTER, and polymarket-stream ->
SMART_MONEY_SIGNAL, with OWRR checked against values worked out by hand; on both
schemas and through both transports, the wallet metrics kept in the database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
import respx

from cascadian.ports import FullStore
from cascadian.workflow.wallets.metrics import WalletMetrics, wallet_metrics
from tests.factories import rows
from tests.wallet_fixtures import (
    BOARD1,
    BOARD2,
    CLOSED,
    HAND_POSITIONS,
    HOLDERS,
    LEADERBOARD,
    load,
    wallet,
    wallet_data,
)
from tests.workflow.original.helpers import NOW, polymarket, run_saved, saved

COHORT = "wallet_filter_1730000000000_1"
SOURCE = "data_source_1730000000000_0"
SIGNAL = "smart_money_1730000000000_1"
W2 = "0xabcdef0000000000000000000000000000000002"
# The positions each leaderboard wallet closed (indexes into the hand-worked five).
CLOSED_BY_WALLET = {
    wallet(1): [0, 1, 2, 3, 4],  # omega 220/130
    W2: [0, 2, 4],  # no loss: no omega
    wallet(3): [0, 1, 2, 3],  # omega 70/130
    wallet(4): [3, 4],  # nothing in the last 30 days
    wallet(5): [0, 2, 3, 4],  # omega 220/30
}


def closed(request: httpx.Request) -> httpx.Response:
    """Each wallet's closed positions: the hand-worked ones, moved to the run's NOW."""
    shift = int(NOW.timestamp()) - int(datetime(2026, 12, 7, 12, tzinfo=UTC).timestamp())
    picked = [HAND_POSITIONS[i] for i in CLOSED_BY_WALLET[request.url.params["user"]]]
    return httpx.Response(200, json=[p | {"timestamp": p["timestamp"] + shift} for p in picked])


def data_api(router: respx.Router) -> None:
    router.get(LEADERBOARD).mock(
        side_effect=lambda request: httpx.Response(
            200, json=BOARD2 if "cursor" in request.url.params else BOARD1
        )
    )
    router.get(CLOSED).mock(side_effect=closed)


@pytest.mark.both_schemas
@respx.mock
async def test_a_saved_wallet_cohort_reads_the_leaderboard_and_filters_on_the_metrics(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    data_api(respx.mock)
    async with httpx.AsyncClient() as http:
        data = wallet_data(http, any_store, limit=False)
        result, _ = await run_saved(saved("wallet_cohort.json"), http=http, wallets=data)
    assert result.success, result.errors
    source = result.outputs[SOURCE]
    # As the original: wallets with trades in 30 days, highest omega first, none last.
    assert [w["wallet_address"] for w in source["wallets"]] == [wallet(5), wallet(1), wallet(3), W2]
    assert [w["omega"] for w in source["wallets"]] == [7.333333, 1.692308, 0.538462, None]
    assert (source["count"], source["source"], source["table"]) == (
        4,
        "polymarket-data-api",
        "wallet_metrics_complete",
    )
    assert source["universe"]["wallets"] == 5 and source["universe"]["pages"] == 2
    assert "primary_category" in source["unavailable"]
    assert "primary_category" not in source["wallets"][0]
    cohort = result.outputs[COHORT]
    # omega top 50%: at or above the nearest-rank median of 0.538462, 1.692308,
    # 7.333333 (1.692308); W2 has no omega and fails; then pnl_30d > -100; by pnl_30d.
    assert [w["wallet_address"] for w in cohort["wallets"]] == [wallet(5), wallet(1)]
    assert [w["pnl_30d"] for w in cohort["wallets"]] == [70.0, -30.0]
    assert (cohort["count"], cohort["original_count"], cohort["filter_applied"]) == (2, 4, True)
    assert len(rows(db, "select wallet from cascadian_wallet_metrics")) == 5


Y = [f"0x10000000000000000000000000000000000000{i:02d}" for i in range(1, 5)]
N = [f"0x20000000000000000000000000000000000000{i:02d}" for i in range(1, 4)]
# (omega, resolved bets) of each holder: Y4 has too few resolved bets to vote, Y2's
# omega is capped at 5, Y3's floored at 0.1, N2 has none (counts as 1).
HOLDER_METRICS: dict[str, tuple[str | None, int]] = {
    Y[0]: ("2", 12),
    Y[1]: ("8", 30),
    Y[2]: ("0.05", 10),
    Y[3]: ("3", 9),
    N[0]: ("1", 15),
    N[1]: (None, 11),
    N[2]: ("0.5", 20),
}


def seeded(wallet_address: str, omega: str | None, resolved: int) -> dict[str, Any]:
    base = wallet_metrics(wallet_address, [], NOW).to_record()
    return base | {"omega": omega, "resolved_bets": resolved}


@pytest.mark.both_schemas
@respx.mock
async def test_owrr_is_the_value_worked_out_by_hand_from_holders_and_kept_metrics(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    polymarket(respx.mock)
    holders = respx.get(HOLDERS).mock(
        side_effect=lambda request: httpx.Response(
            200,
            json=load("holders_hand.json")
            if request.url.params["condition"].startswith("0x4a3c")
            else {"data": [], "pagination": {"has_more": False}},
        )
    )
    await any_store.put_wallet_metrics({w: seeded(w, *m) for w, m in HOLDER_METRICS.items()}, NOW)
    async with httpx.AsyncClient() as http:
        data = wallet_data(http, any_store, limit=False)
        result, _ = await run_saved(saved("smart_money.json"), http=http, wallets=data)
    assert result.success, result.errors
    assert data.fetched == {}  # every holder's metrics came from the database
    assert holders.calls[0].request.url.params["include_pnl"] == "true"
    out = result.outputs[SIGNAL]
    [market] = out["markets"]
    # YES votes: Y1 2 x sqrt(100) = 20, Y2 5 x sqrt(36) = 30, Y3 0.1 x sqrt(100) = 1
    # (Y4: 9 resolved bets, no vote); NO votes: N1 1 x sqrt(16) = 4, N2 1 x sqrt(9) =
    # 3, N3 0.5 x sqrt(25) = 2.5. OWRR = 51 / 60.5 = 0.842975; 6 votes: low.
    assert market["id"] == "253591"
    assert (market["owrr"], market["slider"], market["confidence"]) == (0.842975, 84, "low")
    assert (market["signal"], market["recommended_side"]) == ("BUY_YES", "YES")
    assert (market["yes_qualified"], market["no_qualified"]) == (3, 3)
    assert (market["yes_avg_omega"], market["yes_avg_risk"]) == (2.366667, 78.666667)
    assert (market["no_avg_omega"], market["no_avg_risk"]) == (0.833333, 16.666667)
    price = market["outcomePrices"][0]
    assert market["edge_percent"] == pytest.approx((51 / 60.5 / price - 1) * 100)
    assert "public-data approximation" in market["method"] and out["method"] == market["method"]
    assert out["signals"] == {"buy_yes": 1, "buy_no": 0}
    reasons = {s["market_id"]: s["reason"] for s in out["skipped"]}
    assert reasons["501122"].startswith("Insufficient data (confidence: insufficient_data")
    assert reasons["517740"] == "no conditionId"


@respx.mock
async def test_the_default_confidence_needs_medium_and_skips_a_low_one(
    store: FullStore, db: psycopg.Connection[Any]
) -> None:
    polymarket(respx.mock)
    respx.get(HOLDERS).respond(200, json=load("holders_hand.json"))
    await store.put_wallet_metrics({w: seeded(w, *m) for w, m in HOLDER_METRICS.items()}, NOW)
    nodes, edges = saved("smart_money.json")
    nodes[1]["config"] = {}
    async with httpx.AsyncClient() as http:
        data = wallet_data(http, store, limit=False)
        result, _ = await run_saved((nodes, edges), http=http, wallets=data)
    out = result.outputs[SIGNAL]
    assert out["markets"] == []
    assert {s["reason"] for s in out["skipped"] if s["market_id"] == "253591"} == {
        "Insufficient data (confidence: low, need medium)"
    }


def test_seeded_metrics_read_back_as_the_original_fields() -> None:
    metrics = WalletMetrics.from_record(seeded(Y[0], "2", 12))
    assert (metrics.resolved_bets, str(metrics.omega)) == (12, "2")


FIFTY = [wallet(i) for i in range(1, 51)]
BOARD_OF_FIFTY = {
    "data": [{"rank": str(i), "proxy_wallet": w, "pnl": "1.5"} for i, w in enumerate(FIFTY, 1)],
    "pagination": {"has_more": False, "next_cursor": None},
}


@pytest.mark.both_schemas
@respx.mock
async def test_a_hundred_strategies_over_fifty_wallets_in_a_tick_read_each_wallet_once(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    from cascadian.bootstrap import build_executor
    from cascadian.clock import FakeClock
    from cascadian.tick import TickService
    from tests.factories import add_strategy
    from tests.wallet_fixtures import settings

    board = respx.get(LEADERBOARD).respond(200, json=BOARD_OF_FIFTY)
    closed_route = respx.get(CLOSED).respond(
        200, json=[p | {"timestamp": int(NOW.timestamp()) - 86_400} for p in HAND_POSITIONS]
    )
    nodes, edges = saved("wallet_cohort.json")
    nodes[0]["config"]["prefilters"]["limit"] = 50
    for _ in range(100):
        add_strategy(db, next_execution_at=NOW, graph=(nodes, edges))
    env = settings(
        CASCADIAN_CLAIM_LIMIT=100, CASCADIAN_MAX_CONCURRENCY=100, CASCADIAN_TICK_BUDGET_SECONDS=600
    )
    async with httpx.AsyncClient() as http:
        executor = build_executor(env, http, any_store)  # one process's WalletData
        report = await TickService(any_store, executor, env, FakeClock(NOW)).tick()
    assert [r.status for r in report.executions] == ["completed"] * 100
    assert closed_route.call_count == 50  # not 5,000: one read per wallet per TTL
    assert board.call_count == 1  # identical public requests are made once
    assert len(rows(db, "select wallet from cascadian_wallet_metrics")) == 50


@respx.mock
async def test_a_saved_cohort_past_the_universe_cap_fails_naming_it_before_any_request() -> None:
    data_api(respx.mock)
    nodes, edges = saved("wallet_cohort.json")
    nodes[0]["config"]["prefilters"]["limit"] = 101
    async with httpx.AsyncClient() as http:
        data = wallet_data(http, CASCADIAN_WALLET_UNIVERSE_MAX=100)
        result, _ = await run_saved((nodes, edges), http=http, wallets=data)
    assert not result.success
    [error] = result.errors
    assert error["node_id"] == SOURCE
    assert "101 wallets is more than" in error["error"]
    assert "CASCADIAN_WALLET_UNIVERSE_MAX" in error["error"]
    assert respx.calls.call_count == 0
