"""Hostile values in rows and formulas: number parsing takes linear time, a formula
function's error fails its row and not the node, and a string a formula cannot hold
is refused before the strategy runs."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from typing import Any

import pytest

from cascadian.config import Settings
from cascadian.data import RunResult, Workflow
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeServices
from cascadian.workflow.original.jsvalues import to_number
from cascadian.workflow.original.nodes.llm_analysis import fill
from cascadian.workflow.registry import default_registry
from cascadian.workflow.templates import MISSING, get_path
from cascadian.workflow.validation import problems
from tests.factories import chain, node

# On the old code one backtracking regular expression read these in time quadratic
# in their length: each 20,000-digit field took about 12 s on the 2-core machine
# (18 s in the attack), and 200,000 digits would take minutes; the run could not even
# time out, as the expression held the GIL. Read in linear time, all of them together
# take well under a second: the bound is generous for a busy machine and still far under
# what the old code takes for one field.
BOUND_SECONDS = 3.0
QUADRATIC_BEFORE = [
    "1" * 20_000 + "x",
    "." + "1" * 20_000 + "x",
    "1e" + "1" * 20_000 + "x",
    " " * 20_000 + "1" * 20_000 + "x",
]
MILLION_CHARACTERS = [
    "1" * 1_000_000,
    "0." + "1" * 999_998,
    "0x" + "f" * 999_998,  # the old code raised OverflowError here and failed the node
    " " * 999_999 + "7",
]
# Room for the hostile rows in the start node's variables.
ROOMY = {"CASCADIAN_VARIABLES_MAX_BYTES": 8_000_000, "CASCADIAN_GRAPH_MAX_BYTES": 8_000_000}


async def run(
    graph: tuple[list[dict[str, Any]], list[dict[str, Any]]], variables: dict[str, Any]
) -> RunResult:
    """The graph run once; it must end within BOUND_SECONDS."""
    nodes, edges = graph
    executor = GraphExecutor(services=NodeServices(Settings(**ROOMY)))
    workflow = Workflow(uuid.uuid4(), "hostile rows", nodes, edges, variables)
    started = time.perf_counter()
    result = await executor.execute(workflow, asyncio.get_running_loop().time() + 60)
    assert time.perf_counter() - started < BOUND_SECONDS
    return result


def rows(*values: Any) -> dict[str, Any]:
    return {"data": [{"id": f"m{i}", "p": v} for i, v in enumerate(values)]}


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("", 0.0),
        ("  12  ", 12.0),
        ("-1.5e+3", -1500.0),
        ("1.", 1.0),
        (".5", 0.5),
        ("+Infinity", math.inf),
        ("-Infinity", -math.inf),
        ("0x1F", 31.0),
        ("0b101", 5.0),
        ("0o17", 15.0),
        ("0x" + "f" * 300, math.inf),
        ("1" * 400, math.inf),
    ],
)
def test_numeric_text_reads_as_javascripts_number_does(text: str, number: float) -> None:
    assert to_number(text) == number


@pytest.mark.parametrize(
    "text",
    [
        ".",
        "+",
        "1e",
        "1e5.5",
        ".e5",
        "1.2.3",
        "infinity",
        "inf",
        "nan",
        "1_000",
        "²",
        "-0x10",
        "12x",
    ],
)
def test_text_javascript_does_not_read_as_a_number_is_nan(text: str) -> None:
    assert math.isnan(to_number(text))


def double(p: str = "p") -> dict[str, Any]:
    column = {"type": "add-column", "config": {"name": "twice", "formula": f"{p} * 2"}}
    return node("double", "original-transform", operations=[column])


async def test_a_20000_digit_field_followed_by_x_through_a_formula_takes_linear_time() -> None:
    result = await run(chain(node("start", "start"), double()), rows(*QUADRATIC_BEFORE))
    assert result.success, result.errors
    # NaN, as JavaScript's Number() reads them, written as JSON writes it: null.
    assert [row["twice"] for row in result.outputs["double"]["transformed"]] == [None] * 4


async def test_fields_of_a_million_characters_through_a_formula_take_linear_time() -> None:
    result = await run(chain(node("start", "start"), double()), rows(*MILLION_CHARACTERS))
    assert result.success, result.errors
    twice = [row["twice"] for row in result.outputs["double"]["transformed"]]
    assert twice == [None, pytest.approx(0.2222222222222222), None, 14]  # Infinity: null


async def test_a_saved_v2_filter_value_of_20000_digits_and_x_takes_linear_time() -> None:
    condition = {
        "field": "p",
        "operator": "GREATER_THAN",
        "value": QUADRATIC_BEFORE[0],
        "fieldType": "number",
    }
    keep = node("keep", "original-filter", version=2, conditions=[condition])
    result = await run(chain(node("start", "start"), keep), rows(*range(4)))
    assert result.success, result.errors
    assert (result.outputs["keep"]["count"], result.outputs["keep"]["original_count"]) == (0, 4)


def transform(formula: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    column = {"type": "add-column", "config": {"name": "y", "formula": formula}}
    return chain(node("start", "start"), node("t", "original-transform", operations=[column]))


@pytest.mark.parametrize(
    ("formula", "row", "value"),
    [
        ("p % 2", {"p": "Infinity"}, None),  # NaN, as mathjs's mod gives it
        ("mod(p, 2)", {"p": "-Infinity"}, None),
        ("log(5, p)", {"p": 1}, None),  # log(5) / log(1): Infinity
        ("floor(p)", {"p": "Infinity"}, None),
        ("exp(p)", {"p": 1000}, None),  # Infinity
        ("sum(p, 1)", {"p": "-Infinity"}, None),
        ("round(p, 15)", {"p": 1e300}, 1e300),
    ],
)
async def test_a_formula_over_infinity_gives_a_value_not_an_overflow(
    formula: str, row: dict[str, Any], value: Any
) -> None:
    result = await run(transform(formula), {"data": [row]})
    assert result.success, result.errors
    assert result.outputs["t"]["transformed"][0]["y"] == value


async def test_a_formula_function_that_fails_on_one_row_fails_that_row_alone() -> None:
    # round() takes 0 to 15 decimals: 400 was an OverflowError that failed the node.
    result = await run(
        transform("round(p, d)"), {"data": [{"p": 1, "d": 400}, {"p": 1.26, "d": 1}]}
    )
    assert result.success, result.errors
    assert [r["y"] for r in result.outputs["t"]["transformed"]] == [None, 1.3]


async def test_a_formula_function_that_fails_on_every_row_fails_the_node_saying_why() -> None:
    result = await run(transform("round(1, 400)"), {"data": [{"p": 1}, {"p": 2}]})
    assert not result.success
    assert result.errors[0]["error"] == (
        "formula 'round(1, 400)' failed on all 2 rows: "
        "round() takes a whole number of decimals from 0 to 15"
    )


async def test_a_condition_node_over_infinity_takes_its_else_branch() -> None:
    decide = node(
        "decide", "original-condition", conditions=[{"if": "p % 2 == 1", "then": "a", "else": "b"}]
    )
    result = await run(chain(node("start", "start"), decide), {"p": "Infinity"})
    assert result.success, result.errors
    assert result.outputs["decide"]["branch"] == "b"


@pytest.mark.parametrize(
    ("formula", "problem"),
    [
        ("'\\x' + p", "\\x needs two hex digits"),
        ("p == '\\x4'", "\\x needs two hex digits"),
        ("p == '\\u12'", "\\u needs four hex digits"),
        ("p == '\\u{110000}'", "past the last code point"),
        ("p == '\\07'", "octal escapes are not allowed"),
        ("p == '\\uD800'", "half of a surrogate pair"),
    ],
)
def test_a_string_escape_javascript_refuses_is_refused_before_the_strategy_runs(
    formula: str, problem: str
) -> None:
    nodes, edges = transform(formula)
    found = problems(Workflow(uuid.uuid4(), "bad escape", nodes, edges), default_registry())
    assert [(p.node_id, p.field) for p in found] == [("t", "data.config.operations.0")]
    assert problem in found[0].message


async def test_string_escapes_read_as_javascript_reads_them() -> None:
    formula = "'\\x41\\u0042\\u{43}\\t\\d\\uD83D\\uDE00'"
    result = await run(transform(formula), {"data": [{"p": 1}]})
    assert result.success, result.errors
    assert result.outputs["t"]["transformed"][0]["y"] == "ABC\td\U0001f600"


# The other text read from user data: the LLM node's {{placeholders}} and template paths.


def test_an_llm_prompt_of_100000_braces_fills_in_linear_time() -> None:
    # The original's /\{\{([^}]+)\}\}/g, run as a Python regular expression, took 2.3 s
    # for 20,000 `{` and about a minute for the 100,000 a prompt may hold.
    started = time.perf_counter()
    assert fill("{" * 100_000, {}) == "{" * 100_000
    assert fill("{{a}" * 50_000, {"a": 1}) == "{{a}" * 50_000
    assert time.perf_counter() - started < BOUND_SECONDS


@pytest.mark.parametrize(
    ("prompt", "filled"),
    [
        ("price {{ p }} of {{q.r}}", "price 0.5 of x"),
        ("{{{p}}}", "{{{p}}}"),  # the path is "{p", as the original matched it
        ("{{p}x}} {{p}}", "{{p}x}} 0.5"),
        ("{{missing}} {{}}", "{{missing}} {{}}"),
    ],
)
def test_llm_placeholders_match_where_the_originals_expression_did(
    prompt: str, filled: str
) -> None:
    assert fill(prompt, {"p": 0.5, "q": {"r": "x"}}) == filled


def test_a_template_index_of_5000_digits_is_missing_not_an_error() -> None:
    assert get_path({"items": [1, 2]}, "items." + "1" * 5_000) is MISSING
    assert get_path({"items": [1, 2]}, "items.-1") == 2
