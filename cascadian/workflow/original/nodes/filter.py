"""original-filter: the original's filter node, legacy and v2 (enhanced).

Rows come from the input's `markets`, else its `data` (or the `filtered` or
`transformed` of a filter or transform before it), else the input itself (a single
object is one row). Output `{filtered, count, original_count}`, and with v2
also `filter_failures` (row id -> why it failed).

- Legacy (`conditions: [{field, operator: eq|ne|gt|gte|lt|lte|in|contains, value}]`):
  every condition must hold; eq/ne are strict, gt..lte compare as JavaScript does,
  `contains` is a case-insensitive substring test.
- v2 (`{version: 2, logic: AND|OR, conditions: [{field, operator, value, fieldType?,
  caseSensitive?}]}`): the operators in V2_OPERATORS; `field` is a dotted path; text
  tests are case-insensitive unless `caseSensitive`; a missing value fails every test
  but IS_NULL; values are coerced by `fieldType` (number, date, boolean, string).

Where the original let rows through that its author cannot have meant to (an
operator it did not know, such as the `>` its panel's hint suggested; `logic` other
than AND/OR; v2 operators or `logic` without `version: 2`; the percentile operators it never
implemented), this node reads what was meant or refuses the config before the run:
docs/nodes.md lists each case.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Self

from pydantic import Field, model_validator

from cascadian.workflow.node_api import Checkpoint, NodeContext, NodeType
from cascadian.workflow.original.jsvalues import item_id, less_than, to_number, to_string
from cascadian.workflow.original.nodes.common import OriginalConfig, items
from cascadian.workflow.templates import MISSING, get_path

# The original read `markets`, then `data`; the other nodes' list keys follow, so a
# filter after a filter or a transform filters their rows.
KEYS = ("markets", "data", "filtered", "transformed")
LEGACY_OPERATORS = {
    **{op: op for op in ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains")},
    # What the builder's panel hinted at ('"operator": ">"') and other spellings.
    **{"=": "eq", "==": "eq", "===": "eq", "!=": "ne", "!==": "ne"},
    **{">": "gt", ">=": "gte", "<": "lt", "<=": "lte"},
}
V2_OPERATORS = frozenset(
    {
        "EQUALS",
        "NOT_EQUALS",
        "GREATER_THAN",
        "GREATER_THAN_OR_EQUAL",
        "LESS_THAN",
        "LESS_THAN_OR_EQUAL",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "CONTAINS",
        "DOES_NOT_CONTAIN",
        "STARTS_WITH",
        "ENDS_WITH",
        "IS_NULL",
        "IS_NOT_NULL",
    }
)
# The legacy names, read in a v2 config.
_AS_V2 = {
    "eq": "EQUALS",
    "ne": "NOT_EQUALS",
    "gt": "GREATER_THAN",
    "gte": "GREATER_THAN_OR_EQUAL",
    "lt": "LESS_THAN",
    "lte": "LESS_THAN_OR_EQUAL",
    "in": "IN",
    "contains": "CONTAINS",
}
NEVER_IMPLEMENTED = frozenset({"IN_PERCENTILE", "NOT_IN_PERCENTILE"})
FIELD_TYPES = frozenset({"number", "string", "array", "date", "boolean", "object", "unknown"})


class Condition(OriginalConfig):
    field: str = Field(min_length=1)
    operator: str
    value: Any = None
    fieldType: str | None = None
    caseSensitive: bool = False


class FilterConfig(OriginalConfig):
    conditions: list[Condition] = Field(default_factory=list)
    version: Any = None
    logic: Any = None

    @property
    def v2(self) -> bool:
        named_v2 = any(c.operator.upper() in V2_OPERATORS for c in self.conditions)
        return str(self.version) == "2" or named_v2 or self.logic is not None

    @property
    def any_of(self) -> bool:
        return isinstance(self.logic, str) and self.logic.strip().upper() == "OR"

    @model_validator(mode="after")
    def _operators(self) -> Self:
        if self.logic is not None and not (
            isinstance(self.logic, str) and self.logic.strip().upper() in ("AND", "OR")
        ):
            raise ValueError(f"logic must be AND or OR, not {self.logic!r}")
        v2 = self.v2
        for index, condition in enumerate(self.conditions):
            op = condition.operator.strip()
            where = f"conditions.{index}.operator"
            if op.upper() in NEVER_IMPLEMENTED:
                raise ValueError(
                    f"{where}: {op} was never implemented in the original (every row passed)"
                )
            if v2:
                canonical = _AS_V2.get(LEGACY_OPERATORS.get(op, ""), op.upper())
                if canonical not in V2_OPERATORS:
                    raise ValueError(f"{where}: unknown operator {op!r}")
            elif op not in LEGACY_OPERATORS:
                raise ValueError(f"{where}: unknown operator {op!r}")
            else:
                canonical = LEGACY_OPERATORS[op]
            condition.operator = canonical
            kind = condition.fieldType
            if kind is not None and kind not in FIELD_TYPES:
                raise ValueError(f"conditions.{index}.fieldType: unknown type {kind!r}")
            if canonical == "BETWEEN" and not (
                isinstance(condition.value, list) and len(condition.value) == 2
            ):
                raise ValueError(f"conditions.{index}.value: BETWEEN needs [low, high]")
        return self


def _strictly_equal(a: Any, b: Any) -> bool:
    """JavaScript's ===: no coercion; true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and isinstance(a, str | type(None)) and a == b


def _at_least(a: Any, b: Any) -> bool:
    """JavaScript's a >= b."""
    if isinstance(a, str) and isinstance(b, str):
        return a >= b
    x, y = to_number(a), to_number(b)
    return not (math.isnan(x) or math.isnan(y)) and x >= y


def _legacy(item: Any, c: Condition) -> bool:
    value = _read(item, c.field)
    if value is MISSING:
        value = None
    op, wanted = c.operator, c.value
    if op == "eq":
        return _strictly_equal(value, wanted)
    if op == "ne":
        return not _strictly_equal(value, wanted)
    if op == "gt":
        return less_than(wanted, value)
    if op == "gte":
        return _at_least(value, wanted)
    if op == "lt":
        return less_than(value, wanted)
    if op == "lte":
        return _at_least(wanted, value)
    if op == "in":
        return isinstance(wanted, list) and any(_strictly_equal(value, w) for w in wanted)
    return value is not None and to_string(wanted).lower() in to_string(value).lower()


def _read(item: Any, field: str) -> Any:
    if isinstance(item, dict) and field in item:
        return item[field]
    return get_path(item, field)


def _coerce(value: Any, kind: str | None) -> Any:
    if kind == "number":
        return to_number(value)
    if kind == "date":
        return _epoch_ms(value)
    if kind == "boolean" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if kind == "string" and value is not None and not isinstance(value, str):
        return to_string(value)
    return value


def _epoch_ms(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return math.nan
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1000
    return math.nan


def _equals(a: Any, b: Any, case_sensitive: bool) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a == b if case_sensitive else a.lower() == b.lower()
    return _strictly_equal(a, b)


def _text(value: Any, case_sensitive: bool) -> str:
    text = ",".join(to_string(v) for v in value) if isinstance(value, list) else to_string(value)
    return text if case_sensitive else text.lower()


def _v2(item: Any, c: Condition) -> bool:
    raw = _read(item, c.field)
    op = c.operator
    if op in ("IS_NULL", "IS_NOT_NULL"):
        return (raw is MISSING or raw is None) == (op == "IS_NULL")
    if raw is MISSING or raw is None:
        return False
    kind = c.fieldType
    value = _coerce(raw, kind)
    wanted = [_coerce(w, kind) for w in c.value] if isinstance(c.value, list) else c.value
    wanted = wanted if isinstance(c.value, list) else _coerce(c.value, kind)
    if op in ("EQUALS", "NOT_EQUALS"):
        return _equals(value, wanted, c.caseSensitive) == (op == "EQUALS")
    if op in ("GREATER_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN", "LESS_THAN_OR_EQUAL"):
        a, b = to_number(value), to_number(wanted)
        if math.isnan(a) or math.isnan(b):
            return False
        return {
            "GREATER_THAN": a > b,
            "GREATER_THAN_OR_EQUAL": a >= b,
            "LESS_THAN": a < b,
            "LESS_THAN_OR_EQUAL": a <= b,
        }[op]
    if op == "BETWEEN":
        a, low, high = to_number(value), to_number(wanted[0]), to_number(wanted[1])
        return low <= a <= high  # False whenever one is NaN
    if op in ("IN", "NOT_IN"):
        options = wanted if isinstance(wanted, list) else [wanted]
        values = value if isinstance(value, list) else [value]
        hit = any(_equals(v, o, c.caseSensitive) for v in values for o in options)
        return hit == (op == "IN")
    text, part = _text(value, c.caseSensitive), _text(wanted, c.caseSensitive)
    if op == "CONTAINS":
        return part in text
    if op == "DOES_NOT_CONTAIN":
        return part not in text
    if op == "STARTS_WITH":
        return text.startswith(part)
    return text.endswith(part)


def _shown(value: Any) -> str:
    if value is MISSING or value is None:
        return "null"
    if isinstance(value, list):
        return ", ".join(to_string(v) for v in value)
    return to_string(value)


_REASONS = {
    "EQUALS": "{f} ({v}) != {c}",
    "NOT_EQUALS": "{f} ({v}) == {c}",
    "GREATER_THAN": "{f} ({v}) <= {c}",
    "GREATER_THAN_OR_EQUAL": "{f} ({v}) < {c}",
    "LESS_THAN": "{f} ({v}) >= {c}",
    "LESS_THAN_OR_EQUAL": "{f} ({v}) > {c}",
    "IN": "{f} ({v}) not in [{c}]",
    "NOT_IN": "{f} ({v}) in [{c}]",
    "CONTAINS": '{f} ({v}) does not contain "{c}"',
    "DOES_NOT_CONTAIN": '{f} ({v}) contains "{c}"',
    "STARTS_WITH": '{f} ({v}) does not start with "{c}"',
    "ENDS_WITH": '{f} ({v}) does not end with "{c}"',
    "IS_NULL": "{f} is not null",
    "IS_NOT_NULL": "{f} is null",
}


def reason(item: Any, c: Condition) -> str:
    """Why `item` failed `c`, in the original's words (e.g. 'volume (80000) <= 200000')."""
    value = _shown(_read(item, c.field))
    if c.operator == "BETWEEN":
        low, high = (to_string(b) for b in c.value)
        return f"{c.field} ({value}) not in [{low}, {high}]"
    return _REASONS[c.operator].format(f=c.field, v=value, c=_shown(c.value))


def _filter_v2(
    rows: list[Any], config: FilterConfig, checkpoint: Checkpoint
) -> tuple[list[Any], dict[str, str]]:
    kept: list[Any] = []
    failures: dict[str, str] = {}
    for index, row in enumerate(rows):
        checkpoint()
        key = item_id(row)
        name = to_string(key) if key is not None else f"#{index}"
        if config.any_of:
            if any(_v2(row, c) for c in config.conditions):
                kept.append(row)
            else:
                failures[name] = " AND ".join(reason(row, c) for c in config.conditions)
            continue
        failed = next((c for c in config.conditions if not _v2(row, c)), None)
        if failed is None:
            kept.append(row)
        else:
            failures[name] = reason(row, failed)
    return kept, failures


def _filter(rows: list[Any], config: FilterConfig, checkpoint: Checkpoint) -> dict[str, Any]:
    if config.v2:
        kept, failures = _filter_v2(rows, config, checkpoint) if config.conditions else (rows, {})
        return {
            "filtered": kept,
            "count": len(kept),
            "original_count": len(rows),
            "filter_failures": failures,
        }
    kept = []
    for row in rows:
        checkpoint()
        if all(_legacy(row, c) for c in config.conditions):
            kept.append(row)
    return {"filtered": kept, "count": len(kept), "original_count": len(rows)}


async def run(config: FilterConfig, ctx: NodeContext) -> dict[str, Any]:
    rows = items(ctx, KEYS)
    # Off the event loop: a long list must not hold up other strategies' runs.
    return await ctx.offload(lambda checkpoint: _filter(rows, config, checkpoint))


FILTER = NodeType(
    name="original-filter",
    config_model=FilterConfig,
    run=run,
    description="The original's filter (legacy and v2): outputs {filtered, count, ...}.",
)
