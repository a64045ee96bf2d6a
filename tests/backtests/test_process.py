"""A server's backtests run in a child process (backtests/process.py): the same report
as in-process, a request that cannot run refused with its problems, a cancel that
stops the child, and the API answering from a process when its store came from the
settings. The child opens the store over psycopg from DATABASE_URL (the Supabase
transport in a child needs a real PostgREST: not covered here)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import psycopg
import pytest

from cascadian.backtests.process import ProcessBacktester
from cascadian.backtests.runner import Backtester
from cascadian.bootstrap import open_store
from cascadian.config import Settings
from cascadian.errors import BacktestCancelled, BacktestInvalid
from cascadian.store.sql_store import SqlStore
from cascadian.web.app import create_app
from tests.api_client import KEY, bearer
from tests.backtests.history_fixture import HOUR, T0, write_history
from tests.backtests.test_interfaces import ENV, WINDOW, saved
from tests.backtests.test_runner import CONFIG, request

pytestmark = pytest.mark.slow  # each backtest spawns a Python process


def configured(database_url: str) -> Settings:
    return Settings(**{"DATABASE_URL": database_url, "ADMIN_API_KEY": KEY, **ENV})


async def test_a_backtest_in_a_process_reports_what_it_reports_in_process(
    pg_store: SqlStore, db: psycopg.Connection[Any], database_url: str
) -> None:
    await write_history(pg_store)
    seen: list[tuple[int, int]] = []
    apart = await ProcessBacktester(configured(database_url), open_store).run(
        request(), lambda done, total: seen.append((done, total))
    )
    here = await Backtester(pg_store, CONFIG).run(request())
    assert apart == here
    assert seen[-1] == (4, 4)


async def test_a_request_that_cannot_run_is_refused_with_its_reason_from_the_process(
    pg_store: SqlStore, db: psycopg.Connection[Any], database_url: str
) -> None:
    await write_history(pg_store)
    with pytest.raises(BacktestInvalid, match="must be after --from"):
        await ProcessBacktester(configured(database_url), open_store).run(request(end=T0 - HOUR))
    with pytest.raises(BacktestInvalid) as refused:
        await ProcessBacktester(configured(database_url), open_store).run(
            request(start=T0 - HOUR, variables={"threshold": [0.3]})
        )
    assert {(p.node_id, p.field) for p in refused.value.problems} >= {("stream", "markets")}


async def test_a_cancel_stops_the_backtests_process(
    pg_store: SqlStore, db: psycopg.Connection[Any], database_url: str
) -> None:
    await write_history(pg_store)
    cancel = asyncio.Event()
    cancel.set()
    with pytest.raises(BacktestCancelled):
        await ProcessBacktester(configured(database_url), open_store).run(request(), cancel=cancel)


async def test_the_server_backtests_in_a_process_when_its_store_comes_from_the_settings(
    pg_store: SqlStore, db: psycopg.Connection[Any], database_url: str
) -> None:
    await write_history(pg_store)
    sid = saved(db)
    app = create_app(configured(database_url))
    async with app.router.lifespan_context(app):
        assert isinstance(app.state.backtest_service.backtester, ProcessBacktester)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", headers=bearer()
        ) as http:
            answer = await http.post(f"/api/strategies/{sid}/backtest", json=WINDOW)
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["data"]["rows"]
    assert (row["total_pnl"], row["orders"]) == ("343.65420000", 2)
