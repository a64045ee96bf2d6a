"""The FastAPI app: its lifespan (the services a process uses) and its routers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from cascadian.audit.service import AuditService
from cascadian.bootstrap import services
from cascadian.clock import Clock
from cascadian.config import Settings, get_settings
from cascadian.ports import FullStore, WorkflowExecutor
from cascadian.trading.equity import EquityService
from cascadian.web import (
    audit,
    backtests,
    bulk,
    console,
    control,
    cron,
    decisions,
    equity,
    metrics,
    ops,
    paper,
    runs,
    strategies,
    trading,
    triggers,
)
from cascadian.web.body_limit import BodyLimit
from cascadian.web.health_snapshot import HealthSnapshot
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
        # A store opened from the settings can be opened by a backtest's own process
        # too, which keeps backtests off the event loop the cron route ticks on.
        async with services(
            settings,
            store=store,
            executor=executor,
            clock=clock,
            backtest_processes=store is None,
        ) as s:
            app.state.store = s.store
            app.state.tick_service = s.ticks
            app.state.control_service = s.control
            app.state.paper_service = s.paper
            app.state.trading_service = s.trading
            app.state.decision_service = s.decisions
            app.state.equity_service = EquityService(s.store)
            app.state.console_service = s.console
            app.state.metrics = s.metrics
            app.state.alerts = s.alerts
            app.state.strategy_service = s.strategies
            app.state.audit_service = AuditService(s.store)
            app.state.backtest_service = s.backtests
            app.state.runs_service = s.runs
            app.state.bulk_service = s.bulk
            app.state.trigger_service = s.triggers
            app.state.token_verifier = s.tokens
            app.state.quotas = s.quotas
            app.state.health_snapshot = HealthSnapshot(
                s.control.health,
                settings.health_cache_seconds,
                clock.monotonic if clock is not None else time.monotonic,
            )
            yield

    # /docs and /redoc serve Swagger UI and ReDoc from the package's own copies, so
    # they work offline and behind a strict network policy (no CDN).
    app = FastAPIOffline(
        title="cascadian",
        summary="Runs users' trading strategies on their schedules.",
        lifespan=lifespan,
        static_url="/docs-assets",
    )
    app.state.settings = settings
    app.include_router(cron.router)
    app.include_router(ops.router)
    app.include_router(control.router)
    app.include_router(runs.router)
    app.include_router(runs.user_routes)
    app.include_router(bulk.router)
    app.include_router(strategies.router)
    app.include_router(backtests.router)
    app.include_router(paper.router)
    app.include_router(trading.router)
    app.include_router(decisions.router)
    app.include_router(decisions.operators)
    app.include_router(audit.router)
    app.include_router(equity.router)
    app.include_router(triggers.router)
    console.install(app, settings, clock)
    app.include_router(metrics.router)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    return app
