"""Validated graphs kept by their content, so a strategy's graph is translated, parsed,
checked and planned (plan.py) once, not at every run.

A validation depends only on the graph's JSON (nodes, edges, variables, trigger),
the node registry and the process's services, which are fixed for an executor; so
identical content gives the identical verdict, whichever strategy or run holds it.
Only runnable verdicts are kept: a refusal's node logs carry the time it was made.
"""

from __future__ import annotations

import json
from collections import OrderedDict

from cascadian.data import Workflow
from cascadian.workflow.graph import Graph
from cascadian.workflow.plan import Plan
from cascadian.workflow.validation import Validated


def content_key(workflow: Workflow) -> str | None:
    """The graph's content as one string, or None when it cannot be written as JSON
    (then the caller validates without the cache). A graph read from the database
    is keyed by the text it came as (marked, so it never equals a key made here)."""
    if workflow.stored_text is not None:
        return "db:" + workflow.stored_text
    try:
        return json.dumps(
            [workflow.nodes, workflow.edges, workflow.variables, workflow.trigger],
            separators=(",", ":"),
            allow_nan=False,
        )
    except (TypeError, ValueError, RecursionError):
        return None


def _run_of(kept: Workflow, workflow: Workflow) -> Workflow:
    """The kept graph with this run's identity: the run's own workflow when it holds
    the very values kept (claims of one stored text share its decoded values)."""
    if (
        workflow.nodes is kept.nodes
        and workflow.edges is kept.edges
        and workflow.variables is kept.variables
        and workflow.trigger is kept.trigger
    ):
        return workflow
    # Built directly: dataclasses.replace() costs more than the rest of a hit.
    return Workflow(
        id=workflow.id,
        name=workflow.name,
        nodes=kept.nodes,
        edges=kept.edges,
        variables=kept.variables,
        trigger=kept.trigger,
        user_id=workflow.user_id,
        execution_id=workflow.execution_id,
        order_slot=workflow.order_slot,
    )


class GraphCache:
    """A bounded least-recently-used map from a graph's content to its verdict and
    plan."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[str, tuple[Validated, Plan]] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: str | None, workflow: Workflow) -> tuple[Validated, Plan] | None:
        """The kept verdict for `key`, carrying this run's identity, and its plan; or
        None."""
        found = self.runnable(key, workflow)
        if found is None:
            return None
        run, graph, kept_plan = found
        assert key is not None  # found
        return Validated(run, graph, original=self._kept[key][0].original), kept_plan

    def runnable(self, key: str | None, workflow: Workflow) -> tuple[Workflow, Graph, Plan] | None:
        """What a run of `workflow` takes from the verdict kept for `key` (the workflow
        with this run's identity, the parsed graph, the plan), or None."""
        found = self._kept.get(key) if key is not None else None
        if key is None or found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._kept.move_to_end(key)
        kept, kept_plan = found
        assert kept.graph is not None  # only runnable verdicts are kept
        return _run_of(kept.workflow, workflow), kept.graph, kept_plan

    def put(self, key: str | None, checked: Validated, plan: Plan) -> None:
        if key is None or not checked.ok or self.size == 0:
            return
        self._kept[key] = (checked, plan)
        self._kept.move_to_end(key)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
