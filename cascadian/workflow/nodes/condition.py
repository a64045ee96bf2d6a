"""condition: compares two values and routes to its "true" or "false" handle.

The comparison operators are shared with the filter node (common.py): values are
not coerced, and comparing incompatible types is simply false.
"""

from __future__ import annotations

from typing import Any, Literal

from cascadian.workflow.node_api import NodeConfig, NodeContext, NodeType
from cascadian.workflow.nodes.common import compare


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
