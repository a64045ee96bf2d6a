"""Turn a graph saved by the original Cascadian builder into the engine's own graph.

The executor keeps one vocabulary: this module reads the original's (ReactFlow nodes
whose config sits at `data.config`, at `data.*` for its legacy types, or at `config`
in the later flat format; edges with `sourceHandle` null, "output", "true" or
"false", or `from`/`to`) and writes engine nodes `{id, type, data: {config}}` of the
`original-*` types, which keep the original's semantics. Graphs in the engine's
vocabulary pass through untouched.

What the translation decides (docs/nodes.md explains each):
- a node's inputs are its upstream outputs ordered by the source's `position.x`
  (the original's Run button did so), so edges are re-ordered that way;
- an edge from `start` into a node that has other inputs carries nothing and is
  dropped, except into the nodes that number their inputs (javascript, ...);
- a `condition` routes to the nodes its branches' `then`/`else` name (by id or
  label); its edges to nodes no branch names always run;
- `${` in the original's configs is text (JavaScript template literals, say), except
  in a buy or sell node's `marketId`, where the original meant a reference.

Nothing here raises: each problem names the node and the field (a Problem),
reported with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from cascadian.data import Workflow
from cascadian.workflow.original.vocabulary import (
    LEGACY,
    NOT_CONFIG,
    NUMBERED_INPUTS,
    ORIGINAL_ONLY,
    REFUSED,
    RUNS,
)
from cascadian.workflow.problem import Problem

# The only config strings in which `${…}` is a reference, per type.
TEMPLATED_FIELDS = {"polymarket-buy": {"marketId"}, "polymarket-sell": {"marketId"}}


@dataclass(frozen=True)
class Translation:
    workflow: Workflow  # in the engine's vocabulary
    problems: list[Problem] = field(default_factory=list)
    original: bool = False  # whether the graph was in the original's vocabulary


def _data(raw: dict[str, Any]) -> dict[str, Any]:
    data = raw.get("data")
    return data if isinstance(data, dict) else {}


def original_type(raw: Any) -> str | None:
    """The node's type as the original saved it: `type`, or `data.nodeType` when the
    type is missing or is not one the original ran."""
    if not isinstance(raw, dict):
        return None
    saved, named = raw.get("type"), _data(raw).get("nodeType")
    if isinstance(saved, str) and saved and (saved in RUNS or saved in REFUSED):
        return saved
    if isinstance(named, str) and named and (named in RUNS or named in REFUSED):
        return named
    return saved if isinstance(saved, str) else None


def is_original(workflow: Workflow) -> bool:
    """Whether the graph is in the original builder's vocabulary: a node carries
    `data.nodeType` or a flat `config`, or has a type only the original used, or an
    edge says `from`/`to`."""
    nodes = workflow.nodes if isinstance(workflow.nodes, list) else []
    edges = workflow.edges if isinstance(workflow.edges, list) else []
    for raw in nodes:
        if not isinstance(raw, dict):
            continue
        if "nodeType" in _data(raw) or "config" in raw or original_type(raw) in ORIGINAL_ONLY:
            return True
    return any(isinstance(e, dict) and ("from" in e or "to" in e) for e in edges)


def escape_templates(value: Any, keep: frozenset[str] = frozenset()) -> Any:
    """`${` becomes the engine's escape `$${` in every string, except in the top-level
    keys named in `keep`."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, list):
        return [escape_templates(v) for v in value]
    if isinstance(value, dict):
        return {k: v if k in keep else escape_templates(v) for k, v in value.items()}
    return value


@dataclass
class _Node:
    id: str
    original: str  # the type as saved
    engine: dict[str, Any]  # the engine node
    label: str
    x: float


def _config(raw: dict[str, Any], kind: str) -> dict[str, Any] | tuple[str, str]:
    """The node's config from wherever the builder put it; else the field to blame
    and what is wrong with it."""
    data = _data(raw)
    inner, flat = data.get("config") or {}, raw.get("config") or {}
    for where, part in (("data.config", inner), ("config", flat)):
        if not isinstance(part, dict):
            return "data.config", f"{where} must be an object"
    if data.get("inputs"):
        return "data.inputs", (
            "data.inputs is not read here: a node's inputs are the outputs of the nodes "
            "its edges come from (the original's builder never wrote data.inputs)"
        )
    loose = {k: v for k, v in data.items() if k not in NOT_CONFIG}
    merged = {**inner, **flat, **loose} if kind in LEGACY else {**loose, **inner, **flat}
    if kind == "ENHANCED_FILTER":
        merged.setdefault("version", 2)
        merged.setdefault("logic", "AND")
    escaped: dict[str, Any] = escape_templates(merged, frozenset(TEMPLATED_FIELDS.get(kind, ())))
    return escaped


def _position_x(raw: dict[str, Any]) -> float:
    position = raw.get("position")
    x = position.get("x") if isinstance(position, dict) else None
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else 0.0


def _translate_node(raw: Any, problems: list[Problem]) -> _Node | Any | None:
    """The engine node (in a _Node), the raw value when parse() should judge it, or
    None when it is refused."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
        return raw
    node_id, kind = raw["id"], original_type(raw)
    if kind is None:
        return raw
    if kind in REFUSED:
        message = f"node {node_id!r} ({kind}) cannot run here: it {REFUSED[kind]}"
        problems.append(Problem(node_id, kind, "type", message))
        return None
    try:
        config = _config(raw, kind)
    except RecursionError:
        config = "data.config", "its config is nested too deeply"
    if isinstance(config, tuple):
        where, what = config
        problems.append(Problem(node_id, kind, where, f"node {node_id!r} ({kind}): {what}"))
        return None
    engine_type = RUNS.get(kind, kind)  # cascadian's own types pass through
    label = _data(raw).get("label")
    return _Node(
        node_id,
        kind,
        {"id": node_id, "type": engine_type, "data": {"config": config}},
        label.strip() if isinstance(label, str) else "",
        _position_x(raw),
    )


def _edge_ends(raw: dict[str, Any]) -> tuple[Any, Any]:
    source = raw.get("source", raw.get("from"))
    target = raw.get("target", raw.get("to"))
    return source, target


def _handle(kind: str, handle: Any) -> Any:
    """The engine's sourceHandle: only a conditional's true/false route its edges."""
    if kind != "conditional":
        return None
    if handle is None or (isinstance(handle, str) and handle.strip().lower() in ("", "output")):
        return None
    return handle.strip().lower() if isinstance(handle, str) else handle


def translate(workflow: Workflow) -> Translation:
    """The workflow in the engine's vocabulary, and the problems found on the way."""
    if not is_original(workflow):
        return Translation(workflow)
    problems: list[Problem] = []
    nodes_out: list[Any] = []
    nodes: dict[str, _Node] = {}
    refused: set[str] = set()
    for raw in workflow.nodes:
        translated = _translate_node(raw, problems)
        if translated is None:
            refused.add(raw["id"])
        elif isinstance(translated, _Node):
            nodes.setdefault(translated.id, translated)
            nodes_out.append(translated.engine)
        else:
            nodes_out.append(translated)
    edges = _translate_edges(workflow.edges, nodes, refused, problems)
    # Another graph now: the stored text no longer describes it.
    translated_workflow = replace(workflow, nodes=nodes_out, edges=edges, stored_text=None)
    return Translation(translated_workflow, problems, original=True)


def _translate_edges(
    raw_edges: Any, nodes: dict[str, _Node], refused: set[str], problems: list[Problem]
) -> Any:
    if not isinstance(raw_edges, list):
        return raw_edges  # parse() says what is wrong
    kept: list[tuple[float, dict[str, Any]]] = []
    others: list[Any] = []
    for index, raw in enumerate(raw_edges):
        if not isinstance(raw, dict):
            others.append(raw)
            continue
        source, target = _edge_ends(raw)
        if any(isinstance(end, str) and end in refused for end in (source, target)):
            continue
        label = raw["id"] if isinstance(raw.get("id"), str) else f"#{index}"
        edge = {"id": label, "source": source, "target": target}
        if isinstance(source, str) and source in nodes and isinstance(target, str):
            edge["sourceHandle"] = _handle(nodes[source].original, raw.get("sourceHandle"))
            kept.append((nodes[source].x, edge))
        else:
            others.append(edge)  # parse() reports the missing node
    kept.sort(key=lambda pair: pair[0])  # stable: ties keep the saved order
    edges = _without_empty_start_edges([e for _, e in kept], nodes)
    _route_conditions(edges, nodes, problems)
    return [*edges, *others]


def _without_empty_start_edges(
    edges: list[dict[str, Any]], nodes: dict[str, _Node]
) -> list[dict[str, Any]]:
    incoming: dict[str, int] = {}
    for edge in edges:
        incoming[edge["target"]] = incoming.get(edge["target"], 0) + 1

    def carries_nothing(edge: dict[str, Any]) -> bool:
        source, target = nodes.get(edge["source"]), nodes.get(edge["target"])
        return (
            source is not None
            and source.original == "start"
            and target is not None
            and target.original not in NUMBERED_INPUTS
            and incoming[edge["target"]] > 1
        )

    dropped = [e for e in edges if carries_nothing(e)]
    for edge in dropped:
        incoming[edge["target"]] -= 1
    # A target fed only from several start edges keeps them all.
    return [e for e in edges if e not in dropped or incoming[e["target"]] == 0]


def _branch_names(config: dict[str, Any]) -> list[str]:
    conditions = config.get("conditions")
    names: list[str] = []
    for branch in conditions if isinstance(conditions, list) else []:
        if isinstance(branch, dict):
            for key in ("then", "else"):
                value = branch.get(key)
                if isinstance(value, str) and value.strip() and value not in names:
                    names.append(value)
    return names


def _route_conditions(
    edges: list[dict[str, Any]], nodes: dict[str, _Node], problems: list[Problem]
) -> None:
    """Give each edge out of a condition the branch name that runs it (or none:
    it always runs); refuse a condition whose branches name none of its targets."""
    for node in nodes.values():
        if node.original != "condition":
            continue
        names = _branch_names(node.engine["data"]["config"])
        out = [e for e in edges if e["source"] == node.id and e["target"] in nodes]
        routed = False
        for edge in out:
            target = nodes[edge["target"]]
            matches = [n for n in names if _names(n, target)]
            if len(matches) == 1:
                edge["sourceHandle"], routed = matches[0], True
        if out and names and not routed:
            targets = ", ".join(
                f"{nodes[e['target']].id!r}"
                + (f" (label {nodes[e['target']].label!r})" if nodes[e["target"]].label else "")
                for e in out
            )
            problems.append(
                Problem(
                    node.id,
                    "condition",
                    "data.config.conditions",
                    f"node {node.id!r} (condition): its branches name "
                    f"{', '.join(repr(n) for n in names)}, but none of the nodes it leads to "
                    f"({targets}); set each branch's then/else to the id or label of the node "
                    "it should run (a name that matches none of them runs none of them)",
                )
            )


def _names(name: str, target: _Node) -> bool:
    wanted = name.strip()
    return wanted == target.id or (bool(target.label) and wanted.lower() == target.label.lower())
