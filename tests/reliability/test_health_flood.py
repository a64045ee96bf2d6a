"""A flood of `/api/health` costs the database one read per period, not one per request.

Before: every request to the unauthenticated health check read the tick ledger and
counted the due backlog (about 100 ms of database time with 100,000 due
strategies), so 22 requests a second cut a tick's claims from 30,150 to 7,325.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.reports import TickReport
from cascadian.store.sql_store import SqlStore
from cascadian.web.app import create_app

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FLOOD = 50


class CountingStore:
    """The real store; the health check's reads are counted, and held at `gate` so
    that every request of the flood arrives while the first read is under way."""

    def __init__(self, inner: SqlStore) -> None:
        self.inner = inner
        self.reads: Counter[str] = Counter()
        self.gate = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def ticks(self, limit: int) -> Any:
        self.reads["ticks"] += 1
        await self.gate.wait()
        return await self.inner.ticks(limit)

    async def backlog(self, now: datetime) -> Any:
        self.reads["backlog"] += 1
        return await self.inner.backlog(now)


async def test_a_flood_of_health_checks_makes_one_database_read_per_period(
    store: SqlStore, db: Any
) -> None:
    await store.record_tick(TickReport("cron", NOW, finished_at=NOW))
    counting = CountingStore(store)
    clock = FakeClock(NOW)
    settings = Settings(CASCADIAN_HEALTH_CACHE_SECONDS=5)  # type: ignore[call-arg]
    app = create_app(settings, store=counting, clock=clock)  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        entered = 0

        async def counted(scope: Any, receive: Any, send: Any) -> None:
            """The app, opening the store's gate once the whole flood has come in."""
            nonlocal entered
            entered += 1
            if entered == FLOOD:
                counting.gate.set()
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=counted)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            replies = await asyncio.gather(*(c.get("/api/health") for _ in range(FLOOD)))
            assert {r.status_code for r in replies} == {200}
            assert {r.json()["status"] for r in replies} == {"ok"}
            assert counting.reads == {"ticks": 1, "backlog": 1}, "one read for the whole flood"
            # Within the period: answered from the snapshot, no read at all.
            clock.advance(4.9)
            await asyncio.gather(*(c.get("/api/health") for _ in range(FLOOD)))
            assert counting.reads == {"ticks": 1, "backlog": 1}
            # Past it: one more read, then the snapshot again.
            clock.advance(0.2)
            await asyncio.gather(*(c.get("/api/health") for _ in range(FLOOD)))
            assert counting.reads == {"ticks": 2, "backlog": 2}
