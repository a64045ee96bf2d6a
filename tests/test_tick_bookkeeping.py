"""The tick's bookkeeping step (ports.Bookkeeper: settle and mark paper positions)
runs on a task of its own once the first claim has answered, within its deadline;
the tick waits for it after its runs, cancels it past its deadline, never fails
because of it, and skips it when the claim found the database down."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian import tick as tick_module
from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.data import Bookkeeping
from cascadian.errors import StoreUnavailable
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from tests.executors import ScriptedExecutor
from tests.factories import add_strategy

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)


class Logged:
    """The real store, writing down when the tick claims."""

    def __init__(self, store: SqlStore, log: list[str]) -> None:
        self.store, self.log = store, log

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def claim_due(self, *args: Any) -> Any:
        self.log.append("claim")
        return await self.store.claim_due(*args)


class Keeper:
    """A bookkeeper that writes down what it is asked, then does `then`."""

    def __init__(self, log: list[str], then: str = "return", is_due: bool = True) -> None:
        self.log, self.then, self.is_due = log, then, is_due
        self.deadline: float | None = None
        self.cancelled = False

    def due(self) -> bool:
        return self.is_due

    async def keep(self, deadline: float) -> Bookkeeping:
        self.log.append("keep")
        self.deadline = deadline
        if self.then == "raise":
            raise RuntimeError("the keeper broke its promise")
        if self.then == "hang":
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        await asyncio.sleep(0)
        self.log.append("kept")
        return Bookkeeping(markets=1, settled=1, marked=2, points=1)


def service(store: Any, keeper: Keeper) -> TickService:
    return TickService(store, ScriptedExecutor(), Settings(), FakeClock(NOW), bookkeeper=keeper)


@pytest.mark.both_schemas
async def test_the_step_starts_after_the_claim_answered_and_the_tick_waits_for_it(
    store: SqlStore, db: Any
) -> None:
    add_strategy(db, next_execution_at=NOW - timedelta(minutes=1))
    log: list[str] = []
    keeper = Keeper(log)

    report = await service(Logged(store, log), keeper).tick()

    assert report.success and report.claimed == 1
    assert log[:2] == ["claim", "keep"] and "kept" in log
    loop_now = asyncio.get_running_loop().time()
    assert keeper.deadline is not None
    assert keeper.deadline <= loop_now + tick_module.BOOKKEEPING_MAX_SECONDS


async def test_a_step_past_its_deadline_is_cancelled_and_the_tick_succeeds(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tick_module, "BOOKKEEPING_MAX_SECONDS", 0.01)
    monkeypatch.setattr(tick_module, "BOOKKEEPING_GRACE", 0.0)
    keeper = Keeper([], then="hang")

    report = await service(store, keeper).tick()

    assert report.success and report.error is None
    assert keeper.cancelled


async def test_a_step_that_raises_never_fails_the_tick(store: SqlStore) -> None:
    keeper = Keeper([], then="raise")
    report = await service(store, keeper).tick()
    assert report.success and report.error is None


async def test_a_step_that_is_not_due_is_not_run(store: SqlStore) -> None:
    log: list[str] = []
    report = await service(store, Keeper(log, is_due=False)).tick()
    assert report.success and log == []


class ClaimsFail(Logged):
    async def claim_due(self, *args: Any) -> Any:
        self.log.append("claim")
        raise StoreUnavailable("database unavailable: connection refused")


async def test_a_tick_whose_claim_finds_the_database_down_skips_the_step(
    store: SqlStore,
) -> None:
    log: list[str] = []
    report = await service(ClaimsFail(store, log), Keeper(log)).tick()
    assert report.error is not None and log == ["claim"]
