"""Health says `degraded` while ticks fail, not only when none arrive.

Before: `/api/health` answered `ok` as long as some tick had started in the last
3 minutes, even if every one of them failed (the database refusing the claim, say).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cascadian.reports import TickReport
from cascadian.store.sql_store import SqlStore
from tests.api_client import client


async def ticks(store: SqlStore, *errors: str | None) -> None:
    """One tick a minute, oldest first, ending now; an error makes a tick fail."""
    for n, error in enumerate(errors):
        at = datetime.now(UTC) - timedelta(minutes=len(errors) - 1 - n, seconds=1)
        await store.record_tick(TickReport("cron", at, finished_at=at, error=error))


async def health(store: SqlStore) -> dict[str, Any]:
    async with client(store) as c:
        reply = await c.get("/api/health")
    assert reply.status_code == 200
    body: dict[str, Any] = reply.json()
    return body


async def test_health_is_degraded_while_the_newest_ticks_fail(store: SqlStore, db: Any) -> None:
    await ticks(store, None, None, "database unavailable: PoolTimeout", "database error: x")
    body = await health(store)
    assert (body["status"], body["ticks_overdue"], body["failing_ticks"]) == ("degraded", False, 2)


async def test_health_is_ok_again_once_a_tick_succeeds(store: SqlStore, db: Any) -> None:
    await ticks(store, "database unavailable: PoolTimeout", None)
    body = await health(store)
    assert (body["status"], body["failing_ticks"]) == ("ok", 0)


async def test_the_failing_streak_is_counted_over_the_newest_five_ticks(
    store: SqlStore, db: Any
) -> None:
    await ticks(store, *["claim refused"] * 8)
    body = await health(store)
    assert (body["status"], body["failing_ticks"]) == ("degraded", 5)
