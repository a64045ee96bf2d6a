"""Each node type of the original builder, in a graph saved exactly as it saved them
(tests/fixtures/original/), run end to end: Polymarket by respx, writes in PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
import respx

from cascadian.store.sql_store import SqlStore
from tests.factories import rows
from tests.workflow.original.helpers import NOW_MS, polymarket, run_saved, saved

API = "93.184.216.34"


async def example_dns(host: str, port: int) -> Sequence[str]:
    return [API]


@respx.mock
async def test_the_starter_template_runs_its_api_call_and_follows_the_true_branch() -> None:
    api = respx.get(f"https://{API}/markets/sii").respond(200, json={"sii": 72, "id": "m9"})
    result, _ = await run_saved(saved("template.json"), resolver=example_dns)
    assert result.success, result.errors
    assert result.outputs["1"] == {"status": "started", "timestamp": NOW_MS}
    assert api.calls.last.request.headers["x-key"] == "abc", "headers saved as JSON text"
    assert result.outputs["2"] == {"sii": 72, "id": "m9"}, "the body, not the envelope"
    # The true branch ran with the data the conditional tested; the false one was skipped.
    assert result.outputs["4"] == {
        "action": "BUY",
        "market": {"sii": 72, "id": "m9"},
        "note": "sii 72",
    }
    assert "5" not in result.outputs
    assert result.outputs["6"] == result.outputs["4"], "end passes its input on"
    statuses = {r.node_id: r.status for r in result.node_runs}
    assert statuses == {
        "1": "success",
        "2": "success",
        "3": "success",
        "4": "success",
        "5": "skipped",
        "6": "success",
    }


@respx.mock
async def test_the_starter_templates_false_branch_runs_when_the_condition_fails() -> None:
    respx.get(f"https://{API}/markets/sii").respond(200, json={"sii": 10})
    result, _ = await run_saved(saved("template.json"), resolver=example_dns)
    assert result.success, result.errors
    assert result.outputs["5"] == {"action": "SKIP"} and "4" not in result.outputs


@respx.mock
async def test_an_api_request_that_fails_fails_the_node_with_the_status() -> None:
    respx.get(f"https://{API}/markets/sii").respond(503, text="down")
    result, _ = await run_saved(saved("template.json"), resolver=example_dns)
    assert not result.success
    assert result.errors[0]["node_id"] == "2" and "503" in result.errors[0]["error"]


@respx.mock
async def test_stream_filter_and_watchlist_run_on_real_market_fields(
    store: SqlStore, db: Any
) -> None:
    polymarket(respx.mock)
    result, workflow_id = await run_saved(
        saved("stream_filter_watch.json"), store=store, db=db, name="Cheap politics"
    )
    assert result.success, result.errors
    stream = result.outputs["stream-1"]
    # Politics (an election question) and Crypto (Bitcoin); Finance and Other are not asked for.
    assert [m["id"] for m in stream["markets"]] == ["501122", "517740"]
    assert stream["count"] == 2 and stream["timestamp"] == NOW_MS
    house = stream["markets"][1]
    assert {k: house[k] for k in ("category", "currentPrice", "endsAt", "outcomes")} == {
        "category": "Politics",
        "currentPrice": 0.71,
        "endsAt": "2026-11-03T00:00:00Z",
        "outcomes": ["Democratic", "Republican", "Other"],
    }
    assert set(house) >= {"id", "question", "volume", "liquidity", "active", "closed", "slug"}
    filtered = result.outputs["filter-1"]
    assert filtered["count"] == 2 and filtered["original_count"] == 2
    assert "filter_failures" not in filtered, "a legacy filter reports no failures"
    watch = result.outputs["watch-1"]
    assert watch["added"] == ["501122", "517740"] and watch["duplicates"] == []
    assert (watch["count"], watch["total_processed"]) == (2, 2)
    entries = rows(db, "select market_id, reason, metadata from strategy_watchlists order by id")
    assert entries[1]["reason"] == "smart-flow"
    assert entries[1]["metadata"]["current_price"] == 0.71, "read from currentPrice"
    assert entries[1]["metadata"]["category"] == "Politics"
    [note] = rows(db, "select * from notifications")
    assert note["type"] == "watchlist_updated" and note["workflow_id"] == workflow_id
    assert note["title"] == "Cheap politics added markets to watchlist"
    assert note["message"].startswith("Added 2 markets: 'Will Bitcoin reach $150,000")


@respx.mock
async def test_a_second_run_reports_the_markets_already_watched(store: SqlStore, db: Any) -> None:
    polymarket(respx.mock)
    graph = saved("stream_filter_watch.json")
    _, workflow_id = await run_saved(graph, store=store, db=db)
    again, _ = await run_saved(graph, store=store, again=workflow_id)
    assert again.success, again.errors
    assert again.outputs["watch-1"]["added"] == []
    assert again.outputs["watch-1"]["duplicates"] == ["501122", "517740"]
    assert len(rows(db, "select * from notifications")) == 1, "nothing added, no notification"


@respx.mock
async def test_a_v2_filter_coerces_by_field_type_and_reports_each_failure() -> None:
    polymarket(respx.mock)
    result, _ = await run_saved(saved("filter_v2.json"))
    assert result.success, result.errors
    out = result.outputs["1729690000000-2"]
    # OR: 24h volume over 200000 ("200000" saved as text, read as a number), a
    # question about bitcoin, or closing before 2026 (a date, not text).
    assert [m["id"] for m in out["filtered"]] == ["253591", "501122", "517740", "488203"]
    assert out["original_count"] == 6
    assert out["filter_failures"]["530001"] == (
        "volume24h (0) <= 200000 AND question (Will it snow in Los Angeles in "
        'January 2026?) does not contain "bitcoin" AND endsAt (2026-01-31T12:00:00Z) >= '
        "2026-01-01"
    )
    assert out["filter_failures"]["530017"].endswith("AND endsAt (null) >= 2026-01-01")
    assert set(out["filter_failures"]) == {"530001", "530017"}


@respx.mock
async def test_transform_formulas_use_mathjs_functions_and_aggregate_by_group() -> None:
    polymarket(respx.mock)
    result, _ = await run_saved(saved("transform.json"))
    assert result.success, result.errors
    rows_out = result.outputs["edge"]["transformed"]
    # abs() works (the original's executor gave null); the snow market's volume is too
    # low, and the AI market's edge is not over 0.1.
    assert [(r["id"], round(r["edge"], 3)) for r in rows_out] == [
        ("488203", 0.5),
        ("501122", 0.38),
        ("517740", 0.21),
        ("253591", 0.145),
    ]
    assert rows_out[1]["score"] == round(1502993.1 / (1 + 92210.04), 2), "calculate = add-column"
    stats = result.outputs["stats"]
    assert stats["count"] == 4
    assert {r["category"]: round(r["result"], 3) for r in stats["transformed"]} == {
        "Sport": 0.5,
        "Crypto": 0.38,
        "Politics": 0.21,
        "Finance": 0.145,
    }
    assert (
        stats["transformed"][0]["operation"] == "avg" and stats["transformed"][0]["field"] == "edge"
    )


@respx.mock
async def test_a_condition_routes_to_the_node_its_branch_names(store: SqlStore, db: Any) -> None:
    polymarket(respx.mock)
    result, workflow_id = await run_saved(saved("condition_buy.json"), store=store, db=db)
    assert result.success, result.errors
    cond = result.outputs["condition-1729690001000-1"]
    assert (cond["branch"], cond["matched"], cond["condition"]) == ("Buy Order", True, "count > 0")
    order = result.outputs["polymarket-buy-1729690001000-2"]
    # The buy had no marketId: it bought the first market of its input, Bitcoin's Yes,
    # at the order book's best ask.
    assert (order["marketId"], order["outcome"], order["executedPrice"]) == ("501122", "Yes", 0.13)
    assert order["status"] == "filled" and order["paper"] is True
    assert "PAPER TRADE" in order["note"]
    [row] = rows(db, "select * from cascadian_paper_orders")
    assert (row["workflow_id"], row["market_id"], row["side"], row["price_source"]) == (
        workflow_id,
        "501122",
        "buy",
        "clob",
    )
    assert float(row["shares"]) == pytest.approx(100 / 0.13)


@respx.mock
async def test_a_condition_whose_else_names_no_node_skips_the_buy(store: SqlStore, db: Any) -> None:
    polymarket(respx.mock)
    nodes, edges = saved("condition_buy.json")
    nodes[1]["data"]["config"]["conditions"][0]["if"] = "count > 5"
    result, _ = await run_saved((nodes, edges), store=store, db=db)
    assert result.success, result.errors
    assert result.outputs["condition-1729690001000-1"]["branch"] == "skip"
    assert "polymarket-buy-1729690001000-2" not in result.outputs
    assert rows(db, "select * from cascadian_paper_orders") == []


@respx.mock
async def test_a_paper_buy_then_sell_realises_the_spread(store: SqlStore, db: Any) -> None:
    polymarket(respx.mock)
    result, workflow_id = await run_saved(saved("buy_sell.json"), store=store, db=db)
    assert result.success, result.errors
    buy, sell = result.outputs["buy"], result.outputs["sell"]
    assert (buy["executedPrice"], buy["shares"], buy["priceSource"]) == (0.39, 100, "clob")
    # The sell's marketId is a reference to the buy's; its limit (0.3) is below the bid.
    assert (sell["marketId"], sell["side"], sell["executedPrice"]) == ("253591", "sell", 0.38)
    assert sell["shares"] == 50 and sell["positionShares"] == 50
    book = await store.paper_book(workflow_id, [], 10)
    assert book is not None
    [position] = book.positions
    assert (position.shares, position.cost_basis) == (50, 19.5)
    assert position.realized_pnl == pytest.approx(50 * 0.38 - 50 * 0.39)


@respx.mock
async def test_a_flat_format_market_filter_keeps_liquid_markets_without_keywords(
    store: SqlStore, db: Any
) -> None:
    polymarket(respx.mock)
    result, _ = await run_saved(saved("flat_market_filter.json"), store=store, db=db)
    assert result.success, result.errors
    out = result.outputs["market_filter_1730000000000_1"]
    # Liquid enough (50000): Fed, Bitcoin, House, all closing within 400 days (the
    # House in 367); the Fed's market is excluded by its keyword.
    assert [m["id"] for m in out["markets"]] == ["501122", "517740"]
    assert (out["count"], out["original_count"], out["filter_applied"]) == (2, 6, True)
    assert result.outputs["add-to-watchlist_1730000000000_2"]["added"] == ["501122", "517740"]


def test_the_fixtures_are_the_builders_shapes() -> None:
    for name in ("template.json", "condition_buy.json"):
        nodes, edges = saved(name)
        assert all({"id", "type", "position", "data"} <= set(n) for n in nodes)
        assert all("sourceHandle" in e and "targetHandle" in e for e in edges)
    assert json.dumps(saved("flat_market_filter.json")).count('"from"') == 2


@respx.mock
async def test_an_api_request_posts_its_text_body_with_the_inputs_interpolated() -> None:
    route = respx.post(f"https://{API}/score").respond(
        200, text="ok", headers={"content-type": "text/plain"}
    )
    nodes = [
        {
            "id": "js",
            "type": "javascript",
            "position": {"x": 0, "y": 0},
            "data": {"code": "return {id: 'm1', price: 0.4}"},
        },
        {
            "id": "label",
            "type": "javascript",
            "position": {"x": 10, "y": 0},
            "data": {"code": "return 'hot'"},
        },
        {
            "id": "post",
            "type": "httpRequest",
            "position": {"x": 300, "y": 0},
            "data": {
                "url": "https://api.example.com/score",
                "method": "post",
                "body": '{"market": $input1, "tag": "$input2"}',
            },
        },
    ]
    edges = [
        {"id": "a", "source": "label", "target": "post", "sourceHandle": None},
        {"id": "b", "source": "js", "target": "post", "sourceHandle": None},
    ]
    result, _ = await run_saved((nodes, edges), resolver=example_dns)
    assert result.success, result.errors
    assert result.outputs["post"] == "ok", "text when the response is not JSON"
    sent = route.calls.last.request
    assert json.loads(sent.content) == {"market": {"id": "m1", "price": 0.4}, "tag": "hot"}
    assert sent.headers["content-type"] == "application/json"


@respx.mock
async def test_an_enhanced_filter_runs_as_the_v2_filter() -> None:
    polymarket(respx.mock)
    nodes = [
        {
            "id": "s",
            "type": "polymarket-stream",
            "data": {"nodeType": "polymarket-stream", "config": {}},
        },
        {
            "id": "ef",
            "type": "ENHANCED_FILTER",
            "data": {
                "config": {
                    "conditions": [
                        {
                            "id": "condition-1",
                            "field": "category",
                            "operator": "EQUALS",
                            "value": "crypto",
                            "fieldType": "string",
                        }
                    ]
                }
            },
        },
    ]
    result, _ = await run_saved((nodes, [{"id": "e", "source": "s", "target": "ef"}]))
    assert result.success, result.errors
    assert [m["id"] for m in result.outputs["ef"]["filtered"]] == ["501122"]
    assert "filter_failures" in result.outputs["ef"]
