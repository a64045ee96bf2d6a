"""The operators' console at /console: server-rendered pages (Jinja2) over the same
services as the API, behind ADMIN_API_KEY, with its CSS and script served by the
app itself (nothing from a CDN, no build step)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from cascadian.config import Settings

# The routes register on base.router as their modules are imported.
from cascadian.web.console import access, actions, pages  # noqa: F401
from cascadian.web.console.base import router
from cascadian.web.console.render import STATIC
from cascadian.web.console.session import Sessions


def install(app: FastAPI, settings: Settings) -> None:
    """Add the console's routes and static files to the app."""
    app.state.console_sessions = Sessions(settings)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.include_router(router)
