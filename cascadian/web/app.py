"""The FastAPI app: its lifespan (the services a process uses) and its routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from cascadian.bootstrap import build_executor, open_store
from cascadian.clock import Clock
from cascadian.config import Settings, get_settings
from cascadian.control import ControlService
from cascadian.ports import FullStore, WorkflowExecutor
from cascadian.tick import TickService
from cascadian.web import cron, ops, strategies
from cascadian.web.responses import install_error_handlers


def create_app(
    settings: Settings | None = None,
    *,
    store: FullStore | None = None,
    executor: WorkflowExecutor | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """Build the app. Pass a store/executor to use them instead of the configured ones."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The HTTP client nodes use; its timeout stays well under the tick budget.
        async with httpx.AsyncClient(timeout=min(10.0, settings.tick_budget_seconds / 3)) as http:
            own_store = store is None
            active_store = store if store is not None else await open_store(settings)
            active_executor = executor or build_executor(settings, http, active_store)
            app.state.store = active_store
            app.state.tick_service = TickService(active_store, active_executor, settings, clock)
            app.state.control_service = ControlService(active_store, clock)
            try:
                yield
            finally:
                if own_store:
                    await active_store.close()

    app = FastAPI(
        title="cascadian",
        summary="Runs users' trading strategies on their schedules.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(cron.router)
    app.include_router(ops.router)
    app.include_router(strategies.router)
    install_error_handlers(app)
    return app
