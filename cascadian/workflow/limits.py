"""How deep and how big a strategy's graph may be, checked when it is saved and
again before each run.

Why both: the API accepted `variables` nested 980 deep, which then could not be
written back out (every GET and export answered 500), and a graph the original app
wrote straight into the database may hold anything (600,000 items in `variables`
held the event loop for seconds before any node's item cap applied). The same
check, with the same settings, runs at save time (a 422 naming the problem, nothing
saved) and at run time (the run fails saying which limit), so whatever is saved
also runs and reads back.

The walk is iterative and stops as soon as a limit is passed: its cost is bounded
by the limits, not by the size of what is stored. Size is counted as compact JSON
characters (escapes not expanded), so never more than the bytes a request carried.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cascadian.config import (
    DEFAULT_GRAPH_MAX_BYTES,
    DEFAULT_GRAPH_MAX_DEPTH,
    DEFAULT_VARIABLES_MAX_BYTES,
)
from cascadian.workflow.problem import Problem

_SCALAR_SIZE = {True: 4, False: 5, None: 4}


@dataclass(frozen=True)
class GraphLimits:
    max_depth: int = DEFAULT_GRAPH_MAX_DEPTH
    variables_max_bytes: int = DEFAULT_VARIABLES_MAX_BYTES
    graph_max_bytes: int = DEFAULT_GRAPH_MAX_BYTES


@dataclass(frozen=True)
class _Measure:
    too_deep: bool
    size: int  # exact up to the budget; past it, where the walk stopped


def over_limits(
    nodes: Any, edges: Any, variables: Any, trigger: Any, limits: GraphLimits
) -> list[Problem]:
    """Every limit the graph passes, one problem each (a node's names the node)."""
    found: list[Problem] = []
    depth = limits.max_depth
    where = f"({depth}, CASCADIAN_GRAPH_MAX_DEPTH)"
    measured = _measure(variables, depth, limits.variables_max_bytes)
    if measured.too_deep:
        found.append(
            Problem(None, None, "variables", f"variables are nested more than {depth} deep {where}")
        )
    elif measured.size > limits.variables_max_bytes:
        message = (
            f"variables take more than {limits.variables_max_bytes} bytes as JSON "
            "(CASCADIAN_VARIABLES_MAX_BYTES)"
        )
        found.append(Problem(None, None, "variables", message))
    budget = limits.graph_max_bytes - measured.size
    for node_id, node_type, field, label, part in _parts(nodes, edges, trigger):
        measured = _measure(part, depth, max(budget, 0))
        budget -= measured.size
        if measured.too_deep:
            message = f"{label} nested more than {depth} deep {where}"
            found.append(Problem(node_id, node_type, field, message))
        if budget < 0:
            break
    if budget < 0:
        message = (
            f"the graph takes more than {limits.graph_max_bytes} bytes as JSON "
            "(CASCADIAN_GRAPH_MAX_BYTES)"
        )
        found.append(Problem(None, None, None, message))
    return found


def _parts(nodes: Any, edges: Any, trigger: Any) -> Iterator[tuple[Any, Any, Any, str, Any]]:
    """(node id, node type, field, how the message names it, value): each node on its
    own, so a problem names its node."""
    for node in nodes if isinstance(nodes, list) else [nodes]:
        named = isinstance(node, dict) and isinstance(node.get("id"), str)
        node_id = node["id"] if named else None
        node_type = node.get("type") if named and isinstance(node.get("type"), str) else None
        label = f"node {node_id!r} is" if named else "a node is"
        yield node_id, node_type, None if named else "nodes", label, node
    yield None, None, "edges", "edges are", edges
    yield None, None, "trigger", "the trigger is", trigger


def _measure(value: Any, max_depth: int, budget: int) -> _Measure:
    # A container's smallest size is added (and checked) before its items are looked
    # at, so a list of a million items stops the walk at once: the work done is
    # bounded by the budget, never by what is stored.
    size = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict | list):
            if depth >= max_depth:
                return _Measure(True, size)
            # [a,b]: brackets and commas; {"k":v}: also each key's quotes and colon.
            per_item = 4 if isinstance(current, dict) else 1
            size += 1 + len(current) * per_item if current else 2
            if size > budget:
                return _Measure(False, size)
            if isinstance(current, dict):
                for key, item in current.items():
                    size += len(key) if isinstance(key, str) else 8
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in current)
        elif isinstance(current, str):
            size += len(current) + 2
        elif current is None or isinstance(current, bool):
            size += _SCALAR_SIZE[current]
        elif isinstance(current, int) and abs(current) < 10**18:
            size += len(str(current))
        elif isinstance(current, int):  # at least its digits, without printing it
            size += (current.bit_length() - 1) * 3 // 10 + 1 + (current < 0)
        else:
            size += len(repr(current))  # as json writes a float
        if size > budget:
            return _Measure(False, size)
    return _Measure(False, size)
