"""filter: keeps the items that match its conditions.

Items come from config `items` (usually a template such as "${fetch.items}") or
else from the node's input: a list, or an object with an "items" list. Output:
{"items": [...], "count": n, "removed": m}.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, model_validator

from cascadian.workflow.node_api import Checkpoint, NodeConfig, NodeContext, NodeType
from cascadian.workflow.nodes.common import collect_items, compare
from cascadian.workflow.templates import MISSING, get_path


class FilterCondition(NodeConfig):
    field: str = Field(
        min_length=1, description="Dotted path into each item, e.g. 'market.volume'."
    )
    operator: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "between"]
    value: Any = None

    @model_validator(mode="after")
    def _between_takes_a_pair(self) -> Self:
        if self.operator == "between" and not (
            isinstance(self.value, list) and len(self.value) == 2
        ):
            raise ValueError("between needs value [low, high]")
        return self


class FilterConfig(NodeConfig):
    items: Any = None
    conditions: list[FilterCondition] = Field(min_length=1)
    combine: Literal["and", "or"] = "and"


def _matches(item: Any, condition: FilterCondition) -> bool:
    value = get_path(item, condition.field)
    return value is not MISSING and compare(value, condition.operator, condition.value)


async def _filter(config: FilterConfig, ctx: NodeContext) -> dict[str, Any]:
    items = collect_items(config, ctx)
    combine = all if config.combine == "and" else any

    def keep(checkpoint: Checkpoint) -> list[Any]:
        kept = []
        for item in items:
            checkpoint()
            if combine(_matches(item, c) for c in config.conditions):
                kept.append(item)
        return kept

    kept = await ctx.offload(keep)
    return {"items": kept, "count": len(kept), "removed": len(items) - len(kept)}


FILTER = NodeType(
    name="filter",
    config_model=FilterConfig,
    run=_filter,
    description="Keeps items matching all (or any) conditions; a missing field never matches.",
)
