"""What the original-* node types share: how their configs are read, and how a node
receives its inputs.

The original's executor ignored config fields it did not read, and its builder saved
fields the executor never read: so these configs ignore unknown fields, where
cascadian's own refuse them.

Inputs (see translate.py): the outputs of a node's upstream nodes, ordered by the
source's position on the canvas. A node with one input gets that output as it is,
which is what the original's per-node code was written against (`inputs.markets`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ConfigDict

from cascadian.workflow.node_api import NodeConfig, NodeContext
from cascadian.workflow.original.jsvalues import as_list, pick


class OriginalConfig(NodeConfig):
    model_config = ConfigDict(extra="ignore")


def upstream(ctx: NodeContext) -> list[Any]:
    """The upstream outputs, in canvas order (leftmost first)."""
    return list(ctx.inputs.values())


def one_input(ctx: NodeContext) -> Any:
    """What the original's per-node code received: {} with no input, the output
    itself with one, the list of them with several."""
    values = upstream(ctx)
    if not values:
        return {}
    return values[0] if len(values) == 1 else values


def first_input(ctx: NodeContext) -> Any:
    """The leftmost input, or None (the original's end node)."""
    values = upstream(ctx)
    return values[0] if values else None


def items(ctx: NodeContext, keys: Sequence[str], *, wrap: bool = True) -> list[Any]:
    """The rows a list-reading node works on: from each input, the first truthy of
    `keys` (else the input itself), a single object wrapped into a list; several
    inputs' rows one after the other. No input: no rows. More than a node may
    handle (CASCADIAN_NODE_MAX_ITEMS): a NodeError saying so."""
    rows: list[Any] = []
    for value in upstream(ctx):
        picked = pick(value, keys)
        rows.extend(as_list(picked) if wrap or isinstance(picked, list) else [picked])
    return ctx.check_size(rows)


def epoch_ms(ctx: NodeContext) -> int:
    """Now, as the original's outputs said it: milliseconds since the epoch."""
    return int(ctx.services.clock.now().timestamp() * 1000)
