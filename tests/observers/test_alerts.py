"""Operators' alerts: the webhook on an auto-pause, on an order that halts its
strategy, and on N failing ticks in a row, with retries, the SSRF guard, and never
holding up a tick (the webhook is mocked with respx)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from psycopg.types.json import Jsonb

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.data import ClaimedRun, TickEntry
from cascadian.errors import StoreReplyMalformed, StoreUnavailable
from cascadian.observers.alerts import AUTO_PAUSED, TICKS_FAILING, TRADING_HALTED, Alerts
from cascadian.observers.metrics import WorkerMetrics
from cascadian.outbound.retry import RetryPolicy
from cascadian.reports import TickReport
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.trading.executor import PaperExecutor
from cascadian.trading.marking import Marking
from cascadian.workflow.market.positions import PositionMarkets
from tests.executors import ScriptedExecutor, failed, returns
from tests.factories import add_strategy
from tests.polymarket_fixtures import market_data
from tests.polymarket_fixtures import settings as market_settings
from tests.trading.test_marking import buy, routes
from tests.trading.test_paper_executor import MARKET, intent

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HOOK_HOST = "hooks.example.com"
HOOK_IP = "93.184.216.34"
HOOK = f"https://{HOOK_HOST}/services/T000/B000/secret-token"
PINNED = f"https://{HOOK_IP}/services/T000/B000/secret-token"


async def resolver(host: str, port: int) -> Sequence[str]:
    return {HOOK_HOST: [HOOK_IP]}[host]


async def no_wait(_: float) -> None:
    return None


def alerts_for(store: Any, http: httpx.AsyncClient, metrics: WorkerMetrics, **env: Any) -> Alerts:
    settings = Settings(**({"CASCADIAN_ALERT_WEBHOOK_URL": HOOK} | env))
    policy = RetryPolicy(sleep=no_wait, random=lambda: 0.0)
    return Alerts(
        settings,
        http,
        store,
        clock=FakeClock(NOW),
        metrics=metrics,
        resolver=resolver,
        policy=policy,
    )


def ticks_with(
    store: Any,
    alerts: Alerts,
    executor: ScriptedExecutor,
    metrics: WorkerMetrics,
    at: datetime = NOW,
) -> TickService:
    settings = Settings(CASCADIAN_AUTO_PAUSE_THRESHOLD=1)
    return TickService(store, executor, settings, FakeClock(at), observers=[metrics, alerts])


def sent(metrics: WorkerMetrics, event: str, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "cascadian_alerts_total", {"event": event, "outcome": outcome}
    )
    return value or 0.0


@respx.mock
async def test_an_auto_pause_posts_the_webhook_after_the_tick_without_holding_it_up(
    store: SqlStore, db: Any
) -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def slow_webhook(request: httpx.Request) -> httpx.Response:
        arrived.set()
        await release.wait()
        return httpx.Response(200)

    route = respx.post(PINNED).mock(side_effect=slow_webhook)
    sid = add_strategy(db, next_execution_at=NOW, name="doomed")
    metrics = WorkerMetrics()
    async with httpx.AsyncClient() as http:
        alerts = alerts_for(store, http, metrics)
        executor = ScriptedExecutor(doomed=returns(failed("boom")))
        report = await ticks_with(store, alerts, executor, metrics).tick()
        # The tick is over and recorded while the webhook has not answered yet.
        assert report.executions[0].auto_paused and report.success
        await asyncio.wait_for(arrived.wait(), timeout=5)
        assert not route.called
        release.set()
        await alerts.drain()
    request = route.calls.last.request
    assert request.headers["host"] == HOOK_HOST  # sent to the checked address
    body = json.loads(request.content)
    assert body["event"] == AUTO_PAUSED
    assert body["details"]["strategy_id"] == str(sid)
    assert body["details"]["tick_id"] == str(report.id)
    assert "doomed" in body["text"] and "boom" in body["text"]
    assert sent(metrics, AUTO_PAUSED, "sent") == 1


@respx.mock
async def test_a_webhook_that_fails_for_a_while_is_retried(store: SqlStore, db: Any) -> None:
    route = respx.post(PINNED).mock(
        side_effect=[httpx.Response(503), httpx.ConnectError("refused"), httpx.Response(200)]
    )
    add_strategy(db, next_execution_at=NOW, name="doomed")
    metrics = WorkerMetrics()
    async with httpx.AsyncClient() as http:
        alerts = alerts_for(store, http, metrics)
        executor = ScriptedExecutor(doomed=returns(failed()))
        await ticks_with(store, alerts, executor, metrics).tick()
        await alerts.drain()
    assert route.call_count == 3
    assert sent(metrics, AUTO_PAUSED, "sent") == 1


@respx.mock
async def test_a_webhook_that_never_answers_well_is_given_up_and_logged_without_its_url(
    store: SqlStore, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    route = respx.post(PINNED).mock(return_value=httpx.Response(500))
    add_strategy(db, next_execution_at=NOW, name="doomed")
    metrics = WorkerMetrics()
    async with httpx.AsyncClient() as http:
        alerts = alerts_for(store, http, metrics)
        executor = ScriptedExecutor(doomed=returns(failed()))
        report = await ticks_with(store, alerts, executor, metrics).tick()
        await alerts.drain()
    assert report.success
    assert route.call_count == 4  # RetryPolicy's attempts
    assert sent(metrics, AUTO_PAUSED, "failed") == 1
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("cascadian")]
    assert any("not sent" in m for m in ours)
    assert not any("secret-token" in m for m in ours)  # httpx's own line is off below WARNING


class ClaimFails(SqlStore):
    """The real store (the ledger works) whose claims come back garbled."""

    async def claim_due(self, *args: Any, **kwargs: Any) -> list[ClaimedRun]:
        raise StoreReplyMalformed("the answer to a claim is malformed: claim garbled")


@respx.mock
async def test_ticks_failing_n_times_in_a_row_alert_once_per_streak(
    store: SqlStore, db: Any
) -> None:
    route = respx.post(PINNED).mock(return_value=httpx.Response(204))
    failing = ClaimFails(store.transport)
    metrics = WorkerMetrics()
    async with httpx.AsyncClient() as http:
        # A new service each minute, as each serverless invocation may be a new
        # process: the streak is read from the ledger.
        for minute in range(5):
            alerts = alerts_for(failing, http, metrics, CASCADIAN_ALERT_FAILED_TICKS=3)
            at = NOW + timedelta(minutes=minute)
            await ticks_with(failing, alerts, ScriptedExecutor(), metrics, at).tick()
            await alerts.drain()
    assert route.call_count == 1
    body = json.loads(route.calls.last.request.content)
    assert body["event"] == TICKS_FAILING and body["details"]["failed_ticks"] == 3
    assert "claim garbled" in body["text"]


class Down(SqlStore):
    """A database that is down for everything the tick and the alerts ask."""

    async def claim_due(self, *args: Any, **kwargs: Any) -> list[ClaimedRun]:
        raise StoreUnavailable("database unavailable")

    async def record_tick(self, report: TickReport) -> None:
        raise StoreUnavailable("database unavailable")

    async def ticks(self, limit: int) -> list[TickEntry]:
        raise StoreUnavailable("database unavailable")


@respx.mock
async def test_with_the_ledger_unreadable_the_process_counts_the_streak_itself(
    store: SqlStore, db: Any
) -> None:
    route = respx.post(PINNED).mock(return_value=httpx.Response(200))
    down = Down(store.transport)
    metrics = WorkerMetrics()
    async with httpx.AsyncClient() as http:
        alerts = alerts_for(down, http, metrics, CASCADIAN_ALERT_FAILED_TICKS=2)
        service = ticks_with(down, alerts, ScriptedExecutor(), metrics)
        for _ in range(4):
            await service.tick()
            await alerts.drain()
    assert route.call_count == 1
    assert sent(metrics, TICKS_FAILING, "sent") == 1


@respx.mock
async def test_a_webhook_on_a_private_address_is_refused_by_the_ssrf_guard(
    store: SqlStore, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    route = respx.post(url__regex=r".*").mock(return_value=httpx.Response(200))
    add_strategy(db, next_execution_at=NOW, name="doomed")
    metrics = WorkerMetrics()
    async with httpx.AsyncClient() as http:
        alerts = alerts_for(
            store, http, metrics, CASCADIAN_ALERT_WEBHOOK_URL="http://169.254.169.254/hook"
        )
        executor = ScriptedExecutor(doomed=returns(failed()))
        await ticks_with(store, alerts, executor, metrics).tick()
        await alerts.drain()
    assert not route.called
    assert sent(metrics, AUTO_PAUSED, "failed") == 1
    assert "cloud metadata" in caplog.text


async def test_without_a_webhook_nothing_is_sent(store: SqlStore, db: Any) -> None:
    add_strategy(db, next_execution_at=NOW, name="doomed")
    metrics = WorkerMetrics()
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: pytest.fail("sent"))
    ) as http:
        alerts = Alerts(Settings(), http, store, metrics=metrics)
        executor = ScriptedExecutor(doomed=returns(failed()))
        await ticks_with(store, alerts, executor, metrics).tick()
        await alerts.drain()
    assert not alerts.enabled and sent(metrics, AUTO_PAUSED, "sent") == 0


def test_the_webhook_must_be_an_http_url() -> None:
    with pytest.raises(ValueError, match="CASCADIAN_ALERT_WEBHOOK_URL must be an http"):
        Settings(CASCADIAN_ALERT_WEBHOOK_URL="ftp://hooks.example.com/x")
    assert Settings(CASCADIAN_ALERT_WEBHOOK_URL="  ").alert_webhook_url is None


@respx.mock
async def test_an_order_that_halts_its_strategy_posts_the_webhook_once(
    store: SqlStore, db: Any
) -> None:
    route = respx.post(PINNED).mock(return_value=httpx.Response(200))
    sid = add_strategy(db, next_execution_at=NOW, name="Loser")
    db.execute(
        "select cascadian_set_trading_limits_v2(%s, %s, %s)",
        (sid, Jsonb({"daily_loss_usd": "1"}), NOW),
    )
    metrics = WorkerMetrics()
    async with httpx.AsyncClient() as http:
        alerts = alerts_for(store, http, metrics)
        executor = PaperExecutor(store, [alerts])
        await executor.place(intent(sid, amount="100"), MARKET, NOW)
        for _ in range(2):  # the second is a replay: no second alert
            await executor.place(intent(sid, "sell", "48", node_id="sell"), MARKET, NOW)
        await alerts.drain()
    assert route.call_count == 1
    body = json.loads(route.calls.last.request.content)
    assert body["event"] == TRADING_HALTED
    assert body["details"]["strategy_id"] == str(sid)
    assert body["details"]["reason"] == "daily_loss_usd"
    assert "Loser" in body["text"] and "auto-paused" in body["text"]
    assert sent(metrics, TRADING_HALTED, "sent") == 1


@respx.mock
async def test_marks_that_halt_a_strategy_post_the_webhook_once(store: SqlStore, db: Any) -> None:
    route = respx.post(PINNED).mock(return_value=httpx.Response(200))
    sid = add_strategy(db, next_execution_at=None, name="Marked down")
    buy(db, sid, "253591", "Yes", "0.40", "100")  # best bid 0.35: -$5 unrealised
    db.execute(
        "select cascadian_set_trading_limits_v2(%s, %s, %s)",
        (sid, Jsonb({"daily_loss_usd": "5"}), NOW),
    )
    routes()
    metrics = WorkerMetrics()
    async with httpx.AsyncClient() as http:
        alerts = alerts_for(store, http, metrics)
        step = Marking(
            store,
            PositionMarkets.of(market_data(http)),
            market_settings(),
            FakeClock(NOW),
            observers=[alerts],
        )
        for _ in range(2):  # the second marks a halted strategy: no second alert
            await step.keep(deadline=1e12)
        await alerts.drain()
    assert route.call_count == 1
    body = json.loads(route.calls.last.request.content)
    assert body["event"] == TRADING_HALTED
    assert body["details"]["strategy_id"] == str(sid)
    assert body["details"]["execution_id"] is None
    assert body["details"]["reason"] == "daily_loss_usd"
    assert "Marked down" in body["text"] and "auto-paused" in body["text"]
    assert sent(metrics, TRADING_HALTED, "sent") == 1
