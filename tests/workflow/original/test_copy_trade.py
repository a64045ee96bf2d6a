"""Copy trading from a graph saved as the original's strategy builder saved it
(tests/fixtures/original/copy_trade.json): source trades in /v2/trades' real shape,
each copied consensus ONE paper order through the trading book, however the trades
arrive (duplicated, out of order, replayed) and however often the run is re-run; the
limits refuse what they should, and a copy above `maxCopyPerTradeUsd` is refused as
the original refused it. A copy's position is kept by its token (the token's Gamma
market and outcome), so the bookkeeping step settles it when the market resolves.
Both schemas, both transports."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest
import respx
from psycopg.types.json import Jsonb

from cascadian.clock import FakeClock
from cascadian.data import SourceTrade
from cascadian.ports import FullStore
from cascadian.trading.marking import Marking
from cascadian.workflow.market.positions import PositionMarkets
from cascadian.workflow.original.nodes.copy_trade import parse_wallets, required_count
from tests.factories import add_strategy, rows
from tests.polymarket_fixtures import KEYSET, RECORDS, market_data, settings
from tests.wallet_fixtures import TRADES, wallet_data
from tests.workflow.original.helpers import NOW, polymarket, run_saved, saved

NODE = "copy_1730000000000_0"
A, B, C = (f"0xa00000000000000000000000000000000000000{i}" for i in (1, 2, 3))
FED = "0x4a3c9d1e8f2b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"
# Gamma's id of the market whose condition is FED (tests/fixtures' Gamma records).
MARKET = "253591"
YES_TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO_TOKEN = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
T = int(NOW.timestamp())


def trade(
    wallet: str, tx: str, at: int, size: str, price: str, outcome: str = "Yes"
) -> dict[str, Any]:
    """One /v2/trades row: snake_case, amounts as strings."""
    return {
        "proxy_wallet": wallet.upper().replace("0X", "0x"),
        "side": "BUY",
        "token_id": YES_TOKEN if outcome == "Yes" else NO_TOKEN,
        "condition_id": FED,
        "size": size,
        "price": price,
        "timestamp": at,
        "title": "Will the Fed cut interest rates at the December 2025 meeting?",
        "slug": "fed-cut-december-2025",
        "event_slug": "fed-december-2025",
        "outcome": outcome,
        "outcome_index": 0 if outcome == "Yes" else 1,
        "transaction_hash": tx,
        "name": "",
        "pseudonym": "",
    }


class Source:
    """/v2/trades as respx answers it: each wallet's trades now, newest first, from
    `start` on when asked (inclusive, as Polymarket's is)."""

    def __init__(self) -> None:
        self.trades: dict[str, list[dict[str, Any]]] = {A: [], B: [], C: []}
        self.starts: list[tuple[str, str | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        user = request.url.params["user"]
        start = request.url.params.get("start")
        self.starts.append((user, start))
        found = [t for t in self.trades[user] if start is None or t["timestamp"] >= int(start)]
        found.sort(key=lambda t: -t["timestamp"])
        return httpx.Response(
            200, json={"data": found, "pagination": {"has_more": False, "next_cursor": None}}
        )


async def run(
    any_store: FullStore, db: Any, sid: uuid.UUID | None = None
) -> tuple[dict[str, Any], uuid.UUID]:
    """One run of the saved graph as the strategy `sid` (a new strategy at first)."""
    sid = sid or add_strategy(db, next_execution_at=None, graph=saved("copy_trade.json"))
    async with httpx.AsyncClient() as http:
        data = wallet_data(http, any_store, limit=False)
        result, workflow_id = await run_saved(
            saved("copy_trade.json"), store=any_store, db=db, http=http, wallets=data, again=sid
        )
    assert result.success, result.errors
    return result.outputs[NODE], workflow_id


def orders(db: Any) -> list[dict[str, Any]]:
    return rows(
        db,
        "select order_key, side, outcome, result, refusal, market_id from cascadian_trading_orders "
        "order by order_key",
    )


@pytest.mark.both_schemas
@respx.mock
async def test_each_consensus_is_one_paper_order_whatever_the_trades_and_reruns(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    polymarket(respx.mock)
    source = Source()
    respx.get(TRADES).mock(side_effect=source)
    source.trades[A] = [trade(A, "0xt0", T - 3600, "10", "0.5")]

    # The first read of each wallet only sets where copying starts.
    first, sid = await run(any_store, db)
    assert (first["decisions"], first["firstRead"], first["requiredCount"]) == ([], [A, B, C], 2)
    assert first["wallets"] == [A, B, C]  # "not-a-wallet" is dropped, as the original did

    # A and B buy Yes (A's trade twice in its page), C buys Yes below the minimum
    # notional: two wallets agree, one copy of the newest vote (B: 300 x 0.5 = 150,
    # times the 0.5 ratio = 75, under the 100 maximum).
    source.trades[A] += [trade(A, "0xt1", T + 60, "200", "0.5")] * 2
    source.trades[B] = [trade(B, "0xt2", T + 90, "300", "0.5")]
    source.trades[C] = [trade(C, "0xt3", T + 100, "40", "0.5")]
    second, _ = await run(any_store, db, sid)
    [decision] = second["decisions"]
    assert (decision["status"], decision["sourceWallet"], decision["copyAmountUsd"]) == (
        "executed",
        B,
        "75.00",
    )
    assert (decision["matchedWallets"], decision["requiredCount"]) == ([A, B], 2)
    assert decision["consensusKey"] == f"{FED}:buy:yes"
    assert second["newTrades"] == 3  # t1 once, t2, t3
    key = f"copy:{NODE}:{FED}:buy:yes"
    assert [(o["order_key"], o["side"], o["outcome"], o["market_id"]) for o in orders(db)] == [
        (key, "buy", "Yes", MARKET)
    ]
    assert (decision["marketId"], decision["conditionId"]) == (MARKET, FED)
    # Each wallet is read from its newest trade seen.
    assert (A, str(T - 3600)) in source.starts and (B, str(T)) in source.starts

    # Replayed pages, and a late trade older than what was seen: nothing new to copy.
    source.trades[C].append(trade(C, "0xt4", T + 95, "500", "0.5"))
    third, _ = await run(any_store, db, sid)
    assert third["decisions"] == [] and len(orders(db)) == 1

    # A run that died after the consensus was met but before its order: the trigger
    # is owed, and the next run places it, once.
    late = trade(A, "0xt5", T + 105, "100", "0.5", outcome="No")
    await any_store.observe_copy_trades(
        sid,
        NODE,
        [A, C],
        [
            SourceTrade("0xt5:n", A, f"{FED}:buy:no", T + 105, True, _record(late)),
            SourceTrade("0xt6:n", C, f"{FED}:buy:no", T + 106, True, _record(late, C)),
        ],
        2,
        NOW,
    )
    rerun, _ = await run(any_store, db, sid)
    [owed] = rerun["decisions"]
    assert (owed["consensusKey"], owed["status"], owed["copyAmountUsd"]) == (
        f"{FED}:buy:no",
        "executed",
        "25.00",
    )
    again, _ = await run(any_store, db, sid)
    assert again["decisions"] == []
    assert [o["outcome"] for o in orders(db)] == ["No", "Yes"]  # by order key


def _record(row: dict[str, Any], wallet: str | None = None) -> dict[str, Any]:
    return {
        "wallet": wallet or row["proxy_wallet"].lower(),
        "side": row["side"],
        "token_id": row["token_id"],
        "condition_id": row["condition_id"],
        "outcome": row["outcome"],
        "outcome_index": row["outcome_index"],
        "size": row["size"],
        "price": row["price"],
        "notional": str(float(row["size"]) * float(row["price"])),
        "timestamp": row["timestamp"],
        "transaction_hash": row["transaction_hash"],
        "title": row["title"],
    }


@respx.mock
async def test_the_trading_limits_refuse_a_copy_and_it_is_not_placed_again(
    store: FullStore, db: psycopg.Connection[Any]
) -> None:
    polymarket(respx.mock)
    source = Source()
    respx.get(TRADES).mock(side_effect=source)
    _, sid = await run(store, db)  # the first read: nothing yet
    db.execute(
        "select cascadian_set_trading_limits_v2(%s, %s, %s)",
        (sid, Jsonb({"max_order_usd": 10}), NOW),
    )
    source.trades[A] = [trade(A, "0xt1", T + 60, "200", "0.5")]
    source.trades[B] = [trade(B, "0xt2", T + 90, "300", "0.5")]
    out, _ = await run(store, db, sid)
    [decision] = out["decisions"]
    assert (decision["status"], decision["reason"]) == ("refused", "max_order_usd")
    assert out["orders"] == 0
    again, _ = await run(store, db, sid)
    assert again["decisions"] == []
    assert [(o["result"], o["refusal"]) for o in orders(db)] == [("refused", "max_order_usd")]


@respx.mock
async def test_the_kill_switch_and_the_cash_refuse_a_copy_once_each(
    store: FullStore, db: psycopg.Connection[Any]
) -> None:
    polymarket(respx.mock)
    source = Source()
    respx.get(TRADES).mock(side_effect=source)
    _, sid = await run(store, db)
    db.execute("select cascadian_set_kill_switch_v1(null, true, 'ops', 'incident', %s)", (NOW,))
    source.trades[A] = [trade(A, "0xt1", T + 60, "200", "0.5")]
    source.trades[B] = [trade(B, "0xt2", T + 90, "300", "0.5")]
    stopped, _ = await run(store, db, sid)
    [decision] = stopped["decisions"]
    assert (decision["status"], decision["reason"]) == ("refused", "kill_switch")
    db.execute("select cascadian_set_kill_switch_v1(null, false, 'ops', 'over', %s)", (NOW,))

    # A bankroll of 50: the next consensus (No) costs 75, more than the cash.
    db.execute(
        "select cascadian_set_trading_limits_v2(%s, %s, %s)",
        (sid, Jsonb({"initial_bankroll": 50}), NOW),
    )
    source.trades[A].append(trade(A, "0xt3", T + 120, "200", "0.5", outcome="No"))
    source.trades[B].append(trade(B, "0xt4", T + 130, "300", "0.5", outcome="No"))
    poor, _ = await run(store, db, sid)
    [decision] = poor["decisions"]
    assert (decision["status"], decision["reason"]) == ("refused", "insufficient_cash")
    again, _ = await run(store, db, sid)
    assert again["decisions"] == []
    assert sorted((o["result"], o["refusal"]) for o in orders(db)) == [
        ("refused", "insufficient_cash"),
        ("refused", "kill_switch"),
    ]


def test_the_consensus_modes_need_the_originals_wallet_counts() -> None:
    assert [required_count(m, 5, 3) for m in ("any", "two_agree", "n_of_m", "all")] == [1, 2, 3, 5]
    assert required_count("n_of_m", 5, None) == 2
    assert parse_wallets("0xAB, 0xab\n0xcd ,xyz,") == ["0xab", "0xcd"]


@respx.mock
async def test_the_watch_lists_each_wallets_new_trades_once_and_places_nothing(
    store: FullStore, db: psycopg.Connection[Any]
) -> None:
    source = Source()
    respx.get(TRADES).mock(side_effect=source)
    graph = (
        [
            {
                "id": "watch",
                "type": "COPY_TRADE_WATCH",
                "config": {"version": 1, "wallets": [A, B], "max_recent_trades": 5},
            }
        ],
        [],
    )
    sid = add_strategy(db, next_execution_at=None, graph=graph)

    async def watch() -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            data = wallet_data(http, store, limit=False)
            result, _ = await run_saved(graph, store=store, http=http, wallets=data, again=sid)
        assert result.success, result.errors
        out: dict[str, Any] = result.outputs["watch"]
        return out

    source.trades[A] = [trade(A, "0xt0", T - 60, "10", "0.5")]
    first = await watch()
    assert [e["walletAddress"] for e in first["recentEvents"]] == [A]
    source.trades[B] = [trade(B, "0xt1", T + 60, "20", "0.25")]
    second = await watch()
    assert [(e["walletAddress"], e["notionalUsd"]) for e in second["recentEvents"]] == [(B, 5.0)]
    assert [s["lastTradeAt"] for s in second["snapshot"]] == [T - 60, T + 60]
    assert orders(db) == []


@pytest.mark.both_schemas
@respx.mock
async def test_a_copy_above_the_maximum_is_refused_as_the_original_refused_it_once(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    polymarket(respx.mock)
    source = Source()
    respx.get(TRADES).mock(side_effect=source)
    _, sid = await run(any_store, db)  # the first read: nothing yet
    # 500 x 0.5 = 250, times the 0.5 ratio: a 125 copy, above the 100 maximum.
    source.trades[A] = [trade(A, "0xt1", T + 60, "200", "0.5")]
    source.trades[B] = [trade(B, "0xt2", T + 90, "500", "0.5")]
    out, _ = await run(any_store, db, sid)
    [decision] = out["decisions"]
    assert (decision["status"], decision["reason"], decision["orderResult"]) == (
        "skipped",
        "notional_exceeds_max: 125.00 > 100",
        "refused",
    )
    assert out["orders"] == 0
    # Recorded as the copy's refused order: never cut to the maximum, never tried again.
    again, _ = await run(any_store, db, sid)
    assert again["decisions"] == []
    assert [(o["result"], o["refusal"]) for o in orders(db)] == [("refused", "node_max_order")]
    held = rows(db, "select shares from cascadian_positions where workflow_id = %s", sid)
    assert held == []


@pytest.mark.both_schemas
@respx.mock
async def test_a_copied_position_is_kept_by_its_token_and_settled_when_its_market_resolves(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    polymarket(respx.mock)
    source = Source()
    respx.get(TRADES).mock(side_effect=source)
    _, sid = await run(any_store, db)
    # Two wallets buy No, its outcome named only by its index (the token says which).
    no_a = trade(A, "0xt1", T + 60, "200", "0.5", outcome="No") | {"outcome": ""}
    no_b = trade(B, "0xt2", T + 90, "300", "0.5", outcome="No") | {"outcome": ""}
    source.trades[A], source.trades[B] = [no_a], [no_b]
    out, _ = await run(any_store, db, sid)
    [decision] = out["decisions"]
    assert (decision["status"], decision["marketId"], decision["outcome"]) == (
        "executed",
        MARKET,
        "No",
    )
    [position] = rows(
        db,
        "select market_id, outcome, shares from cascadian_positions where workflow_id = %s",
        sid,
    )
    assert (position["market_id"], position["outcome"]) == (MARKET, "No")
    shares = Decimal(position["shares"])
    assert shares > 0

    # The market resolves No: the tick's bookkeeping settles the copy at 1 a share.
    [record] = [r for r in RECORDS if r.get("id") == MARKET]
    resolved = record | {
        "closed": True,
        "umaResolutionStatus": "resolved",
        "outcomePrices": '["0", "1"]',
    }
    respx.routes.clear()
    respx.get(KEYSET, params={"closed": "true"}).respond(200, json={"markets": [resolved]})
    respx.get(KEYSET, params={"closed": "false"}).respond(200, json={"markets": []})
    async with httpx.AsyncClient() as http:
        step = Marking(any_store, PositionMarkets.of(market_data(http)), settings(), FakeClock(NOW))
        kept = await step.keep(deadline=1e12)
    assert (kept.error, kept.settled) == (None, 1)
    [settled] = rows(
        db,
        "select market_id, outcome, shares, notional_usd from cascadian_trading_orders "
        "where result = 'settled'",
    )
    assert (settled["market_id"], settled["outcome"]) == (MARKET, "No")
    assert Decimal(settled["notional_usd"]) == shares  # 1 a share
    assert rows(db, "select shares from cascadian_positions where workflow_id = %s", sid) == [
        {"shares": 0}
    ]
