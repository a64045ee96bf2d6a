"""start: emits the workflow's variables. end: passes its input through."""

from __future__ import annotations

from typing import Any

from cascadian.workflow.node_api import NodeConfig, NodeContext, NodeType


class StartConfig(NodeConfig):
    """start takes no config."""


class EndConfig(NodeConfig):
    """end takes no config."""


async def _start(config: StartConfig, ctx: NodeContext) -> dict[str, Any]:
    return dict(ctx.workflow.variables)


async def _end(config: EndConfig, ctx: NodeContext) -> Any:
    return ctx.input


START = NodeType(
    name="start",
    config_model=StartConfig,
    run=_start,
    description="Entry point; outputs the workflow variables.",
)
END = NodeType(
    name="end",
    config_model=EndConfig,
    run=_end,
    description="Exit point; outputs its input (a dict by node id when it has several).",
)
