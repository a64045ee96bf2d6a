"""Strategies as a resource over HTTP: create, list, read, edit (versions), archive,
validate, dry-run and export, each with its 401, 404, 409 and 422."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import respx

from cascadian.store.sql_store import SqlStore
from tests.api_client import CRON, bearer, client
from tests.factories import HELLO, OTHER_USER, USER, add_strategy, chain, node, rows, strategy

pytestmark = pytest.mark.both_schemas

UNAUTHORIZED = {
    "success": False,
    "error": "Unauthorized",
    "message": "Invalid or missing ADMIN_API_KEY",
}
HOOK = "https://93.184.216.34/hook"  # a public address: no DNS needed


def graph(*nodes: dict[str, Any]) -> dict[str, Any]:
    ns, es = chain(*nodes)
    return {"nodes": ns, "edges": es}


GOOD = graph(node("start", "start"), node("end", "end"))
BAD = {
    "nodes": [
        node("start", "start"),
        node("keep", "filter", conditions="not a list", logic="sometimes"),
        node("mystery", "no-such-type"),
    ],
    "edges": [
        {"id": "a", "source": "start", "target": "keep"},
        {"id": "b", "source": "keep", "target": "ghost"},
    ],
}
SIDE_EFFECTS = {
    "nodes": [
        node("start", "start"),
        node("watch", "add-to-watchlist", items=[{"id": "m1"}, {"id": "m2"}], reason="cheap"),
        node("tell", "notify", title="Found ${watch.added}", message="markets"),
        node("post", "http-request", method="POST", url=HOOK, json={"hello": "world"}),
    ],
    "edges": [
        {"id": "1", "source": "start", "target": "watch"},
        {"id": "2", "source": "watch", "target": "tell"},
        {"id": "3", "source": "start", "target": "post"},
    ],
}


def document(**extra: Any) -> dict[str, Any]:
    return {"name": "cheap markets", "user_id": str(USER), **GOOD, **extra}


def now() -> datetime:
    return datetime.now(UTC)


# 401, before any database access, for every route.

ROUTES = [
    ("GET", "/api/strategies"),
    ("POST", "/api/strategies"),
    ("POST", "/api/strategies/validate"),
    ("POST", "/api/strategies/dry-run"),
    ("GET", "/api/strategies/{}"),
    ("PATCH", "/api/strategies/{}"),
    ("DELETE", "/api/strategies/{}"),
    ("POST", "/api/strategies/{}/dry-run"),
    ("GET", "/api/strategies/{}/export"),
    ("GET", "/api/node-types"),
]
BY_ID = [r for r in ROUTES if "{}" in r[1]]


@pytest.fixture
async def dead_store() -> Any:
    store = SqlStore.postgres("postgresql://postgres@127.0.0.1:9/none", timeout=0.5)
    await store.open()
    yield store
    await store.close()


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("token", [None, "wrong", CRON])
async def test_a_missing_or_wrong_key_gets_401_even_with_a_bad_body(
    dead_store: SqlStore, method: str, path: str, token: str | None
) -> None:
    headers = {"Authorization": ""} if token is None else bearer(token)
    async with client(dead_store) as c:
        reply = await c.request(
            method, path.format(uuid.uuid4()), headers=headers, content=b"{not json"
        )
    assert reply.status_code == 401
    body = reply.json()
    assert datetime.fromisoformat(body.pop("timestamp"))
    assert body == UNAUTHORIZED


@pytest.mark.parametrize(("method", "path"), BY_ID)
async def test_an_unknown_id_gets_404(store: SqlStore, db: Any, method: str, path: str) -> None:
    body = {"name": "x"} if method == "PATCH" else None
    async with client(store) as c:
        reply = await c.request(method, path.format(uuid.uuid4()), json=body)
    assert reply.status_code == 404
    assert reply.json()["message"] == "strategy not found"


@pytest.mark.parametrize(("method", "path"), BY_ID)
async def test_a_malformed_id_gets_422(dead_store: SqlStore, method: str, path: str) -> None:
    async with client(dead_store) as c:
        reply = await c.request(method, path.format("not-a-uuid"), json={"name": "x"})
    assert reply.status_code == 422
    assert reply.json()["details"][0]["loc"][0] == "path"


# Create


async def test_create_saves_a_draft_with_its_graph_and_schedule(store: SqlStore, db: Any) -> None:
    body = document(
        description="watch cheap ones",
        variables={"limit": 3},
        schedule={"cron": "*/15 * * * *", "timezone": "Europe/London"},
    )
    async with client(store) as c:
        reply = await c.post("/api/strategies", json=body)
    assert reply.status_code == 201
    data = reply.json()["data"]
    assert (data["status"], data["auto_run"], data["next_execution_at"]) == ("draft", False, None)
    assert data["schedule"] == {
        "interval_minutes": 5,
        "cron": "*/15 * * * *",
        "timezone": "Europe/London",
    }
    assert (data["version"], data["is_current_version"]) == (1, True)
    assert data["current_version_id"] == data["id"]
    row = strategy(db, uuid.UUID(data["id"]))
    assert (row["name"], row["description"], row["user_id"]) == (
        "cheap markets",
        "watch cheap ones",
        USER,
    )
    assert row["nodes"] == GOOD["nodes"] and row["variables"] == {"limit": 3}


async def test_create_with_start_schedules_it_from_its_next_slot(store: SqlStore, db: Any) -> None:
    async with client(store) as c:
        reply = await c.post(
            "/api/strategies", json=document(start=True, schedule={"interval_minutes": 10})
        )
    data = reply.json()["data"]
    assert (data["status"], data["auto_run"]) == ("running", True)
    nxt = datetime.fromisoformat(data["next_execution_at"])
    assert now() < nxt <= now() + timedelta(minutes=10)


async def test_create_accepts_the_original_builders_vocabulary(store: SqlStore, db: Any) -> None:
    original = {
        "nodes": [
            {"id": "s", "type": "start", "data": {"nodeType": "start"}, "position": {"x": 0}},
            {
                "id": "js",
                "type": "javascript",
                "data": {"config": {"code": "return 1 + 1"}},
                "position": {"x": 100},
            },
        ],
        "edges": [{"id": "e", "source": "s", "target": "js", "sourceHandle": "output"}],
    }
    async with client(store) as c:
        reply = await c.post("/api/strategies", json=document(**original))
    assert reply.status_code == 201, reply.text
    assert reply.json()["data"]["nodes"] == original["nodes"]  # saved as the builder saved it


async def test_a_graph_that_cannot_run_gets_422_with_every_problem_and_nothing_is_saved(
    store: SqlStore, db: Any
) -> None:
    async with client(store) as c:
        reply = await c.post("/api/strategies", json=document(**BAD))
    assert reply.status_code == 422
    body = reply.json()
    assert body["error"] == "Validation Error"
    found = {(d["node_id"], d["field"]) for d in body["details"]}
    assert (None, "edges") in found  # the edge to a missing node
    assert rows(db, "select id from workflow_sessions") == []


async def test_every_config_problem_of_a_node_names_its_field(store: SqlStore, db: Any) -> None:
    bad = graph(node("start", "start"), node("keep", "filter", conditions="x", logic="maybe"))
    async with client(store) as c:
        reply = await c.post("/api/strategies", json=document(**bad))
    assert reply.status_code == 422
    fields = sorted(d["field"] for d in reply.json()["details"] if d["node_id"] == "keep")
    assert fields == ["data.config.conditions", "data.config.logic"]
    unknown = graph(node("start", "start"), node("what", "no-such-type"))
    async with client(store) as c:
        reply = await c.post("/api/strategies", json=document(**unknown))
    [problem] = reply.json()["details"]
    assert (problem["node_id"], problem["node_type"], problem["field"]) == (
        "what",
        "no-such-type",
        "type",
    )
    assert "unknown type" in problem["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": str(USER), **GOOD},  # no name
        document(user_id="nobody"),
        document(schedule={"interval_minutes": 0}),
        document(nodes="start"),
        document(colour="blue"),
    ],
)
async def test_a_malformed_create_body_is_422(
    store: SqlStore, db: Any, body: dict[str, Any]
) -> None:
    async with client(store) as c:
        reply = await c.post("/api/strategies", json=body)
    assert reply.status_code == 422
    assert rows(db, "select id from workflow_sessions") == []


async def test_an_invalid_cron_expression_and_time_zone_are_422_naming_both(
    store: SqlStore, db: Any
) -> None:
    schedule = {"cron": "every day", "timezone": "Mars/Olympus"}
    async with client(store) as c:
        reply = await c.post("/api/strategies", json=document(schedule=schedule))
    assert reply.status_code == 422
    by_field = {".".join(map(str, d["loc"][-2:])): d["message"] for d in reply.json()["details"]}
    assert "invalid cron expression 'every day'" in by_field["schedule.cron"]
    assert "unknown time zone 'Mars/Olympus'" in by_field["schedule.timezone"]
    assert rows(db, "select id from workflow_sessions") == []


# List


async def test_list_filters_sorts_pages_and_counts(store: SqlStore, db: Any) -> None:
    t = now()
    a = add_strategy(db, name="alpha", next_execution_at=t + timedelta(minutes=5))
    b = add_strategy(db, name="beta", next_execution_at=t + timedelta(minutes=1), error_count=2)
    add_strategy(db, name="gamma", next_execution_at=None, status="draft", auto_run=False)
    add_strategy(db, name="mine", next_execution_at=None, status="paused", user_id=OTHER_USER)
    add_strategy(db, name="old alpha", next_execution_at=None, is_current_version=False)
    add_strategy(db, name="archived alpha", next_execution_at=None, status="archived")
    async with client(store) as c:
        by_name = (await c.get("/api/strategies")).json()
        by_next = (await c.get("/api/strategies?sort=next_run")).json()
        streak = (await c.get("/api/strategies?sort=error_streak&descending=true")).json()
        alpha = (await c.get("/api/strategies?q=ALPHA")).json()
        running = (await c.get("/api/strategies?status=running&auto_run=true")).json()
        theirs = (await c.get(f"/api/strategies?user_id={OTHER_USER}")).json()
        archived = (await c.get("/api/strategies?status=archived")).json()
        page = (await c.get("/api/strategies?limit=2&offset=2")).json()
    assert [s["name"] for s in by_name["data"]] == ["alpha", "beta", "gamma", "mine"]
    assert by_name["metadata"] == {"total": 4, "limit": 50, "offset": 0}
    # Soonest first; the unscheduled last.
    assert [s["id"] for s in by_next["data"]][:2] == [str(b), str(a)]
    assert [s["next_execution_at"] for s in by_next["data"]][2:] == [None, None]
    assert streak["data"][0]["id"] == str(b) and streak["data"][0]["error_count"] == 2
    assert [s["name"] for s in alpha["data"]] == ["alpha"]
    assert {s["name"] for s in running["data"]} == {"alpha", "beta"}
    assert [s["name"] for s in theirs["data"]] == ["mine"]
    assert [s["name"] for s in archived["data"]] == ["archived alpha"]
    assert [s["name"] for s in page["data"]] == ["gamma", "mine"]
    assert page["metadata"]["total"] == 4
    row = by_name["data"][0]
    assert {"schedule", "next_execution_at", "last_executed_at", "success_rate", "last_error"} <= (
        row.keys()
    )


async def test_a_name_search_treats_wildcards_as_text(store: SqlStore, db: Any) -> None:
    add_strategy(db, name="100% sure", next_execution_at=None)
    add_strategy(db, name="1000 sure", next_execution_at=None)
    add_strategy(db, name="a_b", next_execution_at=None)
    add_strategy(db, name="axb", next_execution_at=None)
    async with client(store) as c:
        pct = (await c.get("/api/strategies", params={"q": "0%"})).json()
        under = (await c.get("/api/strategies", params={"q": "a_"})).json()
    assert [s["name"] for s in pct["data"]] == ["100% sure"]
    assert [s["name"] for s in under["data"]] == ["a_b"]


@pytest.mark.parametrize(
    "query", ["status=sleeping", "sort=colour", "limit=0", "limit=201", "user_id=x", "offset=-1"]
)
async def test_a_malformed_list_query_is_422(dead_store: SqlStore, query: str) -> None:
    async with client(dead_store) as c:
        reply = await c.get(f"/api/strategies?{query}")
    assert reply.status_code == 422


# Read, edit, versions


async def test_read_answers_the_graph(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, variables={"x": 1})
    async with client(store) as c:
        data = (await c.get(f"/api/strategies/{sid}")).json()["data"]
    assert (data["nodes"], data["edges"], data["variables"]) == (*HELLO, {"x": 1})


async def test_a_new_graph_makes_a_new_version_and_the_old_one_never_runs_again(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=now() - timedelta(minutes=1), execution_count=4)
    db.execute(
        "insert into workflow_executions (workflow_id, user_id, status) "
        "values (%s, %s, 'completed')",
        (sid, USER),
    )
    new_graph = graph(node("start", "start"), node("wait", "delay", seconds=0), node("end", "end"))
    async with client(store) as c:
        reply = await c.patch(f"/api/strategies/{sid}", json={"graph": new_graph, "name": "v2"})
        old = (await c.get(f"/api/strategies/{sid}")).json()["data"]
        listed = (await c.get("/api/strategies")).json()["data"]
    assert reply.status_code == 200, reply.text
    new = reply.json()["data"]
    assert new["id"] != str(sid)
    assert (new["version"], new["parent_workflow_id"], new["is_current_version"]) == (
        2,
        str(sid),
        True,
    )
    assert (new["name"], new["nodes"], new["execution_count"]) == ("v2", new_graph["nodes"], 0)
    assert (new["status"], new["auto_run"]) == ("running", True)  # it keeps running
    assert (old["is_current_version"], old["current_version_id"]) == (False, new["id"])
    assert old["execution_count"] == 4 and old["nodes"] == HELLO[0]
    assert [s["id"] for s in listed] == [new["id"]]
    # The run history stays on the old version; the scheduler claims the new one only.
    assert rows(db, "select workflow_id from workflow_executions") == [{"workflow_id": sid}]
    claimed = await store.claim_due(now(), 10, 60)
    assert [str(c.workflow.id) for c in claimed] == [new["id"]]


async def test_editing_an_old_version_is_409(store: SqlStore, db: Any) -> None:
    old = add_strategy(db, next_execution_at=None, is_current_version=False)
    async with client(store) as c:
        reply = await c.patch(f"/api/strategies/{old}", json={"graph": GOOD})
        renamed = await c.patch(f"/api/strategies/{old}", json={"name": "x"})
    assert reply.status_code == 409 and renamed.status_code == 409
    assert "old version" in reply.json()["message"]


async def test_a_new_graph_while_a_run_holds_the_lease_is_409(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=now() - timedelta(minutes=1))
    [claim] = await store.claim_due(now(), 10, 120)
    async with client(store) as c:
        graph_edit = await c.patch(f"/api/strategies/{sid}", json={"graph": GOOD})
        reschedule = await c.patch(f"/api/strategies/{sid}", json={"interval_minutes": 7})
        rename = await c.patch(f"/api/strategies/{sid}", json={"name": "renamed mid-run"})
    assert graph_edit.status_code == 409 and reschedule.status_code == 409
    assert "in flight" in graph_edit.json()["message"]
    assert rename.status_code == 200
    assert rows(db, "select count(*) as n from workflow_sessions") == [{"n": 1}]
    assert strategy(db, sid)["name"] == "renamed mid-run"
    assert claim.workflow.id == sid


async def test_a_rename_or_reschedule_changes_the_strategy_in_place(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=now() + timedelta(hours=3), interval=180)
    async with client(store) as c:
        reply = await c.patch(
            f"/api/strategies/{sid}",
            json={"name": "hourly", "description": "d", "interval_minutes": 60},
        )
        cleared = await c.patch(f"/api/strategies/{sid}", json={"description": None})
    data = reply.json()["data"]
    assert (data["id"], data["version"], data["name"]) == (str(sid), 1, "hourly")
    nxt = datetime.fromisoformat(data["next_execution_at"])
    assert nxt <= now() + timedelta(minutes=60)  # re-armed on the new schedule
    assert cleared.json()["data"]["description"] is None
    assert rows(db, "select count(*) as n from workflow_sessions") == [{"n": 1}]


async def test_an_edit_with_a_graph_that_cannot_run_is_422_and_changes_nothing(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    async with client(store) as c:
        reply = await c.patch(f"/api/strategies/{sid}", json={"graph": BAD, "name": "broken"})
    assert reply.status_code == 422 and reply.json()["details"]
    assert strategy(db, sid)["name"] != "broken"
    assert rows(db, "select count(*) as n from workflow_sessions") == [{"n": 1}]


@pytest.mark.parametrize(
    "body", [{"graph": {"edges": []}}, {"interval_minutes": 0}, {"colour": "red"}, {"name": ""}]
)
async def test_a_malformed_edit_is_422(store: SqlStore, db: Any, body: dict[str, Any]) -> None:
    sid = add_strategy(db, next_execution_at=None)
    async with client(store) as c:
        reply = await c.patch(f"/api/strategies/{sid}", json=body)
    assert reply.status_code == 422


async def test_runs_keep_pointing_at_the_version_they_ran(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, status="draft", auto_run=False)
    async with client(store) as c:
        first = (await c.post(f"/api/strategies/{sid}/execute-now")).json()["data"]
        v2 = (await c.patch(f"/api/strategies/{sid}", json={"graph": GOOD})).json()["data"]
        second = (await c.post(f"/api/strategies/{v2['id']}/execute-now")).json()["data"]
        again = await c.post(f"/api/strategies/{sid}/execute-now")
    assert first["workflow_id"] == str(sid) and second["workflow_id"] == v2["id"]
    assert again.status_code == 409


# Archive


async def test_archive_keeps_the_history_and_the_strategy_never_runs_again(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=now() - timedelta(minutes=1), execution_count=3)
    async with client(store) as c:
        reply = await c.delete(f"/api/strategies/{sid}")
        again = await c.delete(f"/api/strategies/{sid}")
        refused = [
            await c.post(f"/api/strategies/{sid}/{action}")
            for action in ("start", "resume", "pause", "stop", "execute-now")
        ]
        edit = await c.patch(f"/api/strategies/{sid}", json={"name": "back"})
    data = reply.json()["data"]
    assert (data["status"], data["auto_run"], data["execution_count"]) == ("archived", False, 3)
    assert again.status_code == 409 and "archived" in again.json()["message"]
    assert [r.status_code for r in refused] == [409] * 5
    assert edit.status_code == 409
    assert await store.claim_due(now(), 10, 60) == []
    assert strategy(db, sid)["status"] == "archived"


async def test_archiving_an_old_version_is_409(store: SqlStore, db: Any) -> None:
    old = add_strategy(db, next_execution_at=None, is_current_version=False)
    async with client(store) as c:
        reply = await c.delete(f"/api/strategies/{old}")
    assert reply.status_code == 409


# Validate


async def test_validate_answers_every_problem_without_saving(store: SqlStore, db: Any) -> None:
    async with client(store) as c:
        good = (await c.post("/api/strategies/validate", json=GOOD)).json()["data"]
        bad = (await c.post("/api/strategies/validate", json=BAD)).json()["data"]
    assert good == {"valid": True, "problems": []}
    assert bad["valid"] is False and len(bad["problems"]) >= 1
    assert all({"node_id", "node_type", "field", "message"} <= p.keys() for p in bad["problems"])
    assert rows(db, "select id from workflow_sessions") == []


async def test_validate_of_a_body_that_is_not_a_graph_is_422(dead_store: SqlStore) -> None:
    async with client(dead_store) as c:
        reply = await c.post("/api/strategies/validate", json={"nodes": {"a": 1}})
    assert reply.status_code == 422


# Dry run


@respx.mock
async def test_a_dry_run_reports_what_each_node_would_have_done_and_writes_nothing(
    store: SqlStore, db: Any
) -> None:
    hook = respx.post(HOOK).respond(200, json={"ok": True})
    sid = add_strategy(db, next_execution_at=now() + timedelta(hours=1), graph=_pair(SIDE_EFFECTS))
    before = strategy(db, sid)
    async with client(store) as c:
        reply = await c.post(f"/api/strategies/{sid}/dry-run")
    assert reply.status_code == 200, reply.text
    data = reply.json()["data"]
    assert data["success"] is True and data["recorded"] is False
    by_node = {n["node_id"]: n for n in data["nodes"]}
    assert by_node["watch"]["output"] == {"added": 2, "duplicates": 0, "count": 2}
    [watch] = by_node["watch"]["would"]
    assert (watch["action"], watch["detail"]["market_ids"]) == ("add-to-watchlist", ["m1", "m2"])
    [tell] = by_node["tell"]["would"]
    assert (tell["action"], tell["detail"]["title"]) == ("notify", "Found 2")
    [post] = by_node["post"]["would"]
    assert post["action"] == "http" and post["detail"]["method"] == "POST"
    assert post["detail"]["body"] == {"hello": "world"}
    assert by_node["post"]["output"]["body"]["sent"] is False
    assert not hook.called
    # Every intent, in the order made (watch and post run concurrently).
    assert sorted(i["node_id"] for i in data["intents"]) == ["post", "tell", "watch"]
    # Nothing recorded, nothing counted, nothing written, the schedule untouched.
    for table in ("workflow_executions", "strategy_watchlists", "notifications"):
        assert rows(db, f"select * from {table}") == []
    after = strategy(db, sid)
    for column in ("execution_count", "error_count", "next_execution_at", "lease_token"):
        assert after[column] == before[column]


@respx.mock
async def test_a_dry_run_still_sends_reads(store: SqlStore, db: Any) -> None:
    data_url = "https://93.184.216.34/data"
    read = respx.get(data_url).respond(200, json={"price": 0.4})
    fetch = graph(node("start", "start"), node("get", "http-request", url=data_url))
    async with client(store) as c:
        reply = await c.post("/api/strategies/dry-run", json=fetch)
    data = reply.json()["data"]
    assert read.called and data["intents"] == []
    assert data["outputs"]["get"]["body"] == {"price": 0.4}


async def test_a_failing_dry_run_answers_the_failure_and_counts_nothing(
    store: SqlStore, db: Any
) -> None:
    failing = graph(
        node("start", "start"), node("call", "http-request", url="http://127.0.0.1:9/x")
    )
    sid = add_strategy(db, next_execution_at=None, graph=_pair(failing))
    async with client(store) as c:
        data = (await c.post(f"/api/strategies/{sid}/dry-run")).json()["data"]
    assert data["success"] is False and "call" in data["error"]
    assert strategy(db, sid)["error_count"] == 0
    assert rows(db, "select * from workflow_executions") == []


async def test_a_dry_run_of_a_graph_that_cannot_run_is_422(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, graph=_pair(BAD))
    async with client(store) as c:
        saved = await c.post(f"/api/strategies/{sid}/dry-run")
        posted = await c.post("/api/strategies/dry-run", json=BAD)
    assert saved.status_code == 422 and posted.status_code == 422
    assert saved.json()["details"] == posted.json()["details"]


async def test_a_dry_run_does_not_wait_for_or_take_the_lease(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=now() - timedelta(minutes=1))
    [claim] = await store.claim_due(now(), 10, 120)  # a scheduled run holds the lease
    async with client(store) as c:
        reply = await c.post(f"/api/strategies/{sid}/dry-run")
    assert reply.status_code == 200 and reply.json()["data"]["success"] is True
    after = strategy(db, sid)
    assert (after["lease_token"], after["execution_count"]) == (claim.execution_id, 0)
    assert rows(db, "select id from workflow_executions") == [{"id": claim.execution_id}]


# Export and import


async def test_an_exported_strategy_imports_unchanged(store: SqlStore, db: Any) -> None:
    original = {
        **document(description="d", variables={"v": [1, 2]}, trigger={"type": "schedule"}),
        "schedule": {"interval_minutes": 15, "cron": "0 9 * * 1", "timezone": "Asia/Tokyo"},
        "nodes": [{**n, "position": {"x": i * 100, "y": 0}} for i, n in enumerate(GOOD["nodes"])],
    }
    async with client(store) as c:
        created = (await c.post("/api/strategies", json=original)).json()["data"]
        exported = (await c.get(f"/api/strategies/{created['id']}/export")).json()["data"]
        imported = await c.post("/api/strategies", json=exported)
        again = (await c.get(f"/api/strategies/{imported.json()['data']['id']}/export")).json()
    assert exported == {**original, "edges": GOOD["edges"]}
    assert imported.status_code == 201 and again["data"] == exported


def _pair(g: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return g["nodes"], g["edges"]


async def test_the_graph_format_is_published_as_json_schema(dead_store: SqlStore) -> None:
    async with client(dead_store) as c:
        schema = (await c.get("/openapi.json")).json()
    components = schema["components"]["schemas"]
    assert {"Graph", "GraphNode", "GraphEdge", "StrategyDocument"} <= components.keys()
    validate_body = schema["paths"]["/api/strategies/validate"]["post"]["requestBody"]
    assert validate_body["content"]["application/json"]["schema"]["$ref"].endswith("/Graph")


async def test_each_node_types_config_is_published_as_json_schema(dead_store: SqlStore) -> None:
    async with client(dead_store) as c:
        reply = await c.get("/api/node-types")
    assert reply.status_code == 200
    types = {t["name"]: t for t in reply.json()["data"]}
    assert {"filter", "notify", "http-request", "original-polymarket-buy"} <= types.keys()
    notify = types["notify"]["config_schema"]
    assert set(notify["required"]) == {"title", "message"}
    assert notify["additionalProperties"] is False
