"""A graph problem carries its node, type and field from where it is found: the
field an answer names never depends on the wording of the message."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cascadian.config import Settings
from cascadian.data import Workflow
from cascadian.workflow import graph
from cascadian.workflow.node_api import NodeServices
from cascadian.workflow.original import vocabulary
from cascadian.workflow.registry import default_registry
from cascadian.workflow.validation import problems
from tests.factories import chain, node

Found = tuple[str | None, str | None, str | None]

START_END = chain(node("s", "start"), node("e", "end"))
WHEN = {"id": "w", "type": "condition", "data": {"config": {"operator": "exists"}}}


def original(node_id: str, kind: str, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "data": {"nodeType": kind, **data}}


# A bad graph of each kind, and the (node, type, field) its one problem names.
CASES: list[tuple[str, Any, Any, Found]] = [
    ("no nodes", [], [], (None, None, "nodes")),
    ("nodes not a list", {"a": 1}, [], (None, None, "nodes")),
    ("a node without an id", [5], [], (None, None, "nodes")),
    ("a node without a type", [{"id": "a"}], [], ("a", None, "type")),
    (
        "a config that is not an object",
        [{"id": "a", "type": "end", "data": {"config": [1]}}],
        [],
        ("a", "end", "data.config"),
    ),
    ("a duplicate id", [node("a", "start"), node("a", "end")], [], ("a", "end", "id")),
    ("edges not a list", [node("a", "start")], "x", (None, None, "edges")),
    ("an edge that is not an object", [node("a", "start")], [5], (None, None, "edges")),
    (
        "an edge to a missing node",
        [node("a", "start")],
        [{"id": "x", "source": "a", "target": "b"}],
        (None, None, "edges"),
    ),
    (
        "a cycle",
        [node("a", "delay", seconds=0), node("b", "delay", seconds=0)],
        [{"source": "a", "target": "b"}, {"source": "b", "target": "a"}],
        ("a", "delay", "edges"),
    ),
    (
        "a branch edge without its handle",
        [WHEN, node("e", "end")],
        [{"source": "w", "target": "e"}],
        ("w", "condition", "edges"),
    ),
    ("an unknown type", [node("a", "no-such-type")], [], ("a", "no-such-type", "type")),
    (
        "a template naming a missing node",
        [node("a", "delay", seconds="${gone.x}")],
        [],
        ("a", "delay", "data.config"),
    ),
    (
        "a bad config field",
        [node("a", "delay", seconds="x")],
        [],
        ("a", "delay", "data.config.seconds"),
    ),
    (
        "what the process lacks (an LLM provider)",
        [original("ai", "llm-analysis", config={"userPrompt": "hi"})],
        [],
        ("ai", "original-llm-analysis", None),
    ),
    (
        "a type the original cannot run here",
        [original("d", "llm-research")],
        [],
        ("d", "llm-research", "type"),
    ),
    (
        "the original's data.inputs",
        [original("f", "filter", inputs={"x": 1})],
        [],
        ("f", "filter", "data.inputs"),
    ),
    (
        "the original's flat config that is not an object",
        [{"id": "t", "type": "transform", "config": "[]"}],
        [],
        ("t", "transform", "data.config"),
    ),
    (
        "the original's condition whose branches name none of its targets",
        [
            original("c", "condition", config={"conditions": [{"if": "1", "then": "x"}]}),
            original("e", "end"),
        ],
        [{"source": "c", "target": "e"}],
        ("c", "condition", "data.config.conditions"),
    ),
]

# Every phrase the old reading of messages looked for, so a message that holds them
# all would have named another field there.
PHRASES = (
    "workflow has no nodes; must be an object with an 'id'; duplicate node id; has no 'type'; "
    "has unknown type; cannot run here; data.config must be an object; sourceHandle; edge ; "
    "its branches name; ${x}; : config"
)


def found(nodes: Any, edges: Any) -> list[Found]:
    workflow = Workflow(uuid.uuid4(), "w", nodes, edges)
    services = NodeServices(Settings())
    return [
        (p.node_id, p.node_type, p.field) for p in problems(workflow, default_registry(), services)
    ]


@pytest.mark.parametrize(
    ("nodes", "edges", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_problem_names_the_field_where_it_was_found(
    nodes: Any, edges: Any, expected: Found
) -> None:
    assert found(nodes, edges) == [expected]


@pytest.mark.parametrize(
    ("nodes", "edges", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_reworded_message_names_the_same_field(
    nodes: Any, edges: Any, expected: Found, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph, "node_name", lambda n: f"node {n.id!r} ({n.type_name}) [{PHRASES}]")
    monkeypatch.setitem(vocabulary.REFUSED, "llm-research", PHRASES)
    assert found(nodes, edges) == [expected]


def test_a_node_id_that_reads_like_another_problem_keeps_the_field() -> None:
    ids = ("edge x", "${y}", "workflow has no nodes")
    for node_id in ids:
        assert found([node(node_id, "delay", seconds="${gone.x}")], []) == [
            (node_id, "delay", "data.config")
        ]
        assert found([original(node_id, "filter", inputs=[1])], []) == [
            (node_id, "filter", "data.inputs")
        ]


def test_a_config_refused_field_by_field_is_one_problem_per_field() -> None:
    bad = node("keep", "filter", conditions="x", combine="maybe")
    fields = sorted(f for _, _, f in found([bad], []))
    assert fields == ["data.config.combine", "data.config.conditions"]
