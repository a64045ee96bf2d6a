"""The cron endpoint: auth, the response contract, outages, and duplicate deliveries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cascadian.config import Settings
from cascadian.ports import Store
from cascadian.store.sql_store import SqlStore
from cascadian.web.app import create_app
from tests.executors import ScriptedExecutor, failed, returns
from tests.factories import add_strategy, rows

# The key scenarios: on a fresh database and on one shaped like an existing deployment.
pytestmark = pytest.mark.both_schemas

URL = "/api/cron/strategy-executor"
SECRET = "s3cr3t-cron-token-for-tests"
UNAUTHORIZED = {
    "success": False,
    "error": "Unauthorized",
    "message": "Invalid or missing CRON_SECRET",
}


@asynccontextmanager
async def client(
    store: Store, executor: Any = None, **env: Any
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(**({"CRON_SECRET": SECRET} | env))
    app = create_app(settings, store=store, executor=executor or ScriptedExecutor())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


def bearer(token: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def dead_store() -> AsyncIterator[SqlStore]:
    """A store whose database is not there: any use of it shows up as a 503."""
    store = SqlStore.postgres("postgresql://postgres@127.0.0.1:9/none", timeout=0.5)
    await store.open()
    yield store
    await store.close()


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_tick_answers_the_dashboard_contract(store: SqlStore, db: Any, method: str) -> None:
    now = datetime.now(UTC)
    sid = add_strategy(db, next_execution_at=now - timedelta(seconds=5), name="ok")
    add_strategy(db, next_execution_at=now - timedelta(seconds=5), name="bad")
    executor = ScriptedExecutor(bad=returns(failed("no data")))
    async with client(store, executor) as c:
        reply = await c.request(method, URL, headers=bearer())
    assert reply.status_code == 200
    body = reply.json()
    assert body["success"] is True and datetime.fromisoformat(body["timestamp"])
    data = body["data"]
    assert (data["strategies_checked"], data["strategies_executed"]) == (2, 2)
    assert isinstance(data["execution_time_ms"], int)
    by_name = {e["workflow_name"]: e for e in data["executions"]}
    assert by_name["ok"]["workflow_id"] == str(sid)
    assert {k: by_name["ok"][k] for k in ("status", "duration_ms", "nodes_executed", "error")} == {
        "status": "completed",
        "duration_ms": 10,
        "nodes_executed": 2,
        "error": None,
    }
    assert by_name["bad"]["status"] == "failed" and by_name["bad"]["error"] == "node 'n': no data"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("wrong"),
        {"Authorization": SECRET},
        {"Authorization": f"Basic {SECRET}"},
        bearer(""),
    ],
)
async def test_a_bad_or_missing_secret_gets_401_without_touching_the_database(
    dead_store: SqlStore, headers: dict[str, str]
) -> None:
    async with client(dead_store) as c:
        reply = await c.post(URL, headers=headers)
    assert reply.status_code == 401
    body = reply.json()
    assert datetime.fromisoformat(body.pop("timestamp"))
    assert body == UNAUTHORIZED


async def test_admin_api_key_is_accepted_when_cron_secret_is_unset(
    store: SqlStore, db: Any
) -> None:
    async with client(store, CRON_SECRET=None, ADMIN_API_KEY="admin-key-123") as c:
        assert (await c.post(URL, headers=bearer("admin-key-123"))).status_code == 200
        assert (await c.post(URL, headers=bearer(SECRET))).status_code == 401


async def test_development_without_any_secret_allows_the_tick_with_a_warning(
    store: SqlStore, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        async with client(store, CRON_SECRET=None) as c:
            reply = await c.post(URL)
    assert reply.status_code == 200
    assert "CRON_SECRET is not set" in caplog.text


@pytest.mark.parametrize("env", [{"ENVIRONMENT": "production"}, {"VERCEL_ENV": "production"}])
async def test_production_refuses_to_run_without_a_secret(
    dead_store: SqlStore, env: dict[str, str]
) -> None:
    async with client(dead_store, CRON_SECRET=None, **env) as c:
        reply = await c.post(URL)
    assert reply.status_code == 503
    body = reply.json()
    assert body["success"] is False and body["error"] == "Misconfigured"
    assert "refusing to run unauthenticated in production" in body["message"]


def test_production_refuses_a_placeholder_secret() -> None:
    with pytest.raises(ValueError, match="CRON_SECRET is a placeholder"):
        Settings(CRON_SECRET="changeme", ENVIRONMENT="production")


async def test_a_database_outage_is_answered_with_503_json(dead_store: SqlStore) -> None:
    async with client(dead_store) as c:
        reply = await c.post(URL, headers=bearer())
    assert reply.status_code == 503
    body = reply.json()
    assert body["success"] is False and "database unavailable" in body["error"]
    assert isinstance(body["execution_time_ms"], int) and body["timestamp"]


async def test_duplicate_concurrent_deliveries_never_run_a_strategy_twice(
    store: SqlStore, db: Any
) -> None:
    now = datetime.now(UTC)
    for i in range(150):
        add_strategy(db, next_execution_at=now - timedelta(seconds=i))
    executor = ScriptedExecutor()
    async with client(store, executor, CASCADIAN_MAX_CONCURRENCY=5) as c:
        replies = await asyncio.gather(*(c.post(URL, headers=bearer()) for _ in range(12)))
    assert all(r.status_code == 200 for r in replies)
    assert sum(r.json()["data"]["strategies_executed"] for r in replies) == 150
    assert len(executor.calls) == 150 == len(set(executor.calls))
    assert rows(db, "select count(*) as n from workflow_sessions where execution_count = 1") == [
        {"n": 150}
    ]
    assert rows(db, "select count(*) as n from workflow_executions") == [{"n": 150}]


async def test_a_repeated_delivery_id_is_recorded_on_each_tick_and_runs_nothing_twice(
    store: SqlStore, db: Any
) -> None:
    add_strategy(db, next_execution_at=datetime.now(UTC) - timedelta(seconds=1), name="once")
    executor = ScriptedExecutor()
    delivery = {"ce-id": "exec_2026-12-02T12:00Z_strategy-executor"}
    async with client(store, executor, ADMIN_API_KEY=SECRET) as c:
        first = await c.get(URL, headers=bearer() | delivery)
        again = await c.get(URL, headers=bearer() | delivery)  # a duplicate delivery
        plain = await c.get(URL, headers=bearer())
        ledger = await c.get("/api/cron/ticks", headers=bearer())
    assert [r.json()["data"]["strategies_executed"] for r in (first, again, plain)] == [1, 0, 0]
    assert executor.calls == ["once"]
    assert [t["delivery_id"] for t in ledger.json()["data"]] == [
        None,
        delivery["ce-id"],
        delivery["ce-id"],
    ]


@pytest.mark.parametrize("value", ["x" * 201, "bad\x7fid", "caf\xe9".encode("latin-1")])
async def test_an_implausible_delivery_id_is_ignored_and_the_tick_still_runs(
    store: SqlStore, db: Any, value: str | bytes
) -> None:
    async with client(store) as c:
        reply = await c.get(URL, headers=bearer() | {"ce-id": value})
    assert reply.status_code == 200
    assert rows(db, "select delivery_id from cron_ticks") == [{"delivery_id": None}]


async def test_secrets_never_appear_in_responses_or_logs(
    store: SqlStore, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        async with client(store) as c:
            texts = [(await c.post(URL, headers=bearer(h))).text for h in (SECRET, "nope")]
    assert all(SECRET not in t for t in texts)
    assert SECRET not in caplog.text


async def test_a_wrong_method_is_405_naming_every_method_the_route_answers(
    store: SqlStore,
) -> None:
    async with client(store) as c:
        reply = await c.put(URL, headers={"Authorization": f"Bearer {SECRET}"})
    assert reply.status_code == 405
    assert {m.strip() for m in reply.headers["allow"].split(",")} >= {"GET", "POST"}
    body = reply.json()
    assert (body["error"], body["success"]) == ("Method Not Allowed", False)
    assert datetime.fromisoformat(body["timestamp"])
