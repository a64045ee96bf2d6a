"""The server's cap on backtest child processes (backtests/process.py,
CASCADIAN_BACKTEST_MAX_PROCESSES): past it a backtest is refused at once, naming the
setting, before anything is spawned; a finished or cancelled backtest frees its place
and leaves no child behind; through the API the refusal is a 429 with Retry-After, and
a user's backtest slot is given back. The children here are stand-ins the test
controls (a real pipe, no process), so nothing is spawned and nothing waits on time."""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
from multiprocessing.connection import Connection
from typing import Any

import httpx
import pytest

from cascadian.backtests.process import ProcessBacktester
from cascadian.bootstrap import open_store
from cascadian.config import Settings
from cascadian.errors import BacktestCancelled, QuotaExceeded
from cascadian.ports import FullStore
from cascadian.web.app import create_app
from tests.api_client import bearer
from tests.backtests.test_interfaces import ENV, WINDOW, saved
from tests.backtests.test_runner import request
from tests.factories import USER, rows
from tests.web.test_users import ENV as USERS_ENV
from tests.web.test_users import as_user

REPORT = {"runs": [], "slots": 0}


class Child:
    """A child process that never runs: the test answers down its pipe."""

    def __init__(self, pipe: Connection, started: asyncio.Event) -> None:
        self.pipe, self.started = pipe, started
        self.alive = False
        self.joined = False

    def start(self) -> None:
        # The parent closes its copy of the sending end after start, as it does for a
        # spawned child's: keep one of our own.
        self.conn = Connection(os.dup(self.pipe.fileno()), readable=False)
        self.alive = True
        self.started.set()

    def is_alive(self) -> bool:
        return self.alive

    def terminate(self) -> None:
        self.alive = False
        self.conn.close()

    def join(self, timeout: float | None = None) -> None:
        self.joined = True

    def answer(self, *message: Any) -> None:
        self.conn.send(message)
        self.alive = False
        self.conn.close()


class Children:
    """multiprocessing's context, as ProcessBacktester uses it."""

    def __init__(self) -> None:
        self.made: list[Child] = []
        self.started = asyncio.Event()

    def Pipe(self, duplex: bool) -> tuple[Connection, Connection]:
        return multiprocessing.Pipe(duplex=duplex)

    def Process(self, target: Any, args: tuple[Any, ...], daemon: bool) -> Child:
        child = Child(args[3], self.started)
        self.made.append(child)
        return child

    async def next(self) -> Child:
        await self.started.wait()
        self.started.clear()
        return self.made[-1]


def capped(most: int) -> tuple[ProcessBacktester, Children]:
    children = Children()
    env = {"CASCADIAN_BACKTEST_MAX_PROCESSES": str(most)}
    return ProcessBacktester(Settings(**env), open_store, context=children), children


async def test_past_the_cap_a_backtest_is_refused_naming_it_and_nothing_is_spawned() -> None:
    backtester, children = capped(2)
    first = asyncio.create_task(backtester.run(request()))
    one = await children.next()
    second = asyncio.create_task(backtester.run(request()))
    two = await children.next()
    with pytest.raises(QuotaExceeded, match=r"CASCADIAN_BACKTEST_MAX_PROCESSES=2") as busy:
        await backtester.run(request())
    assert busy.value.retry_after == 5
    assert len(children.made) == 2 and backtester.running == 2
    # One finishes: its place is free again.
    one.answer("report", REPORT)
    assert await first == REPORT and one.joined
    third = asyncio.create_task(backtester.run(request()))
    three = await children.next()
    # A cancelled one terminates its child and frees its place too.
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    assert not two.alive and two.joined
    three.answer("cancelled", "stopped: cancelled")
    with pytest.raises(BacktestCancelled):
        await third
    assert backtester.running == 0 and not any(c.alive for c in children.made)


def test_the_cap_is_a_setting_of_at_least_one_defaulting_to_two() -> None:
    assert Settings().backtest_max_processes == 2
    with pytest.raises(ValueError, match="CASCADIAN_BACKTEST_MAX_PROCESSES"):
        Settings(CASCADIAN_BACKTEST_MAX_PROCESSES="0")


@pytest.mark.both_schemas
async def test_the_api_answers_429_at_the_cap_and_gives_the_users_slot_back(
    any_store: FullStore, db: Any
) -> None:
    sid = saved(db)
    app = create_app(
        Settings(**(ENV | USERS_ENV | {"CASCADIAN_USER_MAX_BACKTESTS": "1"})),
        store=any_store,
    )
    backtester, children = capped(1)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as api,
    ):
        app.state.backtest_service.backtester = backtester
        running = asyncio.create_task(backtester.run(request()))
        child = await children.next()
        path = f"/api/strategies/{sid}/backtest"
        for who in (bearer(), as_user(USER)):  # the operator and the strategy's owner
            busy = await api.post(path, json=WINDOW, headers=who)
            assert busy.status_code == 429 and busy.headers["retry-after"] == "5"
            assert "CASCADIAN_BACKTEST_MAX_PROCESSES=1" in busy.json()["message"]
        assert len(children.made) == 1
        child.answer("report", REPORT)
        assert await running == REPORT
    assert rows(db, "select count(*) as n from cascadian_user_slots") == [{"n": 0}]


async def test_running_backtests_leave_the_default_executor_to_the_ticks() -> None:
    # Each backtest's pipe reader held a thread of the loop's default executor for its
    # whole run, the pool the store's claims and finishes use: as many backtests as
    # its threads stalled the ticks. One thread here, and a backtest running.
    loop = asyncio.get_running_loop()
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=1))
    backtester, children = capped(2)
    running = asyncio.create_task(backtester.run(request()))
    await children.next()
    for _ in range(3):  # rounds of the loop, until the backtest waits on its pipe
        await asyncio.sleep(0)
    try:
        assert await asyncio.wait_for(asyncio.to_thread(lambda: "claimed"), 5) == "claimed"
    finally:
        children.made[0].answer("report", REPORT)
        assert await running == REPORT
