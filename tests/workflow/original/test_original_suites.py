"""The behaviours the original's own tests asserted (lib/workflow/__tests__/: the v2
filter, the filter node, the aggregates), on the same sample rows, through cascadian's
original-filter and original-transform."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cascadian.config import Settings
from cascadian.data import Workflow
from cascadian.workflow.node_api import NodeContext, NodeServices
from cascadian.workflow.original.nodes.filter import FILTER
from cascadian.workflow.original.nodes.transform import TRANSFORM

MARKETS: list[dict[str, Any]] = [
    {
        "id": "market-1",
        "title": "Will Trump win the 2024 election?",
        "category": "Politics",
        "tags": ["election", "trump", "usa"],
        "volume": 150000,
        "currentPrice": 0.65,
    },
    {
        "id": "market-2",
        "title": "Will Bitcoin reach $100k by end of year?",
        "category": "Crypto",
        "tags": ["bitcoin", "crypto", "price"],
        "volume": 250000,
        "currentPrice": 0.45,
    },
    {
        "id": "market-3",
        "title": "Will Biden win reelection?",
        "category": "Politics",
        "tags": ["election", "biden", "usa"],
        "volume": 80000,
        "currentPrice": 0.35,
    },
    {
        "id": "market-4",
        "title": "Ethereum to surpass Bitcoin market cap?",
        "category": "Crypto",
        "tags": ["ethereum", "bitcoin", "crypto"],
        "volume": 120000,
        "currentPrice": 0.15,
    },
    {
        "id": "market-5",
        "title": "Will SpaceX land on Mars by 2030?",
        "category": "Science",
        "tags": ["spacex", "mars", "space"],
        "volume": 90000,
        "currentPrice": 0.25,
    },
]


def ctx(value: Any) -> NodeContext:
    workflow = Workflow(uuid.uuid4(), "w", [], [])
    return NodeContext(workflow, "n", {"up": value}, NodeServices(Settings()))


async def v2(logic: str, *conditions: tuple[str, str, Any], **extra: Any) -> dict[str, Any]:
    config = FILTER.config_model.model_validate(
        {
            "version": 2,
            "logic": logic,
            "conditions": [
                {"field": f, "operator": op, "value": v, **extra} for f, op, v in conditions
            ],
        }
    )
    out: dict[str, Any] = await FILTER.run(config, ctx({"markets": MARKETS}))
    return out


def ids(out: dict[str, Any], key: str = "filtered") -> list[str]:
    return [m["id"] for m in out[key]]


@pytest.mark.parametrize(
    ("logic", "conditions", "expected"),
    [
        (
            "AND",
            [("category", "EQUALS", "Politics"), ("volume", "GREATER_THAN", 100000)],
            ["market-1"],
        ),
        (
            "AND",
            [
                ("category", "EQUALS", "Crypto"),
                ("volume", "GREATER_THAN_OR_EQUAL", 120000),
                ("currentPrice", "LESS_THAN", 0.5),
            ],
            ["market-2", "market-4"],
        ),
        (
            "OR",
            [("category", "EQUALS", "Science"), ("volume", "GREATER_THAN", 200000)],
            ["market-2", "market-5"],
        ),
        (
            "OR",
            [("volume", "GREATER_THAN", 50000), ("category", "IN", ["Politics"])],
            ["market-1", "market-2", "market-3", "market-4", "market-5"],
        ),
        ("AND", [("category", "EQUALS", "Crypto")], ["market-2", "market-4"]),
        (
            "AND",
            [("category", "IN", ["Politics", "Science"])],
            ["market-1", "market-3", "market-5"],
        ),
        ("AND", [("tags", "CONTAINS", "bitcoin")], ["market-2", "market-4"]),
        ("AND", [("tags", "IN", ["trump", "biden"])], ["market-1", "market-3"]),
        ("AND", [("title", "CONTAINS", "BITCOIN")], ["market-2", "market-4"]),
        (
            "AND",
            [("title", "STARTS_WITH", "will")],
            ["market-1", "market-2", "market-3", "market-5"],
        ),
        (
            "AND",
            [("volume", "BETWEEN", [80000, 150000])],
            ["market-1", "market-3", "market-4", "market-5"],
        ),
        ("AND", [("category", "NOT_EQUALS", "Politics")], ["market-2", "market-4", "market-5"]),
        # "reelection" contains it too.
        ("AND", [("title", "DOES_NOT_CONTAIN", "ELECTION")], ["market-2", "market-4", "market-5"]),
        ("AND", [("title", "ENDS_WITH", "?")], [m["id"] for m in MARKETS]),
    ],
)
async def test_the_v2_filter_keeps_what_the_originals_tests_expected(
    logic: str, conditions: list[tuple[str, str, Any]], expected: list[str]
) -> None:
    assert ids(await v2(logic, *conditions)) == expected


async def test_case_sensitive_contains_matches_exactly() -> None:
    out = await v2("AND", ("title", "CONTAINS", "Bitcoin"), caseSensitive=True)
    assert ids(out) == ["market-2", "market-4"]
    none = await v2("AND", ("title", "CONTAINS", "BITCOIN"), caseSensitive=True)
    assert ids(none) == []


async def test_failure_reasons_name_the_field_and_values_in_the_originals_words() -> None:
    out = await v2("AND", ("volume", "GREATER_THAN", 200000))
    assert out["filter_failures"]["market-1"] == "volume (150000) <= 200000"
    assert out["filter_failures"]["market-3"] == "volume (80000) <= 200000"
    both = await v2("AND", ("category", "EQUALS", "Politics"), ("volume", "GREATER_THAN", 100000))
    assert "category" in both["filter_failures"]["market-2"]
    assert "80000" in both["filter_failures"]["market-3"]


async def test_no_conditions_or_no_rows_pass_through_with_no_failures() -> None:
    config = FILTER.config_model.model_validate({"version": 2, "logic": "AND", "conditions": []})
    out = await FILTER.run(config, ctx({"markets": MARKETS}))
    assert len(out["filtered"]) == 5 and out["filter_failures"] == {}
    empty = await FILTER.run(config, ctx({"markets": []}))
    assert empty["filtered"] == [] and empty["filter_failures"] == {}, "[] is the input, as in JS"


async def test_the_legacy_filter_is_strict_and_reports_no_failures() -> None:
    config = FILTER.config_model.model_validate(
        {"conditions": [{"field": "category", "operator": "eq", "value": "Politics"}]}
    )
    out = await FILTER.run(config, ctx({"markets": MARKETS[:3]}))
    assert (ids(out), out["count"], out["original_count"]) == (["market-1", "market-3"], 2, 3)
    assert "filter_failures" not in out
    lower = FILTER.config_model.model_validate(
        {"conditions": [{"field": "category", "operator": "eq", "value": "politics"}]}
    )
    assert (await FILTER.run(lower, ctx({"markets": MARKETS})))["count"] == 0


async def test_a_single_object_input_is_one_row() -> None:
    config = FILTER.config_model.model_validate(
        {"conditions": [{"field": "volume", "operator": "gt", "value": 100000}]}
    )
    out = await FILTER.run(config, ctx(MARKETS[0]))
    assert ids(out) == ["market-1"] and out["original_count"] == 1


ROWS: list[dict[str, Any]] = [
    {"category": "Politics", "volume": 100000, "price": 0.65},
    {"category": "Crypto", "volume": 150000, "price": 0.45},
    {"category": "Politics", "volume": 250000, "price": 0.52},
    {"category": "Crypto", "volume": 50000, "price": 0.70},
    {"category": "Sports", "volume": 50000, "price": 0.80},
]


async def aggregate(rows: list[Any], **config: Any) -> list[dict[str, Any]]:
    validated = TRANSFORM.config_model.model_validate(
        {"operations": [{"type": "aggregate", "config": config}]}
    )
    out: dict[str, Any] = await TRANSFORM.run(validated, ctx({"data": rows}))
    return list(out["transformed"])


async def test_aggregates_without_a_group_give_one_row() -> None:
    assert await aggregate(ROWS, operation="count") == [
        {"operation": "count", "field": "all", "result": 5, "count": 5}
    ]
    assert (await aggregate(ROWS, operation="sum", field="volume"))[0]["result"] == 600000
    assert (await aggregate(ROWS, operation="avg", field="price"))[0]["result"] == pytest.approx(
        0.624
    )
    assert (await aggregate(ROWS, operation="min", field="price"))[0]["result"] == 0.45
    assert (await aggregate(ROWS, operation="max", field="volume"))[0]["result"] == 250000


async def test_aggregates_by_group_key_each_row_by_the_group_value() -> None:
    counts = await aggregate(ROWS, operation="count", groupBy="category")
    assert {r["category"]: r["result"] for r in counts} == {"Politics": 2, "Crypto": 2, "Sports": 1}
    sums = await aggregate(ROWS, operation="sum", field="volume", groupBy="category")
    assert {r["category"]: r["result"] for r in sums} == {
        "Politics": 350000,
        "Crypto": 200000,
        "Sports": 50000,
    }
    avgs = await aggregate(ROWS, operation="avg", field="price", groupBy="category")
    assert {r["category"]: round(r["result"], 3) for r in avgs}["Politics"] == 0.585
    mins = await aggregate(ROWS, operation="min", field="price", groupBy="category")
    maxes = await aggregate(ROWS, operation="max", field="price", groupBy="category")
    assert (mins[1]["result"], maxes[1]["result"]) == (0.45, 0.7)


async def test_aggregates_of_nothing_and_of_non_numbers() -> None:
    assert await aggregate([], operation="sum", field="volume") == [
        {"operation": "sum", "field": "volume", "result": 0, "count": 0}
    ]
    missing = [{"volume": 100}, {}, {"volume": 200}]
    assert (await aggregate(missing, operation="sum", field="volume"))[0]["result"] == 300
    text = [{"volume": "100"}, {"volume": "invalid"}, {"volume": "200"}]
    assert (await aggregate(text, operation="sum", field="volume"))[0]["result"] == 300


async def test_sort_reads_direction_then_order_and_puts_missing_values_last() -> None:
    config = TRANSFORM.config_model.model_validate(
        {"operations": [{"type": "sort", "config": {"field": "volume", "order": "desc"}}]}
    )
    rows = [{"id": "a", "volume": 5}, {"id": "b"}, {"id": "c", "volume": 9}]
    out = await TRANSFORM.run(config, ctx({"data": rows}))
    assert [r["id"] for r in out["transformed"]] == ["c", "a", "b"]
