"""The runs list, re-run and bulk routes: their answers, paging, refusals and auth."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.store.sql_store import SqlStore
from tests.api_client import bearer, client
from tests.factories import OTHER_USER, add_run, add_strategy, chain, node, rows, strategy

pytestmark = pytest.mark.both_schemas

SNAPSHOT = {
    "name": "Recorded",
    "nodes": chain(node("start", "start"), node("end", "end"))[0],
    "edges": chain(node("start", "start"), node("end", "end"))[1],
    "variables": {},
    "trigger": None,
}


def now() -> datetime:
    return datetime.now(UTC)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/runs"),
        ("POST", "/api/executions/6fcee311-9bee-4777-aeb3-cf0a6e1e47d3/rerun"),
        ("POST", "/api/strategies/bulk"),
    ],
)
async def test_every_route_needs_the_admin_key(store: SqlStore, method: str, path: str) -> None:
    async with client(store) as c:
        reply = await c.request(method, path, headers=bearer("wrong-key-wrong-key"))
    assert reply.status_code == 401


async def test_failed_runs_of_the_last_hour_page_by_cursor(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, name="Cheap")
    made = [
        add_run(db, sid, started_at=now() - timedelta(minutes=m), status="failed")
        for m in (1, 2, 3)
    ]
    add_run(db, sid, started_at=now() - timedelta(hours=2), status="failed")
    add_run(db, sid, started_at=now() - timedelta(minutes=4))
    since = (now() - timedelta(hours=1)).isoformat()
    async with client(store) as c:
        first = await c.get("/api/runs", params={"status": "failed", "since": since, "limit": 2})
        body = first.json()
        assert first.status_code == 200, body
        assert [r["id"] for r in body["data"]] == [str(m) for m in made[:2]]
        assert body["data"][0]["workflow_name"] == "Cheap"
        assert body["data"][0]["trigger_kind"] == "manual"
        cursor = body["metadata"]["next_cursor"]
        second = await c.get(
            "/api/runs", params={"status": "failed", "since": since, "limit": 2, "cursor": cursor}
        )
        assert [r["id"] for r in second.json()["data"]] == [str(made[2])]
        assert second.json()["metadata"]["next_cursor"] is None


async def test_a_time_without_a_zone_is_read_as_utc_as_on_every_other_route(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    inside = add_run(db, sid, started_at=now() - timedelta(minutes=5))
    add_run(db, sid, started_at=now() - timedelta(hours=2))
    since = (now() - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    async with client(store) as c:
        reply = await c.get("/api/runs", params={"since": since})
    assert reply.status_code == 200, reply.json()
    assert [r["id"] for r in reply.json()["data"]] == [str(inside)]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"status": "broken"}, "unknown status 'broken'"),
        ({"cursor": "not-a-cursor"}, "not one a page of runs answered"),
        ({"trigger": "Market Event"}, "a trigger is one lowercase word"),
        ({"since": "2026-12-07T10:00:00Z", "until": "2026-12-07T09:00:00Z"}, "since must be"),
    ],
)
async def test_a_filter_that_cannot_be_used_is_a_422_naming_it(
    store: SqlStore, db: Any, params: dict[str, str], says: str
) -> None:
    async with client(store) as c:
        reply = await c.get("/api/runs", params=params)
    assert reply.status_code == 422
    assert says in reply.json()["message"]


async def test_rerun_answers_the_new_run_linked_to_the_failed_one(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=now() + timedelta(minutes=5), name="Cheap")
    failed = add_run(
        db, sid, started_at=now() - timedelta(minutes=5), status="failed", snapshot=SNAPSHOT
    )
    async with client(store) as c:
        reply = await c.post(f"/api/executions/{failed}/rerun")
        body = reply.json()
        assert reply.status_code == 200, body
        assert body["data"]["status"] == "completed"
        assert body["data"]["trigger_kind"] == "rerun"
        assert body["data"]["rerun_of"] == str(failed)
        listed = (await c.get("/api/runs", params={"rerun_of": str(failed)})).json()["data"]
        assert [r["id"] for r in listed] == [body["data"]["id"]]
        again = await c.post(f"/api/executions/{body['data']['id']}/rerun")
        assert again.status_code == 409
        assert again.json()["message"] == "only a failed run can be re-run"
        missing = await c.post(f"/api/executions/{uuid.uuid4()}/rerun")
        assert missing.status_code == 404
    assert strategy(db, sid)["execution_count"] == 1


async def test_bulk_previews_then_applies_exactly_the_selection_it_showed(
    store: SqlStore, db: Any
) -> None:
    a = add_strategy(db, next_execution_at=now(), name="A")
    b = add_strategy(db, next_execution_at=None, name="B", status="paused", auto_run=False)
    other = add_strategy(db, next_execution_at=now(), name="C", user_id=OTHER_USER)
    [owner] = rows(db, "select user_id from workflow_sessions where id = %s", a)
    request: dict[str, Any] = {"action": "pause", "filter": {"user_id": str(owner["user_id"])}}
    async with client(store) as c:
        preview = (await c.post("/api/strategies/bulk", json=request | {"preview": True})).json()
        assert preview["data"]["total"] == 2
        assert [s["name"] for s in preview["data"]["strategies"]] == ["A", "B"]
        assert preview["data"]["results"] is None
        assert strategy(db, a)["status"] == "running"  # a preview changes nothing

        done = await c.post(
            "/api/strategies/bulk", json=request | {"expect": preview["data"]["selection"]}
        )
        data = done.json()["data"]
        assert done.status_code == 200, data
        assert [(r["name"], r["outcome"]) for r in data["results"]] == [
            ("A", "changed"),
            ("B", "unchanged"),
        ]
        assert (data["changed"], data["unchanged"], data["refused"]) == (1, 1, 0)

        stale = await c.post("/api/strategies/bulk", json=request | {"expect": "0123456789abcdef"})
        assert stale.status_code == 409
        bad = await c.post("/api/strategies/bulk", json={"action": "archive"})
        assert bad.status_code == 422
    assert strategy(db, b)["status"] == "paused"
    assert strategy(db, other)["status"] == "running"
