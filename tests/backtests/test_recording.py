"""The recorded history: what the live market data fetched is written compactly (an
unchanged state extends its row, a changed one adds a row), on both schemas and
through both transports (its retention: test_history_retention.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import respx

from cascadian.backtests.recording import HistoryRecorder
from cascadian.clock import FakeClock
from cascadian.data import HistoryRecording
from cascadian.ports import FullStore
from cascadian.workflow.market import MarketData, MarketQuery
from cascadian.workflow.market.tap import HistoryTap
from tests.factories import rows
from tests.polymarket_fixtures import (
    CLOB,
    FED_TOKENS,
    KEYSET,
    MIDPOINTS,
    ONE_PAGE,
    PRICES,
    no_wait_retry,
    settings,
)

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def market(market_id: str, price: str = "0.4", volume: float = 100.0) -> dict[str, Any]:
    return {
        "id": market_id,
        "static": {"id": market_id, "question": f"Will {market_id}?", "outcomes": ["Yes", "No"]},
        "state": {"outcome_prices": [float(price), 1 - float(price)], "volume": volume},
    }


def quote(token: str, mid: str) -> dict[str, Any]:
    return {"token_id": token, "midpoint": mid, "best_bid": None, "best_ask": None}


@pytest.mark.both_schemas
async def test_an_unchanged_state_extends_its_row_and_a_changed_one_adds_a_row(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    first = HistoryRecording([market("m1"), market("m2")], [quote("t1", "0.4")], [])
    assert await any_store.record_history(first, T0) == {
        "markets": 2,
        "prices": 1,
        "books": 0,
        "extended": 0,
    }
    later = T0 + timedelta(minutes=5)
    second = HistoryRecording(
        [market("m1"), market("m2", price="0.5")],
        [quote("t1", "0.4")],
        [{"token_id": "t1", "book": {"bids": [], "asks": []}}],
    )
    counts = await any_store.record_history(second, later)
    assert counts == {"markets": 1, "prices": 0, "books": 1, "extended": 2}
    found = rows(
        db,
        "select market_id, seen_at, last_seen_at from cascadian_market_history "
        "order by market_id, seen_at",
    )
    assert [(r["market_id"], r["seen_at"], r["last_seen_at"]) for r in found] == [
        ("m1", T0, later),
        ("m2", T0, T0),
        ("m2", later, later),
    ]
    assert rows(db, "select count(*) as n from cascadian_history_markets")[0]["n"] == 2
    prices = rows(db, "select seen_at, last_seen_at, midpoint from cascadian_price_history")
    assert [(r["seen_at"], r["last_seen_at"], str(r["midpoint"])) for r in prices] == [
        (T0, later, "0.4")
    ]


@pytest.mark.both_schemas
async def test_a_window_is_read_back_in_time_order_with_the_static_fields(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    for i in range(3):
        at = T0 + timedelta(minutes=5 * i)
        recording = HistoryRecording([market("m1", price=f"0.{4 + i}")], [], [])
        await any_store.record_history(recording, at)
    got = [
        r
        async for r in any_store.history_rows(
            "market", T0 + timedelta(minutes=6), T0 + timedelta(hours=1), 60
        )
    ]
    # The state held at the window's start (seen at +5 min) and the one after.
    assert [(r.key, r.seen_at, r.value["outcome_prices"][0]) for r in got] == [
        ("m1", T0 + timedelta(minutes=5), 0.5),
        ("m1", T0 + timedelta(minutes=10), 0.6),
    ]
    statics = await any_store.history_markets(T0, T0 + timedelta(hours=1), 60)
    assert statics["m1"]["question"] == "Will m1?"
    span = await any_store.history_span()
    assert (span.markets_from, span.markets_to) == (T0, T0 + timedelta(minutes=10))


async def test_the_live_market_data_tells_the_tap_what_it_fetched_upstream_once() -> None:
    tap = HistoryTap()
    with respx.mock(assert_all_called=False) as mock:
        keyset = mock.get(KEYSET).respond(json=ONE_PAGE)
        mock.post(f"{CLOB}/midpoints").respond(json=MIDPOINTS)
        mock.post(f"{CLOB}/prices").respond(json=PRICES)
        async with httpx.AsyncClient() as http:
            data = MarketData.create(settings(), http, retry=no_wait_retry(), tap=tap)
            page = await data.markets(MarketQuery(), 10)
            await data.markets(MarketQuery(), 10)  # shared: not fetched again
            await data.with_live_prices(page.markets)
    assert keyset.call_count == 1
    recording = tap.take()
    assert sorted(m["id"] for m in recording.markets) == sorted(m.id for m in page.markets)
    fed = next(m for m in recording.markets if m["id"] == "253591")
    assert fed["static"]["clob_token_ids"] == FED_TOKENS
    assert fed["state"]["outcome_prices"] == [0.355, 0.645]  # Gamma's, not the CLOB's
    assert {p["token_id"] for p in recording.prices} >= set(FED_TOKENS)
    assert not tap.take()  # emptied


async def test_the_recorder_writes_after_a_tick_at_most_once_per_period(
    pg_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    from cascadian.reports import TickReport
    from cascadian.workflow.market.record import Market

    clock = FakeClock(T0)
    tap = HistoryTap()
    recorder = HistoryRecorder(pg_store, tap, settings(), clock)  # every 300 s
    record = {
        "id": "m1",
        "question": "Will it?",
        "slug": "m1",
        "outcomes": ["Yes", "No"],
        "outcomePrices": [0.4, 0.6],
        "active": True,
        "closed": False,
    }
    for _ in range(3):  # three ticks a minute apart: one recording
        tap.markets([Market.model_validate(record)])
        recorder.tick_finished(TickReport(trigger="cron", started_at=clock.now()))
        await recorder.drain()
        clock.advance(60)
    assert recorder.recorded == 1
    clock.advance(300)
    recorder.tick_finished(TickReport(trigger="cron", started_at=clock.now()))
    await recorder.drain()
    assert recorder.recorded == 2
    found = rows(db, "select seen_at, last_seen_at from cascadian_market_history")
    assert [(r["seen_at"], r["last_seen_at"]) for r in found] == [(T0, T0 + timedelta(seconds=480))]


async def test_a_failed_tick_records_nothing(
    pg_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    from cascadian.reports import TickReport

    tap = HistoryTap()
    recorder = HistoryRecorder(pg_store, tap, settings(), FakeClock(T0))
    failed = TickReport(trigger="cron", started_at=T0)
    failed.error = "database unavailable"
    recorder.tick_finished(failed)
    await recorder.drain()
    assert recorder._task is None and recorder.recorded == 0
