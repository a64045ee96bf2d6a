"""The node registry: node type name -> NodeType, filled from entry points.

Node types are discovered through the `cascadian.nodes` entry point group, so a
package can add its own without touching the executor.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from importlib.metadata import entry_points

from cascadian.workflow.node_api import NodeType

ENTRY_POINT_GROUP = "cascadian.nodes"


class NodeRegistry(Mapping[str, NodeType]):
    """A mutable name -> NodeType mapping."""

    def __init__(self, node_types: Iterable[NodeType] = ()) -> None:
        self._types: dict[str, NodeType] = {}
        for node_type in node_types:
            self.register(node_type)

    def register(self, node_type: NodeType, *, replace: bool = False) -> None:
        """Add a node type; a different type under a taken name needs `replace=True`."""
        existing = self._types.get(node_type.name)
        if existing is not None and existing is not node_type and not replace:
            raise ValueError(f"node type {node_type.name!r} is already registered")
        self._types[node_type.name] = node_type

    def names(self) -> list[str]:
        return sorted(self._types)

    def copy(self) -> NodeRegistry:
        return NodeRegistry(self._types.values())

    def __getitem__(self, name: str) -> NodeType:
        return self._types[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)


@cache
def _entry_point_types() -> tuple[NodeType, ...]:
    loaded: list[NodeType] = []
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        node_type = entry_point.load()
        if not isinstance(node_type, NodeType):
            raise TypeError(
                f"entry point {entry_point.name!r} ({entry_point.value}) is not a NodeType"
            )
        if node_type.name != entry_point.name:
            raise ValueError(
                f"entry point {entry_point.name!r} loads node type {node_type.name!r}; "
                "the names must match"
            )
        loaded.append(node_type)
    return tuple(loaded)


def default_registry() -> NodeRegistry:
    """A fresh registry of every installed node type (entry points load once)."""
    return NodeRegistry(_entry_point_types())
