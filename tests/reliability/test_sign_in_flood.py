"""Console sign-in is throttled per client, with a clear answer and a quiet log.

Before: the sign-in form took 451 attempts a second from one client, each answered
with a page and a log line ("sign-in refused"), so a flood filled the log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from cascadian.clock import FakeClock
from cascadian.store.sql_store import SqlStore
from cascadian.web.app import create_app
from cascadian.web.console.throttle import BURST, REFILL_SECONDS
from tests.api_client import KEY
from tests.web.console.helpers import ORIGIN, settings

WRONG = {"key": "guess-" + "x" * 20}


@asynccontextmanager
async def browser(
    store: SqlStore, clock: FakeClock, address: str = "203.0.113.7"
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings(), store=store, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as c:
            c.app = app  # type: ignore[attr-defined]
            yield c


async def other_client(c: httpx.AsyncClient, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=c.app, client=(address, 50001))  # type: ignore[attr-defined]
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN)


async def test_a_flood_of_wrong_keys_gets_429_with_retry_after_and_one_log_line(
    store: SqlStore, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cascadian")
    clock = FakeClock(datetime(2026, 6, 1, tzinfo=UTC))
    async with browser(store, clock) as c:
        replies = [await c.post("/console/sign-in", data=WRONG) for _ in range(200)]
        statuses = [r.status_code for r in replies]
        assert statuses[:BURST] == [401] * BURST
        assert set(statuses[BURST:]) == {429}
        throttled = replies[-1]
        assert throttled.headers["retry-after"] == str(int(REFILL_SECONDS))
        assert "Too many sign-in attempts" in throttled.text
        assert throttled.headers["content-security-policy"]  # a console page like the rest
        # Even the right key waits: the throttle counts attempts, not failures.
        assert (await c.post("/console/sign-in", data={"key": KEY})).status_code == 429
        refused = [r for r in caplog.records if "sign-in refused" in r.getMessage()]
        flood = [r for r in caplog.records if "too many sign-in attempts" in r.getMessage()]
        assert (len(refused), len(flood)) == (BURST, 1)
        # Another client is not held back by this one.
        async with await other_client(c, "198.51.100.9") as neighbour:
            assert (await neighbour.post("/console/sign-in", data={"key": KEY})).status_code == 303
        # Once the wait is over, one more attempt goes ahead: the right key signs in.
        clock.advance(REFILL_SECONDS)
        signed_in = await c.post("/console/sign-in", data={"key": KEY})
        assert signed_in.status_code == 303
