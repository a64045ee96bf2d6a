"""What `GET /api/health` answers: a snapshot of the health check, per process.

The check reads the tick ledger and the due backlog, which costs about 100 ms of
database time with 100,000 due strategies; the route needs no secret, so a flood of
it (22 a second) took most of the database from the ticks. Here one read serves
every request for CASCADIAN_HEALTH_CACHE_SECONDS, and requests that arrive while a
read is under way wait for that read instead of starting their own (single flight),
so a flood costs one read per period per process, however many requests it sends.
A read that finds the database down is kept the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from cascadian.control import Health


class HealthSnapshot:
    def __init__(
        self,
        read: Callable[[], Awaitable[Health]],
        max_age_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._max_age = max_age_seconds
        self._clock = clock
        self._value: Health | None = None
        self._read_at = 0.0
        self._reading: asyncio.Future[Health] | None = None

    async def get(self) -> Health:
        """The newest snapshot, read again once it is older than the limit."""
        if self._value is not None and self._clock() - self._read_at < self._max_age:
            return self._value
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._refresh())
        # Shielded: a caller that gives up does not cancel the read the others await.
        return await asyncio.shield(self._reading)

    async def _refresh(self) -> Health:
        try:
            value = await self._read()
            self._value, self._read_at = value, self._clock()
            return value
        finally:
            self._reading = None
