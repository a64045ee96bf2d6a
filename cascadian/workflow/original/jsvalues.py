"""JavaScript's value rules, which the original's executor (TypeScript) leaked into
its outputs: truthiness, `Number()`, `String()`, `<` between mixed types, and the
`a || b || c` way it picked a node's input.

Only what the original-* node types need; Python values stand for JSON ones (None
for null and undefined alike).

Text becomes a number without regular expressions: a backtracking pattern over a
row's field took time quadratic in its length (20,000 digits and an `x` held the
process for 18 s). `_numeric_text` reads the text with a fixed number of passes of
str methods, so its time is linear in the length, whatever the text holds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

_RADIX = {"0x": 16, "0o": 8, "0b": 2}


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
        return _numeric_text(value.strip())
    if isinstance(value, list):
        return 0.0 if not value else to_number(value[0]) if len(value) == 1 else math.nan
    return math.nan


def _numeric_text(text: str) -> float:
    """JS `Number()` of trimmed text: "" 0, `0x`/`0o`/`0b` integers, [+-] decimals
    with an optional exponent, [+-]Infinity; anything else NaN. Linear in the text."""
    if text == "":
        return 0.0
    radix = _RADIX.get(text[:2].lower())
    if radix is not None:
        return _integer(text[2:], radix)
    unsigned = text[1:] if text[0] in "+-" else text
    if unsigned == "Infinity":
        return -math.inf if text[0] == "-" else math.inf
    mantissa, marker, exponent = unsigned.lower().partition("e")
    if marker and not _digits(exponent[1:] if exponent[:1] in ("+", "-") else exponent):
        return math.nan
    whole, _, fraction = mantissa.partition(".")
    if not (whole or fraction) or not all(_digits(part) for part in (whole, fraction) if part):
        return math.nan
    return float(text)  # its shape is checked: float() reads it in linear time


def _digits(text: str) -> bool:
    """Only ASCII 0-9 (str.isdigit alone also takes '²' and other scripts' digits)."""
    return text.isascii() and text.isdigit()


def _integer(digits: str, radix: int) -> float:
    # int() also takes underscores, signs and spaces, which JS does not.
    if not (digits.isascii() and digits.isalnum()):
        return math.nan
    try:
        return float(int(digits, radix))
    except ValueError:  # a digit beyond the radix
        return math.nan
    except OverflowError:  # past the largest float: JS gives Infinity
        return math.inf


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
