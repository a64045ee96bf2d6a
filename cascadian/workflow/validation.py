"""Validate a strategy's graph: every problem, each naming its node (and field), before
anything runs.

One path for the executor and for anything that only wants the verdict (a validate
endpoint, a linter): translate the original builder's vocabulary (original/), parse
the JSON shapes, then check the whole graph against the node types and, given the
process's services, what each node type needs from it (an LLM provider, say).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cascadian.data import NodeRun, Workflow
from cascadian.workflow.graph import Error, Graph, check, parse, unparsed, unrun
from cascadian.workflow.node_api import NodeServices
from cascadian.workflow.original.translate import translate
from cascadian.workflow.registry import NodeRegistry


@dataclass(frozen=True)
class Validated:
    """A graph ready to run (`errors` empty), or every reason it cannot run."""

    workflow: Workflow  # in the engine's vocabulary
    graph: Graph | None
    errors: list[Error] = field(default_factory=list)
    # For a refused graph: one log per node, the nodes the errors name as errors.
    node_runs: list[NodeRun] = field(default_factory=list)
    original: bool = False  # saved in the original builder's vocabulary

    @property
    def ok(self) -> bool:
        return not self.errors and self.graph is not None


def validate(
    workflow: Workflow, registry: NodeRegistry, services: NodeServices | None = None
) -> Validated:
    """Never raises, whatever the workflow holds."""
    translation = translate(workflow)
    engine = translation.workflow
    if translation.errors and not engine.nodes:  # every node was refused
        errors = translation.errors
        return Validated(engine, None, errors, unparsed(workflow, errors), translation.original)
    parsed = parse(engine)
    if not isinstance(parsed, Graph):
        errors = [*translation.errors, *parsed]
        return Validated(engine, None, errors, unparsed(workflow, errors), translation.original)
    errors = [*translation.errors, *check(parsed, registry, services)]
    if not errors:
        return Validated(engine, parsed, original=translation.original)
    # Refused nodes are not in the parsed graph: log from the graph as saved then.
    runs = unparsed(workflow, errors) if translation.errors else unrun(parsed, errors)
    return Validated(engine, parsed, errors, runs, translation.original)
