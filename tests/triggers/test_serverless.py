"""The serverless tier: each tick prices every armed trigger once from the CLOB's REST
batch endpoints (mocked with respx in their real shapes) and runs the strategies
whose triggers crossed, through the tick's own claim, run and record."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
import respx

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.data import Actor, RunResult, Workflow
from cascadian.logs import ContextFilter
from cascadian.observers.metrics import WorkerMetrics
from cascadian.ports import FullStore
from cascadian.strategies import StrategyService
from cascadian.tick import TickService
from cascadian.triggers.service import TriggerService
from cascadian.workflow.market import MarketData
from tests.factories import add_strategy, rows
from tests.polymarket_fixtures import CLOB, market_data

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OPERATOR = Actor.operator("api")
UP = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
DOWN = "52114319501245915516055106046884209969926127482827954674443846427813813222426"


class Recording:
    """An executor that succeeds and keeps the workflows it was given."""

    def __init__(self) -> None:
        self.workflows: list[Workflow] = []

    async def execute(self, workflow: Workflow, deadline: float | None = None) -> RunResult:
        self.workflows.append(workflow)
        return RunResult(True, {}, [], 0, 1, [])


def rest_triggers(store: FullStore, markets: MarketData, clock: FakeClock) -> TriggerService:
    """The trigger service as a tick uses it (its strategies' service is not needed)."""
    return TriggerService(store, markets, cast(StrategyService, None), clock)


def trigger(token: str, level: str, direction: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "price",
        "token_id": token,
        "level": level,
        "direction": direction,
        "band": "0.05",
        "price_kind": "midpoint",
        "asset_ids": [token],
    }


class Clob:
    """The CLOB's /midpoints and /prices, answering whatever `mid` says now."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.mid: dict[str, str] = {}
        self.requests = 0
        router.post(f"{CLOB}/midpoints").mock(side_effect=self.midpoints)
        router.post(f"{CLOB}/prices").mock(side_effect=self.prices)

    def midpoints(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        asked = [t["token_id"] for t in json.loads(request.content)]
        return httpx.Response(200, json={t: self.mid[t] for t in asked if t in self.mid})

    def prices(self, request: httpx.Request) -> httpx.Response:
        asked = {t["token_id"] for t in json.loads(request.content)}
        return httpx.Response(
            200, json={t: {"BUY": self.mid[t], "SELL": self.mid[t]} for t in asked if t in self.mid}
        )


async def test_ticks_run_a_strategy_once_per_crossing_of_rest_prices(
    any_store: FullStore, db: Any
) -> None:
    clock = FakeClock(NOW)
    up = add_strategy(db, name="up", next_execution_at=NOW + timedelta(days=1))
    down = add_strategy(db, name="down", next_execution_at=NOW + timedelta(days=1))
    await any_store.set_triggers(up, [trigger(UP, "0.60", "above", "breakout")], NOW, OPERATOR)
    await any_store.set_triggers(down, [trigger(DOWN, "0.30", "below", "slump")], NOW, OPERATOR)
    executor = Recording()
    with respx.mock(assert_all_called=False) as router:
        clob = Clob(router)
        async with httpx.AsyncClient() as http:
            markets = market_data(http, CASCADIAN_PRICE_CACHE_SECONDS=0)
            events = rest_triggers(any_store, markets, clock)
            ticks = TickService(any_store, executor, Settings(), clock, events=events)
            runs_per_tick = []
            for up_mid, down_mid in [
                ("0.50", "0.40"),  # baselines
                ("0.61", "0.40"),  # up crosses 0.60: one run
                ("0.62", "0.29"),  # up stays past it (no run); down crosses 0.30
                ("0.58", "0.33"),  # back inside both bands: nothing
                ("0.54", "0.36"),  # out past both bands: re-armed
                ("0.66", "0.36"),  # up crosses again: a second run
            ]:
                clob.mid = {UP: up_mid, DOWN: down_mid}
                report = await ticks.tick()
                runs_per_tick.append(sorted(e.workflow_name for e in report.executions))
                clock.advance(60)
    assert runs_per_tick == [[], ["up"], ["down"], [], [], ["up"]]
    # One /midpoints request a tick for both strategies' tokens.
    assert clob.requests == 6
    # Each run's input carries its event; each is marked an event run.
    seen = [w.variables["trigger_event"] for w in executor.workflows]
    assert [
        (e["trigger"], e["crossing"], e["price_before"], e["price_after"], e["source"])
        for e in seen
    ] == [
        ("breakout", 1, "0.50", "0.61", "rest"),  # the CLOB's own text
        ("slump", 1, "0.40", "0.29", "rest"),
        ("breakout", 2, "0.54", "0.66", "rest"),
    ]
    kinds = rows(db, "select trigger_kind, status from workflow_executions")
    assert {(r["trigger_kind"], r["status"]) for r in kinds} == {("event", "completed")}
    ran = rows(
        db,
        "select x.status from cascadian_trigger_events e"
        " join workflow_executions x on x.id = e.execution_id",
    )
    assert [r["status"] for r in ran] == ["completed"] * 3


async def test_a_tick_whose_prices_cannot_be_read_still_runs_due_strategies(
    any_store: FullStore, db: Any
) -> None:
    clock = FakeClock(NOW)
    sid = add_strategy(db, name="due", next_execution_at=NOW - timedelta(minutes=1))
    await any_store.set_triggers(sid, [trigger(UP, "0.60", "above", "breakout")], NOW, OPERATOR)
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{CLOB}/midpoints").mock(return_value=httpx.Response(503))
        router.post(f"{CLOB}/prices").mock(return_value=httpx.Response(503))
        async with httpx.AsyncClient() as http:
            markets = market_data(http, CASCADIAN_PRICE_CACHE_SECONDS=0)
            events = rest_triggers(any_store, markets, clock)
            report = await TickService(
                any_store, Recording(), Settings(), clock, events=events
            ).tick()
    assert [e.workflow_name for e in report.executions] == ["due"]
    assert report.success


async def test_a_rest_price_a_hair_below_the_level_is_not_a_crossing(
    any_store: FullStore, db: Any
) -> None:
    # "0.59999999999999999" is below 0.60, but its float is 0.6: read through a
    # float, the tick would run the strategy for a crossing that never happened.
    clock = FakeClock(NOW)
    sid = add_strategy(db, name="up", next_execution_at=NOW + timedelta(days=1))
    await any_store.set_triggers(sid, [trigger(UP, "0.60", "above", "breakout")], NOW, OPERATOR)
    executor = Recording()
    with respx.mock(assert_all_called=False) as router:
        clob = Clob(router)
        async with httpx.AsyncClient() as http:
            markets = market_data(http, CASCADIAN_PRICE_CACHE_SECONDS=0)
            ticks = TickService(
                any_store,
                executor,
                Settings(),
                clock,
                events=rest_triggers(any_store, markets, clock),
            )
            for mid in ["0.45", "0.59999999999999999", "0.60"]:
                clob.mid = {UP: mid}
                await ticks.tick()
                if mid != "0.60":
                    [t] = await any_store.triggers(sid) or []
                    assert (t["last_price"], t["state"], t["crossings"]) == (mid, "armed", 0)
                clock.advance(60)
    [event] = [w.variables["trigger_event"] for w in executor.workflows]
    assert (event["price_before"], event["price_after"]) == ("0.59999999999999999", "0.60")


async def test_an_event_run_is_marked_in_its_report_its_log_lines_and_the_metrics(
    any_store: FullStore, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(NOW)
    sid = add_strategy(db, name="up", next_execution_at=NOW + timedelta(days=1))
    await any_store.set_triggers(sid, [trigger(UP, "0.60", "above", "breakout")], NOW, OPERATOR)
    metrics = WorkerMetrics()
    caplog.handler.addFilter(ContextFilter())
    caplog.set_level(logging.INFO, logger="cascadian.tick")
    with respx.mock(assert_all_called=False) as router:
        clob = Clob(router)
        async with httpx.AsyncClient() as http:
            markets = market_data(http, CASCADIAN_PRICE_CACHE_SECONDS=0)
            events = rest_triggers(any_store, markets, clock)
            ticks = TickService(
                any_store, Recording(), Settings(), clock, observers=[metrics], events=events
            )
            for mid in ["0.50", "0.61"]:
                clob.mid = {UP: mid}
                report = await ticks.tick()
                clock.advance(60)
    [event] = rows(db, "select id from cascadian_trigger_events")
    [run] = report.executions
    assert run.event_id == event["id"]
    answer = report.response().model_dump(mode="json")  # the cron route's JSON
    assert answer["data"]["executions"][0]["event_id"] == str(event["id"])
    [line] = [r for r in caplog.records if r.getMessage().startswith("event run:")]
    assert getattr(line, "event_id", None) == str(event["id"])
    assert "breakout" in line.getMessage() and "0.50 -> 0.61" in line.getMessage()
    assert metrics.registry.get_sample_value("cascadian_event_runs_total") == 1
