"""A workflow graph: parsed from its JSON and checked before anything runs.

Parsing never raises, whatever the input: every problem becomes a Problem that
names the node and the field, so a malformed graph is a recorded failure, never a
crash.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from cascadian.data import NodeRun, Workflow
from cascadian.workflow.node_api import NodeError, NodeServices, NodeType
from cascadian.workflow.problem import Problem
from cascadian.workflow.registry import NodeRegistry
from cascadian.workflow.templates import VARIABLES, has_template, references, resolve

Error = dict[str, Any]


@dataclass(frozen=True)
class Node:
    id: str
    type_name: str
    config: dict[str, Any]


@dataclass(frozen=True)
class Edge:
    label: str
    source: str
    target: str
    handle: str | None


@dataclass
class Graph:
    nodes: dict[str, Node]  # in declaration order
    edges: list[Edge]
    successors: dict[str, dict[str, None]] = field(default_factory=dict)  # ordered sets
    predecessors: dict[str, dict[str, None]] = field(default_factory=dict)
    incoming: dict[str, list[Edge]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # topological once validated

    def __post_init__(self) -> None:
        for node_id in self.nodes:
            self.successors[node_id], self.predecessors[node_id] = {}, {}
            self.incoming[node_id] = []
        for edge in self.edges:
            self.successors[edge.source][edge.target] = None
            self.predecessors[edge.target][edge.source] = None
            self.incoming[edge.target].append(edge)


def error(node_id: str | None, node_type: str | None, message: str) -> Error:
    """A run's error, as RunResult.errors holds it."""
    return {"node_id": node_id, "node_type": node_type, "error": message}


def parse(workflow: Workflow) -> Graph | list[Problem]:
    """Check the JSON shapes; nothing here may raise, whatever the input."""
    raw_nodes, raw_edges = workflow.nodes, workflow.edges
    if raw_nodes is None or raw_nodes == []:
        return [Problem(None, None, "nodes", "workflow has no nodes")]
    if not isinstance(raw_nodes, list):
        return [Problem(None, None, "nodes", "workflow nodes must be a list of objects")]
    problems: list[Problem] = []
    nodes: dict[str, Node] = {}
    for index, raw in enumerate(raw_nodes):
        node_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(node_id, str) or not node_id:
            message = f"node #{index} must be an object with an 'id'"
            problems.append(Problem(None, None, "nodes", message))
            continue
        type_name, data = raw.get("type"), raw.get("data") or {}
        config = (data.get("config") or {}) if isinstance(data, dict) else None
        if not isinstance(type_name, str) or not type_name:
            problems.append(Problem(node_id, None, "type", f"node {node_id!r} has no 'type'"))
        elif not isinstance(config, dict):
            message = f"node {node_id!r} ({type_name}): data.config must be an object"
            problems.append(Problem(node_id, type_name, "data.config", message))
        elif node_id in nodes:
            message = f"duplicate node id {node_id!r}"
            problems.append(Problem(node_id, type_name, "id", message))
        else:
            nodes[node_id] = Node(node_id, type_name, config)
    if raw_edges is None:
        raw_edges = []
    if not isinstance(raw_edges, list):
        message = "workflow edges must be a list of objects"
        return [*problems, Problem(None, None, "edges", message)]
    edges: list[Edge] = []
    for index, raw in enumerate(raw_edges):
        if not isinstance(raw, dict):
            problems.append(Problem(None, None, "edges", f"edge #{index} must be an object"))
            continue
        label = raw["id"] if isinstance(raw.get("id"), str) else f"#{index}"
        source, target, handle = raw.get("source"), raw.get("target"), raw.get("sourceHandle")
        problem = _edge_problem(label, source, target, handle, nodes)
        if problem:
            problems.append(Problem(None, None, "edges", problem))
        else:
            edges.append(Edge(label, str(source), str(target), handle))
    return problems or Graph(nodes, edges)


def _edge_problem(
    label: str, source: Any, target: Any, handle: Any, nodes: dict[str, Node]
) -> str | None:
    for end, value in (("source", source), ("target", target)):
        if not isinstance(value, str):
            return f"edge {label!r} has no {end} node id"
        if value not in nodes:
            return f"edge {label!r} refers to missing {end} node {value!r}"
    if handle is not None and not isinstance(handle, str):
        return f"edge {label!r}: sourceHandle must be a string"
    return None


def _topological_order(graph: Graph) -> list[str]:
    """Kahn's algorithm; ties keep declaration order. Shorter than the graph on a cycle."""
    waiting = {node_id: len(preds) for node_id, preds in graph.predecessors.items()}
    ready = deque(node_id for node_id, count in waiting.items() if count == 0)
    order: list[str] = []
    while ready:
        node_id = ready.popleft()
        order.append(node_id)
        for target in graph.successors[node_id]:
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    return order


def _find_cycle(graph: Graph, ordered: list[str]) -> list[str]:
    remaining = set(graph.nodes) - set(ordered)
    # Drop nodes that are merely downstream of a cycle, so what is left lies on one.
    outdegree = {n: sum(s in remaining for s in graph.successors[n]) for n in remaining}
    sinks = [n for n, degree in outdegree.items() if degree == 0]
    while sinks:
        node_id = sinks.pop()
        remaining.discard(node_id)
        for pred in graph.predecessors[node_id]:
            if pred in remaining:
                outdegree[pred] -= 1
                if outdegree[pred] == 0:
                    sinks.append(pred)
    node_id = next(n for n in graph.nodes if n in remaining)
    path: dict[str, None] = {}
    while node_id not in path:
        path[node_id] = None
        node_id = next(s for s in graph.successors[node_id] if s in remaining)
    walk = list(path)
    return [*walk[walk.index(node_id) :], node_id]


def _is_upstream(graph: Graph, ancestor: str, node_id: str) -> bool:
    seen, stack = {node_id}, [node_id]
    while stack:
        for pred in graph.predecessors[stack.pop()]:
            if pred == ancestor:
                return True
            if pred not in seen:
                seen.add(pred)
                stack.append(pred)
    return False


def _configerror(node: Node, exc: ValidationError) -> str:
    problems = [
        ".".join(str(part) for part in ("config", *problem["loc"])) + f": {problem['msg']}"
        for problem in exc.errors(include_url=False)
    ]
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return f"{node_name(node)}: " + "; ".join(problems[:5]) + more


def _config_problem(node: Node, exc: ValidationError) -> Problem:
    """A refused config: one message for the run, and every field's own."""
    by_field = tuple(
        (
            ".".join(["data.config", *(str(part) for part in e["loc"])]),
            f"{node_name(node)}: config.{'.'.join(str(part) for part in e['loc'])}: {e['msg']}"
            if e["loc"]
            else f"{node_name(node)}: config: {e['msg']}",
        )
        for e in exc.errors(include_url=False)
    )
    return Problem(node.id, node.type_name, "data.config", _configerror(node, exc), by_field)


def validated_config(node_type: NodeType, node: Node, raw: Any) -> Any:
    try:
        return node_type.config_model.model_validate(raw)
    except ValidationError as exc:
        raise NodeError(_configerror(node, exc)) from None


def check(
    graph: Graph, registry: NodeRegistry, services: NodeServices | None = None
) -> list[Problem]:
    """Checks that need the whole graph or the node types: cycles, types, configs, and
    (given the services) what each node type needs from the process."""
    problems: list[Problem] = []
    graph.order = _topological_order(graph)
    if len(graph.order) < len(graph.nodes):
        cycle = _find_cycle(graph, graph.order)
        start = graph.nodes[cycle[0]]
        message = "workflow has a cycle: " + " -> ".join(repr(n) for n in cycle)
        problems.append(Problem(start.id, start.type_name, "edges", message))
    for edge in graph.edges:
        source = graph.nodes[edge.source]
        node_type = registry.get(source.type_name)
        if node_type is None or (edge.handle is None and node_type.handleless_edges_run):
            continue
        if node_type.branch is not None and edge.handle is None:
            message = f"edge {edge.label!r} needs a sourceHandle (the branch it follows)"
        elif node_type.handles and edge.handle not in node_type.handles:
            known = " or ".join(repr(h) for h in node_type.handles)
            message = f"edge {edge.label!r} has sourceHandle {edge.handle!r}; expected {known}"
        else:
            continue
        message = f"{node_name(source)}: {message}"
        problems.append(Problem(source.id, source.type_name, "edges", message))
    for node in graph.nodes.values():
        problems.extend(_node_problems(graph, registry, node))
        node_type = registry.get(node.type_name)
        if services is not None and node_type is not None and node_type.preflight is not None:
            needed = node_type.preflight(services)
            if needed:  # what the process lacks, not a field of the graph
                message = f"{node_name(node)}: {needed}"
                problems.append(Problem(node.id, node.type_name, None, message))
    return problems


INTERNAL_PREFIX = "original-"


def node_name(node: Node) -> str:
    return f"node {node.id!r} ({node.type_name})"


def _node_problems(graph: Graph, registry: NodeRegistry, node: Node) -> list[Problem]:
    node_type = registry.get(node.type_name)
    if node_type is None:
        # The original builder's types (original-*) are what its graphs translate to,
        # not names anyone writes: listing them would bury the few that are.
        known = ", ".join(n for n in registry.names() if not n.startswith(INTERNAL_PREFIX))
        message = (
            f"node {node.id!r} has unknown type {node.type_name!r}; "
            f"known types: {known} (docs/nodes.md)"
        )
        return [Problem(node.id, node.type_name, "type", message)]
    if has_template(node.config):
        # Validated once resolved, at run time; here only check what templates refer to.
        messages = []
        for template, root in dict.fromkeys(references(node.config)):
            if root == VARIABLES:
                continue
            if root not in graph.nodes:
                messages.append(f"{node_name(node)}: {template} refers to missing node {root!r}")
            elif not _is_upstream(graph, root, node.id):
                messages.append(
                    f"{node_name(node)}: {template} refers to node {root!r}, which is not upstream"
                )
        return [Problem(node.id, node.type_name, "data.config", m) for m in messages]
    try:
        # Without templates, resolving only turns escapes (`$${`) into text.
        node_type.config_model.model_validate(resolve(node.config, {}))
    except ValidationError as exc:
        return [_config_problem(node, exc)]
    except Exception as exc:
        message = f"{node_name(node)}: config: {type(exc).__name__}: {exc}"
        return [Problem(node.id, node.type_name, "data.config", message)]
    return []


def unrun(graph: Graph, problems: list[Problem]) -> list[NodeRun]:
    """Node runs for a graph that failed validation: none ran; the nodes a problem
    names are logged as errors, the others as skipped."""
    ordered = graph.order if len(graph.order) == len(graph.nodes) else list(graph.nodes)
    return _not_run([(n, graph.nodes[n].type_name) for n in ordered], problems)


def unparsed(workflow: Workflow, problems: list[Problem]) -> list[NodeRun]:
    """Node runs for a graph whose JSON shape is wrong: one per node that has an id."""
    raw = workflow.nodes if isinstance(workflow.nodes, list) else []
    named = [(n.get("id"), n.get("type")) for n in raw if isinstance(n, dict)]
    return _not_run(
        [(i, t if isinstance(t, str) else None) for i, t in named if isinstance(i, str) and i],
        problems,
    )


def _not_run(nodes: list[tuple[str, str | None]], problems: list[Problem]) -> list[NodeRun]:
    messages: dict[str, list[str]] = {}
    for p in problems:
        if p.node_id is not None:
            messages.setdefault(p.node_id, []).append(p.message)
    return [
        NodeRun(n, t or "", "error" if n in messages else "skipped", error="; ".join(messages[n]))
        if n in messages
        else NodeRun(n, t or "", "skipped")
        for n, t in nodes
    ]
