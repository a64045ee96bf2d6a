"""Arranging what the console shows, and a client that signs in as a browser does."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.data import Notification
from cascadian.ports import FullStore
from cascadian.reports import TickReport
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.web.app import create_app
from cascadian.workflow.executor import GraphExecutor
from tests.api_client import CRON, KEY
from tests.factories import USER, add_strategy, chain, node

ORIGIN = "http://console.test"
FAILING_GRAPH = chain(
    node("start", "start"),
    node("cheap", "filter", items="${start.missing}", conditions=[]),
    node("end", "end"),
)


def settings(**env: Any) -> Settings:
    return Settings(**({"ADMIN_API_KEY": KEY, "CRON_SECRET": CRON} | env))


@asynccontextmanager
async def console_client(store: FullStore, **env: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app on `store`, as a browser reaches it: no bearer header, redirects not
    followed (the tests look at them), and the cookie jar of one browser."""
    app = create_app(settings(**env), store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as c:
            yield c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


async def sign_in(c: httpx.AsyncClient, key: str = KEY) -> str:
    """Sign in with the form; answer the CSRF token the pages then carry."""
    reply = await c.post("/console/sign-in", data={"key": key, "next": "/console/strategies"})
    assert reply.status_code == 303, reply.text
    page = await c.get("/console/strategies")
    assert page.status_code == 200
    return csrf_of(page.text)


async def failing_strategy(store: SqlStore, db: Any, name: str = "Cheap markets") -> UUID:
    """A strategy whose filter node fails, run once by a real tick (so its run, node
    logs, error streak and a ledger row exist)."""
    now = datetime.now(UTC)
    sid = add_strategy(
        db, next_execution_at=now - timedelta(seconds=5), name=name, graph=FAILING_GRAPH, interval=1
    )
    await TickService(store, GraphExecutor(), settings(), FakeClock(now)).tick()
    return sid


async def ticks_at(store: SqlStore, *minutes_ago: float) -> None:
    now = datetime.now(UTC)
    for m in minutes_ago:
        at = now - timedelta(minutes=m)
        await store.record_tick(TickReport("cron", at, finished_at=at))


async def notify(store: SqlStore, sid: UUID | None, title: str) -> None:
    await store.notify(
        Notification(USER, sid, title, f"{title}: the message", type="strategy_update"),
        datetime.now(UTC),
    )
