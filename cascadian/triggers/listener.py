"""The worker tier's eyes: one connection to Polymarket's market channel, subscribed
to the union of the armed triggers' tokens, whose prices go to the store, which
writes each crossing once.

- On connecting it subscribes (`{"assets_ids", "type": "market",
  "custom_feature_enabled": true}`); the channel answers with a `book` snapshot per
  token, and every trigger is re-evaluated from it, so a crossing that happened while
  disconnected is caught.
- It sends the text `PING` every `ping_interval` seconds (10, as the channel asks); a
  feed that answers nothing within `pong_timeout` is dropped and reconnected.
- A dropped connection is reconnected with exponential backoff and jitter (0.5 s
  doubling to 30 s), and resubscribed.
- Every `refresh_interval` seconds (2) it reads the armed triggers again: tokens of
  strategies now paused, stopped or archived are unsubscribed, newly armed ones
  subscribed; and it reports its state (cascadian_trigger_listeners) for the console
  and /api/metrics.
- Frames are parsed by feed.py; a malformed, unknown or oversized one is counted and
  dropped. Prices of tokens no armed trigger watches are dropped unsent; the rest are
  batched: one store call at a time, carrying every price seen meanwhile (a flood of
  updates for one token is one call, and the SQL fires at most once per crossing).

All waits go through `sleep` (a fake in tests), and nothing here blocks the event loop
for long: the worker's scheduled runs share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import websockets
from websockets.asyncio.client import ClientConnection

from cascadian.clock import Clock, SystemClock
from cascadian.data import ArmedTrigger, Observation
from cascadian.errors import StoreUnavailable
from cascadian.ports import FullStore
from cascadian.triggers.feed import parse

log = logging.getLogger(__name__)

# The socket refuses a frame over this (and the connection is then reconnected).
MAX_SOCKET_BYTES = 16 * 1024 * 1024
# Prices kept while the store cannot be written (the oldest go first).
MAX_PENDING = 100_000
Sleep = Callable[[float], Awaitable[None]]


class FeedStale(Exception):
    """The feed did not answer a PING in time."""


@dataclass
class ListenerState:
    """What the console and /api/metrics show of a listener."""

    id: UUID = field(default_factory=uuid4)
    host: str = field(default_factory=socket.gethostname)
    started_at: datetime | None = None
    connected: bool = False
    tokens: int = 0
    reconnects: int = 0
    frames: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    last_frame_at: datetime | None = None

    @property
    def frames_dropped(self) -> int:
        return sum(self.dropped.values())

    def record(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "host": self.host,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "connected": self.connected,
            "tokens": self.tokens,
            "reconnects": self.reconnects,
            "frames": self.frames,
            "frames_dropped": self.frames_dropped,
            "last_frame_at": self.last_frame_at.isoformat() if self.last_frame_at else None,
        }


class MarketListener:
    def __init__(
        self,
        store: FullStore,
        url: str,
        *,
        clock: Clock | None = None,
        on_events: Callable[[], None] = lambda: None,
        sleep: Sleep = asyncio.sleep,
        ping_interval: float = 10.0,
        pong_timeout: float = 10.0,
        refresh_interval: float = 2.0,
        backoff_first: float = 0.5,
        backoff_max: float = 30.0,
        jitter: Callable[[], float] = lambda: 0.5 + random.random() / 2,  # noqa: S311
    ) -> None:
        self.store, self.url = store, url
        self.clock = clock or SystemClock()
        self.on_events = on_events  # told when crossings were written
        self.sleep = sleep
        self.ping_interval, self.pong_timeout = ping_interval, pong_timeout
        self.refresh_interval = refresh_interval
        self.backoff_first, self.backoff_max = backoff_first, backoff_max
        self.jitter = jitter  # spreads reconnects out (no secret in it)
        self.state = ListenerState()
        self._watched: dict[str, set[str]] = {}  # token -> price kinds watched
        self._conditions: set[str] = set()  # resolved triggers' condition ids
        self._subscribed: set[str] = set()
        self._pending: list[Observation] = []
        self._has_pending = asyncio.Event()
        self._pong = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until `stop` is set; never raises but on cancellation."""
        self.state.started_at = self.clock.now()
        flusher = asyncio.create_task(self._flush_forever())
        backoff = self.backoff_first
        try:
            while not stop.is_set():
                tokens = await self._refresh()
                if not tokens:
                    await self._pause(self.refresh_interval, stop)
                    continue
                heard = await self._session(tokens, stop)
                if stop.is_set():
                    break
                self.state.reconnects += 1
                backoff = self.backoff_first if heard else min(backoff * 2, self.backoff_max)
                await self._pause(backoff * self.jitter(), stop)
        finally:
            self.state.connected = False
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await self._flush()  # what was seen last still counts
            await self._report()

    async def _session(self, tokens: set[str], stop: asyncio.Event) -> bool:
        """One connection, until it drops or `stop`; whether any frame arrived."""
        frames_before = self.state.frames
        try:
            async with websockets.connect(
                self.url, ping_interval=None, max_size=MAX_SOCKET_BYTES, open_timeout=10
            ) as ws:
                await self._subscribe(ws, tokens, initial=True)
                self.state.connected = True
                await self._report()
                tasks = [
                    asyncio.create_task(self._read(ws)),
                    asyncio.create_task(self._ping(ws)),
                    asyncio.create_task(self._keep_subscribed(ws)),
                    asyncio.create_task(stop.wait()),
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
                        log.warning("market channel: %s: %s; reconnecting", type(exc).__name__, exc)
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            log.warning("market channel unreachable: %s: %s", type(exc).__name__, exc)
        finally:
            self.state.connected = False
            self._subscribed = set()
        return self.state.frames > frames_before

    async def _subscribe(
        self, ws: ClientConnection, tokens: set[str], initial: bool = False
    ) -> None:
        if initial:
            message = {
                "assets_ids": sorted(tokens),
                "type": "market",
                "custom_feature_enabled": True,
            }
            await ws.send(json.dumps(message))
            self._subscribed = set(tokens)
            self.state.tokens = len(tokens)
            return
        added, removed = tokens - self._subscribed, self._subscribed - tokens
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
            await ws.send(json.dumps({"operation": "unsubscribe", "assets_ids": sorted(removed)}))
        self._subscribed = set(tokens)
        self.state.tokens = len(tokens)

    async def _read(self, ws: ClientConnection) -> None:
        async for frame in ws:
            now = self.clock.now()
            self.state.frames += 1
            self.state.last_frame_at = now
            parsed = parse(frame, now)
            if parsed.pong:
                self._pong.set()
            for reason, n in parsed.dropped.items():
                if reason != "ignored":
                    self.state.dropped[reason] = self.state.dropped.get(reason, 0) + n
            wanted = [o for o in parsed.observations if self._wanted(o)]
            if wanted:
                self._pending += wanted
                if len(self._pending) > MAX_PENDING:
                    del self._pending[: len(self._pending) - MAX_PENDING]
                self._has_pending.set()

    def _wanted(self, o: Observation) -> bool:
        if o.kind == "resolved":
            return o.condition_id in self._conditions
        return o.price_kind in self._watched.get(o.token_id or "", ())

    async def _ping(self, ws: ClientConnection) -> None:
        while True:
            await self.sleep(self.ping_interval)
            self._pong.clear()
            await ws.send("PING")
            answered = asyncio.ensure_future(self._pong.wait())
            waited = asyncio.ensure_future(self.sleep(self.pong_timeout))
            try:
                await asyncio.wait({answered, waited}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waited.cancel()
                answered.cancel()
            if not self._pong.is_set():
                raise FeedStale(f"no PONG within {self.pong_timeout:g}s")

    async def _keep_subscribed(self, ws: ClientConnection) -> None:
        while True:
            await self.sleep(self.refresh_interval)
            tokens = await self._refresh()
            if not tokens:
                return  # nothing left to watch: close, and wait for a trigger
            await self._subscribe(ws, tokens)
            await self._report()

    async def _refresh(self) -> set[str]:
        """Read the armed triggers again; the tokens to subscribe to."""
        try:
            armed = await self.store.armed_triggers()
        except StoreUnavailable as exc:
            log.warning("armed triggers not read: %s", exc)
            return set(self._subscribed)
        self._watch(armed)
        return {t for a in armed for t in a.asset_ids}

    def _watch(self, armed: list[ArmedTrigger]) -> None:
        watched: dict[str, set[str]] = {}
        for a in armed:
            if a.kind == "price" and a.token_id and a.price_kind:
                watched.setdefault(a.token_id, set()).add(a.price_kind)
        self._watched = watched
        self._conditions = {
            a.condition_id for a in armed if a.kind == "resolved" and a.condition_id
        }

    async def _flush_forever(self) -> None:
        while True:
            await self._has_pending.wait()
            await self._flush()

    async def _flush(self) -> None:
        """Send every price seen since the last call, in one call."""
        self._has_pending.clear()
        batch, self._pending = _squeezed(self._pending), []
        if not batch:
            return
        try:
            events = await self.store.observe(batch, self.clock.now())
        except StoreUnavailable as exc:
            log.warning("prices not written (%d kept for the next try): %s", len(batch), exc)
            self._pending = batch + self._pending
            await self.sleep(1.0)
            self._has_pending.set()
            return
        if events:
            log.info("market channel: %d crossing(s)", len(events))
            self.on_events()

    async def _report(self) -> None:
        try:
            await self.store.record_listener(self.state.record(), self.clock.now())
        except StoreUnavailable as exc:
            log.warning("listener state not written: %s", exc)

    async def _pause(self, seconds: float, stop: asyncio.Event) -> None:
        waited = asyncio.ensure_future(self.sleep(seconds))
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({waited, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waited.cancel()
            stopped.cancel()


def _squeezed(observations: list[Observation]) -> list[Observation]:
    """`observations` without a price that repeats the one just before it for the same
    token and kind (it can change no trigger's state); order kept."""
    last: dict[tuple[str | None, str | None], Any] = {}
    kept = []
    for o in observations:
        key = (o.token_id, o.price_kind)
        if o.kind == "price" and last.get(key) == o.price:
            continue
        last[key] = o.price
        kept.append(o)
    return kept
