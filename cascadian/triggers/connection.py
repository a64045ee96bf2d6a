"""One connection to Polymarket's market channel, carrying one shard of the armed
tokens (shards.py), for the listener (listener.py) that owns it.

- On connecting it subscribes to its tokens (`{"assets_ids", "type": "market",
  "custom_feature_enabled": true}`); the channel answers with a `book` snapshot per
  token, so every trigger on them is re-evaluated: a crossing that happened while
  this connection was down is caught.
- When the listener gives it other tokens, it sends only the difference
  (`{"operation": "subscribe"|"unsubscribe", "assets_ids"}`) on its own socket; the
  other connections are not touched. Given none, it closes for good.
- It sends the text `PING` every `ping_interval` seconds (10, as the channel asks);
  one that hears no `PONG` within `pong_timeout` is dropped and reconnected.
- A dropped connection is reconnected with exponential backoff and jitter (from
  `backoff_first` doubling to `backoff_max`, back to the first once a connection
  has carried frames), and resubscribed to its tokens as they are then.

Every frame goes to the listener's `handle` (which parses, counts and keeps the
prices); all waits go through `sleep` (a fake in tests).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import websockets
from websockets.asyncio.client import ClientConnection

log = logging.getLogger(__name__)

# The socket refuses a frame over this (and the connection is then reconnected).
MAX_SOCKET_BYTES = 16 * 1024 * 1024
Sleep = Callable[[float], Awaitable[None]]


class FeedStale(Exception):
    """The feed did not answer a PING in time."""


@dataclass(frozen=True)
class Timing:
    sleep: Sleep
    jitter: Callable[[], float]
    ping_interval: float = 10.0
    pong_timeout: float = 10.0
    backoff_first: float = 0.5
    backoff_max: float = 30.0


class ChannelConnection:
    def __init__(
        self,
        url: str,
        tokens: set[str],
        timing: Timing,
        *,
        handle: Callable[[str | bytes], bool],
        changed: Callable[[], Awaitable[None]],
        name: str = "market channel",
    ) -> None:
        self.url, self.timing, self.name = url, timing, name
        self.tokens = set(tokens)  # what it should carry
        self.subscribed: set[str] = set()  # what the channel was last told
        self.connected = False
        self.reconnects = 0
        self.frames = 0
        self.handle = handle  # a frame arrived; whether it was a PONG
        self.changed = changed  # connected or dropped: the listener reports it
        self._retuned = asyncio.Event()
        self._closed = asyncio.Event()
        self._pong = asyncio.Event()

    def assign(self, tokens: set[str]) -> None:
        """Carry `tokens` from now on; none: close for good."""
        if tokens == self.tokens:
            return
        self.tokens = set(tokens)
        if not tokens:
            self._closed.set()
        self._retuned.set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected until `stop` or given no tokens; never raises but on
        cancellation."""
        backoff = self.timing.backoff_first
        while not (stop.is_set() or self.closed):
            heard = await self._session(stop)
            if stop.is_set() or self.closed:
                break
            self.reconnects += 1
            backoff = (
                self.timing.backoff_first if heard else min(backoff * 2, self.timing.backoff_max)
            )
            await self._pause(backoff * self.timing.jitter(), stop)

    async def _session(self, stop: asyncio.Event) -> bool:
        """One connection, until it drops, `stop` or closing; whether a frame arrived."""
        frames_before = self.frames
        try:
            async with websockets.connect(
                self.url, ping_interval=None, max_size=MAX_SOCKET_BYTES, open_timeout=10
            ) as ws:
                await self._subscribe(ws)
                self.connected = True
                await self.changed()
                tasks = [
                    asyncio.create_task(self._read(ws)),
                    asyncio.create_task(self._ping(ws)),
                    asyncio.create_task(self._follow(ws)),
                    asyncio.create_task(stop.wait()),
                    asyncio.create_task(self._closed.wait()),
                ]
                try:
                    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                for task in done:
                    if not task.cancelled() and task.exception() is not None:
                        exc = task.exception()
                        log.warning("%s: %s: %s; reconnecting", self.name, type(exc).__name__, exc)
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            log.warning("%s unreachable: %s: %s", self.name, type(exc).__name__, exc)
        finally:
            was_connected, self.connected = self.connected, False
            self.subscribed = set()
            if was_connected:
                await self.changed()
        return self.frames > frames_before

    async def _subscribe(self, ws: ClientConnection) -> None:
        tokens = set(self.tokens)
        message = {"assets_ids": sorted(tokens), "type": "market", "custom_feature_enabled": True}
        await ws.send(json.dumps(message))
        self.subscribed = tokens

    async def _follow(self, ws: ClientConnection) -> None:
        """Send the channel each change of this connection's tokens."""
        while True:
            await self._retuned.wait()
            self._retuned.clear()
            tokens = set(self.tokens)
            if not tokens:
                return
            added, removed = tokens - self.subscribed, self.subscribed - tokens
            if added:
                await ws.send(
                    json.dumps(
                        {
                            "operation": "subscribe",
                            "assets_ids": sorted(added),
                            "custom_feature_enabled": True,
                        }
                    )
                )
            if removed:
                await ws.send(
                    json.dumps({"operation": "unsubscribe", "assets_ids": sorted(removed)})
                )
            self.subscribed = tokens

    async def _read(self, ws: ClientConnection) -> None:
        async for frame in ws:
            self.frames += 1
            if self.handle(frame):
                self._pong.set()

    async def _ping(self, ws: ClientConnection) -> None:
        while True:
            await self.timing.sleep(self.timing.ping_interval)
            self._pong.clear()
            await ws.send("PING")
            answered = asyncio.ensure_future(self._pong.wait())
            waited = asyncio.ensure_future(self.timing.sleep(self.timing.pong_timeout))
            try:
                await asyncio.wait({answered, waited}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waited.cancel()
                answered.cancel()
            if not self._pong.is_set():
                raise FeedStale(f"no PONG within {self.timing.pong_timeout:g}s")

    async def _pause(self, seconds: float, stop: asyncio.Event) -> None:
        waits = [
            asyncio.ensure_future(self.timing.sleep(seconds)),
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._closed.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
