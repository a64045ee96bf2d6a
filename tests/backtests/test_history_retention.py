"""The recorded market history is pruned by its retention window with the rest of
the history: by every tick's retention step (a simulated week of ticks on the fake
clock, the tap fed as live market reads feed it, recorded after each tick and
pruned by the ticks themselves), and by `cascadian prune` (--dry-run counts it), on
both schemas and both transports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from cascadian.backtests.recording import HistoryRecorder
from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.ports import FullStore
from cascadian.retention import Pruner
from cascadian.tick import TickService
from cascadian.workflow.market.record import LiveQuote, Market
from cascadian.workflow.market.tap import HistoryTap
from tests.executors import ScriptedExecutor
from tests.factories import rows

pytestmark = pytest.mark.both_schemas

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
MARKETS = 3
TRUNCATE = (
    "truncate cascadian_market_history, cascadian_price_history, cascadian_book_history, "
    "cascadian_history_markets"
)


def feed(tap: HistoryTap, hour: int) -> None:
    """What one hour of live reads tells the tap: a new price every hour."""
    price = 0.3 + (hour % 7) / 100
    tap.markets(
        Market.model_validate(
            {
                "id": f"m{i}",
                "question": f"Will {i}?",
                "slug": f"m{i}",
                "outcomes": ["Yes", "No"],
                "outcomePrices": [price, 1 - price],
                "active": True,
                "closed": False,
            }
        )
        for i in range(MARKETS)
    )
    tap.quotes([LiveQuote("t0", price, None, None)])


def count(db: psycopg.Connection[Any], table: str) -> int:
    return int(rows(db, f"select count(*) as n from {table}")[0]["n"])


def settings(**env: Any) -> Settings:
    return Settings(
        **{
            "CASCADIAN_HISTORY_RETENTION_DAYS": 2,
            "CASCADIAN_HISTORY_EVERY_SECONDS": 3600,
            "CASCADIAN_PRUNE_MAX_ROWS": 1000,
            **env,
        }
    )


async def test_a_week_of_ticks_keeps_the_recorded_history_within_its_retention(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    db.execute(TRUNCATE)
    clock = FakeClock(T0)
    tap = HistoryTap()
    config = settings()
    recorder = HistoryRecorder(any_store, tap, config, clock)
    ticks = TickService(any_store, ScriptedExecutor(), config, clock, observers=[recorder])
    pruned = 0
    for hour in range(7 * 24):
        feed(tap, hour)
        report = await ticks.tick()
        await recorder.drain()
        summary = report.summary().pruned
        pruned += 0 if summary is None else summary.market_history
        clock.advance(3600)
    assert recorder.recorded == 7 * 24
    oldest = rows(db, "select min(last_seen_at) as t from cascadian_market_history")[0]["t"]
    assert oldest >= clock.now() - timedelta(days=2, hours=1)
    assert count(db, "cascadian_market_history") <= MARKETS * (2 * 24 + 1)
    assert count(db, "cascadian_price_history") <= 2 * 24 + 1
    # The ticks' prunes took every hour's row (each market's and the token's) last
    # seen more than two days before the last tick: hours 0 to 7 x 24 - 49.
    assert pruned == (MARKETS + 1) * (7 * 24 - 2 * 24 - 1)


async def test_prune_counts_and_deletes_the_history_past_its_window(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    db.execute(TRUNCATE)
    clock = FakeClock(T0)
    tap = HistoryTap()
    recorder = HistoryRecorder(any_store, tap, settings(), clock)
    for hour in range(4 * 24):
        feed(tap, hour)
        await recorder.record_now()
        clock.advance(3600)
    before = count(db, "cascadian_market_history") + count(db, "cascadian_price_history")
    # Kept two days: the first two days' states are past it (last seen before now - 2 d).
    due = (MARKETS + 1) * 2 * 24
    pruner = Pruner(any_store, settings(CASCADIAN_PRUNE_MAX_ROWS=10), clock)
    counted = await pruner.everything(dry_run=True)
    assert counted.market_history == due
    assert count(db, "cascadian_market_history") + count(db, "cascadian_price_history") == before
    done = await pruner.everything()
    assert done.market_history == due
    assert count(db, "cascadian_market_history") + count(db, "cascadian_price_history") == (
        before - due
    )
    kept = await Pruner(any_store, settings(CASCADIAN_HISTORY_RETENTION_DAYS=0), clock).everything()
    assert kept.market_history == 0


def imported(start: datetime, hours: int) -> list[dict[str, Any]]:
    """`cascadian import-prices`' rows: an hour's price each, from `start`."""
    points = [
        {
            "t": (start + timedelta(hours=h)).isoformat(),
            "until": (start + timedelta(hours=h + 1)).isoformat(),
            "p": "0.5",
        }
        for h in range(hours)
    ]
    return [{"token_id": "imported", "points": points}]


async def test_imported_price_history_outlives_the_recorded_historys_retention(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    """A 90-day backtest needs the prices imported for it: the recorder's retention
    (2 days here) is not theirs, and by default they are kept."""
    db.execute(TRUNCATE)
    clock = FakeClock(T0)
    assert await any_store.import_price_history(imported(T0 - timedelta(days=60), 24)) == 24
    config = settings()
    report = await TickService(any_store, ScriptedExecutor(), config, clock).tick()
    assert report.summary().pruned is not None
    assert count(db, "cascadian_price_history") == 24
    counted = await Pruner(any_store, config, clock).everything(dry_run=True)
    assert counted.market_history == 0
    await Pruner(any_store, config, clock).everything()
    assert count(db, "cascadian_price_history") == 24


async def test_imported_price_history_has_a_retention_of_its_own(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    db.execute(TRUNCATE)
    clock = FakeClock(T0)
    await any_store.import_price_history(imported(T0 - timedelta(days=60), 24))
    await any_store.import_price_history(imported(T0 - timedelta(days=10), 24))
    config = settings(CASCADIAN_IMPORTED_HISTORY_RETENTION_DAYS=30)
    counted = await Pruner(any_store, config, clock).everything(dry_run=True)
    assert counted.market_history == 24
    assert count(db, "cascadian_price_history") == 48
    await TickService(any_store, ScriptedExecutor(), config, clock).tick()
    left = rows(db, "select min(seen_at) as t, count(*) as n from cascadian_price_history")[0]
    assert (left["n"], left["t"]) == (24, T0 - timedelta(days=10))
