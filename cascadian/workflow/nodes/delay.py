"""delay: waits, then passes its input through."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from cascadian.workflow.node_api import NodeConfig, NodeContext, NodeError, NodeType


class DelayConfig(NodeConfig):
    seconds: float = Field(ge=0, le=3600)


async def _delay(config: DelayConfig, ctx: NodeContext) -> Any:
    if ctx.deadline is not None:
        remaining = ctx.deadline - asyncio.get_running_loop().time()
        if config.seconds > remaining:
            raise NodeError(
                f"a delay of {config.seconds:g}s would outlast the run's time limit "
                f"({max(remaining, 0):.1f}s left)"
            )
    await asyncio.sleep(config.seconds)
    return ctx.input


DELAY = NodeType(
    name="delay",
    config_model=DelayConfig,
    run=_delay,
    description="Waits `seconds` (0 to 3600), then outputs its input.",
)
