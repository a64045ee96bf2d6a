"""The original's formulas and conditions: mathjs syntax, JavaScript spellings, and
the bounds that keep an expression cheap."""

from __future__ import annotations

import math
from typing import Any

import pytest

from cascadian.workflow.original.expressions import ExpressionError, evaluate, holds

ROW: dict[str, Any] = {
    "currentPrice": 0.6,
    "volume": 150000,
    "liquidity": 100,
    "category": "Politics",
    "order": 3,
    "analytics": {"momentum": 0.3},
    "note": None,
    "volumeText": "2000",
}


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("abs(currentPrice - 0.5)", pytest.approx(0.1)),
        ("Math.abs(currentPrice - 0.5)", pytest.approx(0.1)),
        ("volume / (1 + liquidity)", pytest.approx(150000 / 101)),
        ("2 ^ 3 ^ 2", 512),
        ("-2 ^ 2", -4),
        ("2 ** 10", 1024),
        ("-5 % 3", 1),
        ("10 mod 4", 2),
        ("round(2.5)", 3),
        ("round(-2.5)", -3),
        ("round(currentPrice * 100 / 7, 2)", 8.57),
        ("max(1, volume, 3) + min(4, 2)", 150002),
        ("sqrt(16) + log(e) + log10(1000) + log(8, 2)", 11),
        ("analytics.momentum * 2", 0.6),
        ("order + 1", 4),
        ("note + 1", 1),
        ("volumeText * 2", 4000),
        ("volume > 1 ? 'big' : 'small'", "big"),
        ("Math.PI > 3 and pi < 4", True),
        ("1 / 0", math.inf),
    ],
)
def test_formulas_read_as_mathjs_reads_them(expression: str, value: Any) -> None:
    assert evaluate(expression, ROW) == value


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("currentPrice > 0.5 and volume > 1e5", True),
        ("currentPrice > 0.5 && volume > 200000", False),
        ("category == 'Politics' or volume < 10", True),
        ('category === "Politics" || false', True),
        ("not (volume < 10)", True),
        ("!(volume < 10) && !false", True),
        ("0.2 < currentPrice < 0.7", True),
        ("0.2 < currentPrice < 0.5", False),
        ("category != 'Crypto'", True),
        ("volumeText == 2000", True),
        ("category > 'Crypto'", True),
        ("true xor true", False),
    ],
)
def test_conditions_accept_mathjs_words_and_javascript_symbols(
    condition: str, expected: bool
) -> None:
    assert holds(condition, ROW) is expected


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("", "empty"),
        ("abs(", "cannot read"),
        ("missingField + 1", "unknown name 'missingField'"),
        ("analytics.nothing", "not in the row"),
        ("__import__('os')", "unknown function"),
        ("eval('1')", "unknown function"),
        ("category.__class__", "not in the row"),
        ("x = 1", "cannot read"),
        ("1 +" + " 1 +" * 1000 + " 1", "longer than"),
        ("-" * 70 + "1", "nested more than"),
    ],
)
def test_what_is_not_an_expression_over_the_row_is_an_error(expression: str, problem: str) -> None:
    with pytest.raises(ExpressionError, match=problem):
        evaluate(expression, ROW)


def test_huge_powers_are_infinity_not_huge_integers() -> None:
    assert evaluate("10 ^ 400", ROW) == math.inf
    assert evaluate("9 ^ 9 ^ 9", ROW) == math.inf
