"""What cascadian's own node types share, so that no node module imports another.

`collect_items`: the list a collection node (filter, transform, add-to-watchlist)
works on. `compare`: the comparison operators of the condition and filter nodes.
Values are not coerced: "5" is not equal to 5, and comparing incompatible types (a
string with a number, anything with null) is simply false.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Literal

from cascadian.workflow.node_api import NodeConfig, NodeContext, NodeError

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


def collect_items(config: NodeConfig, ctx: NodeContext) -> list[Any]:
    """The list a collection node works on: config `items` when set, else its input."""
    if "items" in config.model_fields_set:
        source, where = getattr(config, "items", None), "config.items"
    elif len(ctx.inputs) > 1:
        raise NodeError(
            f"{len(ctx.inputs)} upstream nodes feed this node; set config.items to pick "
            'the list, e.g. "${node_id.items}"'
        )
    else:
        source, where = ctx.input, "the input"
    if isinstance(source, list):
        return ctx.check_size(source)
    if isinstance(source, dict) and isinstance(source.get("items"), list):
        items: list[Any] = source["items"]
        return ctx.check_size(items)
    raise NodeError(
        f"expected a list, or an object with an 'items' list, in {where}; got {_kind(source)}"
    )


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object without an 'items' list"
    return "null" if value is None else type(value).__name__
