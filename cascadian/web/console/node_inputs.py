"""What each node of a run was given: its config as saved and, where the config holds
templates, the values they resolved to from the run's recorded outputs. For the run
page, next to each node's output.

Resolved again here rather than recorded by the run: the run records every node's
output, and a template reads only those and the graph's variables, so resolving
them now gives what the node was given. Anything that looks like a secret (a key
named like one, a bearer token, a URL's password) is redacted before it leaves
this module: the page is read, copied and screenshotted by people.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cascadian.data import StrategyGraph
from cascadian.strategies import workflow_of
from cascadian.workflow.graph import Graph, parse
from cascadian.workflow.original.translate import translate
from cascadian.workflow.templates import TemplateError, has_template, resolve

REDACTED = "[redacted]"
SECRET_KEY = re.compile(
    r"secret|token|passw|api[-_]?key|apikey|authorization|cookie|credential|private|signature",
    re.IGNORECASE,
)
BEARER = re.compile(r"^\s*(bearer|basic|token)\s+\S+", re.IGNORECASE)


@dataclass(frozen=True)
class NodeInputs:
    config: Any  # redacted
    resolved: Any = None  # redacted; None when the config has no template
    unresolved: str | None = None  # why its templates could not be resolved


def redact(value: Any) -> Any:
    """A copy of `value` with every secret-looking key's value and string replaced."""
    if isinstance(value, dict):
        return {
            k: REDACTED if SECRET_KEY.search(str(k)) and v not in (None, "") else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        if BEARER.match(value):
            return REDACTED
        if "://" in value and "@" in value:
            try:
                parts = urlsplit(value)
            except ValueError:
                return value
            if parts.password:
                return value.replace(f":{parts.password}@", f":{REDACTED}@")
    return value


def node_inputs(graph: StrategyGraph, outputs: Mapping[str, Any]) -> dict[str, NodeInputs]:
    """Each node's config and resolved inputs, by node id; {} for a graph that does not
    parse (its run page shows its errors instead). Never raises."""
    parsed = parse(translate(workflow_of(graph)).workflow)
    if not isinstance(parsed, Graph):
        return {}
    found: dict[str, NodeInputs] = {}
    for node in parsed.nodes.values():
        if not has_template(node.config):
            found[node.id] = NodeInputs(redact(node.config))
            continue
        try:
            resolved = resolve(node.config, outputs, variables=graph.variables)
        except (TemplateError, KeyError, TypeError, ValueError) as exc:
            found[node.id] = NodeInputs(redact(node.config), unresolved=str(exc)[:300])
        else:
            found[node.id] = NodeInputs(redact(node.config), redact(resolved))
    return found
