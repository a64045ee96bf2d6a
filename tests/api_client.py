"""An HTTP client on the app, for the operators' API tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from cascadian.config import Settings
from cascadian.ports import FullStore
from cascadian.web.app import create_app

KEY = "adm1n-key-for-tests"
CRON = "cr0n-secret-for-tests"


def bearer(token: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def client(
    store: FullStore, executor: Any = None, **env: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The app on `store`, sending the admin key; without an executor, the real
    graph executor runs the strategies."""
    settings = Settings(**({"ADMIN_API_KEY": KEY, "CRON_SECRET": CRON} | env))
    app = create_app(settings, store=store, executor=executor)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=bearer()
        ) as c:
            yield c
