"""With the database down, the tick's 503 comes within the documented timeout, not twice it.

Before: the claim waited out CASCADIAN_DB_TIMEOUT_SECONDS, then the tick ledger write
waited it out again against the same unreachable database. Counted here in store
calls that wait for the database, not timed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.errors import StoreRejected
from cascadian.reports import TickReport
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from tests.executors import ScriptedExecutor

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class CountingStore(SqlStore):
    """The real store, counting the calls that go to the database."""

    calls: list[str]

    async def claim_due(self, *args: Any) -> Any:
        self.calls.append("claim_due")
        return await super().claim_due(*args)

    async def record_tick(self, report: TickReport) -> None:
        self.calls.append("record_tick")
        await super().record_tick(report)


@pytest.fixture
async def down() -> AsyncIterator[CountingStore]:
    store = CountingStore.postgres("postgresql://postgres@127.0.0.1:9/nowhere", timeout=0.5)
    assert isinstance(store, CountingStore)
    store.calls = []
    await store.open()
    yield store
    await store.close()


async def test_an_unreachable_database_costs_the_tick_one_wait_not_two(
    down: CountingStore,
) -> None:
    report = await TickService(down, ScriptedExecutor(), Settings(), FakeClock(NOW)).tick()
    assert not report.success and "database unavailable" in (report.error or "")
    assert down.calls == ["claim_due"], "no ledger write against a database that is down"


class RefusingClaimStore(CountingStore):
    async def claim_due(self, *args: Any) -> Any:
        self.calls.append("claim_due")
        raise StoreRejected("database error: permission denied for function")


async def test_a_refused_claim_is_still_written_to_the_ledger(
    store: SqlStore, db: Any, database_url: str
) -> None:
    refusing = RefusingClaimStore.postgres(database_url)
    assert isinstance(refusing, RefusingClaimStore)
    refusing.calls = []
    await refusing.open()
    try:
        report = await TickService(refusing, ScriptedExecutor(), Settings(), FakeClock(NOW)).tick()
    finally:
        await refusing.close()
    assert refusing.calls == ["claim_due", "record_tick"], "the database is up: keep the record"
    [entry] = await store.ticks(1)
    assert entry.success is False and "permission denied" in (entry.error or "")
    assert not report.success
