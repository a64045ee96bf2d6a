"""original-transform: the original's transform node, `operations` applied in order.

- `add-column {name, formula}` (also the `calculate` its panel's hint named): each
  row gains `name` = the formula's value on it, or null where it has none;
- `filter-rows {condition}`: keeps the rows on which the condition is true;
- `sort {field, direction: asc|desc}` (`order` is read when `direction` is absent):
  stable; rows without the field last;
- `aggregate {operation: count|sum|avg|min|max, field?, groupBy?}`: one row
  `{operation, field, result, count}`, or one per group with the group's value
  (as text) under the `groupBy` name. Non-numbers count as 0 in sum and avg and are
  left out of min and max; avg divides by every row; no rows give 0.

Formulas and conditions: workflow/original/expressions.py (mathjs syntax). One that
does not parse refuses the strategy before the run; one that fails on every row
(a field no row has, say) fails the node, where the original gave nulls.
Rows come from the input's `filtered`, `data`, `markets` or `transformed`, else the
input itself. Output: `{transformed, count}`.
"""

from __future__ import annotations

import math
from functools import cmp_to_key
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from cascadian.workflow.node_api import Checkpoint, NodeContext, NodeError, NodeType
from cascadian.workflow.original.expressions import (
    ExpressionError,
    compile_expression,
    evaluate,
    holds,
    total,
)
from cascadian.workflow.original.jsvalues import less_than, to_number, to_string
from cascadian.workflow.original.nodes.common import OriginalConfig, items

KEYS = ("filtered", "data", "markets", "transformed")
_AGGREGATES = ("count", "sum", "avg", "min", "max")


class Operation(OriginalConfig):
    type: str
    config: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> Self:
        kind = "add-column" if self.type == "calculate" else self.type
        c = self.config
        if kind == "add-column":
            if not isinstance(c.get("name"), str) or not c["name"].strip():
                raise ValueError("add-column needs config.name")
            _compiles(c.get("formula"), "config.formula")
        elif kind == "filter-rows":
            _compiles(c.get("condition"), "config.condition")
        elif kind == "sort":
            if not isinstance(c.get("field"), str) or not c["field"]:
                raise ValueError("sort needs config.field")
            direction = c.get("direction", c.get("order", "asc"))
            if not isinstance(direction, str) or direction.lower() not in ("asc", "desc"):
                raise ValueError(f"sort direction must be asc or desc, not {direction!r}")
        elif kind == "aggregate":
            operation = c.get("operation")
            if not isinstance(operation, str) or operation.lower() not in _AGGREGATES:
                raise ValueError(f"aggregate operation must be one of {', '.join(_AGGREGATES)}")
        else:
            raise ValueError(
                f"unknown operation {self.type!r} (the original skipped it); "
                "use add-column, filter-rows, sort or aggregate"
            )
        self.type = kind
        return self


def _compiles(text: Any, where: str) -> None:
    if not isinstance(text, str):
        raise ValueError(f"{where} must be an expression")
    try:
        compile_expression(text)
    except ExpressionError as exc:
        raise ValueError(f"{where}: {exc}") from None


class TransformConfig(OriginalConfig):
    operations: list[Operation] = Field(default_factory=list)


def _json_number(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            return None  # as JSON.stringify writes NaN and Infinity
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
    return value


def _scope(row: Any) -> dict[str, Any]:
    return row if isinstance(row, dict) else {}


def _all_failed(what: str, text: str, errors: list[str], rows: int) -> NodeError:
    return NodeError(f"{what} {text!r} failed on all {rows} rows: {errors[0]}")


def _add_column(rows: list[Any], name: str, formula: str, checkpoint: Checkpoint) -> list[Any]:
    out, errors = [], []
    for row in rows:
        checkpoint()
        try:
            value = _json_number(evaluate(formula, _scope(row)))
        except ExpressionError as exc:
            value = None
            errors.append(str(exc))
        out.append({**_scope(row), name: value})
    if rows and len(errors) == len(rows):
        raise _all_failed("formula", formula, errors, len(rows))
    return out


def _filter_rows(rows: list[Any], condition: str, checkpoint: Checkpoint) -> list[Any]:
    kept, errors = [], []
    for row in rows:
        checkpoint()
        try:
            if holds(condition, _scope(row)):
                kept.append(row)
        except ExpressionError as exc:
            errors.append(str(exc))
    if rows and len(errors) == len(rows):
        raise _all_failed("condition", condition, errors, len(rows))
    return kept


def _sort(
    rows: list[Any], field: str, direction: Literal["asc", "desc"], checkpoint: Checkpoint
) -> list[Any]:
    present = [r for r in rows if _scope(r).get(field) is not None]
    missing = [r for r in rows if _scope(r).get(field) is None]

    def compare(a: Any, b: Any) -> int:
        checkpoint()
        x, y = a[field], b[field]
        order = -1 if less_than(x, y) else 1 if less_than(y, x) else 0
        return order if direction == "asc" else -order

    return sorted(present, key=cmp_to_key(compare)) + missing


def _result(rows: list[Any], operation: str, field: str | None) -> float:
    if not rows:
        return 0
    op = operation.lower()
    if op == "count":
        return len(rows)
    if not field:
        return 0
    numbers = [to_number(_scope(r).get(field)) for r in rows]
    if op in ("sum", "avg"):
        summed = total([0.0 if math.isnan(n) else n for n in numbers])
        return summed if op == "sum" else summed / len(rows)
    usable = [n for n in numbers if not math.isnan(n)]
    if not usable:
        return 0
    return min(usable) if op == "min" else max(usable)


def _aggregate(rows: list[Any], c: dict[str, Any], checkpoint: Checkpoint) -> list[Any]:
    operation, field = c["operation"], c.get("field") or None
    shown = field or "all"
    group_by = c.get("groupBy")
    if not group_by:
        result = _json_number(float(_result(rows, operation, field)))
        return [{"operation": operation, "field": shown, "result": result, "count": len(rows)}]
    groups: dict[str, list[Any]] = {}
    for row in rows:
        checkpoint()
        value = _scope(row).get(group_by)
        groups.setdefault("undefined" if value is None else to_string(value), []).append(row)
    # JavaScript's key order: integer-like keys first, ascending; then first seen.
    numeric = sorted((k for k in groups if _array_index(k)), key=int)
    order = numeric + [k for k in groups if k not in numeric]
    return [
        {
            group_by: name,
            "operation": operation,
            "field": shown,
            "result": _json_number(float(_result(members, operation, field))),
            "count": len(members),
        }
        for name, members in ((k, groups[k]) for k in order)
    ]


def _array_index(key: str) -> bool:
    """Whether JavaScript orders the key as an integer: 0 to 2**32 - 2, no leading 0."""
    if not (key.isascii() and key.isdigit()) or len(key) > 10:
        return False  # length first: int() of a long digit string is costly, or refused
    return str(int(key)) == key and int(key) < 2**32 - 1


def _apply(config: TransformConfig, rows: list[Any], checkpoint: Checkpoint) -> dict[str, Any]:
    for operation in config.operations:
        c = operation.config
        if operation.type == "add-column":
            rows = _add_column(rows, c["name"], c["formula"], checkpoint)
        elif operation.type == "filter-rows":
            rows = _filter_rows(rows, c["condition"], checkpoint)
        elif operation.type == "sort":
            direction = str(c.get("direction", c.get("order", "asc"))).lower()
            rows = _sort(rows, c["field"], "asc" if direction == "asc" else "desc", checkpoint)
        else:
            rows = _aggregate(rows, c, checkpoint)
    return {"transformed": rows, "count": len(rows)}


async def run(config: TransformConfig, ctx: NodeContext) -> dict[str, Any]:
    rows = list(items(ctx, KEYS))
    # Off the event loop: a long list must not hold up other strategies' runs.
    return await ctx.offload(lambda checkpoint: _apply(config, rows, checkpoint))


TRANSFORM = NodeType(
    name="original-transform",
    config_model=TransformConfig,
    run=run,
    description="The original's transform: add-column, filter-rows, sort, aggregate.",
)
