"""How deep and big a strategy's graph may be: refused when saved (a 422 naming the
limit, nothing saved), failed clearly when a stored one is run, and everything the
API accepts reads back unchanged."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from cascadian.clock import FakeClock
from cascadian.config import DEFAULT_GRAPH_MAX_DEPTH, DEFAULT_VARIABLES_MAX_BYTES, Settings
from cascadian.ports import Store
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.limits import GraphLimits, over_limits
from cascadian.workflow.node_api import NodeServices
from tests.api_client import client
from tests.factories import NODE_LOGS, USER, add_strategy, chain, node, rows

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)
HELLO = chain(node("start", "start"), node("end", "end"))


def nested(levels: int) -> Any:
    """`levels` lists, one inside the other."""
    value: Any = "deep"
    for _ in range(levels):
        value = [value]
    return value


def document(variables: Any = None, nodes: Any = None) -> dict[str, Any]:
    ns, es = HELLO
    body = {"name": "limits", "user_id": str(USER), "nodes": nodes or ns, "edges": es}
    return body | ({"variables": variables} if variables is not None else {})


def problems(reply: Any) -> list[tuple[Any, Any, str]]:
    assert reply.status_code == 422, reply.text
    return [(d["node_id"], d["field"], d["message"]) for d in reply.json()["details"]]


# At save time


@pytest.mark.parametrize("levels", [DEFAULT_GRAPH_MAX_DEPTH, 980])
async def test_variables_nested_past_the_limit_are_refused_and_nothing_is_saved(
    store: SqlStore, db: Any, levels: int
) -> None:
    # 980 deep was saved, and then every GET and export of it answered a plain 500.
    async with client(store) as c:
        reply = await c.post("/api/strategies", json=document({"x": nested(levels)}))
    assert problems(reply) == [
        (
            None,
            "variables",
            "variables are nested more than 64 deep (64, CASCADIAN_GRAPH_MAX_DEPTH)",
        )
    ]
    assert rows(db, "select id from workflow_sessions") == []


async def test_a_node_nested_past_the_limit_is_refused_naming_the_node(
    store: SqlStore, db: Any
) -> None:
    ns, _ = HELLO
    deep = [ns[0], {**node("end", "end"), "data": {"config": {}, "label": nested(500)}}]
    async with client(store) as c:
        reply = await c.post("/api/strategies", json=document(nodes=deep))
    [(node_id, _, message)] = problems(reply)
    assert node_id == "end"
    assert message == "node 'end' is nested more than 64 deep (64, CASCADIAN_GRAPH_MAX_DEPTH)"
    assert rows(db, "select id from workflow_sessions") == []


async def test_variables_past_the_size_limit_are_refused_and_nothing_is_saved(
    store: SqlStore, db: Any
) -> None:
    big = {"rows": ["x" * 1000] * 300}  # about 300 KB: the request itself is under 1 MiB
    async with client(store) as c:
        reply = await c.post("/api/strategies", json=document(big))
    assert problems(reply) == [
        (
            None,
            "variables",
            "variables take more than 262144 bytes as JSON (CASCADIAN_VARIABLES_MAX_BYTES)",
        )
    ]
    assert rows(db, "select id from workflow_sessions") == []


async def test_a_new_version_past_the_limits_is_refused_and_changes_nothing(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None, variables={"x": 1})
    ns, es = HELLO
    async with client(store) as c:
        reply = await c.patch(
            f"/api/strategies/{sid}",
            json={"graph": {"nodes": ns, "edges": es, "variables": {"x": nested(100)}}},
        )
    assert [f for _, f, _ in problems(reply)] == ["variables"]
    assert rows(db, "select id, variables from workflow_sessions") == [
        {"id": sid, "variables": {"x": 1}}
    ]


async def test_an_import_past_the_limits_is_refused_and_nothing_is_saved(
    store: SqlStore, db: Any
) -> None:
    # An import is a create of an exported document; a limit set lower applies too.
    async with client(store, CASCADIAN_GRAPH_MAX_DEPTH=8) as c:
        reply = await c.post("/api/strategies", json=document({"x": nested(8)}))
        accepted = await c.post("/api/strategies", json=document({"x": nested(7)}))
    assert [m for _, _, m in problems(reply)] == [
        "variables are nested more than 8 deep (8, CASCADIAN_GRAPH_MAX_DEPTH)"
    ]
    assert accepted.status_code == 201, accepted.text
    assert len(rows(db, "select id from workflow_sessions")) == 1


# At run time: a strategy the original app wrote straight into the database


def insert_due(db: Any, variables: Any, name: str) -> uuid.UUID:
    ns, es = HELLO
    sid = add_strategy(db, next_execution_at=NOW - timedelta(minutes=1), name=name, graph=(ns, es))
    db.execute("update workflow_sessions set variables = %s where id = %s", (Jsonb(variables), sid))
    return sid


async def tick(store: SqlStore) -> dict[str, Any]:
    settings = Settings(CASCADIAN_STRATEGY_TIMEOUT_SECONDS=2, CASCADIAN_LEASE_SECONDS=60)
    executor = GraphExecutor(services=NodeServices(settings))
    report = await TickService(store, executor, settings, FakeClock(NOW)).tick()
    return {r.workflow_name: r for r in report.executions}


async def test_stored_variables_past_the_limits_fail_their_run_saying_so(
    store: SqlStore, db: Any
) -> None:
    # 600,000 items held the event loop for seconds before any node's item cap applied.
    insert_due(db, {"rows": [{"v": i} for i in range(600_000)]}, "huge")
    insert_due(db, {"x": nested(300)}, "deep")
    insert_due(db, {"x": 1}, "fine")
    runs = await tick(store)
    assert runs["huge"].status == "failed" and runs["huge"].recorded
    assert runs["huge"].error == (
        "variables take more than 262144 bytes as JSON (CASCADIAN_VARIABLES_MAX_BYTES)"
    )
    assert runs["deep"].status == "failed" and runs["deep"].recorded
    assert runs["deep"].error == (
        "variables are nested more than 64 deep (64, CASCADIAN_GRAPH_MAX_DEPTH)"
    )
    assert runs["fine"].status == "completed"
    logged = rows(db, f"select status from {NODE_LOGS} where node_id = 'start'")
    assert {r["status"] for r in logged} == {"skipped", "success"}


async def test_a_stored_strategy_past_the_limits_reads_as_a_422_naming_the_limit(
    store: SqlStore, db: Any
) -> None:
    # Through Supabase's Data API an owner may write variables the API would refuse;
    # nested 300 deep, GET and export answered a plain-text 500.
    sid = insert_due(db, {"x": nested(300)}, "deep")
    async with client(store) as c:
        read = await c.get(f"/api/strategies/{sid}")
        export = await c.get(f"/api/strategies/{sid}/export")
        listed = await c.get("/api/strategies")
    for reply in (read, export):
        assert problems(reply) == [
            (
                None,
                "variables",
                "variables are nested more than 64 deep (64, CASCADIAN_GRAPH_MAX_DEPTH)",
            )
        ]
    assert listed.status_code == 200 and str(sid) in listed.text


class Untouchable(list[Any]):
    """A list whose items must not be looked at."""

    def __iter__(self) -> Any:
        raise AssertionError("the check walked the items of a list already too big")


def test_the_check_stops_at_a_list_too_big_without_looking_at_its_items() -> None:
    # Its cost is bounded by the limits, not by what is stored.
    variables = {"rows": Untouchable(range(600_000))}
    [problem] = over_limits([], [], variables, None, GraphLimits())
    assert (problem.field, problem.message) == (
        "variables",
        "variables take more than 262144 bytes as JSON (CASCADIAN_VARIABLES_MAX_BYTES)",
    )


# Everything the API accepts reads back


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # shrinking a failure through the API is slow
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    variables=st.dictionaries(st.text(max_size=8), JSON, max_size=4),
    depth=st.integers(0, DEFAULT_GRAPH_MAX_DEPTH - 1),
)
async def test_whatever_the_api_accepts_reads_back_unchanged(
    any_store: Store, variables: dict[str, Any], depth: int
) -> None:
    variables = {**variables, "deep": nested(depth)}  # up to the limit exactly
    async with client(any_store) as c:  # type: ignore[arg-type]
        created = await c.post("/api/strategies", json=document(variables))
        if created.status_code == 422:  # only ever for a limit
            assert {f for _, f, _ in problems(created)} == {"variables"}
            return
        assert created.status_code == 201, created.text
        sid = created.json()["data"]["id"]
        read = await c.get(f"/api/strategies/{sid}")
        exported = await c.get(f"/api/strategies/{sid}/export")
    assert read.status_code == 200 and exported.status_code == 200
    saved = as_json(storable(variables))
    assert as_json(read.json()["data"]["variables"]) == saved
    assert as_json(exported.json()["data"]["variables"]) == saved


def as_json(value: Any) -> Any:
    """The value as JSON means it: jsonb keeps a number's value, not whether Python
    held it as an int or a float (4.048088714734257e+16 reads back as an integer)."""
    return json.loads(json.dumps(value), parse_float=Decimal, parse_int=Decimal)


def storable(value: Any) -> Any:
    """As the store writes it: jsonb cannot hold NUL, which becomes U+FFFD
    (store/arguments.py)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


async def test_the_limits_defaults_let_the_api_read_back_its_envelope() -> None:
    # The API's JSON encoder stops at about 250 levels with its envelope; a graph
    # part may nest DEFAULT_GRAPH_MAX_DEPTH, far under it, and the setting cannot pass 200.
    assert DEFAULT_GRAPH_MAX_DEPTH == 64 and DEFAULT_VARIABLES_MAX_BYTES == 262_144
    with pytest.raises(ValueError, match="CASCADIAN_GRAPH_MAX_DEPTH"):
        Settings(CASCADIAN_GRAPH_MAX_DEPTH=201)
