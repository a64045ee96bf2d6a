"""How often one client may try to sign in to the console.

The key is long and compared in constant time, so guessing is hopeless; but every
attempt costs a form parse, a log line and a page, and a flood of them (451 a second)
filled the log. Each client (its address, as the server sees it: behind a proxy, run
uvicorn with --proxy-headers so that is the real one) gets a token bucket: BURST
attempts at once, then one every REFILL_SECONDS. Past that the answer is 429 with
Retry-After, and only the first refusal of a streak is logged. Buckets live in this
process, at most MAX_CLIENTS of them (the least recently seen go first), so a
multi-process or serverless deployment allows that much per process.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

BURST = 10
REFILL_SECONDS = 6.0
MAX_CLIENTS = 10_000


@dataclass
class _Bucket:
    tokens: float
    at: float
    throttled: bool = False  # refused since its last attempt that went ahead


@dataclass(frozen=True)
class Verdict:
    """`wait` 0: go ahead; else the seconds until the next attempt may, and whether
    this refusal is the first of its streak (the one worth a log line)."""

    wait: float
    first_refusal: bool = False


class SignInThrottle:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        burst: int = BURST,
        refill_seconds: float = REFILL_SECONDS,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self._clock = clock
        self._burst = burst
        self._refill = refill_seconds
        self._max = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def attempt(self, client: str) -> Verdict:
        """Spend one of `client`'s attempts, if it has one."""
        now = self._clock()
        bucket = self._buckets.pop(client, None) or _Bucket(float(self._burst), now)
        self._buckets[client] = bucket  # the most recently seen, last
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at) / self._refill)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.throttled = False
            return Verdict(0.0)
        first = not bucket.throttled
        bucket.throttled = True
        return Verdict((1 - bucket.tokens) * self._refill, first)
