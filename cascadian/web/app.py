"""The FastAPI app: wiring, lifespan and error shapes. Routes live in api_*.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from cascadian.bootstrap import build_executor, open_store
from cascadian.clock import Clock
from cascadian.config import Settings, get_settings
from cascadian.control import ControlService
from cascadian.errors import Conflict, NotFound, ScheduleError, StoreUnavailable
from cascadian.ports import FullStore, WorkflowExecutor
from cascadian.tick import TickService
from cascadian.web import cron, ops, strategies
from cascadian.web.cron import now_iso
from cascadian.web.deps import Misconfigured, Unauthorized

log = logging.getLogger(__name__)


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
    _install_error_handlers(app)
    return app


def _error(status: int, error: str, message: str | None = None, **extra: Any) -> JSONResponse:
    body = {"success": False, "error": error, "message": message, "timestamp": now_iso(), **extra}
    return JSONResponse(status_code=status, content=body)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Unauthorized)
    async def unauthorized(_: Request, exc: Unauthorized) -> JSONResponse:
        return JSONResponse(
            status_code=401,
            content={"success": False, "error": "Unauthorized", "message": exc.message},
        )

    @app.exception_handler(Misconfigured)
    async def misconfigured(_: Request, exc: Misconfigured) -> JSONResponse:
        log.error("refused a request: %s", exc.message)
        return _error(503, "Misconfigured", exc.message, execution_time_ms=0)

    @app.exception_handler(StoreUnavailable)
    async def unavailable(_: Request, exc: StoreUnavailable) -> JSONResponse:
        return _error(503, "Service Unavailable", str(exc), execution_time_ms=0)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, "Not Found", str(exc))

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return _error(409, "Conflict", str(exc))

    @app.exception_handler(ScheduleError)
    async def invalid_schedule(_: Request, exc: ScheduleError) -> JSONResponse:
        return _error(422, "Validation Error", str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return _error(422, "Validation Error", "the request is not valid", details=details)
