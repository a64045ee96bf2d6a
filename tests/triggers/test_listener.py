"""The worker tier against a scripted market channel on 127.0.0.1: a crossing runs its
strategy once, a move back inside the band does not, a drop and a reconnect catch a
crossing from the fresh snapshot, two listeners run it once, a paused strategy is
unsubscribed and never run, hostile frames are counted and dropped, and a feed that
never answers PING is reconnected. Time goes by the fake clock only."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.data import Actor
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.triggers.listener import MarketListener
from cascadian.triggers.runner import EventRunner
from tests.factories import add_strategy, rows
from tests.triggers.fake_channel import (
    GUARD,
    Channel,
    FakeSleep,
    Runs,
    Watched,
    book,
    price_change,
    serving,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OPERATOR = Actor.operator("api")
TOKEN = "65818619657568813474341868652308942079804919287380422192892211131408793125422"
OTHER = "52114319501245915516055106046884209969926127482827954674443846427813813222426"


def trigger(token: str = TOKEN, name: str = "breakout") -> dict[str, Any]:
    return {
        "name": name,
        "kind": "price",
        "token_id": token,
        "level": "0.60",
        "direction": "above",
        "band": "0.05",
        "price_kind": "midpoint",
        "asset_ids": [token],
    }


@dataclass
class World:
    channel: Channel
    store: Watched
    runs: Runs
    sleep: FakeSleep
    clock: FakeClock
    listeners: list[MarketListener]


@contextlib.asynccontextmanager
async def world(
    store: SqlStore, listeners: int = 1, per_connection: int = 200
) -> AsyncIterator[World]:
    """Listeners and an event runner on the real store, against the fake channel."""
    clock = FakeClock(NOW)
    sleep, runs, channel = FakeSleep(clock), Runs(), Channel()
    watched = Watched(store)
    ticks = TickService(store, runs, Settings(), clock)
    runner = EventRunner(watched, ticks, clock=clock, sleep=sleep)  # type: ignore[arg-type]
    stop = asyncio.Event()
    async with serving(channel) as url:
        made = [
            MarketListener(
                watched,  # type: ignore[arg-type]
                url,
                clock=clock,
                sleep=sleep,
                on_events=runner.wake,
                backoff_first=3.0,
                jitter=lambda: 1.0,
                tokens_per_connection=per_connection,
            )
            for _ in range(listeners)
        ]
        tasks = [asyncio.create_task(x.run(stop)) for x in made]
        tasks.append(asyncio.create_task(runner.run(stop, grace=GUARD)))  # runs finish
        try:
            yield World(channel, watched, runs, sleep, clock, made)
        finally:
            stop.set()
            await asyncio.gather(*tasks)


async def subscribed(w: World) -> Any:
    """The next connection and the tokens it subscribed to."""
    ws = await w.channel.connection()
    _, message = await w.channel.message()
    assert message["type"] == "market" and message["custom_feature_enabled"] is True
    return ws, set(message["assets_ids"])


async def test_a_crossing_runs_once_a_move_inside_the_band_does_not_and_a_reconnect_catches_one(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, name="breakout", next_execution_at=NOW + timedelta(days=1))
    await store.set_triggers(sid, [trigger()], NOW, OPERATOR)
    async with world(store) as w:
        ws, tokens = await subscribed(w)
        assert tokens == {TOKEN}
        await ws.send(book(TOKEN, "0.49", "0.51"))  # the snapshot: a baseline at 0.50
        assert (await w.store.next_write())[1] == []
        await ws.send(price_change(TOKEN, "0.60", "0.62"))  # 0.61: across the level
        run = await w.runs.next()
        event = run.variables["trigger_event"]
        assert (event["crossing"], event["price_before"], event["price_after"]) == (
            1,
            "0.50",
            "0.61",
        )
        assert event["source"] == "websocket"
        await w.store.next_write()
        # Back inside the band (0.57 > 0.55): no run; out past it (0.54), across again.
        await ws.send(price_change(TOKEN, "0.56", "0.58"))
        assert (await w.store.next_write())[1] == []
        await ws.send(price_change(TOKEN, "0.53", "0.55"))
        assert (await w.store.next_write())[1] == []
        await ws.send(price_change(TOKEN, "0.62", "0.64"))
        assert (await w.runs.next()).variables["trigger_event"]["crossing"] == 2
        await w.store.next_write()
        await ws.send(price_change(TOKEN, "0.49", "0.51"))  # re-armed at 0.50
        assert (await w.store.next_write())[1] == []
        # The connection drops; while it is down the price crosses 0.60. The new
        # connection's snapshot shows it: a third run.
        await ws.close()
        await w.sleep.asked_for(3.0)  # the backoff after a connection that was heard
        w.sleep.advance(3.0)
        ws, tokens = await subscribed(w)
        await ws.send(book(TOKEN, "0.64", "0.66"))
        third = await w.runs.next()
        assert third.variables["trigger_event"]["crossing"] == 3
        assert third.variables["trigger_event"]["price_before"] == "0.50"
        await w.store.next_write()
        assert w.listeners[0].state.reconnects == 1
    assert w.runs.count == 3
    kinds = rows(db, "select trigger_kind, status from workflow_executions")
    assert [(r["trigger_kind"], r["status"]) for r in kinds] == [("event", "completed")] * 3


async def test_two_listeners_seeing_the_same_crossing_run_it_once(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW + timedelta(days=1))
    await store.set_triggers(sid, [trigger()], NOW, OPERATOR)
    async with world(store, listeners=2) as w:
        first, _ = await subscribed(w)
        second, _ = await subscribed(w)
        for ws in (first, second):
            await ws.send(book(TOKEN, "0.49", "0.51"))
        for _ in range(2):
            await w.store.next_write()
        for ws in (first, second):
            await ws.send(price_change(TOKEN, "0.60", "0.62"))
        written = [(await w.store.next_write())[1] for _ in range(2)]
        assert sorted(len(events) for events in written) == [0, 1]
        await w.runs.next()
    assert w.runs.count == 1
    assert len(rows(db, "select id from cascadian_trigger_events")) == 1


async def test_a_paused_strategy_is_unsubscribed_and_never_run(store: SqlStore, db: Any) -> None:
    live = add_strategy(db, name="live", next_execution_at=NOW + timedelta(days=1))
    paused = add_strategy(db, name="paused", next_execution_at=NOW + timedelta(days=1))
    await store.set_triggers(live, [trigger(TOKEN)], NOW, OPERATOR)
    await store.set_triggers(paused, [trigger(OTHER)], NOW, OPERATOR)
    async with world(store) as w:
        ws, tokens = await subscribed(w)
        assert tokens == {TOKEN, OTHER}
        db.execute(
            "update workflow_sessions set auto_run = false, status = 'paused' where id = %s",
            (paused,),
        )
        await w.sleep.asked_for(2.0)
        w.sleep.advance(2.0)  # the listener reads the armed triggers again
        _, message = await w.channel.message()
        assert message == {"operation": "unsubscribe", "assets_ids": [OTHER]}
        assert w.listeners[0].state.tokens == 1
        # A feed that still sends the old token's prices: nothing observed, no run.
        await ws.send(book(OTHER, "0.49", "0.51"))
        await ws.send(price_change(OTHER, "0.60", "0.62"))
        await ws.send(book(TOKEN, "0.49", "0.51"))
        observed, _ = await w.store.next_write()
        assert {o.token_id for o in observed} == {TOKEN}
        # A strategy armed meanwhile is subscribed at the next refresh.
        db.execute(
            "update workflow_sessions set auto_run = true, status = 'running' where id = %s",
            (paused,),
        )
        await w.sleep.asked_for(2.0)
        w.sleep.advance(2.0)
        _, message = await w.channel.message()
        assert message == {
            "operation": "subscribe",
            "assets_ids": [OTHER],
            "custom_feature_enabled": True,
        }
    assert w.runs.count == 0


async def test_malformed_unknown_and_oversized_frames_are_counted_and_dropped(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW + timedelta(days=1))
    await store.set_triggers(sid, [trigger()], NOW, OPERATOR)
    async with world(store) as w:
        ws, _ = await subscribed(w)
        for frame in [
            "not json {",
            json.dumps({"event_type": "mystery", "asset_id": TOKEN}),
            json.dumps({"event_type": "price_change", "price_changes": "nope"}),
            json.dumps({"event_type": "book", "asset_id": TOKEN, "bids": [{"price": "7"}]}),
            json.dumps([1, 2, 3]),
            "x" * 2_000_001,
            json.dumps({"event_type": "tick_size_change", "asset_id": TOKEN}),
        ]:
            await ws.send(frame)
        await ws.send(book(TOKEN, "0.49", "0.51"))  # the feed still works after them
        observed, _ = await w.store.next_write()
        # Only the price a trigger watches is written: the midpoint.
        assert [(o.price_kind, str(o.price)) for o in observed] == [("midpoint", "0.50")]
        state = w.listeners[0].state
        # Counted by message: [1, 2, 3] is three malformed ones.
        assert state.dropped == {"malformed": 6, "unknown": 1, "oversized": 1}
        assert state.frames == 8
    [listener] = (await store.trigger_overview(w.clock.now(), 60))["listeners"]
    assert listener["frames_dropped"] == 8


async def test_a_flood_of_updates_for_one_token_fires_once_per_crossing(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW + timedelta(days=1))
    await store.set_triggers(sid, [trigger()], NOW, OPERATOR)
    async with world(store) as w:
        ws, _ = await subscribed(w)
        await ws.send(book(TOKEN, "0.49", "0.51"))
        await w.store.next_write()
        # 2,000 updates jittering around the level, inside the band: one crossing.
        for i in range(2000):
            high = i % 2 == 0
            await ws.send(
                price_change(TOKEN, "0.60" if high else "0.58", "0.62" if high else "0.60")
            )
        await w.runs.next()
        while w.listeners[0].state.frames < 2001:  # every frame read (the rest is flushed)
            await w.store.next_write()
    [t] = await store.triggers(sid) or []
    assert t["crossings"] == 1
    assert w.runs.count == 1


async def test_a_feed_that_never_answers_ping_is_reconnected(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW + timedelta(days=1))
    await store.set_triggers(sid, [trigger()], NOW, OPERATOR)
    async with world(store) as w:
        w.channel.answer_pings = False
        await subscribed(w)
        await w.sleep.asked_for(10.0)
        w.sleep.advance(10.0)  # PING time
        _, ping = await w.channel.message(skip_pings=False)
        assert ping == "PING"
        await w.sleep.asked_for(10.0)
        w.sleep.advance(10.0)  # no PONG within 10 s: dropped and reconnected
        await w.sleep.asked_for(6.0)  # the backoff, doubled: nothing was heard
        w.sleep.advance(6.0)
        await subscribed(w)
        assert w.listeners[0].state.reconnects == 1
