"""A graph problem as it is found: the node, its type, the field to blame and what is
wrong.

Each check that refuses a graph (parsing in graph.py, the original builder's
translation, a node's config, a node type's preflight) names the field it refused
where it finds the problem, so the `problems` an API answers never depend on a
message's wording. A run refused by validation records each problem's message
(`as_error`) as it records a failed node's error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cascadian.data import GraphProblem


@dataclass(frozen=True)
class Problem:
    node_id: str | None  # None: the graph as a whole
    node_type: str | None
    field: str | None  # a path such as `data.config`, `type` or `edges`; None: no one field
    message: str
    # A config refused field by field, (`data.config.<path>`, message) each: answers
    # list these one by one, where the run records `message`, which joins them.
    by_field: tuple[tuple[str, str], ...] = ()

    def as_error(self) -> dict[str, Any]:
        """As a run's errors say it."""
        return {"node_id": self.node_id, "node_type": self.node_type, "error": self.message}

    def answers(self) -> list[GraphProblem]:
        """As the validate answers say it: one per field."""
        if self.by_field:
            return [GraphProblem(self.node_id, self.node_type, f, m) for f, m in self.by_field]
        return [GraphProblem(self.node_id, self.node_type, self.field, self.message)]
