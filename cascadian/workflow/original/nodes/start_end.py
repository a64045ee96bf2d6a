"""original-start and original-end: the original's entry and exit nodes.

start: `{"status": "started", "timestamp": <ms>}`. end: its leftmost input, unchanged
(null without one).
"""

from __future__ import annotations

from typing import Any

from cascadian.workflow.node_api import NodeContext, NodeType
from cascadian.workflow.original.nodes.common import OriginalConfig, epoch_ms, first_input


async def _start(config: OriginalConfig, ctx: NodeContext) -> dict[str, Any]:
    return {"status": "started", "timestamp": epoch_ms(ctx)}


async def _end(config: OriginalConfig, ctx: NodeContext) -> Any:
    return first_input(ctx)


START = NodeType(
    name="original-start",
    config_model=OriginalConfig,
    run=_start,
    description='The original\'s start: outputs {"status": "started", "timestamp"}.',
)
END = NodeType(
    name="original-end",
    config_model=OriginalConfig,
    run=_end,
    description="The original's end: outputs its leftmost input.",
)
