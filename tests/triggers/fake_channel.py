"""A scripted market channel (the `websockets` package, on 127.0.0.1), a fake `sleep`
driven by the fake clock, and a store that says when the listener has written.

Frames are Polymarket's market-channel shapes (docs/triggers.md). Nothing here waits
on wall-clock time: the tests advance the fake clock, and wait on queues and events
(each guarded by a generous timeout that only a bug would reach).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets
from websockets.asyncio.server import ServerConnection

from cascadian.clock import FakeClock
from cascadian.data import Observation, RunResult, TriggerEvent, Workflow

GUARD = 20.0  # seconds; reached only when the code under test is broken


class Channel:
    """The server side: every connection and every message clients send."""

    def __init__(self) -> None:
        self.connections: asyncio.Queue[ServerConnection] = asyncio.Queue()
        self.messages: asyncio.Queue[tuple[ServerConnection, str]] = asyncio.Queue()
        self.closed: asyncio.Queue[ServerConnection] = asyncio.Queue()
        self.received: dict[ServerConnection, list[str]] = {}  # every message, by connection
        self.answer_pings = True

    async def handler(self, ws: ServerConnection) -> None:
        self.received[ws] = []
        await self.connections.put(ws)
        try:
            async for message in ws:
                text = message if isinstance(message, str) else message.decode()
                if text == "PING" and self.answer_pings:
                    await ws.send("PONG")
                self.received[ws].append(text)
                await self.messages.put((ws, text))
        finally:
            await self.closed.put(ws)

    async def closing(self) -> ServerConnection:
        """The next connection whose client went away (or was closed)."""
        async with asyncio.timeout(GUARD):
            return await self.closed.get()

    async def connection(self) -> ServerConnection:
        async with asyncio.timeout(GUARD):
            return await self.connections.get()

    async def message(self, skip_pings: bool = True) -> tuple[ServerConnection, Any]:
        """The next message a client sent (JSON decoded; PING as the text)."""
        async with asyncio.timeout(GUARD):
            while True:
                ws, text = await self.messages.get()
                if text == "PING" and skip_pings:
                    continue
                return ws, text if text == "PING" else json.loads(text)


@asynccontextmanager
async def serving(channel: Channel) -> AsyncIterator[str]:
    async with websockets.serve(channel.handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


class FakeSleep:
    """`sleep` that returns once the test has advanced the fake clock far enough."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waiting: list[tuple[float, asyncio.Future[None]]] = []
        self.asked: dict[float, int] = {}  # sleeps asked for, by length, not yet awaited
        self._asked = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((self.clock.monotonic() + seconds, future))
        self.asked[seconds] = self.asked.get(seconds, 0) + 1
        self._asked.set()
        await future

    async def asked_for(self, seconds: float) -> None:
        """Wait until code under test sleeps `seconds` (one such sleep each call)."""
        async with asyncio.timeout(GUARD):
            while not self.asked.get(seconds):
                self._asked.clear()
                await self._asked.wait()
        self.asked[seconds] -= 1

    async def pending(self, seconds: float) -> None:
        """Wait until a sleep of `seconds` is waiting now (whatever was asked before)."""
        async with asyncio.timeout(GUARD):
            while not any(
                not f.done() and abs(due - self.clock.monotonic() - seconds) < 1e-6
                for due, f in self.waiting
            ):
                self._asked.clear()
                await self._asked.wait()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        now = self.clock.monotonic()
        for due, future in list(self.waiting):
            if due <= now:
                self.waiting.remove((due, future))
                if not future.done():
                    future.set_result(None)


class Watched:
    """The real store, telling the test each time prices were written."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.written: asyncio.Queue[tuple[list[Observation], list[TriggerEvent]]] = asyncio.Queue()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def observe(self, observations: list[Observation], now: Any) -> list[TriggerEvent]:
        events = await self.store.observe(observations, now)
        await self.written.put((observations, events))
        return events

    async def next_write(self) -> tuple[list[Observation], list[TriggerEvent]]:
        async with asyncio.timeout(GUARD):
            return await self.written.get()


class Runs:
    """An executor that succeeds and hands each run's workflow to the test."""

    def __init__(self) -> None:
        self.started: asyncio.Queue[Workflow] = asyncio.Queue()
        self.count = 0

    async def execute(self, workflow: Workflow, deadline: float | None = None) -> RunResult:
        self.count += 1
        await self.started.put(workflow)
        return RunResult(True, {}, [], 0, 1, [])

    async def next(self) -> Workflow:
        async with asyncio.timeout(GUARD):
            return await self.started.get()


def book(token: str, bid: str, ask: str, **extra: Any) -> str:
    return json.dumps(
        [
            {
                "event_type": "book",
                "asset_id": token,
                "market": "0xbd31dc8a20211944f6b70f31557f1001557b59905b7738480ca09bd4532f84af",
                "bids": [{"price": "0.01", "size": "100"}, {"price": bid, "size": "30"}],
                "asks": [{"price": "0.99", "size": "100"}, {"price": ask, "size": "25"}],
                "hash": "0xabc123",
                **extra,
            }
        ]
    )


def price_change(token: str, bid: str, ask: str, **extra: Any) -> str:
    return json.dumps(
        {
            "event_type": "price_change",
            "market": "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1",
            "price_changes": [
                {
                    "asset_id": token,
                    "price": bid,
                    "size": "200",
                    "side": "BUY",
                    "hash": "56621a121a47ed9333273e21c83b660cff37ae50",
                    "best_bid": bid,
                    "best_ask": ask,
                }
            ],
            **extra,
        }
    )
