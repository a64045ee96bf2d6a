"""The tick's bookkeeping step against the real SQL, on both schemas and through both
transports, with Gamma and the CLOB mocked in their real shapes: resolved markets
settle once, the others are marked at their best bids, with one request to each
source however many strategies hold positions; a failure is retried next time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest
import respx

from cascadian.clock import FakeClock
from cascadian.data import TradingHalt
from cascadian.ports import FullStore
from cascadian.trading.marking import Marking
from cascadian.workflow.market.positions import PositionMarkets
from tests.factories import add_strategy, rows
from tests.polymarket_fixtures import CLOB, KEYSET, market_data, settings
from tests.store.test_trading_book_sql import limits, place
from tests.workflow.market.test_positions import BOOKS, CLOSED, OPEN

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
D = Decimal


def buy(
    db: psycopg.Connection[Any], sid: uuid.UUID, market: str, outcome: str, price: str, shares: str
) -> None:
    answer = place(
        db,
        sid,
        "buy",
        [(price, shares)],
        market=market,
        outcome=outcome,
        node=f"buy-{market}-{outcome}",
    )
    assert answer["result"] == "filled"


def routes() -> dict[str, respx.Route]:
    return {
        "closed": respx.get(KEYSET, params={"closed": "true"}).respond(200, json=CLOSED),
        "open": respx.get(KEYSET, params={"closed": "false"}).respond(200, json=OPEN),
        "books": respx.post(f"{CLOB}/books").respond(200, json=BOOKS),
    }


def marking(store: FullStore, http: httpx.AsyncClient, clock: FakeClock) -> Marking:
    return Marking(store, PositionMarkets.of(market_data(http)), settings(), clock)


def cash(db: psycopg.Connection[Any], sid: uuid.UUID) -> Decimal:
    [row] = rows(
        db, "select available_cash from cascadian_paper_portfolios where workflow_id = %s", sid
    )
    return D(row["available_cash"])


@pytest.mark.both_schemas
@respx.mock
async def test_one_step_settles_resolved_markets_and_marks_the_rest_in_three_requests(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    ids = [add_strategy(db, next_execution_at=None) for _ in range(10)]
    for sid in ids:
        buy(db, sid, "600001", "Yes", "0.60", "10")  # resolved Yes: pays 10, cost 6
        buy(db, sid, "600002", "No", "0.30", "10")  # 50-50: pays 5, cost 3
        buy(db, sid, "600003", "Yes", "0.90", "10")  # proposed: waits
        buy(db, sid, "253591", "Yes", "0.40", "100")  # open: best bid 0.35
        buy(db, sid, "253591", "No", "0.60", "10")  # open: best bid 0.64
    sent = routes()
    clock = FakeClock(NOW)
    async with httpx.AsyncClient() as http:
        kept = await marking(any_store, http, clock).keep(deadline=1e12)

    assert kept.error is None
    assert (kept.markets, kept.settled, kept.marked, kept.points) == (4, 20, 2, 10)
    assert [r.call_count for r in sent.values()] == [1, 1, 1]
    for sid in ids:
        # 10000 - 6 - 3 - 9 - 40 - 6 + 10 + 5
        assert cash(db, sid) == D(9951)
        curve = await any_store.equity_curve(sid, None, 10)
        assert curve is not None
        marks = {(p.market_id, p.outcome): p.mark_price for p in curve.positions}
        assert marks == {
            ("253591", "Yes"): D("0.35"),
            ("253591", "No"): D("0.64"),
            ("600003", "Yes"): None,
        }
        # 35 + 6.4 at the bids, 9 at cost: unrealised -5 + 0.4
        assert (curve.unrealized_pnl, curve.realized_pnl) == (D("-4.6"), D(6))
    settled = rows(
        db, "select count(*) as n from cascadian_trading_orders where result = 'settled'"
    )
    assert settled == [{"n": 20}]

    clock.advance(60)
    async with httpx.AsyncClient() as http:
        again = await marking(any_store, http, clock).keep(deadline=1e12)

    assert (again.markets, again.settled, again.marked) == (2, 0, 2)
    assert cash(db, ids[0]) == D(9951)


@pytest.mark.both_schemas
@respx.mock
async def test_a_gamma_failure_changes_nothing_and_the_next_step_settles(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    buy(db, sid, "600001", "Yes", "0.60", "10")
    respx.get(KEYSET).respond(503, text="upstream connect error")
    async with httpx.AsyncClient() as http:
        failed = await marking(any_store, http, FakeClock(NOW)).keep(deadline=1e12)
    assert failed.error is not None and "Polymarket API" in failed.error
    assert cash(db, sid) == D(9994)

    respx.routes.clear()
    routes()
    async with httpx.AsyncClient() as http:
        kept = await marking(any_store, http, FakeClock(NOW)).keep(deadline=1e12)
    assert (kept.error, kept.settled) == (None, 1)
    assert cash(db, sid) == D(10004)


@pytest.mark.both_schemas
@respx.mock
async def test_a_clob_refusal_still_settles_and_marks_nothing(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    buy(db, sid, "600001", "Yes", "0.60", "10")
    buy(db, sid, "253591", "Yes", "0.40", "10")
    routes()
    respx.post(f"{CLOB}/books").respond(400, json={"error": "invalid token id"})
    async with httpx.AsyncClient() as http:
        kept = await marking(any_store, http, FakeClock(NOW)).keep(deadline=1e12)
    assert (kept.error, kept.settled, kept.marked) == (None, 1, 0)
    assert rows(db, "select 1 from cascadian_marks") == []


async def test_the_step_is_due_once_per_period_and_never_when_switched_off() -> None:
    clock = FakeClock(NOW)
    clock.advance(1000)
    step = Marking(None, None, settings(CASCADIAN_MARK_EVERY_SECONDS=60), clock)  # type: ignore[arg-type]
    assert step.due() and not step.due()
    clock.advance(59)
    assert not step.due()
    clock.advance(1)
    assert step.due()
    off = Marking(None, None, settings(CASCADIAN_MARK_EVERY_SECONDS=0), clock)  # type: ignore[arg-type]
    assert not off.due()


@pytest.mark.both_schemas
@respx.mock
async def test_a_resolved_event_settles_its_market_at_once_and_a_pending_one_waits(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    buy(db, sid, "600001", "Yes", "0.60", "10")
    buy(db, sid, "600003", "Yes", "0.90", "10")
    sent = routes()
    async with httpx.AsyncClient() as http:
        step = marking(any_store, http, FakeClock(NOW))
        assert await step.settle(["600001"], deadline=1e12) == 1
        assert await step.settle(["600003"], deadline=1e12) == 0  # proposed: not final
        assert await step.settle(["600001"], deadline=1e12) == 0  # once
    assert sent["books"].call_count == 0
    assert [m.market_id for m in await any_store.open_markets()] == ["600003"]


class HaltsSeen:
    def __init__(self) -> None:
        self.seen: list[tuple[uuid.UUID, TradingHalt]] = []

    def strategy_halted(self, workflow_id: uuid.UUID, halt: TradingHalt) -> None:
        self.seen.append((workflow_id, halt))


@pytest.mark.both_schemas
@respx.mock
async def test_a_strategy_whose_marks_reach_its_daily_loss_limit_is_halted_and_reported(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    breached = add_strategy(db, next_execution_at=None, name="Breached")
    within = add_strategy(db, next_execution_at=None, name="Within")
    for sid in (breached, within):
        buy(db, sid, "253591", "Yes", "0.40", "100")  # best bid 0.35: -$5 unrealised
    limits(db, breached, daily_loss_usd=5)
    limits(db, within, daily_loss_usd=6)
    routes()
    seen = HaltsSeen()
    async with httpx.AsyncClient() as http:
        step = Marking(
            any_store,
            PositionMarkets.of(market_data(http)),
            settings(),
            FakeClock(NOW),
            observers=[seen],
        )
        kept = await step.keep(deadline=1e12)

    assert kept.error is None
    assert [(h.workflow_id, h.halt.strategy_name, h.halt.auto_paused) for h in kept.halts] == [
        (breached, "Breached", True)
    ]
    assert [(sid, halt.reason) for sid, halt in seen.seen] == [(breached, "daily_loss_usd")]
    [paused] = rows(db, "select status from workflow_sessions where id = %s", breached)
    [running] = rows(db, "select status from workflow_sessions where id = %s", within)
    assert (paused["status"], running["status"]) == ("error", "running")
