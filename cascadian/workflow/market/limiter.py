"""A client-side rate limit: at most `limit` requests in any `window` seconds.

Polymarket's limits are sliding windows enforced by Cloudflare, which *delays*
requests over the limit rather than refusing them: an unthrottled client does not
get a 429, it hangs until its timeout. So each process keeps its own count and
waits before sending instead.

Each request reserves the earliest time at which sending it keeps every window
within the limit, then sleeps until then; no lock, so 1,000 callers queue in
order without a thundering herd. A request whose time would come after its run's
deadline is refused at once (nothing is reserved), so the run fails saying why
instead of timing out. A leaky bucket (aiolimiter) would allow up to twice the
limit inside one sliding window, and reads the loop's clock; this one is exact
and takes an injected clock, so tests need no sleeps.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from cascadian.errors import NodeError


class RateLimited(NodeError):
    """The next request allowed by the rate limit would be sent after the deadline."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class RateLimiter:
    def __init__(
        self,
        limit: int,
        window: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs at least one request per positive window")
        self.limit, self.window = limit, window
        self._clock, self._sleep = clock, sleep
        # Send times granted, in order; some may lie in the future (reserved).
        self._sent: deque[float] = deque()

    def next_slot(self) -> float:
        """When a request asked for now could be sent, on this limiter's clock."""
        now = self._clock()
        sent = self._sent
        while sent and sent[0] <= now - self.window:
            sent.popleft()
        slot = now
        if len(sent) >= self.limit:
            slot = max(slot, sent[-self.limit] + self.window)
        return max(slot, sent[-1]) if sent else slot

    async def acquire(self, *, within: float | None = None, what: str = "a request") -> None:
        """Wait for a slot. `within`: the seconds left before the caller's deadline;
        a slot later than that raises RateLimited and reserves nothing."""
        slot = self.next_slot()
        wait = slot - self._clock()
        if within is not None and wait > within:
            raise RateLimited(
                f"the client-side rate limit ({self.limit} requests per {self.window:g}s) "
                f"would send {what} in {wait:.1f}s, after the run's deadline",
                wait,
            )
        self._sent.append(slot)
        if wait > 0:
            await self._sleep(wait)
