"""The original builder's buy and sell nodes place paper orders through the order
executor: filled against the CLOB's book (respx, in its real shape) with the taker
fee, refused as an outcome by a limit or the kill switch, and recorded once per
slot even when a killed worker's run is run again."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from psycopg.types.json import Jsonb

from cascadian.bootstrap import build_dry_runner, build_executor
from cascadian.clock import FakeClock
from cascadian.data import Workflow
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from tests.factories import USER, add_strategy, rows
from tests.polymarket_fixtures import market_data, settings
from tests.workflow.original.helpers import NOW, polymarket, run_saved, saved


@respx.mock
async def test_a_buy_pays_polymarkets_taker_fee_at_the_clobs_rate(store: SqlStore, db: Any) -> None:
    polymarket(respx.mock, fee_bps=200)
    result, sid = await run_saved(saved("buy_sell.json"), store=store, db=db)
    assert result.success, result.errors
    buy = result.outputs["buy"]
    # 100 shares at 0.39: 100 x 0.02 x 0.39 x 0.61.
    assert (buy["status"], buy["feeRate"], buy["feeRateSource"]) == ("filled", "0.02", "clob")
    assert Decimal(buy["fee"]) == Decimal("0.4758")
    [portfolio] = rows(db, "select * from cascadian_paper_portfolios where workflow_id = %s", sid)
    assert portfolio["available_cash"] == Decimal("10000") - Decimal("39") - Decimal("0.4758") + (
        Decimal("19") - Decimal("50") * Decimal("0.02") * Decimal("0.38") * Decimal("0.62")
    )


@respx.mock
async def test_without_an_answer_from_fee_rate_the_default_is_used_and_said(
    store: SqlStore, db: Any
) -> None:
    polymarket(respx.mock)
    respx.mock.get("https://clob.test/fee-rate").respond(500, text="down")
    result, _ = await run_saved(saved("buy_sell.json"), store=store, db=db)
    assert result.success, result.errors
    assert (result.outputs["buy"]["feeRate"], result.outputs["buy"]["feeRateSource"]) == (
        "0.02",
        "default",
    )


@respx.mock
async def test_an_order_over_a_limit_is_refused_in_the_output_and_the_run_goes_on(
    store: SqlStore, db: Any
) -> None:
    polymarket(respx.mock)

    def limit(sid: object) -> None:
        db.execute(
            "select cascadian_set_trading_limits_v2(%s, %s, now())",
            (sid, Jsonb({"max_order_usd": 30})),
        )

    result, _ = await run_saved(saved("buy_sell.json"), store=store, db=db, arrange=limit)
    assert result.success, result.errors  # a refusal is an outcome
    buy, sell = result.outputs["buy"], result.outputs["sell"]
    assert (buy["status"], buy["refusal"]) == ("refused", "max_order_usd")
    assert "$30" in buy["reason"]
    # The sell ran on, and was refused in turn: nothing was bought.
    assert (sell["status"], sell["refusal"]) == ("refused", "insufficient_shares")
    assert rows(db, "select * from cascadian_paper_orders") == []


@respx.mock
async def test_the_kill_switch_refuses_and_fail_on_refusal_fails_the_node(
    store: SqlStore, db: Any
) -> None:
    polymarket(respx.mock)
    db.execute("select cascadian_set_kill_switch_v1(null, true, 'ops', 'incident 7', now())")
    result, _ = await run_saved(saved("buy_sell.json"), store=store, db=db)
    assert result.success, result.errors
    buy = result.outputs["buy"]
    assert (buy["status"], buy["refusal"]) == ("refused", "kill_switch")
    assert "incident 7" in buy["reason"] and buy["orderId"] is None
    nodes, edges = saved("buy_sell.json")
    nodes[0]["data"]["config"]["failOnRefusal"] = True
    failed, _ = await run_saved((nodes, edges), store=store, db=db)
    assert not failed.success
    assert "refused (kill_switch)" in failed.errors[0]["error"]
    assert rows(db, "select * from cascadian_paper_orders") == []


@respx.mock
async def test_a_run_again_after_its_worker_died_records_its_orders_once(
    store: SqlStore, db: Any
) -> None:
    polymarket(respx.mock)
    sid = add_strategy(db, next_execution_at=NOW, graph=saved("buy_sell.json"))
    env = settings()
    async with httpx.AsyncClient() as http:
        executor = build_executor(env, http, store)
        [claimed] = await store.claim_due(NOW, 10, 60)
        first = await executor.execute(claimed.workflow)  # then the worker is SIGKILLed
        assert first.success, first.errors
        later = FakeClock(NOW + timedelta(minutes=3))  # past the lease
        report = await TickService(store, executor, env, later).tick()
    [run] = report.executions
    assert run.status == "completed", run.error
    attempts = rows(db, "select attempt from workflow_executions where workflow_id = %s", sid)
    assert sorted(a["attempt"] for a in attempts) == [1, 2]
    orders = rows(db, "select node_id from cascadian_trading_orders where workflow_id = %s", sid)
    assert sorted(o["node_id"] for o in orders) == ["buy", "sell"]
    assert len(rows(db, "select * from cascadian_paper_orders where workflow_id = %s", sid)) == 2


@respx.mock
async def test_two_attempts_at_one_event_record_their_orders_once(store: SqlStore, db: Any) -> None:
    # An event run has no slot; its attempts share the event as their orders' slot.
    polymarket(respx.mock)
    sid = add_strategy(db, next_execution_at=None, graph=saved("buy_sell.json"))
    runs = [
        db.execute(
            "insert into workflow_executions (workflow_id, user_id, trigger_kind)"
            " values (%s, %s, 'event') returning id",
            (sid, USER),
        ).fetchone()[0]
        for _ in range(2)
    ]
    nodes, edges = saved("buy_sell.json")
    async with httpx.AsyncClient() as http:
        executor = build_executor(settings(), http, store)
        for run in runs:
            workflow = Workflow(sid, "s", nodes, edges, {}, None, USER, run)
            result = await executor.execute(replace(workflow, order_slot="event:e-1"))
            assert result.success, result.errors
    orders = rows(db, "select node_id from cascadian_paper_orders where workflow_id = %s", sid)
    assert sorted(o["node_id"] for o in orders) == ["buy", "sell"]


@pytest.mark.parametrize("side", ["buy", "sell"])
@respx.mock
async def test_a_market_without_an_order_book_is_refused_without_recording(
    store: SqlStore, db: Any, side: str
) -> None:
    polymarket(respx.mock)
    nodes, _ = saved("buy_sell.json")
    graph = ([nodes[0] if side == "buy" else nodes[1]], [])
    graph[0][0]["data"]["config"]["marketId"] = "253591"
    respx.mock.get("https://clob.test/book").respond(
        200, json={"bids": [], "asks": [], "tick_size": "0.01", "min_order_size": "5"}
    )
    result, _ = await run_saved(graph, store=store, db=db)
    assert result.success, result.errors
    [output] = result.outputs.values()
    assert output["status"] == "refused"
    assert output["refusal"] in {"no_liquidity", "insufficient_shares"}


@respx.mock
async def test_a_dry_run_records_nothing_and_says_what_it_would_have_filled_and_paid(
    db: Any,
) -> None:
    polymarket(respx.mock, fee_bps=200)
    nodes, edges = saved("buy_sell.json")
    sid = add_strategy(db, next_execution_at=None, graph=(nodes, edges))
    async with httpx.AsyncClient() as http:
        runner = build_dry_runner(settings(), http, FakeClock(NOW), market_data(http))
        run = await runner.dry_run(Workflow(sid, "s", nodes, edges, user_id=USER))
    assert run.result.success, run.result.errors
    [buy, sell] = [i for i in run.intents if i.action == "paper-order"]
    assert (buy.node_id, buy.detail["result"]) == ("buy", "filled")
    assert Decimal(buy.detail["shares"]) == 100
    assert Decimal(buy.detail["fee_usd"]) == Decimal("0.4758")
    assert buy.detail["fee_rate_source"] == "clob"
    assert run.result.outputs["buy"]["recorded"] is False
    # Nothing was bought, so the sell would find no position: a dry run checks none.
    assert sell.detail["result"] == "filled"
    assert rows(db, "select * from cascadian_trading_orders") == []
    assert rows(db, "select * from cascadian_paper_orders") == []
