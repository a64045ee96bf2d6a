"""What every console route shares: the router, errors rendered as pages with
security headers, the services on app.state, and reading small forms and ids.

The routes are in access.py (signing in and out), pages.py (what an operator
reads), actions.py (the buttons that change a strategy), trading.py (a
strategy's portfolio, its limits and the kill switches) and operators.py (the runs
of every strategy, a re-run, and bulk changes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.responses import Response

from cascadian.console.service import ConsoleService
from cascadian.data import AuditEntry, RunEntry
from cascadian.errors import NotFound, StoreUnavailable
from cascadian.web.console.render import templates
from cascadian.web.console.session import COOKIE_PATH, Refused, Sessions, SignInRequired
from cascadian.web.deps import (
    get_bulk_service,
    get_control_service,
    get_runs_service,
    get_strategy_service,
    get_tick_service,
    get_trigger_service,
)

TEMPLATES = templates()
PAGE_SIZE = 50
LIVE_SECONDS = 5  # how often the overview and a strategy's page poll /console/live
RUNS_PAGE = 20
MAX_FORM_BYTES = 4096
WINDOWS = (1, 3, 6, 24)
ACTIONS = ("start", "pause", "stop", "resume", "run-now")
DONE = {
    "start": "Started: it runs from its next slot.",
    "pause": "Paused: it will not run until resumed.",
    "stop": "Stopped: it will not run until resumed.",
    "resume": "Resumed: it runs from its next slot.",
    "run-now": "Ran now: this is the run.",
    "rerun": "Re-ran the failed run with the inputs it had: this is the new run.",
    "triggers": "Triggers saved: each is watched from its next price.",
}
RAN_AND_FAILED = "Ran now, and the run failed: the node in red says why."
RERAN_AND_FAILED = "Re-ran the failed run, and it failed again: the node in red says why."
SECURITY_HEADERS = {
    # connect-src: console.js polls /console/live.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; "
    "img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    sessions: Sessions = request.app.state.console_sessions
    context.setdefault("session", None)
    context.setdefault("notice", None)
    context.setdefault("error", None)
    context["open_console"] = not sessions.needs_key
    context["live_every"] = LIVE_SECONDS
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)


def refusal(request: Request, status: int, message: str) -> HTMLResponse:
    return page(request, "error.html", status, status=status, message=message)


class ConsoleRoute(APIRoute):
    """Console errors as pages (never the API's JSON), and security headers on all."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def rendered(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                query = urlencode({"next": target})
                response = RedirectResponse(f"{COOKIE_PATH}/sign-in?{query}", status_code=303)
            except Refused as exc:
                response = refusal(request, exc.status, exc.message)
            except NotFound as exc:
                response = refusal(request, 404, f"Not found: {exc}.")
            except StoreUnavailable as exc:
                response = refusal(request, 503, str(exc))
            response.headers.update(SECURITY_HEADERS)
            return response

        return rendered


router = APIRouter(prefix=COOKIE_PATH, route_class=ConsoleRoute, include_in_schema=False)


def sessions_of(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.console_sessions
    return sessions


def console_of(request: Request) -> ConsoleService:
    service: ConsoleService = request.app.state.console_service
    return service


# The API's own accessors, under the console's names.
strategies_of = get_strategy_service
control_of = get_control_service


ticks_of = get_tick_service
runs_of = get_runs_service
bulk_of = get_bulk_service
triggers_of = get_trigger_service


async def read_form(request: Request) -> dict[str, str]:
    """A urlencoded form of a few fields (the console's forms are small)."""
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        raise Refused(413, "This form is too large.")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Refused(413, "This form is too large.")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def page_link(page: int) -> str:
    return f"?page={page}"


def live_link(kind: str, filters: Mapping[str, Any]) -> str:
    """Where a list's first page polls for its rows (live_rows.py)."""
    chosen = {k: v for k, v in filters.items() if v not in ("", None)}
    return f"{COOKIE_PATH}/live/{kind}" + (f"?{urlencode(chosen)}" if chosen else "")


def rows_version(*rows: Any) -> str:
    """A short digest of what a live list shows: a poll with the same one is told
    nothing changed."""
    return hashlib.blake2b(repr(rows).encode(), digest_size=8).hexdigest()


def run_rows_version(runs: Sequence[RunEntry]) -> str:
    return rows_version(
        *((r.id, r.status, r.duration_ms, r.error_message, r.workflow_name) for r in runs)
    )


def audit_rows_version(entries: Sequence[AuditEntry]) -> str:
    return rows_version(*(e.id for e in entries))


def parse_id(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(f"no {what} has the id {value[:40]!r}") from None


def clamp(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(high, max(low, int(value or default)))
    except ValueError:
        return default
