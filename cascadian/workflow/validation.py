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

from pydantic import ValidationError

from cascadian.data import GraphProblem, NodeRun, Workflow
from cascadian.workflow.graph import Error, Graph, check, parse, unparsed, unrun
from cascadian.workflow.node_api import NodeServices
from cascadian.workflow.original.translate import translate
from cascadian.workflow.registry import NodeRegistry
from cascadian.workflow.templates import has_template, resolve


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


# The field a problem of each kind lies in, by a phrase of its message (graph.py,
# original/translate.py); checked in order, the first that matches wins.
_FIELDS: tuple[tuple[str, str], ...] = (
    ("workflow has no nodes", "nodes"),
    ("workflow nodes must be", "nodes"),
    ("workflow edges must be", "edges"),
    ("workflow has a cycle", "edges"),
    ("must be an object with an 'id'", "nodes"),
    ("duplicate node id", "id"),
    ("has no 'type'", "type"),
    ("has unknown type", "type"),
    ("cannot run here", "type"),
    ("data.config must be an object", "data.config"),
    ("sourceHandle", "edges"),
    ("edge ", "edges"),
    ("its branches name", "data.config.conditions"),
    ("${", "data.config"),
)


def problems(
    workflow: Workflow, registry: NodeRegistry, services: NodeServices | None = None
) -> list[GraphProblem]:
    """Every problem validate() finds, one per field: a node's config errors are
    split into one problem per invalid field (`data.config.<path>`)."""
    checked = validate(workflow, registry, services)
    found: list[GraphProblem] = []
    for error in checked.errors:
        node_id, node_type, message = error["node_id"], error["node_type"], str(error["error"])
        fields = _config_problems(checked, registry, node_id) if ": config" in message else []
        if fields:
            found.extend(GraphProblem(node_id, node_type, f, m) for f, m in fields)
            continue
        field_name = next((f for phrase, f in _FIELDS if phrase in message), None)
        if field_name is None and ": config" in message:
            field_name = "data.config"
        found.append(GraphProblem(node_id, node_type, field_name, message))
    return found


def _config_problems(
    checked: Validated, registry: NodeRegistry, node_id: str | None
) -> list[tuple[str, str]]:
    """The node's config errors, field by field (empty when they cannot be told apart)."""
    graph = checked.graph
    node = graph.nodes.get(node_id) if graph is not None and node_id is not None else None
    node_type = registry.get(node.type_name) if node is not None else None
    if node is None or node_type is None or has_template(node.config):
        return []
    try:
        node_type.config_model.model_validate(resolve(node.config, {}))
    except ValidationError as exc:
        label = f"node {node.id!r} ({node.type_name})"
        return [
            (
                ".".join(["data.config", *(str(p) for p in e["loc"])]),
                f"{label}: config.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                if e["loc"]
                else f"{label}: config: {e['msg']}",
            )
            for e in exc.errors(include_url=False)
        ]
    except Exception:
        return []
    return []
