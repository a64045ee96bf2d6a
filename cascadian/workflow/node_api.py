"""What a node type is, and what it is given when it runs.

A node type is a name, a pydantic model for its config, and an async function.
The graph executor validates each config with its model: configs without
templates before anything runs, templated ones once their templates are
resolved, just before the node runs. Either way a bad config fails the run
with the node and the field named.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from cascadian.data import Workflow
from cascadian.errors import NodeError

__all__ = ["NodeConfig", "NodeContext", "NodeError", "NodeType", "RunFn"]


class NodeConfig(BaseModel):
    """Base for node configs: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class NodeContext:
    workflow: Workflow
    node_id: str
    # Outputs of the upstream nodes that ran and whose edge is active, by node id.
    inputs: dict[str, Any]
    # Adapters a node may need (HTTP client, watchlist/notification writers,
    # settings). Filled by whoever builds the executor; nodes look up what they use.
    services: dict[str, Any] = field(default_factory=dict)
    # When the run must be over, on the event loop's clock (loop.time()); None: no
    # limit. Retrying nodes use it to give up rather than sleep past the deadline.
    deadline: float | None = None

    @property
    def input(self) -> Any:
        """The single upstream output, or a dict of them when there are several."""
        if len(self.inputs) == 1:
            return next(iter(self.inputs.values()))
        return self.inputs or None


RunFn = Callable[[Any, NodeContext], Awaitable[Any]]


@dataclass(frozen=True)
class NodeType:
    name: str
    config_model: type[NodeConfig]
    run: RunFn
    # For routing nodes (condition): maps the node's output to the source handle
    # whose edges stay active. Edges from other handles are skipped.
    branch: Callable[[Any], str] | None = None
    # The handles a routing node's edges may name (e.g. "true", "false").
    handles: tuple[str, ...] = ()
    description: str = ""
