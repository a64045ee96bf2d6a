"""What every run of one validated graph shares, worked out once per graph (and kept
with it in the graph cache), not at every run: each node's type, the configs that
hold no template, validated already, and whether the graph needs the JavaScript
sandbox.

A config without a template cannot depend on a run (its upstream outputs, its
variables), so its validated model is the same at every run; the models are shared
between runs, as the graph's own JSON already is, and no node changes its config.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from cascadian.workflow.graph import Graph
from cascadian.workflow.node_api import NodeType
from cascadian.workflow.registry import NodeRegistry
from cascadian.workflow.templates import has_template, resolve


@dataclass(frozen=True, slots=True)
class Plan:
    types: dict[str, NodeType]
    # Node id -> its validated config, for the nodes whose config has no template.
    configs: dict[str, Any]
    javascript: bool  # some node runs JavaScript: the run opens its sandbox share


def plan(graph: Graph, registry: NodeRegistry) -> Plan:
    """The plan of a graph that passed validation (every node's type is known)."""
    types = {n.id: registry[n.type_name] for n in graph.nodes.values()}
    configs: dict[str, Any] = {}
    for node in graph.nodes.values():
        if has_template(node.config):
            continue
        # As a run resolves it: without templates only escapes (`$${`) change.
        with suppress(Exception):  # validation passed it; if not, each run says why
            configs[node.id] = types[node.id].config_model.model_validate(resolve(node.config, {}))
    javascript = any(t.javascript for t in types.values())
    return Plan(types, configs, javascript)
