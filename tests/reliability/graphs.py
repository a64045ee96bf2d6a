"""Hypothesis strategies for workflow graphs: random nodes, edges, configs and types,
from nearly valid to nonsense, with cycles, templates, branches and dangling edges."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

TYPES = [
    "start",
    "end",
    "delay",
    "filter",
    "transform",
    "condition",
    "http-request",
    "polymarket-markets",
    "add-to-watchlist",
    "notify",
]
IDS = ["start", "a", "b", "c", "d", "end"]


def text(max_size: int) -> st.SearchStrategy[str]:
    # No NUL (jsonb refuses it, so no stored strategy holds one) and no lone surrogates.
    return st.text(
        st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=max_size
    )


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text(12)
    | st.sampled_from(["${a}", "${a.items.0}", "${variables.x}", "$${a}", "${}", "${nope.x}"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text(8), inner, max_size=4),
    max_leaves=16,
)
json_objects = st.dictionaries(text(8), json_values, max_size=5)
items = st.lists(
    st.fixed_dictionaries(
        {
            "id": text(4),
            "volume": st.integers(-5, 10**6) | st.floats(allow_nan=False, allow_infinity=False),
        },
        optional={"question": text(10), "yes_price": st.floats(0, 1)},
    ),
    max_size=6,
)
operators = st.sampled_from(
    ["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "between", "exists", "??"]
)

# Configs close to what each node type accepts, so runs get past validation too.
plausible: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "start": st.just({}),
    "end": st.just({}),
    "delay": st.fixed_dictionaries(
        {"seconds": st.floats(0, 0.01) | st.sampled_from([-1, 10**6, "x"])}
    ),
    "filter": st.fixed_dictionaries(
        {
            "conditions": st.lists(
                st.fixed_dictionaries(
                    {"field": st.sampled_from(["volume", "id", "x.y", ""]), "operator": operators},
                    optional={"value": json_values},
                ),
                max_size=3,
            )
        },
        optional={"items": items | json_values, "combine": st.sampled_from(["and", "or", "xor"])},
    ),
    "transform": st.fixed_dictionaries(
        {
            "operations": st.lists(
                st.one_of(
                    st.fixed_dictionaries(
                        {"op": st.just("sort"), "field": st.sampled_from(["volume", "id", ""])},
                        optional={"descending": st.booleans()},
                    ),
                    st.fixed_dictionaries({"op": st.just("limit"), "count": st.integers(-2, 5)}),
                    st.fixed_dictionaries(
                        {"op": st.just("pick"), "fields": st.lists(text(6), max_size=3)}
                    ),
                    st.fixed_dictionaries(
                        {
                            "op": st.just("aggregate"),
                            "function": st.sampled_from(["count", "sum", "avg", "min", "max", "x"]),
                        },
                        optional={
                            "field": st.sampled_from(["volume", "id"]),
                            "group_by": st.just("id"),
                        },
                    ),
                ),
                max_size=3,
            )
        },
        optional={"items": items | json_values},
    ),
    "condition": st.fixed_dictionaries(
        {"operator": operators}, optional={"left": json_values, "right": json_values}
    ),
    "http-request": st.fixed_dictionaries(
        {"url": st.sampled_from(["https://api.example.com/x", "http://127.0.0.1/", "ftp://x", ""])},
        optional={
            "method": st.sampled_from(["GET", "POST", "BREW"]),
            "timeout": st.floats(0.01, 1),
        },
    ),
    "polymarket-markets": st.fixed_dictionaries({}, optional={"limit": st.integers(-1, 5)}),
    "add-to-watchlist": st.fixed_dictionaries({}, optional={"items": items | json_values}),
    "notify": st.fixed_dictionaries(
        {"title": text(20), "message": text(20)},
        optional={"priority": st.sampled_from(["low", "urgent", "meh"])},
    ),
}


@st.composite
def node(draw: st.DrawFn, node_id: Any) -> Any:
    kind = draw(st.sampled_from(["typed", "typed", "typed", "untyped", "junk"]))
    if kind == "junk":  # not even a node object
        return draw(json_values)
    type_name = draw(st.sampled_from(TYPES)) if kind == "typed" else draw(json_values)
    if isinstance(type_name, str) and type_name in plausible and draw(st.booleans()):
        config: Any = draw(plausible[type_name])
    else:
        config = draw(json_objects | json_values)
    shape = draw(st.sampled_from(["normal", "normal", "no data", "data junk", "extra keys"]))
    if shape == "no data":
        return {"id": node_id, "type": type_name}
    if shape == "data junk":
        return {"id": node_id, "type": type_name, "data": draw(json_values)}
    result = {"id": node_id, "type": type_name, "data": {"config": config}}
    if shape == "extra keys":
        result |= draw(json_objects)
    return result


@st.composite
def edge(draw: st.DrawFn, ids: list[Any]) -> Any:
    ends = st.sampled_from(ids) if ids else text(3)
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)  # not an edge object
    result: dict[str, Any] = {
        "id": draw(text(5) | st.none()),
        "source": draw(ends | json_values) if draw(st.integers(0, 9)) == 0 else draw(ends),
        "target": draw(ends | json_values) if draw(st.integers(0, 9)) == 0 else draw(ends),
    }
    if draw(st.booleans()):
        result["sourceHandle"] = draw(st.sampled_from(["true", "false", "yes"]) | json_values)
    return result


@st.composite
def graphs(draw: st.DrawFn, max_nodes: int = 8) -> tuple[Any, Any, Any]:
    """(nodes, edges, variables) as they could sit in a workflow_sessions row."""
    ids = draw(st.lists(st.sampled_from(IDS) | text(3) | json_values, max_size=max_nodes))
    nodes: Any = [draw(node(i)) for i in ids]
    usable = [i for i in ids if isinstance(i, str)]
    edges: Any = draw(st.lists(edge(usable), max_size=2 * max_nodes))
    if draw(st.integers(0, 19)) == 0:
        nodes = draw(json_values)  # nodes is not a list at all
    if draw(st.integers(0, 19)) == 0:
        edges = draw(json_values)
    variables = draw(json_objects) if draw(st.integers(0, 9)) else draw(json_values)
    return nodes, edges, variables
