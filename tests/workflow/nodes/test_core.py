"""The core node types and the registry that discovers them."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from cascadian.config import Settings
from cascadian.data import Workflow
from cascadian.workflow.node_api import NodeConfig, NodeContext, NodeError, NodeServices, NodeType
from cascadian.workflow.nodes.common import compare
from cascadian.workflow.nodes.condition import CONDITION
from cascadian.workflow.nodes.delay import DELAY
from cascadian.workflow.nodes.filter import FILTER
from cascadian.workflow.nodes.start_end import END, START
from cascadian.workflow.nodes.transform import TRANSFORM
from cascadian.workflow.registry import NodeRegistry, default_registry

MARKETS = [
    {"id": "a", "price": 0.2, "volume": 500, "tags": ["sports"], "meta": {"league": "nba"}},
    {"id": "b", "price": 0.6, "volume": 1500, "tags": ["politics"], "meta": {"league": None}},
    {"id": "c", "price": 0.9, "volume": "n/a", "tags": [], "meta": {}},
]


def context(
    inputs: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
    deadline: float | None = None,
) -> NodeContext:
    workflow = Workflow(uuid.uuid4(), "w", [], [], variables=variables or {})
    return NodeContext(workflow, "n1", inputs or {}, NodeServices(Settings()), deadline=deadline)


async def run(node_type: NodeType, config: dict[str, Any], ctx: NodeContext | None = None) -> Any:
    validated = node_type.config_model.model_validate(config)
    return await node_type.run(validated, ctx or context())


async def filter_ids(conditions: list[dict[str, Any]], combine: str = "and") -> list[str]:
    config = {"items": MARKETS, "conditions": conditions, "combine": combine}
    output = await run(FILTER, config)
    return [item["id"] for item in output["items"]]


# registry


def test_the_default_registry_loads_the_core_node_types_from_entry_points() -> None:
    registry = default_registry()
    assert {"start", "end", "delay", "filter", "transform", "condition"} <= set(registry.names())
    assert registry.get("filter") is FILTER
    assert registry.names() == sorted(registry.names())


def test_each_default_registry_is_a_fresh_copy() -> None:
    extra = NodeType("test-only", NodeConfig, run=lambda config, ctx: asyncio.sleep(0))
    first = default_registry()
    first.register(extra)
    assert "test-only" in first
    assert "test-only" not in default_registry()


def test_registering_a_different_type_under_a_taken_name_needs_replace() -> None:
    registry = NodeRegistry([START])
    impostor = NodeType("start", NodeConfig, run=START.run)
    registry.register(START)  # the same type again is harmless
    with pytest.raises(ValueError, match="'start' is already registered"):
        registry.register(impostor)
    registry.register(impostor, replace=True)
    assert registry["start"] is impostor
    assert len(registry) == 1


# start / end / delay


async def test_start_outputs_the_workflow_variables() -> None:
    assert await run(START, {}, context(variables={"limit": 5})) == {"limit": 5}


def test_start_and_end_take_no_config() -> None:
    for node_type in (START, END):
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            node_type.config_model.model_validate({"anything": 1})


async def test_end_outputs_its_single_input_or_a_dict_of_several() -> None:
    assert await run(END, {}, context({"f": {"count": 1}})) == {"count": 1}
    assert await run(END, {}, context({"a": 1, "b": 2})) == {"a": 1, "b": 2}
    assert await run(END, {}, context()) is None


async def test_delay_sleeps_for_the_configured_seconds_and_passes_its_input_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    assert await run(DELAY, {"seconds": 2.5}, context({"up": [1, 2]})) == [1, 2]
    assert slept == [2.5]


@pytest.mark.parametrize("seconds", [-1, 3600.5, "soon", None])
def test_delay_seconds_must_be_between_0_and_3600(seconds: Any) -> None:
    with pytest.raises(ValidationError):
        DELAY.config_model.model_validate({"seconds": seconds})


async def test_delay_refuses_to_sleep_past_the_run_deadline() -> None:
    deadline = asyncio.get_running_loop().time() + 1
    with pytest.raises(NodeError, match="would outlast the run's time limit"):
        await run(DELAY, {"seconds": 60}, context(deadline=deadline))


# filter


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "id", "operator": "eq", "value": "b"}, ["b"]),
        ({"field": "id", "operator": "ne", "value": "b"}, ["a", "c"]),
        ({"field": "price", "operator": "gt", "value": 0.6}, ["c"]),
        ({"field": "price", "operator": "gte", "value": 0.6}, ["b", "c"]),
        ({"field": "price", "operator": "lt", "value": 0.6}, ["a"]),
        ({"field": "price", "operator": "lte", "value": 0.6}, ["a", "b"]),
        ({"field": "id", "operator": "in", "value": ["a", "c", "z"]}, ["a", "c"]),
        ({"field": "tags", "operator": "contains", "value": "sports"}, ["a"]),
        ({"field": "price", "operator": "between", "value": [0.2, 0.6]}, ["a", "b"]),
        ({"field": "meta.league", "operator": "eq", "value": "nba"}, ["a"]),
    ],
)
async def test_filter_operators(condition: dict[str, Any], expected: list[str]) -> None:
    assert await filter_ids([condition]) == expected


async def test_filter_treats_incompatible_types_as_no_match() -> None:
    assert await filter_ids([{"field": "volume", "operator": "gt", "value": 1000}]) == ["b"]
    assert await filter_ids([{"field": "volume", "operator": "contains", "value": 5}]) == []


async def test_filter_never_matches_a_missing_field_even_with_ne() -> None:
    assert await filter_ids([{"field": "meta.league", "operator": "ne", "value": "nba"}]) == ["b"]
    assert await filter_ids([{"field": "nope", "operator": "ne", "value": 1}]) == []


async def test_filter_combines_conditions_with_and_by_default_or_with_or() -> None:
    conditions = [
        {"field": "price", "operator": "lt", "value": 0.7},
        {"field": "volume", "operator": "gt", "value": 1000},
    ]
    assert await filter_ids(conditions) == ["b"]
    assert await filter_ids(conditions, combine="or") == ["a", "b"]


async def test_filter_outputs_the_kept_items_with_count_and_removed() -> None:
    config = {"items": MARKETS, "conditions": [{"field": "price", "operator": "gt", "value": 0.5}]}
    output = await run(FILTER, config)
    assert output == {"items": MARKETS[1:], "count": 2, "removed": 1}


@pytest.mark.parametrize("upstream", [MARKETS, {"items": MARKETS, "count": 3}])
async def test_filter_reads_items_from_an_input_list_or_an_object_with_items(upstream: Any) -> None:
    config = {"conditions": [{"field": "id", "operator": "eq", "value": "a"}]}
    output = await run(FILTER, config, context({"fetch": upstream}))
    assert output["count"] == 1


async def test_filter_rejects_an_input_that_is_not_a_collection() -> None:
    config = {"conditions": [{"field": "id", "operator": "eq", "value": "a"}]}
    with pytest.raises(NodeError, match=r"expected a list.*in the input; got an object without"):
        await run(FILTER, config, context({"fetch": {"result": True}}))
    with pytest.raises(NodeError, match=r"in config\.items; got null"):
        await run(FILTER, {**config, "items": None}, context({"fetch": MARKETS}))


async def test_filter_with_several_inputs_asks_for_config_items() -> None:
    config = {"conditions": [{"field": "id", "operator": "eq", "value": "a"}]}
    with pytest.raises(NodeError, match=r"2 upstream nodes feed this node; set config\.items"):
        await run(FILTER, config, context({"x": MARKETS, "y": MARKETS}))


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ([], "at least 1 item"),
        ([{"field": "a", "operator": "like", "value": 1}], "Input should be 'eq'"),
        ([{"field": "a", "operator": "between", "value": 1}], "between needs value"),
        ([{"operator": "eq", "value": 1}], "Field required"),
    ],
)
def test_filter_config_is_validated(conditions: list[Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FILTER.config_model.model_validate({"conditions": conditions})


# transform


async def transform(operations: list[dict[str, Any]], items: list[Any] = MARKETS) -> Any:
    return await run(TRANSFORM, {"items": items, "operations": operations})


async def test_sort_orders_by_a_field_and_puts_items_missing_it_last() -> None:
    items = [{"p": 2}, {"q": 1}, {"p": 1}, {"p": None}, {"p": 3}]
    ascending = await transform([{"op": "sort", "field": "p"}], items)
    descending = await transform([{"op": "sort", "field": "p", "descending": True}], items)
    assert ascending["items"] == [{"p": 1}, {"p": 2}, {"p": 3}, {"q": 1}, {"p": None}]
    assert descending["items"] == [{"p": 3}, {"p": 2}, {"p": 1}, {"q": 1}, {"p": None}]


async def test_sort_of_mixed_types_groups_numbers_before_strings_instead_of_failing() -> None:
    output = await transform([{"op": "sort", "field": "volume"}])
    assert [item["id"] for item in output["items"]] == ["a", "b", "c"]


async def test_limit_keeps_the_first_n_items() -> None:
    assert (await transform([{"op": "limit", "count": 2}]))["count"] == 2
    assert (await transform([{"op": "limit", "count": 0}]))["items"] == []


async def test_pick_keeps_dotted_fields_under_their_full_path_and_null_when_missing() -> None:
    output = await transform([{"op": "pick", "fields": ["id", "meta.league"]}], MARKETS[::2])
    assert output["items"] == [{"id": "a", "meta.league": "nba"}, {"id": "c", "meta.league": None}]


@pytest.mark.parametrize(
    ("function", "field", "value"),
    [
        ("count", None, 3),
        ("count", "meta.league", 1),
        ("sum", "volume", 2000),
        ("avg", "price", pytest.approx(0.5667, abs=1e-4)),
        ("min", "price", 0.2),
        ("max", "volume", 1500),
    ],
)
async def test_aggregate_without_group_by_sets_value_and_keeps_items(
    function: str, field: str | None, value: Any
) -> None:
    output = await transform([{"op": "aggregate", "function": function, "field": field}])
    assert output == {"items": MARKETS, "count": 3, "value": value}


async def test_aggregate_of_no_numbers_is_null_except_sum_which_is_zero() -> None:
    assert (await transform([{"op": "aggregate", "function": "avg", "field": "id"}]))[
        "value"
    ] is None
    assert (await transform([{"op": "aggregate", "function": "sum", "field": "x"}], []))[
        "value"
    ] == 0


async def test_aggregate_with_group_by_makes_one_row_per_group_in_first_seen_order() -> None:
    items = [{"s": "x", "v": 1}, {"s": "y", "v": 5}, {"s": "x", "v": 2}, {"v": 7}]
    output = await transform(
        [{"op": "aggregate", "function": "sum", "field": "v", "group_by": "s"}], items
    )
    assert output == {
        "items": [
            {"group": "x", "value": 3},
            {"group": "y", "value": 5},
            {"group": None, "value": 7},
        ],
        "count": 3,
        "value": 15,
    }


async def test_operations_apply_in_order() -> None:
    output = await transform(
        [
            {"op": "sort", "field": "price", "descending": True},
            {"op": "limit", "count": 2},
            {"op": "pick", "fields": ["id"]},
        ]
    )
    assert output == {"items": [{"id": "c"}, {"id": "b"}], "count": 2}


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        ({"op": "shuffle"}, "does not match any of the expected tags"),
        ({"op": "limit", "count": -1}, "greater than or equal to 0"),
        ({"op": "aggregate", "function": "sum"}, "aggregate sum needs a field"),
        ({"op": "sort"}, "Field required"),
    ],
)
def test_transform_config_is_validated(operation: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TRANSFORM.config_model.model_validate({"operations": [operation]})


# condition


@pytest.mark.parametrize(
    ("left", "op", "right", "expected"),
    [
        (3, "eq", 3, True),
        ("3", "eq", 3, False),
        (3, "ne", 4, True),
        (3, "gt", 2, True),
        (3, "gte", 3, True),
        (3, "lt", 3, False),
        (3, "lte", 3, True),
        ("b", "in", ["a", "b"], True),
        (1, "in", "123", False),
        ("abc", "contains", "b", True),
        ([1, 2], "contains", 3, False),
        (0, "exists", None, True),
        (None, "exists", None, False),
        ("x", "gt", 1, False),
        (None, "lt", 1, False),
    ],
)
async def test_condition_compares_left_with_right(
    left: Any, op: str, right: Any, expected: bool
) -> None:
    output = await run(CONDITION, {"left": left, "operator": op, "right": right})
    assert output == {"result": expected}
    assert CONDITION.branch is not None
    assert CONDITION.branch(output) == ("true" if expected else "false")


def test_between_compares_inclusively_and_needs_a_pair() -> None:
    assert compare(5, "between", [5, 10])
    assert not compare(11, "between", [5, 10])
    assert not compare(5, "between", [5])


def test_condition_config_rejects_unknown_operators() -> None:
    with pytest.raises(ValidationError, match="operator"):
        CONDITION.config_model.model_validate({"left": 1, "operator": "between", "right": [0, 2]})
