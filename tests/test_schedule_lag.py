"""Schedule lag: how late each run started against its slot, per run, per tick, per
strategy, and the health check's view of the oldest due strategy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.reports import TickReport
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.web.app import create_app
from tests.api_client import KEY, bearer
from tests.executors import ScriptedExecutor
from tests.factories import OPERATOR, add_strategy, rows

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@asynccontextmanager
async def app_client(
    store: SqlStore, clock: FakeClock, **env: Any
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(**({"ADMIN_API_KEY": KEY} | env))
    app = create_app(settings, store=store, executor=ScriptedExecutor(), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=bearer()
        ) as c:
            yield c


async def test_each_run_reports_its_lag_and_the_tick_its_largest(store: SqlStore, db: Any) -> None:
    add_strategy(db, next_execution_at=NOW - timedelta(seconds=30), name="a bit late")
    add_strategy(db, next_execution_at=NOW - timedelta(seconds=90), name="later")
    report = await TickService(store, ScriptedExecutor(), Settings(), FakeClock(NOW)).tick()
    lags = {e.workflow_name: e.lag_seconds for e in report.executions}
    assert lags == {"a bit late": 30.0, "later": 90.0}
    assert report.summary().max_lag_seconds == 90.0
    body = report.response().model_dump(mode="json")
    assert body["data"]["max_lag_seconds"] == 90.0
    assert {e["lag_seconds"] for e in body["data"]["executions"]} == {30.0, 90.0}
    [ledger] = rows(db, "select summary from cron_ticks")
    assert ledger["summary"]["max_lag_seconds"] == 90.0


async def test_the_lag_is_the_runs_start_against_its_slot_as_stored(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW - timedelta(seconds=42))
    await TickService(store, ScriptedExecutor(), Settings(), FakeClock(NOW)).tick()
    [run] = rows(
        db,
        "select extract(epoch from execution_started_at - scheduled_for)::float as lag "
        "from workflow_executions where workflow_id = %s",
        sid,
    )
    assert run["lag"] == 42.0


async def test_a_tick_that_runs_nothing_has_no_max_lag(store: SqlStore, db: Any) -> None:
    report = await TickService(store, ScriptedExecutor(), Settings(), FakeClock(NOW)).tick()
    assert report.summary().max_lag_seconds is None


async def test_a_run_now_has_no_slot_and_so_no_lag(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW + timedelta(hours=1))
    run = await TickService(store, ScriptedExecutor(), Settings(), FakeClock(NOW)).run_now(
        sid, OPERATOR
    )
    assert run.lag_seconds is None


async def test_the_status_endpoint_shows_the_strategys_recent_lag(store: SqlStore, db: Any) -> None:
    clock = FakeClock(NOW)
    sid = add_strategy(db, next_execution_at=NOW - timedelta(seconds=10), interval=1)
    ticks = TickService(store, ScriptedExecutor(), Settings(), clock)
    await ticks.tick()  # the slot NOW-10s, run at NOW: 10 s late
    clock.advance(80)  # the next slot is NOW+50s: run at NOW+80s, 30 s late
    await ticks.tick()
    await ticks.run_now(sid, OPERATOR)  # manual: not counted
    async with app_client(store, clock) as c:
        reply = await c.get(f"/api/strategies/{sid}/status")
    assert reply.status_code == 200
    lag = reply.json()["data"]["schedule_lag"]
    assert lag == {
        "runs": 2,
        "last_lag_seconds": 30.0,
        "average_lag_seconds": 20.0,
        "max_lag_seconds": 30.0,
        "last_scheduled_for": (NOW + timedelta(seconds=50)).isoformat().replace("+00:00", "Z"),
    }


async def test_a_strategy_never_run_has_an_empty_lag(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW + timedelta(hours=1))
    async with app_client(store, FakeClock(NOW)) as c:
        lag = (await c.get(f"/api/strategies/{sid}/status")).json()["data"]["schedule_lag"]
    assert lag["runs"] == 0 and lag["last_lag_seconds"] is None


async def test_health_is_degraded_when_the_oldest_due_strategy_is_later_than_the_limit(
    store: SqlStore, db: Any
) -> None:
    await store.record_tick(TickReport("cron", NOW, finished_at=NOW))  # ticks are arriving
    add_strategy(db, next_execution_at=NOW - timedelta(seconds=60))
    async with app_client(store, FakeClock(NOW), CASCADIAN_MAX_SCHEDULE_LAG_SECONDS=300) as c:
        ok = (await c.get("/api/health")).json()
    assert (ok["status"], ok["schedule_late"], ok["oldest_due_lag_seconds"]) == ("ok", False, 60)
    add_strategy(db, next_execution_at=NOW - timedelta(seconds=301))
    async with app_client(store, FakeClock(NOW), CASCADIAN_MAX_SCHEDULE_LAG_SECONDS=300) as c:
        reply = await c.get("/api/health")
    late = reply.json()
    assert reply.status_code == 200
    assert (late["status"], late["schedule_late"], late["oldest_due_lag_seconds"]) == (
        "degraded",
        True,
        301,
    )


async def test_a_strategy_a_live_lease_holds_is_not_counted_as_late(
    store: SqlStore, db: Any
) -> None:
    await store.record_tick(TickReport("cron", NOW, finished_at=NOW))
    add_strategy(
        db,
        next_execution_at=NOW - timedelta(hours=1),
        lease_expires_at=NOW + timedelta(seconds=30),
    )
    add_strategy(db, next_execution_at=NOW - timedelta(hours=2), status="paused", auto_run=False)
    async with app_client(store, FakeClock(NOW)) as c:
        health = (await c.get("/api/health")).json()
    assert (health["status"], health["oldest_due_lag_seconds"]) == ("ok", 0)


class UnstampedStore:
    """The real store, but its claims come back without claimed_at (a store that does
    not stamp them)."""

    def __init__(self, inner: SqlStore) -> None:
        self.inner = inner

    async def claim_due(self, *args: Any) -> Any:
        return [replace(c, claimed_at=None) for c in await self.inner.claim_due(*args)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_the_tick_stamps_claims_its_store_did_not(store: SqlStore, db: Any) -> None:
    add_strategy(db, next_execution_at=NOW - timedelta(seconds=30))
    tick = TickService(UnstampedStore(store), ScriptedExecutor(), Settings(), FakeClock(NOW))
    report = await tick.tick()
    [run] = report.executions
    assert run.lag_seconds == 30.0
