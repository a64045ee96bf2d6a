"""GET /api/metrics: Prometheus text, the database's gauges and this process's counters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from psycopg.types.json import Jsonb

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.data import OrderIntent, OrderOutcome, TradingHalt
from cascadian.observers.metrics import WorkerMetrics
from cascadian.store.sql_store import SqlStore
from cascadian.web.app import create_app
from tests.api_client import CRON, KEY, bearer
from tests.executors import ScriptedExecutor, failed, returns
from tests.factories import add_strategy
from tests.store.test_trading_book_sql import place

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
METRICS = "/api/metrics"


@asynccontextmanager
async def app_client(
    store: SqlStore, clock: FakeClock, **env: Any
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(**({"ADMIN_API_KEY": KEY, "CRON_SECRET": CRON} | env))
    executor = ScriptedExecutor(broken=returns(failed("boom")))
    app = create_app(settings, store=store, executor=executor, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=bearer()
        ) as c:
            yield c


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_need_the_admin_key(store: SqlStore, db: Any) -> None:
    async with app_client(store, FakeClock(NOW)) as c:
        assert (await c.get(METRICS, headers={"Authorization": ""})).status_code == 401
        assert (await c.get(METRICS, headers=bearer(CRON))).status_code == 401


async def test_metrics_after_known_runs_show_the_gauges_and_the_counters(
    store: SqlStore, db: Any
) -> None:
    clock = FakeClock(NOW)
    add_strategy(db, next_execution_at=NOW - timedelta(seconds=30), name="fine", interval=1)
    add_strategy(db, next_execution_at=NOW - timedelta(seconds=90), name="broken", interval=1)
    add_strategy(
        db,
        next_execution_at=NOW - timedelta(minutes=1),
        lease_expires_at=NOW + timedelta(seconds=60),
        name="held",
    )
    add_strategy(
        db,
        next_execution_at=NOW,
        status="error",
        auto_run=False,
        last_executed_at=NOW - timedelta(minutes=10),
        name="auto-paused",
    )
    async with app_client(store, clock) as c:
        tick = await c.post("/api/cron/strategy-executor", headers=bearer(CRON))
        assert tick.status_code == 200
        add_strategy(db, next_execution_at=NOW - timedelta(seconds=45), name="overdue")
        reply = await c.get(METRICS)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    m = samples(reply.text)
    # From the database
    assert m[("cascadian_database_up", ())] == 1
    assert m[("cascadian_due_strategies", ())] == 1
    assert m[("cascadian_oldest_due_lag_seconds", ())] == 45
    assert m[("cascadian_leases_in_flight", ())] == 1
    assert m[("cascadian_strategies", (("status", "running"),))] == 4
    assert m[("cascadian_strategies", (("status", "error"),))] == 1
    assert m[("cascadian_runs_last_5m", (("status", "completed"),))] == 1
    assert m[("cascadian_runs_last_5m", (("status", "failed"),))] == 1
    assert m[("cascadian_auto_pauses_last_hour", ())] == 1
    assert m[("cascadian_last_tick_age_seconds", ())] == 0
    assert ("cascadian_table_rows", (("table", "workflow_executions"),)) in m
    # From this process
    assert m[("cascadian_ticks_total", (("outcome", "success"),))] == 1
    assert m[("cascadian_runs_total", (("status", "completed"),))] == 1
    assert m[("cascadian_runs_total", (("status", "failed"),))] == 1
    assert m[("cascadian_claim_size_count", ())] == 1
    assert m[("cascadian_claim_size_sum", ())] == 2
    assert m[("cascadian_schedule_lag_seconds_count", ())] == 2
    assert m[("cascadian_schedule_lag_seconds_sum", ())] == 120
    assert m[("cascadian_schedule_lag_seconds_bucket", (("le", "30.0"),))] == 1
    assert m[("cascadian_run_duration_seconds_count", (("status", "failed"),))] == 1
    assert m[("cascadian_tick_duration_seconds_count", ())] == 1


async def test_each_app_counts_only_its_own_ticks(store: SqlStore, db: Any) -> None:
    for _ in range(2):
        async with app_client(store, FakeClock(NOW)) as c:
            await c.post("/api/cron/strategy-executor", headers=bearer(CRON))
            m = samples((await c.get(METRICS)).text)
        assert m[("cascadian_ticks_total", (("outcome", "success"),))] == 1


async def test_with_the_database_down_metrics_still_answer_with_database_up_0() -> None:
    dead = SqlStore.postgres("postgresql://postgres:pw@127.0.0.1:9/none", timeout=0.5)
    await dead.open()
    try:
        async with app_client(dead, FakeClock(NOW)) as c:
            reply = await c.get(METRICS)
    finally:
        await dead.close()
    assert reply.status_code == 200
    m = samples(reply.text)
    assert m[("cascadian_database_up", ())] == 0
    assert ("cascadian_due_strategies", ()) not in m
    assert ("cascadian_ticks_created", (("outcome", "success"),)) not in m  # none yet


def test_store_errors_are_counted_by_operation() -> None:
    metrics = WorkerMetrics()
    metrics.store_error("claim")
    metrics.store_error("claim")
    text = generate_latest(metrics.registry).decode()
    assert samples(text)[("cascadian_store_errors_total", (("operation", "claim"),))] == 2


async def test_strategies_halted_by_a_limit_and_kill_switches_are_gauges(
    store: SqlStore, db: Any
) -> None:
    halted = add_strategy(db, next_execution_at=None)
    switched = add_strategy(db, next_execution_at=None)
    db.execute(
        "select cascadian_set_trading_limits_v2(%s, %s, %s)",
        (halted, Jsonb({"daily_loss_usd": "5"}), NOW),
    )
    place(db, halted, "buy", [("0.5", "100")], node="buy")
    place(db, halted, "sell", [("0.4", "100")], node="sell")  # -10: halts
    for scope in (None, switched):
        db.execute(
            "select cascadian_set_kill_switch_v1(%s, true, 'ops', 'incident', %s)", (scope, NOW)
        )
    async with app_client(store, FakeClock(NOW)) as c:
        text = (await c.get(METRICS)).text
    m = samples(text)
    assert m[("cascadian_trading_halted_strategies", (("limit", "daily_loss_usd"),))] == 1
    assert "refused until an operator lifts the halt" in text  # its help: not "until resumed"
    assert m[("cascadian_kill_switches", (("scope", "global"),))] == 1
    assert m[("cascadian_kill_switches", (("scope", "strategy"),))] == 1


def test_orders_are_counted_by_result_and_refusal_and_halts_by_limit() -> None:
    metrics = WorkerMetrics()
    order = OrderIntent(uuid.uuid4(), None, "n", "m", None, "Yes", "buy", Decimal(1))
    metrics.order_placed(order, OrderOutcome("filled"))
    metrics.order_placed(order, OrderOutcome("refused", refusal="max_order_usd"))
    metrics.order_placed(order, OrderOutcome("refused", refusal="max_order_usd"))
    metrics.trading_halted(order, TradingHalt("daily_loss_usd", "…", "s", True))
    m = samples(generate_latest(metrics.registry).decode())
    assert m[("cascadian_orders_total", (("refusal", ""), ("result", "filled")))] == 1
    assert m[("cascadian_orders_total", (("refusal", "max_order_usd"), ("result", "refused")))] == 2
    assert m[("cascadian_trading_halts_total", (("limit", "daily_loss_usd"),))] == 1
