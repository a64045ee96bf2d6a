"""`cascadian worker` as a real process, listening: its market-channel listener
connects to a scripted channel on 127.0.0.1 (CASCADIAN_MARKET_WS_URL); a flood of
garbage and jitter is counted and dropped, and a strategy falling due meanwhile
still runs; a crossing becomes exactly one event run recorded in the test database;
and SIGTERM stops the worker cleanly, closing its connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cascadian.data import Actor
from cascadian.store.sql_store import SqlStore
from tests.factories import add_strategy, rows
from tests.test_worker import Workers
from tests.triggers.fake_channel import Channel, book, price_change, serving
from tests.triggers.test_listener import NOW, TOKEN, trigger

pytestmark = pytest.mark.slow


async def until(check: Callable[[], bool], what: str, workers: Workers) -> None:
    """Poll the database (bounded) until `check()` holds, serving the channel meanwhile."""
    deadline = time.monotonic() + 30
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; worker log:\n{workers.logs()}")
        await asyncio.sleep(0.05)


async def test_a_listening_worker_runs_a_crossing_once_and_stops_cleanly_on_sigterm(
    store: SqlStore, db: Any, database_url: str, tmp_path: Path
) -> None:
    sid = add_strategy(db, name="breakout", next_execution_at=NOW.replace(year=2099))
    await store.set_triggers(sid, [trigger()], NOW, Actor.operator("api"))
    channel = Channel()
    workers = Workers(database_url, tmp_path)
    try:
        async with serving(channel) as url:
            workers.env["CASCADIAN_MARKET_WS_URL"] = url
            proc = workers.start("--interval", "1")
            ws = await channel.connection()
            _, subscription = await channel.message()
            assert subscription["assets_ids"] == [TOKEN]
            await ws.send(book(TOKEN, "0.49", "0.51"))  # a baseline at 0.50
            await until(
                lambda: rows(db, "select armed from cascadian_triggers")[0]["armed"] is True,
                "the baseline",
                workers,
            )
            # A flood: 2,000 frames that are not JSON, 2,000 moves inside the band.
            for i in range(2000):
                await ws.send("{not json")
                await ws.send(price_change(TOKEN, "0.49", "0.51" if i % 2 else "0.52"))
            # A strategy falls due while the listener works through them: it runs.
            add_strategy(db, name="scheduled", next_execution_at=NOW)
            await until(
                lambda: bool(
                    rows(
                        db,
                        "select 1 from workflow_executions"
                        " where trigger_kind = 'scheduled' and status = 'completed'",
                    )
                ),
                "the scheduled run",
                workers,
            )
            await until(
                lambda: bool(
                    rows(
                        db, "select 1 from cascadian_trigger_listeners where frames_dropped >= 2000"
                    )
                ),
                "the dropped frames, counted",
                workers,
            )
            await ws.send(price_change(TOKEN, "0.60", "0.62"))  # 0.61: across 0.60
            await until(
                lambda: bool(
                    rows(db, "select 1 from cascadian_trigger_events where outcome = 'ran'")
                ),
                "the event's run, recorded",
                workers,
            )
            await asyncio.to_thread(workers.stop, proc)
            assert proc.returncode == 0, workers.logs()
            assert await channel.closing() is ws  # the listener closed its connection
    finally:
        workers.kill_leftovers()
    runs = rows(db, "select trigger_kind, status from workflow_executions order by trigger_kind")
    assert [(r["trigger_kind"], r["status"]) for r in runs] == [
        ("event", "completed"),
        ("scheduled", "completed"),
    ]
    [event] = rows(db, "select crossing, source, outcome from cascadian_trigger_events")
    assert (event["crossing"], event["source"], event["outcome"]) == (1, "websocket", "ran")
    assert "Traceback" not in workers.logs()
