"""transform: applies sort / limit / pick / aggregate operations to items, in order.

Items come from config `items` or the input, as for filter. Output:
{"items": [...], "count": n}, plus "value" once an aggregate has run.

aggregate: `value` is the function over all items (count: items, or items whose
`field` is not null; sum/avg/min/max: the numeric values of `field`, others are
ignored; avg/min/max of nothing is null). With `group_by`, items become one row per
group, `[{"group": g, "value": x}]` in first-seen order, and `count` the number of
groups; `value` stays the overall figure.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from cascadian.workflow.node_api import Checkpoint, NodeConfig, NodeContext, NodeError, NodeType
from cascadian.workflow.nodes.common import collect_items
from cascadian.workflow.templates import MISSING, get_path


class Sort(NodeConfig):
    op: Literal["sort"]
    field: str = Field(min_length=1)
    descending: bool = False


class Limit(NodeConfig):
    op: Literal["limit"]
    count: int = Field(ge=0)


class Pick(NodeConfig):
    op: Literal["pick"]
    fields: list[str] = Field(min_length=1)


class Aggregate(NodeConfig):
    op: Literal["aggregate"]
    function: Literal["count", "sum", "avg", "min", "max"]
    field: str | None = None
    group_by: str | None = None

    @model_validator(mode="after")
    def _needs_field(self) -> Self:
        if self.function != "count" and not self.field:
            raise ValueError(f"aggregate {self.function} needs a field")
        return self


Operation = Annotated[Sort | Limit | Pick | Aggregate, Field(discriminator="op")]


class TransformConfig(NodeConfig):
    items: Any = None
    operations: list[Operation] = Field(min_length=1)


def _sort(items: list[Any], op: Sort, checkpoint: Checkpoint) -> list[Any]:
    present: list[tuple[tuple[int, Any], Any]] = []
    missing: list[Any] = []
    for item in items:
        checkpoint()
        value = get_path(item, op.field)
        if value is MISSING or value is None:
            missing.append(item)
        else:
            present.append((_sort_key(value), item))
    present.sort(key=lambda pair: pair[0], reverse=op.descending)
    return [item for _, item in present] + missing


def _sort_key(value: Any) -> tuple[int, Any]:
    # Mixed types sort by kind (numbers, then strings, then the rest) instead of raising.
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, json.dumps(value, sort_keys=True, default=str))


def _pick(items: list[Any], op: Pick, checkpoint: Checkpoint) -> list[Any]:
    picked = []
    for item in items:
        checkpoint()
        row = {}
        for path in op.fields:
            value = get_path(item, path)
            row[path] = None if value is MISSING else value
        picked.append(row)
    return picked


def _aggregate_value(items: list[Any], op: Aggregate, checkpoint: Checkpoint) -> Any:
    if op.field is None:
        return len(items)
    values = []
    for item in items:
        checkpoint()
        values.append(get_path(item, op.field))
    if op.function == "count":
        return sum(1 for v in values if v is not MISSING and v is not None)
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if op.function == "sum":
        return sum(numbers)
    if not numbers:
        return None
    if op.function == "avg":
        try:
            return sum(numbers) / len(numbers)
        except OverflowError:  # integers past the largest float
            raise NodeError(f"avg of {op.field!r}: the total is too large to divide") from None
    return min(numbers) if op.function == "min" else max(numbers)


def _groups(items: list[Any], group_by: str, checkpoint: Checkpoint) -> list[tuple[Any, list[Any]]]:
    groups: dict[str, tuple[Any, list[Any]]] = {}
    for item in items:
        checkpoint()
        group = get_path(item, group_by)
        group = None if group is MISSING else group
        key = json.dumps(group, sort_keys=True, default=str)
        groups.setdefault(key, (group, []))[1].append(item)
    return list(groups.values())


async def _transform(config: TransformConfig, ctx: NodeContext) -> dict[str, Any]:
    items = list(collect_items(config, ctx))
    return await ctx.offload(lambda checkpoint: _apply(config, items, checkpoint))


def _apply(config: TransformConfig, items: list[Any], checkpoint: Checkpoint) -> dict[str, Any]:
    output: dict[str, Any] = {}
    for op in config.operations:
        if isinstance(op, Sort):
            items = _sort(items, op, checkpoint)
        elif isinstance(op, Limit):
            items = items[: op.count]
        elif isinstance(op, Pick):
            items = _pick(items, op, checkpoint)
        else:
            output["value"] = _aggregate_value(items, op, checkpoint)
            if op.group_by is not None:
                items = [
                    {"group": group, "value": _aggregate_value(members, op, checkpoint)}
                    for group, members in _groups(items, op.group_by, checkpoint)
                ]
    return {"items": items, "count": len(items), **output}


TRANSFORM = NodeType(
    name="transform",
    config_model=TransformConfig,
    run=_transform,
    description="Sorts, limits, picks fields from or aggregates items.",
)
