"""Each signed-in user's share: requests per minute, and work in flight at once
(dry runs; backtests take a slot of their own kind the same way).

The counting is the store's (migrations/031): one SQL call per request, one to
take a slot and one to give it back, each checked under a lock where it is
written, so every process of a deployment shares the same counts. The operator
key has no share: only user tokens are counted. A limit of 0 is no limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from uuid import UUID

from cascadian.clock import Clock, SystemClock
from cascadian.errors import QuotaExceeded
from cascadian.ports import QuotaStore

DRY_RUN = "dry-run"
BACKTEST = "backtest"
# A backtest may run for minutes: its slot, if never given back (its process died),
# holds this long.
BACKTEST_SLOT_SECONDS = 900.0


class UserQuotas:
    def __init__(
        self,
        store: QuotaStore,
        clock: Clock | None = None,
        *,
        requests_per_minute: int = 0,
        max_dry_runs: int = 0,
        max_backtests: int = 0,
        slot_seconds: float = 120.0,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.requests_per_minute = requests_per_minute
        self.max_dry_runs = max_dry_runs
        self.max_backtests = max_backtests
        # How long a slot holds if it is never given back (its process died).
        self.slot_seconds = slot_seconds

    async def request(self, user: UUID) -> None:
        """Count a request of `user`; QuotaExceeded past their requests in any 60
        seconds, with the whole seconds until one is free again."""
        if self.requests_per_minute <= 0:
            return
        wait = await self.store.count_request(user, self.clock.now(), self.requests_per_minute)
        if wait > 0:
            raise QuotaExceeded(
                f"more than {self.requests_per_minute} requests in a minute "
                "(CASCADIAN_USER_REQUESTS_PER_MINUTE)",
                retry_after=wait,
            )

    @asynccontextmanager
    async def in_flight(
        self, user: UUID | None, kind: str, most: int, seconds: float | None = None
    ) -> AsyncIterator[None]:
        """Hold one of `user`'s `most` slots of `kind` while the block runs;
        QuotaExceeded when all are taken. The operator (None) holds none."""
        if user is None or most <= 0:
            yield
            return
        hold = self.slot_seconds if seconds is None else seconds
        slot = await self.store.take_slot(user, kind, most, self.clock.now(), hold)
        if slot is None:
            raise QuotaExceeded(
                f"you have {most} {kind}s in flight, the most one user may have at once",
                retry_after=5,
            )
        try:
            yield
        finally:
            await self.store.give_slot(slot)

    def dry_run(self, user: UUID | None) -> AbstractAsyncContextManager[None]:
        return self.in_flight(user, DRY_RUN, self.max_dry_runs)

    def backtest(self, user: UUID | None) -> AbstractAsyncContextManager[None]:
        return self.in_flight(user, BACKTEST, self.max_backtests, BACKTEST_SLOT_SECONDS)
