"""The web layer's error shapes, in one place: the body every error answer has, its
OpenAPI description, and the handlers that turn our errors into it.

    {"success": false, "error": "Not Found", "message": "...", "timestamp": "..."}

Every error has it, the 401 too (its first three fields are the original app's
contract); a 503 adds `execution_time_ms`, a 422 `details` (each invalid field's
`loc` and `message`; for a graph that cannot run, each problem's node_id,
node_type, field and message). A 405's `Allow` names every method the path
answers, across the routes that serve it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from cascadian.errors import (
    BacktestInvalid,
    Conflict,
    Forbidden,
    GraphInvalid,
    InvalidInput,
    MarketUnavailable,
    NotFound,
    QuotaExceeded,
    ScheduleError,
    StoreUnavailable,
    TriggerInvalid,
)

log = logging.getLogger(__name__)


class Unauthorized(Exception):
    """A missing or wrong bearer secret."""

    def __init__(self, message: str) -> None:
        self.message = message


class Misconfigured(Exception):
    """The deployment cannot serve this request safely (e.g. production without a secret)."""

    def __init__(self, message: str) -> None:
        self.message = message


class ErrorBody(BaseModel):
    success: bool = False
    error: str
    message: str | None = None
    timestamp: datetime | None = None
    execution_time_ms: int | None = Field(default=None, description="503 only")
    details: list[dict[str, Any]] | None = Field(
        default=None,
        description="422 only: each invalid field's `loc` and `message`, or each "
        "graph problem's `node_id`, `node_type`, `field` and `message`",
    )


_ERRORS: dict[int, str] = {
    401: "Missing or wrong bearer key, or a user's access token that is not valid",
    403: "A signed-in user asked for what only an operator may do; `message` says what",
    404: "No strategy (or run) has this id",
    409: "The strategy's state does not allow this; `message` says why",
    422: "A malformed id, query or body, an invalid cron expression or time zone, or a "
    "graph that cannot run (`details`: every problem, with its node and field)",
    429: "A user's share is used up (requests per minute, strategies, dry runs in "
    "flight); `Retry-After` says in how many seconds to try again",
    503: "The database is unavailable, or the deployment is misconfigured",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error codes, all with the ErrorBody shape."""
    return {c: {"model": ErrorBody, "description": _ERRORS[c]} for c in codes}


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


# No answer repeats more of what a caller sent than this (a 5 MB cron value, say).
MAX_MESSAGE_CHARS = 500
MAX_DETAIL_CHARS = 200


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def error(
    status: int,
    name: str,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    message = None if message is None else _short(message, MAX_MESSAGE_CHARS)
    body = {"success": False, "error": name, "message": message, "timestamp": now_iso(), **extra}
    return JSONResponse(status_code=status, content=body, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Unauthorized)
    async def unauthorized(_: Request, exc: Unauthorized) -> JSONResponse:
        return error(401, "Unauthorized", exc.message)

    @app.exception_handler(Misconfigured)
    async def misconfigured(_: Request, exc: Misconfigured) -> JSONResponse:
        log.error("refused a request: %s", exc.message)
        return error(503, "Misconfigured", exc.message, execution_time_ms=0)

    @app.exception_handler(StoreUnavailable)
    async def unavailable(_: Request, exc: StoreUnavailable) -> JSONResponse:
        return error(503, "Service Unavailable", str(exc), execution_time_ms=0)

    @app.exception_handler(Forbidden)
    async def forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        return error(403, "Forbidden", str(exc))

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return error(404, "Not Found", str(exc))

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return error(409, "Conflict", str(exc))

    @app.exception_handler(InvalidInput)
    async def invalid_input(_: Request, exc: InvalidInput) -> JSONResponse:
        return error(422, "Validation Error", str(exc))

    @app.exception_handler(QuotaExceeded)
    async def quota(_: Request, exc: QuotaExceeded) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)}
        return error(429, "Too Many Requests", str(exc), headers=headers)

    @app.exception_handler(ScheduleError)
    async def invalid_schedule(_: Request, exc: ScheduleError) -> JSONResponse:
        return error(422, "Validation Error", str(exc))

    @app.exception_handler(GraphInvalid)
    async def invalid_graph(_: Request, exc: GraphInvalid) -> JSONResponse:
        details = [
            {"node_id": p.node_id, "node_type": p.node_type, "field": p.field, "message": p.message}
            for p in exc.problems
        ]
        message = f"the graph cannot run: {len(details)} problem(s)"
        return error(422, "Validation Error", message, details=details)

    @app.exception_handler(BacktestInvalid)
    async def invalid_backtest(_: Request, exc: BacktestInvalid) -> JSONResponse:
        details = [
            {"node_id": p.node_id, "node_type": p.node_type, "field": p.field, "message": p.message}
            for p in exc.problems
        ]
        return error(422, "Validation Error", f"cannot backtest: {exc}", details=details)

    @app.exception_handler(TriggerInvalid)
    async def invalid_triggers(_: Request, exc: TriggerInvalid) -> JSONResponse:
        details = [
            {"trigger": index, "field": field, "message": _short(message, MAX_DETAIL_CHARS)}
            for index, field, message in exc.problems
        ]
        message = f"the triggers cannot be used: {len(details)} problem(s)"
        return error(422, "Validation Error", message, details=details)

    @app.exception_handler(MarketUnavailable)
    async def market_unavailable(_: Request, exc: MarketUnavailable) -> JSONResponse:
        return error(503, "Service Unavailable", str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "loc": list(e.get("loc", ()))[:10],
                "message": _short(str(e.get("msg", "")), MAX_DETAIL_CHARS),
            }
            for e in exc.errors()[:50]
        ]
        return error(422, "Validation Error", "the request is not valid", details=details)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        """A bug still answers in the one shape, so a client can tell it from a lost
        connection (Starlette logs the traceback after this answer)."""
        return error(500, "Internal Server Error", f"unexpected {type(exc).__name__}")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        """404 for an unknown route, 405 for a wrong method, and any other HTTP error
        Starlette raises, in the same shape as ours (with its headers: 405's Allow)."""
        if exc.status_code in (204, 304):  # answers without a body, as Starlette's
            return Response(status_code=exc.status_code, headers=exc.headers)
        try:
            name = HTTPStatus(exc.status_code).phrase
        except ValueError:
            name = "HTTP Error"
        message = exc.detail if isinstance(exc.detail, str) and exc.detail != name else None
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return error(exc.status_code, name, message, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this path: the cron route is one route per
    method (an operation id each), so the refusing route's own list is too short."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
