"""condition: compares two values and routes to its "true" or "false" handle.

The comparison operators live here and are shared with the filter node. Values are
not coerced: "5" is not equal to 5, and comparing incompatible types (a string with
a number, anything with null) is simply false.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Literal

from cascadian.workflow.node_api import NodeConfig, NodeContext, NodeType

Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "between", "exists"]

_ORDERING: dict[str, Callable[[Any, Any], Any]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def compare(left: Any, op: Operator, right: Any) -> bool:
    """Evaluate `left <op> right`; type mismatches are False rather than errors.

    in: left is an element of right. contains: right is an element (or substring) of
    left. between: right is [low, high], inclusive. exists: left is not null.
    """
    try:
        if op == "eq":
            return bool(left == right)
        if op == "ne":
            return bool(left != right)
        if op == "exists":
            return left is not None
        if op == "in":
            return _member(left, right)
        if op == "contains":
            return _member(right, left)
        if op == "between":
            if not isinstance(right, list | tuple) or len(right) != 2:
                return False
            return bool(right[0] <= left <= right[1])
        return bool(_ORDERING[op](left, right))
    except TypeError:
        return False


def _member(item: Any, container: Any) -> bool:
    if not isinstance(container, str | list | tuple | dict):
        return False
    if isinstance(container, str) and not isinstance(item, str):
        return False
    return item in container


class ConditionConfig(NodeConfig):
    left: Any = None
    operator: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists"]
    right: Any = None


async def _condition(config: ConditionConfig, ctx: NodeContext) -> dict[str, Any]:
    return {"result": compare(config.left, config.operator, config.right)}


def _branch(output: Any) -> str:
    return "true" if output["result"] else "false"


CONDITION = NodeType(
    name="condition",
    config_model=ConditionConfig,
    run=_condition,
    branch=_branch,
    handles=("true", "false"),
    description=(
        'Outputs {"result": bool}; only edges from the matching "true"/"false" handle run.'
    ),
)
