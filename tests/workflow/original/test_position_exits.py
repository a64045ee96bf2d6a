"""POSITION_TRACKER and EXIT_SIGNAL from a graph saved as the original's builder saved
them (tests/fixtures/original/position_exits.json, its default configs: take profit
at +20%, stop loss at -10%): the strategy's paper positions at live prices (a fresh
stored mark, else the CLOB's /books, one batched request), and each exit ONE paper
sell of the whole position through the trading book, once per holding: never twice
for one holding, and again for the next holding of the same outcome. Both schemas,
both transports."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest
import respx

from cascadian.data import MarketBook, OrderIntent, PositionMark
from cascadian.ports import FullStore
from cascadian.trading.executor import PaperExecutor
from tests.factories import add_strategy, rows
from tests.polymarket_fixtures import CLOB
from tests.workflow.original.helpers import NOW, polymarket, run_saved, saved

TRACKER = "position_tracker_1730000000000_0"
EXIT = "exit_signal_1730000000001_1"
FED = "253591"
YES_TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
# GET /book's best bid for the Yes token (tests/workflow/original/helpers.book).
BID = Decimal("0.38")


def books(bid: Decimal = BID) -> list[dict[str, Any]]:
    """POST /books' answer: a list of GET /book objects, numbers as strings."""
    return [
        {
            "market": "0x4a3c9d1e8f2b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c",
            "asset_id": YES_TOKEN,
            "timestamp": "1761998400000",
            "hash": "a4c8d1f0e3b27f6a9c51d0e8b7f4a3c2d1e0f9a8",
            "bids": [{"price": "0.30", "size": "1200"}, {"price": str(bid), "size": "1000"}],
            "asks": [{"price": "0.40", "size": "900"}],
            "min_order_size": "5",
            "tick_size": "0.01",
            "neg_risk": False,
        }
    ]


async def hold(
    store: FullStore, db: Any, entry: str, sid: uuid.UUID | None = None, slot: str = "seed"
) -> uuid.UUID:
    """A strategy (a new one unless `sid`) holding 100 more Yes shares bought at `entry`
    (no fee)."""
    if sid is None:
        sid = add_strategy(db, next_execution_at=None, graph=saved("position_exits.json"))
    ask = Decimal(entry)
    bought = await PaperExecutor(store).place(
        OrderIntent(sid, None, "seed", FED, None, "Yes", "buy", ask * 100, slot=slot),
        MarketBook(
            {"bids": [], "asks": [{"price": entry, "size": "100"}], "tick_size": "0.01"},
            Decimal(0),
            "default",
        ),
        NOW,
    )
    assert bought.result == "filled" and bought.shares == 100
    return sid


async def run(store: FullStore, db: Any, sid: uuid.UUID) -> dict[str, Any]:
    result, _ = await run_saved(saved("position_exits.json"), store=store, db=db, again=sid)
    assert result.success, result.errors
    return result.outputs


def holding(db: Any, sid: uuid.UUID) -> int:
    """The paper order that opened the strategy's current Yes holding."""
    [row] = rows(db, "select holding from cascadian_positions where workflow_id = %s", sid)
    return int(row["holding"])


def sells(db: Any) -> list[dict[str, Any]]:
    return rows(
        db,
        "select order_key, side, result from cascadian_trading_orders where side = 'sell'",
    )


@pytest.mark.both_schemas
@respx.mock
async def test_a_take_profit_sells_the_whole_position_once_across_reruns(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    polymarket(respx.mock)
    batched = respx.post(f"{CLOB}/books").respond(200, json=books())
    sid = await hold(any_store, db, "0.30")

    first = await run(any_store, db, sid)
    [position] = first[TRACKER]["positions"]
    assert (position["marketId"], position["outcome"], position["priceSource"]) == (
        FED,
        "Yes",
        "clob",
    )
    assert Decimal(position["entryPrice"]) == Decimal("0.30")
    assert Decimal(position["currentPrice"]) == BID
    assert Decimal(position["unrealizedPnl"]) == Decimal("8.00")  # 100 x (0.38 - 0.30)
    assert round(Decimal(position["unrealizedPnlPercent"]), 2) == Decimal("26.67")
    [exit_] = first[EXIT]["exits"]
    assert (exit_["exitReason"], exit_["status"], exit_["orderResult"]) == (
        "take_profit",
        "executed",
        "filled",
    )
    assert Decimal(exit_["soldShares"]) == 100
    assert first[EXIT]["notApplied"] == ["followWalletExits"]
    key = f"exit:{EXIT}:{FED}:yes:{holding(db, sid)}"
    assert sells(db) == [{"order_key": key, "side": "sell", "result": "filled"}]
    # Both nodes' prices came from one batched /books request each run.
    assert batched.call_count == 2

    again = await run(any_store, db, sid)
    assert again[TRACKER]["positions"] == [] and again[EXIT]["exits"] == []
    assert len(sells(db)) == 1


@pytest.mark.both_schemas
@respx.mock
async def test_a_stop_loss_fires_below_minus_ten_percent_and_nothing_inside_the_band(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    polymarket(respx.mock)
    respx.post(f"{CLOB}/books").respond(200, json=books())
    inside = await hold(any_store, db, "0.36")  # +5.6%
    quiet = await run(any_store, db, inside)
    assert quiet[EXIT]["exits"] == [] and quiet[EXIT]["checked"] == 1
    assert sells(db) == []

    losing = await hold(any_store, db, "0.45")  # -15.6%
    out = await run(any_store, db, losing)
    [exit_] = out[EXIT]["exits"]
    assert (exit_["exitReason"], Decimal(exit_["thresholdPercent"]), exit_["status"]) == (
        "stop_loss",
        10,
        "executed",
    )
    assert [s["order_key"] for s in sells(db)] == [f"exit:{EXIT}:{FED}:yes:{holding(db, losing)}"]


@respx.mock
async def test_a_fresh_stored_mark_is_the_live_price_and_asks_no_market(
    any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    polymarket(respx.mock)
    batched = respx.post(f"{CLOB}/books").respond(200, json=books())
    sid = await hold(any_store, db, "0.36")
    await any_store.mark_portfolios(
        [PositionMark(FED, "Yes", Decimal("0.37"), YES_TOKEN)],
        NOW - timedelta(seconds=60),
        min_gap=timedelta(minutes=5),
        keep_after=None,
        prune_limit=10,
    )
    out = await run(any_store, db, sid)
    [position] = out[TRACKER]["positions"]
    assert (Decimal(position["currentPrice"]), position["priceSource"]) == (
        Decimal("0.37"),
        "best_bid",
    )
    assert batched.call_count == 0


@respx.mock
async def test_a_partly_filled_exit_is_not_sold_again_by_a_rerun(
    any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    # Only 60 shares bid: the fill-and-kill exit sells 60 of 100.
    thin = books()[0] | {"bids": [{"price": str(BID), "size": "60"}]}
    polymarket(respx.mock)
    respx.get(f"{CLOB}/book").mock(side_effect=lambda _: httpx.Response(200, json=thin))
    respx.post(f"{CLOB}/books").respond(200, json=books())
    sid = await hold(any_store, db, "0.30")
    first = await run(any_store, db, sid)
    [exit_] = first[EXIT]["exits"]
    assert (exit_["orderResult"], Decimal(exit_["soldShares"])) == ("partly_filled", 60)

    # 40 shares are still past the take profit: the same exit is answered again,
    # and nothing more is sold.
    again = await run(any_store, db, sid)
    [position] = again[TRACKER]["positions"]
    assert Decimal(position["shares"]) == 40
    [replayed] = again[EXIT]["exits"]
    assert replayed["replayed"] is True
    assert len(sells(db)) == 1


@pytest.mark.both_schemas
@respx.mock
async def test_a_position_exited_and_bought_again_is_exited_again_once(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    polymarket(respx.mock)
    respx.post(f"{CLOB}/books").respond(200, json=books())
    sid = await hold(any_store, db, "0.30")
    first_holding = holding(db, sid)
    [first] = (await run(any_store, db, sid))[EXIT]["exits"]
    assert first["orderResult"] == "filled"

    # Flat, then bought again at the same price: a new holding, past the take profit.
    await hold(any_store, db, "0.30", sid, slot="seed again")
    assert holding(db, sid) > first_holding
    [second] = (await run(any_store, db, sid))[EXIT]["exits"]
    assert (second["orderResult"], second["replayed"]) == ("filled", False)
    assert Decimal(second["soldShares"]) == 100

    # Each holding exited once, and a re-run sells neither again.
    assert (await run(any_store, db, sid))[EXIT]["exits"] == []
    assert [s["order_key"] for s in sells(db)] == [
        f"exit:{EXIT}:{FED}:yes:{first_holding}",
        f"exit:{EXIT}:{FED}:yes:{holding(db, sid)}",
    ]
    [position] = rows(db, "select shares from cascadian_positions where workflow_id = %s", sid)
    assert position["shares"] == 0


@respx.mock
async def test_a_holding_partly_exited_by_its_take_profit_is_not_sold_again_by_its_stop_loss(
    any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    thin = books()[0] | {"bids": [{"price": str(BID), "size": "60"}]}
    polymarket(respx.mock)
    respx.get(f"{CLOB}/book").mock(side_effect=lambda _: httpx.Response(200, json=thin))
    batched = respx.post(f"{CLOB}/books").respond(200, json=books())
    sid = await hold(any_store, db, "0.30")
    [take] = (await run(any_store, db, sid))[EXIT]["exits"]
    assert (take["exitReason"], Decimal(take["soldShares"])) == ("take_profit", 60)

    # The price falls past the stop loss: the same holding, so no second sell.
    batched.respond(200, json=[books()[0] | {"bids": [{"price": "0.20", "size": "500"}]}])
    [stop] = (await run(any_store, db, sid))[EXIT]["exits"]
    assert (stop["exitReason"], stop["replayed"]) == ("stop_loss", True)
    assert len(sells(db)) == 1


BLOCKERS = {
    "kill_switch": (
        "insert into cascadian_kill_switches (scope, workflow_id, set_by, reason, set_at) "
        "values (%(sid)s::text, %(sid)s, 'owner', 'pause trading for a minute', now())",
        "delete from cascadian_kill_switches",
    ),
    "halted": (
        "update cascadian_paper_portfolios set halted_at = now(), halt_detail = 'a breach' "
        "where workflow_id = %(sid)s",
        "update cascadian_paper_portfolios set halted_at = null, halt_detail = null "
        "where workflow_id = %(sid)s",
    ),
    "max_order_usd": (
        "insert into cascadian_trading_limits (workflow_id, max_order_usd) values (%(sid)s, 5)",
        "delete from cascadian_trading_limits",
    ),
}


@pytest.mark.both_schemas
@pytest.mark.parametrize("refusal", list(BLOCKERS))
@respx.mock
async def test_an_exit_refused_while_trading_is_blocked_sells_once_it_is_not(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any], refusal: str
) -> None:
    polymarket(respx.mock)
    respx.post(f"{CLOB}/books").respond(200, json=books())
    sid = await hold(any_store, db, "0.30")  # +26.7%: the take profit fires
    block, unblock = BLOCKERS[refusal]
    db.execute(block, {"sid": sid})

    [refused] = (await run(any_store, db, sid))[EXIT]["exits"]
    assert (refused["orderResult"], refused["reason"]) == ("refused", refusal)
    db.execute(unblock, {"sid": sid})
    [sold] = (await run(any_store, db, sid))[EXIT]["exits"]
    assert (sold["orderResult"], Decimal(sold["soldShares"])) == ("filled", 100)
    [again] = (await run(any_store, db, sid))[EXIT]["exits"] or [None]
    assert again is None, "the holding is sold: nothing is left to exit"
    assert [s["result"] for s in sells(db)].count("filled") == 1
    assert rows(db, "select shares from cascadian_positions") == [{"shares": 0}]
