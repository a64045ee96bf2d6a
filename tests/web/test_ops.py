"""The tick ledger endpoint, the health check, and the OpenAPI description."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cascadian.config import Settings
from cascadian.reports import TickReport
from cascadian.store.sql_store import SqlStore
from cascadian.web.app import create_app
from tests.api_client import KEY, bearer, client

TICKS = "/api/cron/ticks"


async def record_ticks(store: SqlStore, *minutes_ago: float) -> None:
    for m in minutes_ago:
        at = datetime.now(UTC) - timedelta(minutes=m)
        await store.record_tick(TickReport("cron", at, finished_at=at))


@pytest.fixture
async def dead_store() -> AsyncIterator[SqlStore]:
    store = SqlStore.postgres("postgresql://postgres:pw@127.0.0.1:9/secretdb", timeout=0.5)
    await store.open()
    yield store
    await store.close()


async def test_ticks_come_newest_first_with_the_gap_since_the_previous_one(
    store: SqlStore, db: Any
) -> None:
    await record_ticks(store, 10, 9, 4)
    async with client(store) as c:
        reply = await c.get(TICKS, params={"limit": 2})
    assert reply.status_code == 200
    data = reply.json()["data"]
    assert [round(t["gap_seconds"]) for t in data] == [300, 60]
    first = data[0]
    assert first["trigger"] == "cron" and first["success"] is True
    assert set(first) >= {"strategies_executed", "succeeded", "failed", "execution_time_ms"}


async def test_the_oldest_tick_has_no_gap(store: SqlStore, db: Any) -> None:
    await record_ticks(store, 1)
    async with client(store) as c:
        [only] = (await c.get(TICKS)).json()["data"]
    assert only["gap_seconds"] is None


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_ticks_need_the_admin_key(dead_store: SqlStore, token: str | None) -> None:
    async with client(dead_store) as c:
        headers = {"Authorization": ""} if token is None else bearer(token)
        reply = await c.get(TICKS, headers=headers)
    assert reply.status_code == 401


@pytest.mark.parametrize("limit", ["0", "-1", "many", "100000"])
async def test_a_bad_ticks_limit_is_422(dead_store: SqlStore, limit: str) -> None:
    async with client(dead_store) as c:
        reply = await c.get(TICKS, params={"limit": limit})
    assert reply.status_code == 422


async def test_health_is_ok_after_a_recent_tick_and_needs_no_secret(
    store: SqlStore, db: Any
) -> None:
    await record_ticks(store, 0.5)
    async with client(store, ENVIRONMENT="production") as c:
        reply = await c.get("/api/health", headers={"Authorization": ""})
    assert reply.status_code == 200
    body = reply.json()
    assert (body["status"], body["database"], body["ticks_overdue"]) == ("ok", "ok", False)
    assert body["last_tick_at"] is not None


@pytest.mark.parametrize("minutes_ago", [None, 10])
async def test_health_is_degraded_when_ticks_are_overdue(
    store: SqlStore, db: Any, minutes_ago: float | None
) -> None:
    if minutes_ago is not None:
        await record_ticks(store, minutes_ago)
    async with client(store) as c:
        reply = await c.get("/api/health")
    assert reply.status_code == 200
    body = reply.json()
    assert (body["status"], body["database"], body["ticks_overdue"]) == ("degraded", "ok", True)


async def test_health_is_503_when_the_database_is_unreachable_and_reveals_nothing(
    dead_store: SqlStore,
) -> None:
    async with client(dead_store) as c:
        reply = await c.get("/api/health")
    assert reply.status_code == 503
    body = reply.json()
    assert (body["status"], body["database"], body["ticks_overdue"]) == (
        "degraded",
        "unavailable",
        None,
    )
    for secret in ("secretdb", "pw", "127.0.0.1", KEY, "Operational"):
        assert secret not in reply.text


async def test_openapi_describes_every_endpoint_with_its_models_and_errors(
    dead_store: SqlStore,
) -> None:
    app = create_app(Settings(ADMIN_API_KEY=KEY), store=dead_store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        spec = (await c.get("/openapi.json")).json()
        docs = await c.get("/docs")
    assert docs.status_code == 200
    paths = spec["paths"]
    control = {
        f"/api/strategies/{{strategy_id}}/{action}": "post"
        for action in ("start", "pause", "stop", "resume", "execute-now")
    }
    reads = {
        "/api/strategies/{strategy_id}/status": "get",
        "/api/strategies/{strategy_id}/executions": "get",
        "/api/executions/{execution_id}": "get",
        "/api/cron/ticks": "get",
    }
    for path, method in (control | reads).items():
        op = paths[path][method]
        expected = {"200", "401", "422"} | ({"409"} if path in control else set())
        expected |= {"404"} if "{" in path else set()
        assert expected <= set(op["responses"]), path
        assert "$ref" in str(op["responses"]["200"]["content"]), path
        assert op["summary"], path
    health = paths["/api/health"]["get"]
    assert {"200", "503"} <= set(health["responses"])
    assert "HealthResponse" in spec["components"]["schemas"]
    start_body = paths["/api/strategies/{strategy_id}/start"]["post"]["requestBody"]
    assert "StartRequest" in str(start_body)


async def test_openapi_declares_the_bearer_secrets_so_docs_can_send_them(
    dead_store: SqlStore,
) -> None:
    app = create_app(Settings(ADMIN_API_KEY=KEY), store=dead_store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        spec = (await c.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert {k: (v["type"], v["scheme"]) for k, v in schemes.items()} == {
        "CronSecret": ("http", "bearer"),
        "AdminApiKey": ("http", "bearer"),
        "SupabaseUser": ("http", "bearer"),
    }
    # The routes users share with the operator take either (web/users.py): their
    # strategies, runs, limits, kill switches, triggers, bulk changes and the audit log.
    shared = (
        "/api/strategies",
        "/api/executions",
        "/api/node-types",
        "/api/kill-switch",
        "/api/triggers",
        "/api/audit",
    )
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if path == "/api/health":
                assert "security" not in op
            elif path == "/api/cron/strategy-executor":
                assert op["security"] == [{"CronSecret": []}], (method, path)
            elif path.startswith(shared):
                assert op["security"] == [{"AdminApiKey": []}, {"SupabaseUser": []}], path
            else:
                assert op["security"] == [{"AdminApiKey": []}], (method, path)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_api_docs_load_only_the_apps_own_assets(dead_store: SqlStore, page: str) -> None:
    app = create_app(Settings(ADMIN_API_KEY=KEY), store=dead_store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        html = (await c.get(page)).text
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        fetched = {url: await c.get(url) for url in assets}
    assert assets and all(url.startswith("/") for url in assets), assets
    assert "http" not in " ".join(assets)
    assert all(r.status_code == 200 and r.content for r in fetched.values())


class BuggyStore(SqlStore):
    async def strategies(self, *args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("a bug")


async def test_a_bug_still_answers_a_json_500_in_the_one_error_shape(store: SqlStore) -> None:
    app = create_app(Settings(ADMIN_API_KEY=KEY), store=BuggyStore(store.transport))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            reply = await c.get("/api/strategies", headers={"Authorization": f"Bearer {KEY}"})
    assert reply.status_code == 500
    body = reply.json()
    assert (body["success"], body["error"]) == (False, "Internal Server Error")
    assert body["message"] == "unexpected ZeroDivisionError" and "a bug" not in reply.text
