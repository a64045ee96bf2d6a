"""The original's Portfolio Orchestrator from a graph saved as its strategy builder saved
it (tests/fixtures/original/orchestrator.json: the stream, a MARKET_FILTER keeping the
Fed market, and ORCHESTRATOR with its panel's default config): fractional Kelly over
the paper portfolio; approval mode writes one pending decision per run slot and tells
the owner once; autonomous mode places one paper buy per run slot; the configured LLM
may veto; a dry run writes and places nothing. Polymarket and the LLM by respx."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from cascadian.bootstrap import build_dry_runner, build_executor
from cascadian.clock import FakeClock
from cascadian.data import Workflow
from cascadian.ports import FullStore
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from tests.factories import USER, add_strategy, rows
from tests.polymarket_fixtures import CLOB, market_data, settings
from tests.workflow.original.helpers import NOW, book, polymarket, run_saved, saved

NODE = "orchestrator_1730000000000_2"
FED = "253591"
LLM = "https://llm.test/v1"
WITH_LLM = {"CASCADIAN_LLM_BASE_URL": LLM, "CASCADIAN_LLM_API_KEY": "sk-test-orchestrator"}


def graph(**config: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes, edges = saved("orchestrator.json")
    nodes[2]["config"] |= config
    return nodes, edges


def reply(content: dict[str, Any]) -> httpx.Response:
    """An OpenAI-compatible chat completion, its content fenced as models often do."""
    text = f"```json\n{json.dumps(content)}\n```"
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
        },
    )


@pytest.mark.both_schemas
@respx.mock
async def test_approval_mode_writes_one_pending_decision_and_tells_the_owner_once(
    any_store: FullStore, db: Any
) -> None:
    polymarket(respx.mock)
    result, _ = await run_saved(saved("orchestrator.json"), store=any_store, db=db)  # type: ignore[arg-type]
    assert result.success, result.errors
    out = result.outputs[NODE]
    [decision] = out["decisions"]
    # p_win 0.5 (no signal, the original's default) at 0.355: Kelly 0.2248..., 37.5% of
    # it on $10,000 is $843, capped at max_bet and at 5% of equity: $500.
    assert (decision["decision"], decision["direction"], decision["outcome"]) == (
        "GO",
        "YES",
        "Yes",
    )
    assert decision["recommended_size"] == "500.00" and decision["status"] == "pending"
    assert out["summary"] == {"total": 1, "go": 1, "no_go": 0, "pending_approval": 1, "executed": 0}
    assert out["llm"]["used"] is False and "CASCADIAN_LLM_BASE_URL" in out["llm"]["note"]
    assert out["notApplied"] == ["risk_reward_threshold"]
    [stored] = rows(
        db,
        "select market_id, outcome, token_id, status, recommended_size from orchestrator_decisions",
    )
    assert (stored["market_id"], stored["outcome"], stored["status"]) == (FED, "Yes", "pending")
    assert stored["recommended_size"] == Decimal("500.00")
    assert rows(db, "select order_id from cascadian_trading_orders") == []
    [told] = rows(db, "select user_id, priority, link from notifications")
    assert told["user_id"] == USER and told["priority"] == "high"


@pytest.mark.both_schemas
@respx.mock
async def test_pending_decisions_count_as_spent_so_later_runs_do_not_stack_them(
    any_store: FullStore, db: Any
) -> None:
    polymarket(respx.mock)
    graph = saved("orchestrator.json")
    first, sid = await run_saved(graph, store=any_store, db=db)  # type: ignore[arg-type]
    [decision] = first.outputs[NODE]["decisions"]
    assert decision["recommended_size"] == "500.00"  # 5% of $10,000: the position's cap
    for _ in range(2):
        later, _ = await run_saved(graph, store=any_store, db=db, again=sid, recorded=True)  # type: ignore[arg-type]
        assert later.success, later.errors
        [skipped] = later.outputs[NODE]["decisions"]
        assert skipped["decision"] == "NO_GO" and skipped["recommended_size"] == "0"
        assert "max_per_position: capped at $0.00" in skipped["ai_reasoning"]
    [stored] = rows(db, "select recommended_size, portfolio_snapshot from orchestrator_decisions")
    assert stored["portfolio_snapshot"]["caps"] == {
        "max_position_usd": "500.00",
        "max_deployed_usd": "5000.0",  # portfolio_heat_limit 0.5
    }


@respx.mock
async def test_a_re_run_of_the_slot_writes_no_second_decision(store: SqlStore, db: Any) -> None:
    polymarket(respx.mock)
    sid = add_strategy(db, next_execution_at=NOW, graph=saved("orchestrator.json"))
    env = settings()
    async with httpx.AsyncClient() as http:
        executor = build_executor(env, http, store)
        [claimed] = await store.claim_due(NOW, 10, 60)
        first = await executor.execute(claimed.workflow)  # then the worker is killed
        assert first.success, first.errors
        later = FakeClock(NOW + timedelta(minutes=3))  # past the lease: the slot again
        report = await TickService(store, executor, env, later).tick()
    [run] = report.executions
    assert run.status == "completed", run.error
    assert len(rows(db, "select id from orchestrator_decisions where workflow_id = %s", sid)) == 1
    assert len(rows(db, "select id from notifications where workflow_id = %s", sid)) == 1


@respx.mock
async def test_autonomous_mode_places_one_paper_buy_per_run_slot(store: SqlStore, db: Any) -> None:
    polymarket(respx.mock)
    nodes, edges = graph(mode="autonomous")
    # 20% a position: a retry, with $500 held, sizes the same bet again.
    nodes[2]["config"]["position_sizing_rules"]["max_per_position"] = 0.2
    sid = add_strategy(db, next_execution_at=NOW, graph=(nodes, edges))
    env = settings()
    async with httpx.AsyncClient() as http:
        executor = build_executor(env, http, store)
        [claimed] = await store.claim_due(NOW, 10, 60)
        first = await executor.execute(claimed.workflow)
        again = await executor.execute(claimed.workflow)  # a retried run
        later = FakeClock(NOW + timedelta(minutes=3))
        report = await TickService(store, executor, env, later).tick()
    assert first.success, first.errors
    placed = first.outputs[NODE]["decisions"][0]
    assert placed["status"] == "executed" and placed["orderResult"] == "filled"
    # $500 on the book: 1,000 shares at 0.39, the rest at 0.40.
    assert Decimal(placed["notional"]) == Decimal("500")
    assert again.outputs[NODE]["decisions"][0]["replayed"] is True
    assert report.executions[0].status == "completed"
    orders = rows(
        db, "select node_id, side, result from cascadian_trading_orders where workflow_id = %s", sid
    )
    assert orders == [{"node_id": f"{NODE}#{FED}:yes", "side": "buy", "result": "filled"}]
    assert rows(db, "select id from orchestrator_decisions") == []


@pytest.mark.both_schemas
@respx.mock
async def test_a_bet_and_its_fee_stay_within_the_position_cap_in_either_mode(
    store: SqlStore, db: Any
) -> None:
    polymarket(respx.mock, fee_bps=200)
    pending, sid = await run_saved(graph(), store=store, db=db)
    [decision] = pending.outputs[NODE]["decisions"]
    # 5% of $10,000 is $500 of cost; at a 2% fee rate the bet is $500 / 1.02.
    assert decision["recommended_size"] == "490.19"
    [stored] = rows(db, "select portfolio_snapshot from orchestrator_decisions")
    assert stored["portfolio_snapshot"]["fee_rate"] == "0.02"
    # The pending decision counts with its fee: nothing is left under the cap.
    later, _ = await run_saved(graph(), store=store, db=db, again=sid, recorded=True)
    [skipped] = later.outputs[NODE]["decisions"]
    assert skipped["decision"] == "NO_GO" and "max_per_position" in skipped["ai_reasoning"]
    placed, bought = await run_saved(graph(mode="autonomous"), store=store, db=db)
    [order] = placed.outputs[NODE]["decisions"]
    assert order["orderResult"] == "filled" and Decimal(order["notional"]) <= Decimal("490.19")
    [position] = rows(db, "select cost from cascadian_positions where workflow_id = %s", bought)
    assert Decimal(order["fee"]) > 0 and position["cost"] <= Decimal("500")


@respx.mock
async def test_a_bet_whose_token_the_clob_has_no_book_for_is_a_no_go(
    store: SqlStore, db: Any
) -> None:
    polymarket(respx.mock)
    # In place of the fixtures' /book: the CLOB's answer for a token without a book.
    respx.mock.get(f"{CLOB}/book").respond(
        404, json={"error": "No orderbook exists for the requested token id"}
    )
    result, _ = await run_saved(graph(), store=store, db=db)
    assert result.success, result.errors
    [decision] = result.outputs[NODE]["decisions"]
    assert decision["decision"] == "NO_GO" and decision["recommended_size"] == "0"
    assert "The market has no order book." in decision["ai_reasoning"]
    assert rows(db, "select id from orchestrator_decisions") == []


@respx.mock
async def test_autonomous_mode_goes_through_the_kill_switch(store: SqlStore, db: Any) -> None:
    polymarket(respx.mock)
    db.execute("select cascadian_set_kill_switch_v1(null, true, 'ops', 'incident 9', now())")
    result, _ = await run_saved(graph(mode="autonomous"), store=store, db=db)
    assert result.success, result.errors
    refused = result.outputs[NODE]["decisions"][0]
    assert (refused["status"], refused["refusal"]) == ("refused", "kill_switch")
    assert result.outputs[NODE]["summary"]["executed"] == 0


@respx.mock
async def test_the_configured_llm_may_veto_a_bet(store: SqlStore, db: Any) -> None:
    polymarket(respx.mock)
    chat = respx.mock.post(f"{LLM}/chat/completions").mock(
        return_value=reply(
            {
                "decision": "NO_GO",
                "confidence": 0.8,
                "risk_score": 8,
                "reasoning": "The meeting is priced in.",
            }
        )
    )
    result, _ = await run_saved(saved("orchestrator.json"), store=store, db=db, **WITH_LLM)
    assert result.success, result.errors
    [vetoed] = result.outputs[NODE]["decisions"]
    assert vetoed["decision"] == "NO_GO" and "priced in" in vetoed["ai_reasoning"]
    assert result.outputs[NODE]["llm"]["used"] is True
    sent = json.loads(chat.calls.last.request.content)
    assert json.loads(sent["messages"][1]["content"])["recommended_size_usd"] == "500.00"
    assert sent["temperature"] == 0
    assert rows(db, "select id from orchestrator_decisions") == []


@respx.mock
async def test_the_llms_go_keeps_the_size_and_gives_its_reasoning_and_risk(
    store: SqlStore, db: Any
) -> None:
    polymarket(respx.mock)
    respx.mock.post(f"{LLM}/chat/completions").mock(
        return_value=reply(
            {
                "decision": "GO",
                "confidence": 0.65,
                "risk_score": 6,
                "reasoning": "A cut is underpriced.",
                "recommended_size": 9000,
            }
        )
    )
    result, _ = await run_saved(saved("orchestrator.json"), store=store, db=db, **WITH_LLM)
    [kept] = result.outputs[NODE]["decisions"]
    assert (kept["decision"], kept["recommended_size"], kept["risk_score"]) == ("GO", "500.00", 6)
    [stored] = rows(
        db, "select ai_confidence, risk_score, ai_reasoning from orchestrator_decisions"
    )
    assert stored["ai_confidence"] == Decimal("0.65") and "underpriced" in stored["ai_reasoning"]


@respx.mock
async def test_an_unreadable_review_is_a_no_go(store: SqlStore, db: Any) -> None:
    polymarket(respx.mock)
    respx.mock.post(f"{LLM}/chat/completions").mock(
        return_value=httpx.Response(
            200, json={"choices": [{"message": {"role": "assistant", "content": "Sure!"}}]}
        )
    )
    result, _ = await run_saved(saved("orchestrator.json"), store=store, db=db, **WITH_LLM)
    [decision] = result.outputs[NODE]["decisions"]
    assert decision["decision"] == "NO_GO" and "could not be read" in decision["ai_reasoning"]


@pytest.mark.parametrize(
    "content",
    [
        '{"decision": "GO", "risk_score": 1e999, "reasoning": "sure"}',
        '{"decision": "GO", "risk_score": Infinity, "reasoning": "sure"}',
        '{"decision": "GO", "risk_score": -Infinity, "reasoning": "sure"}',
        '{"decision": "GO", "risk_score": NaN, "reasoning": "sure"}',
        '{"decision": "GO", "reasoning": ' + "[" * 100_000 + "]" * 100_000 + "}",
    ],
    ids=["1e999", "infinity", "minus-infinity", "nan", "nested-too-deeply"],
)
@respx.mock
async def test_a_review_with_a_number_or_nesting_python_cannot_take_is_a_no_go(
    store: SqlStore, db: Any, content: str
) -> None:
    polymarket(respx.mock)
    respx.mock.post(f"{LLM}/chat/completions").mock(
        return_value=httpx.Response(
            200, json={"choices": [{"message": {"role": "assistant", "content": content}}]}
        )
    )
    result, _ = await run_saved(saved("orchestrator.json"), store=store, db=db, **WITH_LLM)
    assert result.success, result.errors
    [decision] = result.outputs[NODE]["decisions"]
    assert decision["decision"] == "NO_GO" and "could not be read" in decision["ai_reasoning"]
    assert rows(db, "select id from orchestrator_decisions") == []


@respx.mock
async def test_a_dry_run_writes_no_decision_and_places_nothing(store: SqlStore, db: Any) -> None:
    polymarket(respx.mock)
    for mode in ("approval", "autonomous"):
        nodes, edges = graph(mode=mode)
        sid = add_strategy(db, next_execution_at=None, graph=(nodes, edges))
        async with httpx.AsyncClient() as http:
            runner = build_dry_runner(settings(), http, FakeClock(NOW), market_data(http))
            run = await runner.dry_run(Workflow(sid, "s", nodes, edges, user_id=USER))
        assert run.result.success, run.result.errors
        actions = [i.action for i in run.intents]
        assert actions == ["orchestrator-decision" if mode == "approval" else "paper-order"]
    assert rows(db, "select id from orchestrator_decisions") == []
    assert rows(db, "select order_id from cascadian_trading_orders") == []
    assert rows(db, "select id from notifications") == []


async def test_copy_trading_mode_and_bad_rules_are_refused_before_the_run(
    store: SqlStore, db: Any
) -> None:
    copy, _ = await run_saved(graph(copy_trading={"enabled": True}), store=store, db=db)
    assert not copy.success and "MANUAL_COPY_TRADE" in copy.errors[0]["error"]
    nodes, edges = graph()
    nodes[2]["config"]["position_sizing_rules"] |= {"min_bet": 50, "max_bet": 10}
    bad, _ = await run_saved((nodes, edges), store=store, db=db)
    assert not bad.success and "max_bet must be at least min_bet" in bad.errors[0]["error"]
    assert rows(db, "select id from orchestrator_decisions") == []


@pytest.mark.both_schemas
@respx.mock
async def test_approval_mode_writes_its_decision_when_the_clob_book_cannot_be_read(
    store: SqlStore, db: Any
) -> None:
    polymarket(respx.mock)
    respx.mock.get(f"{CLOB}/book").respond(503, text="upstream unavailable")
    result, _ = await run_saved(graph(), store=store, db=db)
    assert result.success, result.errors
    [decision] = result.outputs[NODE]["decisions"]
    assert (decision["decision"], decision["status"]) == ("GO", "pending")
    assert "could not be read" in decision["ai_reasoning"]
    # Sized with CASCADIAN_DEFAULT_FEE_RATE (2%): $500 of cost is a $490.19 bet.
    assert decision["recommended_size"] == "490.19"
    [stored] = rows(db, "select portfolio_snapshot from orchestrator_decisions")
    assert stored["portfolio_snapshot"]["fee_rate"] == "0.02"


@respx.mock
async def test_autonomous_mode_is_a_no_go_when_the_clob_book_cannot_be_read(
    store: SqlStore, db: Any
) -> None:
    polymarket(respx.mock)
    respx.mock.get(f"{CLOB}/book").respond(503, text="upstream unavailable")
    result, sid = await run_saved(graph(mode="autonomous"), store=store, db=db)
    assert result.success, result.errors
    [decision] = result.outputs[NODE]["decisions"]
    assert (decision["decision"], decision["recommended_size"]) == ("NO_GO", "0")
    assert "The order book could not be read" in decision["ai_reasoning"]
    assert rows(db, "select id from cascadian_trading_orders where workflow_id = %s", sid) == []


@respx.mock
async def test_autonomous_mode_fills_at_the_book_read_after_the_review(
    store: SqlStore, db: Any
) -> None:
    polymarket(respx.mock)
    respx.mock.post(f"{LLM}/chat/completions").mock(
        return_value=reply(
            {"decision": "GO", "confidence": 0.65, "risk_score": 4, "reasoning": "Underpriced."}
        )
    )
    reads: list[httpx.Request] = []

    def moving(request: httpx.Request) -> httpx.Response:
        """The fixtures' book for the sizing read; then the ask has moved to 0.42."""
        reads.append(request)
        first = book(request)
        if len(reads) == 1:
            return first
        moved = first.json() | {"asks": [{"price": "0.42", "size": "5000"}]}
        return httpx.Response(200, json=moved)

    respx.mock.get(f"{CLOB}/book").mock(side_effect=moving)
    result, _ = await run_saved(
        graph(mode="autonomous"),
        store=store,
        db=db,
        CASCADIAN_PRICE_CACHE_SECONDS="0",
        **WITH_LLM,
    )
    assert result.success, result.errors
    [placed] = result.outputs[NODE]["decisions"]
    assert placed["orderResult"] == "filled" and len(reads) == 2
    assert Decimal(placed["executedPrice"]) == Decimal("0.42")
