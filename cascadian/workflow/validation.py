"""Validate a strategy's graph: every problem, each naming its node (and field), before
anything runs.

One path for the executor and for anything that only wants the verdict (the
strategies' validate endpoint, `cascadian strategies validate`, which take it as
`problems`, one per field): translate the original builder's vocabulary (original/), parse
the JSON shapes, then check the whole graph against the node types and, given the
process's services, what each node type needs from it (an LLM provider, say).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cascadian.data import GraphProblem, NodeRun, Workflow
from cascadian.workflow.graph import Graph, check, parse, unparsed, unrun
from cascadian.workflow.limits import GraphLimits, over_limits
from cascadian.workflow.node_api import NodeServices
from cascadian.workflow.original.translate import translate
from cascadian.workflow.problem import Problem
from cascadian.workflow.registry import NodeRegistry


@dataclass(frozen=True, slots=True)
class Validated:
    """A graph ready to run (`problems` empty), or every reason it cannot run."""

    workflow: Workflow  # in the engine's vocabulary
    graph: Graph | None
    problems: list[Problem] = field(default_factory=list)
    # For a refused graph: one log per node, the nodes the problems name as errors.
    node_runs: list[NodeRun] = field(default_factory=list)
    original: bool = False  # saved in the original builder's vocabulary

    @property
    def ok(self) -> bool:
        return not self.problems and self.graph is not None

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The problems as a refused run's errors."""
        return [p.as_error() for p in self.problems]


def validate(
    workflow: Workflow, registry: NodeRegistry, services: NodeServices | None = None
) -> Validated:
    """Never raises, whatever the workflow holds."""
    over = _over_limits(workflow, services)
    if over:  # checked first: nothing below walks a graph past the limits
        return Validated(workflow, None, over, unparsed(workflow, over))
    translation = translate(workflow)
    engine = translation.workflow
    if translation.problems and not engine.nodes:  # every node was refused
        found = translation.problems
        return Validated(engine, None, found, unparsed(workflow, found), translation.original)
    parsed = parse(engine)
    if not isinstance(parsed, Graph):
        found = [*translation.problems, *parsed]
        return Validated(engine, None, found, unparsed(workflow, found), translation.original)
    found = [*translation.problems, *check(parsed, registry, services)]
    if not found:
        return Validated(engine, parsed, original=translation.original)
    # Refused nodes are not in the parsed graph: log from the graph as saved then.
    runs = unparsed(workflow, found) if translation.problems else unrun(parsed, found)
    return Validated(engine, parsed, found, runs, translation.original)


def limit_problems(workflow: Workflow, services: NodeServices | None) -> list[GraphProblem]:
    """Only the size and depth limits: what a stored graph must keep to be served."""
    return [answer for problem in _over_limits(workflow, services) for answer in problem.answers()]


def _over_limits(workflow: Workflow, services: NodeServices | None) -> list[Problem]:
    limits = services.graph_limits if services is not None else GraphLimits()
    w = workflow
    return over_limits(w.nodes, w.edges, w.variables, w.trigger, limits)


def problems(
    workflow: Workflow, registry: NodeRegistry, services: NodeServices | None = None
) -> list[GraphProblem]:
    """Every problem validate() finds, one per field: a node's refused config is one
    problem per invalid field (`data.config.<path>`)."""
    found = validate(workflow, registry, services).problems
    return [answer for problem in found for answer in problem.answers()]
