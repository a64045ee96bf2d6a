"""The worker tier's eyes: connections to Polymarket's market channel carrying the
union of the armed triggers' tokens, whose prices go to the store, which writes each
crossing once.

- The tokens are spread over ceil(N / `tokens_per_connection`) connections
  (shards.py; each one connection.py: its subscription, PING, reconnect with
  backoff, and a `book` snapshot of its tokens on every (re)connect, from which their
  triggers are re-evaluated). One connection drops and reconnects alone.
- Every `refresh_interval` seconds (2) it reads the armed triggers again: tokens of
  strategies now paused, stopped or archived are unsubscribed on their connection,
  newly armed ones subscribed where there is room (or on a new connection); the
  other connections' subscriptions are left alone. It then reports its state
  (cascadian_trigger_listeners) for the console and /api/metrics.
- Frames are parsed by feed.py; a malformed, unknown or oversized one is counted and
  dropped. Prices of tokens no armed trigger watches are dropped unsent; the rest are
  batched: one store call at a time, carrying every price seen meanwhile on every
  connection (a flood of updates for one token is one call, and the SQL fires at
  most once per crossing).

All waits go through `sleep` (a fake in tests), and nothing here blocks the event loop
for long: the worker's scheduled runs share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from cascadian.clock import Clock, SystemClock
from cascadian.data import ArmedTrigger, Observation
from cascadian.errors import StoreUnavailable
from cascadian.ports import FullStore
from cascadian.triggers.connection import ChannelConnection, Timing
from cascadian.triggers.feed import parse
from cascadian.triggers.shards import plan_shards

log = logging.getLogger(__name__)

# Prices kept while the store cannot be written (the oldest go first).
MAX_PENDING = 100_000
# Tokens one connection carries by default. Polymarket's documentation states no
# limit per connection; third-party guides report subscriptions past 500 refused,
# and NautilusTrader's adapter shards at 200, having seen larger connections stall.
TOKENS_PER_CONNECTION = 200
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class ListenerState:
    """What the console and /api/metrics show of a listener: `connected` while every
    connection it needs is up, `tokens` subscribed over all of them, `reconnects`
    summed over them."""

    id: UUID = field(default_factory=uuid4)
    host: str = field(default_factory=socket.gethostname)
    started_at: datetime | None = None
    connected: bool = False
    connections: int = 0  # open now
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
            "connections": self.connections,
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
        tokens_per_connection: int = TOKENS_PER_CONNECTION,
    ) -> None:
        self.store, self.url = store, url
        self.clock = clock or SystemClock()
        self.on_events = on_events  # told when crossings were written
        self.sleep = sleep
        self.refresh_interval = refresh_interval
        # jitter spreads reconnects out (no secret in it)
        self.timing = Timing(sleep, jitter, ping_interval, pong_timeout, backoff_first, backoff_max)
        self.tokens_per_connection = tokens_per_connection
        self.state = ListenerState()
        self.connections: list[ChannelConnection] = []  # open or reconnecting
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed_reconnects = 0  # of connections closed since
        self._watched: dict[str, set[str]] = {}  # token -> price kinds watched
        self._conditions: set[str] = set()  # resolved triggers' condition ids
        self._pending: list[Observation] = []
        self._has_pending = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until `stop` is set; never raises but on cancellation."""
        self.state.started_at = self.clock.now()
        flusher = asyncio.create_task(self._flush_forever())
        try:
            while not stop.is_set():
                self._reshard(await self._refresh(), stop)
                await self._report()
                await self._pause(self.refresh_interval, stop)
        finally:
            for c in self.connections:
                c.assign(set())
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tally()
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await self._flush()  # what was seen last still counts
            await self._report()

    def _reshard(self, tokens: set[str], stop: asyncio.Event) -> None:
        """Give each connection its tokens; open the new ones, forget the closed."""
        plan = plan_shards([c.tokens for c in self.connections], tokens, self.tokens_per_connection)
        for c, shard in zip(self.connections, plan, strict=False):
            c.assign(shard)
        for shard in plan[len(self.connections) :]:
            c = ChannelConnection(
                self.url,
                shard,
                self.timing,
                handle=self._frame,
                changed=self._report,
                name=f"market channel #{len(self.connections) + 1}",
            )
            self.connections.append(c)
            task = asyncio.create_task(c.run(stop))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._closed_reconnects += sum(c.reconnects for c in self.connections if c.closed)
        self.connections = [c for c in self.connections if not c.closed]
        self._tally()

    def _tally(self) -> None:
        live = self.connections
        self.state.connections = sum(c.connected for c in live)
        self.state.connected = bool(live) and all(c.connected for c in live)
        self.state.tokens = sum(len(c.tokens) for c in live if c.connected)
        self.state.reconnects = self._closed_reconnects + sum(c.reconnects for c in live)

    def _frame(self, frame: str | bytes) -> bool:
        """One frame from any connection: counted, parsed, its wanted prices kept;
        whether it was a PONG."""
        now = self.clock.now()
        self.state.frames += 1
        self.state.last_frame_at = now
        parsed = parse(frame, now)
        for reason, n in parsed.dropped.items():
            if reason != "ignored":
                self.state.dropped[reason] = self.state.dropped.get(reason, 0) + n
        wanted = [o for o in parsed.observations if self._wanted(o)]
        if wanted:
            self._pending += wanted
            if len(self._pending) > MAX_PENDING:
                del self._pending[: len(self._pending) - MAX_PENDING]
            self._has_pending.set()
        return parsed.pong

    def _wanted(self, o: Observation) -> bool:
        if o.kind == "resolved":
            return o.condition_id in self._conditions
        return o.price_kind in self._watched.get(o.token_id or "", ())

    async def _refresh(self) -> set[str]:
        """Read the armed triggers again; the tokens to subscribe to."""
        try:
            armed = await self.store.armed_triggers()
        except StoreUnavailable as exc:
            log.warning("armed triggers not read: %s", exc)
            return {t for c in self.connections for t in c.tokens}
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
        self._tally()
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
