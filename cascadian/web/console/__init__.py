"""The operators' console at /console: server-rendered pages (Jinja2) over the same
services as the API, behind ADMIN_API_KEY, with its CSS and script served by the
app itself (nothing from a CDN, no build step)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from cascadian.clock import Clock
from cascadian.config import Settings

# The routes register on base.router as their modules are imported.
from cascadian.web.console import (  # noqa: F401
    access,
    actions,
    audit,
    backtest,
    decisions,
    equity,
    live,
    live_rows,
    operators,
    pages,
    trading,
)
from cascadian.web.console.base import router
from cascadian.web.console.render import STATIC
from cascadian.web.console.session import Sessions
from cascadian.web.console.throttle import SignInThrottle


def install(app: FastAPI, settings: Settings, clock: Clock | None = None) -> None:
    """Add the console's routes and static files to the app; `clock` times the
    sign-in throttle (the system's when None)."""
    app.state.console_sessions = Sessions(settings)
    app.state.console_sign_ins = SignInThrottle(clock.monotonic) if clock else SignInThrottle()
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.include_router(router)
