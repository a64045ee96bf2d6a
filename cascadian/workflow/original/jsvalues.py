"""JavaScript's value rules, which the original's executor (TypeScript) leaked into
its outputs: truthiness, `Number()`, `String()`, `<` between mixed types, and the
`a || b || c` way it picked a node's input.

Only what the original-* node types need; Python values stand for JSON ones (None
for null and undefined alike).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*(e[+-]?\d+)?|\.\d+(e[+-]?\d+)?|Infinity)", re.IGNORECASE)


def truthy(value: Any) -> bool:
    """JS truthiness: falsy are null, false, 0, NaN and ""; [] and {} are truthy."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


def to_number(value: Any) -> float:
    """JS `Number(x)`: null 0, true 1, "" 0, numeric text its number, else NaN."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
            return float(int(text, 16))
        if _NUMBER.fullmatch(text):
            return float(text.replace("Infinity", "inf").replace("infinity", "inf"))
        return math.nan
    if isinstance(value, list):
        return 0.0 if not value else to_number(value[0]) if len(value) == 1 else math.nan
    return math.nan


def number_text(value: float) -> str:
    """A number as JS prints it: 5 not 5.0, NaN, Infinity, 1e+21."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        return f"{mantissa.removesuffix('.0')}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
    return text


def to_string(value: Any) -> str:
    """JS `String(x)`, except that objects become JSON rather than [object Object]."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_text(float(value))
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join("" if v is None else to_string(v) for v in value)
    return json.dumps(value, default=str, separators=(",", ":"))


def less_than(left: Any, right: Any) -> bool:
    """JS `left < right`: two strings compare as text, anything else as numbers
    (NaN, and so a missing value, is never less or greater)."""
    if isinstance(left, str) and isinstance(right, str):
        return left < right
    a, b = to_number(left), to_number(right)
    return not (math.isnan(a) or math.isnan(b)) and a < b


def loosely_equal(left: Any, right: Any) -> bool:
    """JS `==` for JSON values: null equals only null; a number and text compare as
    numbers; a boolean counts as its number."""
    if left is None or right is None:
        return left is None and right is None
    if type(left) is type(right) or (_is_number(left) and _is_number(right)):
        return bool(left == right)
    if isinstance(left, bool | int | float | str) and isinstance(right, bool | int | float | str):
        a, b = to_number(left), to_number(right)
        return not (math.isnan(a) or math.isnan(b)) and a == b
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def pick(value: Any, keys: Sequence[str]) -> Any:
    """The original's `value.k1 || value.k2 || value || []`: the first truthy value
    among the keys, else the value itself when truthy, else an empty list."""
    if isinstance(value, dict):
        for key in keys:
            if truthy(value.get(key)):
                return value[key]
    return value if truthy(value) else []


def as_list(value: Any) -> list[Any]:
    """The original's wrapping: a list stays, anything else becomes [value]."""
    return value if isinstance(value, list) else [value]


def item_id(item: Any) -> Any:
    """A market's id as the original read it: id, market_id or marketId."""
    if not isinstance(item, dict):
        return None
    for key in ("id", "market_id", "marketId"):
        if truthy(item.get(key)):
            return item[key]
    return None
