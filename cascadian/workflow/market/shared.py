"""One upstream request for many identical ones: single flight plus a short TTL.

Hundreds of strategies in a process often ask Polymarket the same thing (the top
markets by 24h volume, the prices of the same tokens). Requests with the same key
(method, URL, query, body) made while one is in flight wait for it; its answer is
then kept for `ttl` seconds and handed to later callers too. A failure reaches the
callers that were waiting for it and is forgotten at once, so the next caller asks
again.

The key has no headers on purpose: only unauthenticated, public market data goes
through here, so no answer meant for one user can reach another. The fetch runs in
a task of its own: a caller that gives up (its run timed out) does not cancel it for
the others; when every caller has given up, it is cancelled.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

T = TypeVar("T")

# Keys kept at most (answers are small parsed pages); in-flight requests are never evicted.
MAX_ENTRIES = 256


@dataclass(frozen=True)
class RequestKey:
    """What makes two public requests the same: no headers, so nothing private."""

    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    body: str | None = None


@dataclass
class _Flight:
    task: asyncio.Task[Any]
    waiters: int = 0
    expires: float | None = None  # set once it answered


@dataclass
class SharedRequests:
    ttl: float
    clock: Callable[[], float] = time.monotonic
    max_entries: int = MAX_ENTRIES
    # What it saved: fetches started, and calls answered by one already started.
    fetches: int = 0
    shared: int = 0
    _flights: dict[RequestKey, _Flight] = field(default_factory=dict)

    async def get(self, key: RequestKey, fetch: Callable[[], Awaitable[T]]) -> T:
        """`fetch()`'s answer for `key`: from a request in flight or answered less than
        `ttl` seconds ago, else from a new one."""
        flight = self._flights.get(key)
        if flight is not None and flight.expires is not None and flight.expires <= self.clock():
            del self._flights[key]
            flight = None
        if flight is None:
            self._evict()
            flight = self._flights[key] = _Flight(asyncio.ensure_future(fetch()))
            flight.task.add_done_callback(functools.partial(self._settled, key, flight))
            self.fetches += 1
        else:
            self.shared += 1
        flight.waiters += 1
        try:
            return cast(T, await asyncio.shield(flight.task))
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                flight.task.cancel()  # nobody is waiting for it any more

    def _settled(self, key: RequestKey, flight: _Flight, task: asyncio.Task[Any]) -> None:
        failed = task.cancelled() or task.exception() is not None
        if failed or self.ttl <= 0:
            if self._flights.get(key) is flight:
                del self._flights[key]
        else:
            flight.expires = self.clock() + self.ttl

    def _evict(self) -> None:
        now = self.clock()
        expiries = {k: f.expires for k, f in self._flights.items() if f.expires is not None}
        for k, expires in expiries.items():
            if expires <= now:
                del self._flights[k]
        answered = [k for k in expiries if k in self._flights]
        # Oldest first (dicts keep insertion order), until there is room for one more.
        for k in answered[: max(0, len(self._flights) - self.max_entries + 1)]:
            del self._flights[k]
