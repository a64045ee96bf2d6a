"""Reading the original builder's saved graphs: which vocabulary a graph is in, where
its configs are, how its edges are read, and what is refused before anything runs."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from cascadian.config import Settings
from cascadian.data import Workflow
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeServices
from cascadian.workflow.original.translate import is_original, translate
from cascadian.workflow.registry import default_registry
from cascadian.workflow.validation import validate
from tests.factories import HELLO, chain, node
from tests.workflow.original.helpers import saved


def workflow(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> Workflow:
    return Workflow(uuid.uuid4(), "w", nodes, edges)


def problems(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], **env: Any) -> list[str]:
    services = NodeServices(Settings(**env))
    return [
        e["error"] for e in validate(workflow(nodes, edges), default_registry(), services).errors
    ]


def test_graphs_in_cascadian_vocabulary_pass_through_untouched() -> None:
    for graph in (
        HELLO,
        chain(
            node("s", "start"),
            node("f", "filter", conditions=[{"field": "x", "operator": "eq", "value": 1}]),
        ),
    ):
        flow = workflow(*graph)
        assert not is_original(flow)
        assert translate(flow).workflow is flow


def test_a_node_type_only_the_original_had_marks_the_graph_as_the_originals() -> None:
    flow = workflow([{"id": "js", "type": "javascript", "data": {"code": "return 1"}}], [])
    assert is_original(flow)
    [engine] = translate(flow).workflow.nodes
    assert engine == {
        "id": "js",
        "type": "original-javascript",
        "data": {"config": {"code": "return 1"}},
    }, "legacy fields on data.*"


def test_shared_names_are_read_as_the_originals_when_nodetype_is_saved() -> None:
    nodes, _ = saved("stream_filter_watch.json")
    engine = translate(workflow(nodes, [])).workflow.nodes
    assert [n["type"] for n in engine] == [
        "original-start",
        "original-polymarket-stream",
        "original-filter",
        "original-add-to-watchlist",
        "original-end",
    ]


def test_stale_run_results_and_the_label_are_not_config() -> None:
    nodes, edges = saved("template.json")
    http = translate(workflow(nodes, edges)).workflow.nodes[1]
    assert http["data"]["config"] == {
        "url": "https://api.example.com/markets/sii",
        "method": "GET",
        "headers": '{"X-Key": "abc"}',
    }


def test_template_literals_in_javascript_stay_javascript() -> None:
    nodes, edges = saved("template.json")
    assert problems(nodes, edges) == [], "`${input1.sii}` is not a cascadian template"


def test_the_flat_format_with_from_and_to_edges_is_read() -> None:
    nodes, edges = saved("flat_market_filter.json")
    translated = translate(workflow(nodes, edges)).workflow
    assert [(e["source"], e["target"]) for e in translated.edges] == [
        ("polymarket-stream_1730000000000_0", "market_filter_1730000000000_1"),
        ("market_filter_1730000000000_1", "add-to-watchlist_1730000000000_2"),
    ]
    assert translated.nodes[1]["data"]["config"]["min_liquidity_usd"] == 50000


def test_warehouse_and_unimplemented_types_are_refused_naming_each_node_and_why() -> None:
    nodes, edges = saved("warehouse.json")
    found = problems(nodes, edges)
    assert len(found) == 3
    assert "node 'research' (llm-research)" in found[0] and "never implemented" in found[0]
    # The wallet nodes run on public data now; SQL for the warehouse does not.
    assert found[1].startswith("node 'wallets' (original-data-source)")
    assert "prefilters.where is SQL for the original's ClickHouse warehouse" in found[1]
    # The orchestrator runs now (over the paper portfolio); without its sizing rules it
    # cannot, as the original threw without them.
    assert found[2] == (
        "node 'sizing-ui' (original-orchestrator): config.position_sizing_rules: Field required"
    )


def test_a_data_source_of_markets_or_trades_is_refused_as_the_original_never_ran_it() -> None:
    for source in ("MARKETS", "TRADES"):
        nodes = [{"type": "DATA_SOURCE", "id": "d", "config": {"source": source}}]
        [problem] = problems(nodes, [])
        assert f"source {source!r} cannot run" in problem
        assert f"'{source} data source not yet implemented'" in problem


async def test_a_refused_graph_runs_nothing_and_logs_every_node_as_saved() -> None:
    nodes, edges = saved("warehouse.json")
    result = await GraphExecutor().execute(workflow(nodes, edges))
    assert not result.success and result.nodes_executed == 0
    assert [(r.node_id, r.node_type, r.status) for r in result.node_runs][3:] == [
        ("sizing", "orchestrator", "skipped"),
        ("sizing-ui", "ORCHESTRATOR", "error"),
        ("research", "llm-research", "error"),
    ]


def test_an_llm_node_without_a_provider_is_refused_naming_the_setting() -> None:
    nodes, edges = saved("llm.json")
    [problem] = problems(nodes, edges)
    assert problem.startswith(
        "node 'ai' (original-llm-analysis): needs an LLM provider: set CASCADIAN_LLM_BASE_URL"
    )
    assert problems(nodes, edges, CASCADIAN_LLM_BASE_URL="https://llm.test/v1") == []


def test_a_condition_whose_branches_name_none_of_its_nodes_is_refused() -> None:
    nodes, edges = saved("condition_buy.json")
    nodes[1]["data"]["config"]["conditions"] = [{"if": "count > 0", "then": "buy", "else": "skip"}]
    [problem] = problems(nodes, edges)
    assert (
        "node 'condition-1729690001000-1' (condition): its branches name 'buy', 'skip'" in problem
    )
    assert "(label 'Buy Order')" in problem


def test_a_condition_names_its_targets_by_id_or_label() -> None:
    nodes, edges = saved("condition_buy.json")
    translated = translate(workflow(nodes, edges)).workflow
    handles = {e["id"]: e["sourceHandle"] for e in translated.edges}
    assert handles["e-cond-buy"] == "Buy Order"
    nodes[1]["data"]["config"]["conditions"][0]["then"] = "polymarket-buy-1729690001000-2"
    again = translate(workflow(nodes, edges)).workflow
    assert {e["id"]: e["sourceHandle"] for e in again.edges}["e-cond-buy"] == (
        "polymarket-buy-1729690001000-2"
    )


def test_inputs_follow_the_canvas_left_to_right_and_start_adds_nothing_to_data_nodes() -> None:
    nodes = [
        {"id": "s", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
        {
            "id": "right",
            "type": "javascript",
            "position": {"x": 400, "y": 0},
            "data": {"code": "return 2"},
        },
        {
            "id": "left",
            "type": "javascript",
            "position": {"x": 100, "y": 0},
            "data": {"code": "return 1"},
        },
        {
            "id": "f",
            "type": "filter",
            "position": {"x": 600, "y": 0},
            "data": {"nodeType": "filter", "config": {}},
        },
    ]
    edges = [
        {"id": "a", "source": "right", "target": "f", "sourceHandle": None},
        {"id": "b", "source": "s", "target": "f", "sourceHandle": None},
        {"id": "c", "source": "left", "target": "f", "sourceHandle": "output"},
        {"id": "d", "source": "s", "target": "left"},
        {"id": "e", "source": "s", "target": "right"},
    ]
    translated = translate(workflow(nodes, edges)).workflow
    into_filter = [e["source"] for e in translated.edges if e["target"] == "f"]
    assert into_filter == ["left", "right"]


def test_data_inputs_and_a_non_object_config_are_refused() -> None:
    nodes = [
        {"id": "a", "type": "filter", "data": {"nodeType": "filter", "inputs": {"x": "${b.y}"}}},
        {"id": "b", "type": "transform", "data": {"nodeType": "transform", "config": "[]"}},
    ]
    found = problems(nodes, [])
    assert found[0].startswith("node 'a' (filter): data.inputs is not read here")
    assert found[1] == "node 'b' (transform): data.config must be an object"


def test_bad_original_configs_name_the_node_and_field_before_the_run() -> None:
    nodes = [
        {
            "id": "f",
            "type": "filter",
            "data": {
                "nodeType": "filter",
                "config": {
                    "version": 2,
                    "logic": "AND",
                    "conditions": [{"field": "volume", "operator": "IN_PERCENTILE", "value": 10}],
                },
            },
        },
        {
            "id": "t",
            "type": "transform",
            "data": {
                "nodeType": "transform",
                "config": {
                    "operations": [
                        {"type": "add-column", "config": {"name": "x", "formula": "abs("}}
                    ]
                },
            },
        },
        {"id": "j", "type": "join", "data": {"nodeType": "join"}},
    ]
    found = problems(nodes, [])
    assert "node 'f' (original-filter)" in found[0] and "never implemented" in found[0]
    assert "node 't' (original-transform)" in found[1] and "cannot read 'abs('" in found[1]
    assert found[2].startswith("node 'j' has unknown type 'join'")


def test_cascadian_types_in_an_original_graph_run_as_cascadians() -> None:
    nodes, edges = saved("stream_filter_watch.json")
    nodes.append(
        {"id": "tell", "type": "notify", "data": {"config": {"title": "t", "message": "m"}}}
    )
    edges.append({"id": "x", "source": "watch-1", "target": "tell", "sourceHandle": None})
    assert problems(nodes, edges) == []


def test_a_translated_graph_drops_the_stored_text_it_no_longer_matches() -> None:
    flow = replace(workflow(*saved("template.json")), stored_text="[the graph as stored]")
    assert is_original(flow)
    translated = translate(flow).workflow
    assert translated.nodes != flow.nodes
    assert translated.stored_text is None
