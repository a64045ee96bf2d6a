"""GET /api/audit, and the API's changes arriving in the audit log as the operator's,
from the client's address."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cascadian.store.sql_store import SqlStore
from tests.api_client import CRON, bearer, client
from tests.factories import USER, add_strategy, rows

pytestmark = pytest.mark.both_schemas

GRAPH = {"nodes": [{"id": "start", "type": "start", "data": {"config": {}}}], "edges": []}


async def test_each_api_change_is_logged_as_the_operators_from_the_clients_address(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=datetime.now(UTC), name="Arb")
    async with client(store) as c:
        assert (await c.post(f"/api/strategies/{sid}/pause")).status_code == 200
        assert (await c.post(f"/api/strategies/{sid}/resume")).status_code == 200
        assert (await c.patch(f"/api/strategies/{sid}", json={"name": "Arb 2"})).status_code == 200
        created = await c.post(
            "/api/strategies", json={"name": "New", "user_id": str(USER), **GRAPH}
        )
        assert created.status_code == 201, created.text
        assert (await c.delete(f"/api/strategies/{sid}")).status_code == 200
        reply = await c.get("/api/audit")
    assert reply.status_code == 200
    body = reply.json()
    assert [e["action"] for e in body["data"]] == ["archive", "create", "update", "resume", "pause"]
    assert {(e["actor"]["kind"], e["actor"]["source"]) for e in body["data"]} == {
        ("operator", "api")
    }
    assert {e["actor"]["address"] for e in body["data"]} == {"127.0.0.1"}
    update = body["data"][2]
    assert (update["before"], update["after"]) == ({"name": "Arb"}, {"name": "Arb 2"})
    assert update["strategy_id"] == str(sid) and update["strategy_name"] == "Arb 2"
    assert body["metadata"] == {"limit": 50, "next_cursor": None}


async def test_a_refused_change_over_the_api_is_not_logged(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, status="paused", auto_run=False)
    async with client(store) as c:
        assert (await c.post(f"/api/strategies/{sid}/pause")).status_code == 409
        assert (await c.post(f"/api/strategies/{uuid.uuid4()}/pause")).status_code == 404
    assert rows(db, "select id from cascadian_audit_log") == []


async def test_pages_follow_the_cursor_and_filters_narrow_them(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=datetime.now(UTC))
    other = add_strategy(db, next_execution_at=datetime.now(UTC))
    async with client(store) as c:
        for _ in range(2):
            await c.post(f"/api/strategies/{sid}/pause")
            await c.post(f"/api/strategies/{sid}/resume")
        await c.post(f"/api/strategies/{other}/stop")
        first = (await c.get("/api/audit", params={"limit": 3})).json()
        cursor = first["metadata"]["next_cursor"]
        second = (await c.get("/api/audit", params={"limit": 3, "cursor": cursor})).json()
        only = await c.get("/api/audit", params={"strategy_id": str(sid), "action": "pause"})
        by_kind = await c.get("/api/audit", params={"actor": "user"})
    ids = [e["id"] for e in first["data"] + second["data"]]
    assert len(ids) == 5 and ids == sorted(ids, reverse=True)
    assert second["metadata"]["next_cursor"] is None
    assert [e["action"] for e in only.json()["data"]] == ["pause", "pause"]
    assert by_kind.json()["data"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "bm90aGluZw"},
        {"action": "delete_everything"},
        {"actor": "admin"},
        {"limit": "0"},
        {"limit": "201"},
        {"since": "yesterday"},
        {"strategy_id": "' or 1=1 --"},
    ],
)
async def test_a_bad_filter_or_cursor_is_a_422_naming_it(
    store: SqlStore, db: Any, params: dict[str, str]
) -> None:
    async with client(store) as c:
        reply = await c.get("/api/audit", params=params)
    assert reply.status_code == 422
    assert reply.json()["error"] == "Validation Error"


@pytest.mark.parametrize("token", [None, "wrong", CRON])
async def test_the_audit_log_needs_the_admin_key(
    store: SqlStore, db: Any, token: str | None
) -> None:
    headers = {"Authorization": ""} if token is None else bearer(token)
    async with client(store) as c:
        reply = await c.get("/api/audit", headers=headers)
    assert reply.status_code == 401


async def test_every_action_the_sql_writes_can_be_asked_for(store: SqlStore, db: Any) -> None:
    # The actions cascadian_audit_v1's callers write, read from the migrations.
    written = {
        m.group(1)
        for f in (Path(__file__).parents[2] / "migrations").glob("*.sql")
        for m in re.finditer(r"cascadian_audit_v1\(\s*p_actor,\s*'([a-z_]+)'", f.read_text())
    }
    assert {"lift_halt", "approve_decision", "rerun", "set_triggers"} <= written
    sid = add_strategy(db, next_execution_at=None)
    for action in sorted(written):
        db.execute(
            "select cascadian_audit_v1(%s::jsonb, %s, %s, null, '{}'::jsonb, now())",
            ('{"kind": "operator", "source": "cli"}', action, sid),
        )
    async with client(store) as c:
        spec = (await c.get("/openapi.json")).json()
        for action in sorted(written):
            reply = await c.get("/api/audit", params={"action": action})
            assert reply.status_code == 200, (action, reply.text)
            assert [e["action"] for e in reply.json()["data"]] == [action]
    described = spec["components"]["schemas"]["AuditEntryModel"]["properties"]["action"]
    assert all(action in described["description"] for action in written)
