"""FastAPI dependencies: the bearer-secret checks, who is acting (`Acting`), and the
services on app.state as typed aliases (`Control`, `Ticks`, `Paper`, `Trading`,
`Strategies`, `Runs`, `Bulk`, `Triggers`) for route signatures.

The secrets are declared to OpenAPI as HTTP bearer schemes (`CronSecret`,
`AdminApiKey`), so /docs has an Authorize button and "Try it out" sends the key.
The schemes only declare: `auto_error=False` never answers for us, and the check
stays ours (constant time, the fixed 401 body, before the body is read).
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BeforeValidator, SecretStr
from starlette.responses import Response

from cascadian.backtests.service import BacktestService
from cascadian.clock import as_utc
from cascadian.config import Settings
from cascadian.control import ControlService
from cascadian.data import Actor
from cascadian.operators.bulk import BulkService
from cascadian.operators.runs import RunsService
from cascadian.strategies import StrategyService
from cascadian.tick import TickService
from cascadian.trading.controls import TradingService
from cascadian.trading.equity import EquityService
from cascadian.trading.paper import PaperService
from cascadian.triggers.service import TriggerService
from cascadian.web.responses import Misconfigured, Unauthorized

log = logging.getLogger(__name__)


def bearer_matches(header: str | None, secret: SecretStr) -> bool:
    """Constant-time check of `Authorization: Bearer <secret>`."""
    scheme, _, token = (header or "").partition(" ")
    expected = secret.get_secret_value().encode()
    # compare_digest runs on every request, even a malformed one, to keep timing flat.
    same = hmac.compare_digest(token.strip().encode(), expected)
    return scheme.lower() == "bearer" and same


def check_secret(
    settings: Settings,
    header: str | None,
    secret: SecretStr | None,
    name: str,
    warned: set[str] | None = None,
) -> None:
    """`warned`: the names already warned about (the app's), so that development's
    warning comes once, not on every request."""
    if secret is None:
        if settings.is_production:
            raise Misconfigured(f"{name} is not set: refusing to run unauthenticated in production")
        if warned is None or name not in warned:
            log.warning(
                "%s is not set: allowing unauthenticated requests (development only; said once)",
                name,
            )
            if warned is not None:
                warned.add(name)
        return
    if not bearer_matches(header, secret):
        raise Unauthorized(f"Invalid or missing {name}")


cron_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="CronSecret",
    description="CRON_SECRET (ADMIN_API_KEY when CRON_SECRET is unset)",
)
admin_bearer = HTTPBearer(auto_error=False, scheme_name="AdminApiKey", description="ADMIN_API_KEY")
# What the schemes parse is unused: the checks below read the raw header.
Declared = Annotated[HTTPAuthorizationCredentials | None, Security(cron_bearer)]
AdminDeclared = Annotated[HTTPAuthorizationCredentials | None, Security(admin_bearer)]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _warned(request: Request) -> set[str]:
    """The secrets this app has warned are unset (kept on app.state)."""
    state = request.app.state
    if not hasattr(state, "warned_unset_secrets"):
        state.warned_unset_secrets = set()
    warned: set[str] = state.warned_unset_secrets
    return warned


def require_cron_secret(request: Request, _: Declared = None) -> None:
    settings = get_settings(request)
    check_secret(
        settings,
        request.headers.get("authorization"),
        settings.tick_secret,
        "CRON_SECRET",
        _warned(request),
    )


def require_admin_key(request: Request, _: AdminDeclared = None) -> None:
    """The operators' endpoints: ADMIN_API_KEY, with the cron endpoint's rules."""
    settings = get_settings(request)
    check_secret(
        settings,
        request.headers.get("authorization"),
        settings.admin_api_key,
        "ADMIN_API_KEY",
        _warned(request),
    )


def get_control_service(request: Request) -> ControlService:
    service: ControlService = request.app.state.control_service
    return service


def get_tick_service(request: Request) -> TickService:
    service: TickService = request.app.state.tick_service
    return service


def get_paper_service(request: Request) -> PaperService:
    service: PaperService = request.app.state.paper_service
    return service


def get_trading_service(request: Request) -> TradingService:
    service: TradingService = request.app.state.trading_service
    return service


def get_equity_service(request: Request) -> EquityService:
    service: EquityService = request.app.state.equity_service
    return service


def get_strategy_service(request: Request) -> StrategyService:
    service: StrategyService = request.app.state.strategy_service
    return service


def get_runs_service(request: Request) -> RunsService:
    service: RunsService = request.app.state.runs_service
    return service


def get_bulk_service(request: Request) -> BulkService:
    service: BulkService = request.app.state.bulk_service
    return service


def client_address(request: Request) -> str | None:
    """The client's address as the server saw it (behind a proxy, the proxy's,
    unless uvicorn is told to trust its forwarded headers)."""
    return request.client.host if request.client else None


def api_actor(request: Request) -> Actor:
    """Who acts on an API route, from the client's address: the signed-in user whose
    token web/users.py verified before this, else the operator (ADMIN_API_KEY,
    checked before this)."""
    user: UUID | None = getattr(request.state, "acting_user", None)
    if user is not None:
        return Actor.user(user, "api", client_address(request))
    return Actor.operator("api", client_address(request))


Acting = Annotated[Actor, Depends(api_actor)]
Control = Annotated[ControlService, Depends(get_control_service)]
Ticks = Annotated[TickService, Depends(get_tick_service)]
Paper = Annotated[PaperService, Depends(get_paper_service)]
Trading = Annotated[TradingService, Depends(get_trading_service)]
Equity = Annotated[EquityService, Depends(get_equity_service)]
Strategies = Annotated[StrategyService, Depends(get_strategy_service)]
Runs = Annotated[RunsService, Depends(get_runs_service)]
Bulk = Annotated[BulkService, Depends(get_bulk_service)]


def get_backtest_service(request: Request) -> BacktestService:
    service: BacktestService = request.app.state.backtest_service
    return service


Backtests = Annotated[BacktestService, Depends(get_backtest_service)]


def get_trigger_service(request: Request) -> TriggerService:
    service: TriggerService = request.app.state.trigger_service
    return service


Triggers = Annotated[TriggerService, Depends(get_trigger_service)]


def declare_admin_key(_: AdminDeclared = None) -> None:
    """Declares ADMIN_API_KEY on a route whose check AdminKeyFirstRoute already made."""


class AdminKeyFirstRoute(APIRoute):
    """A route that checks ADMIN_API_KEY before FastAPI reads the request body, so an
    unauthenticated caller gets 401 even for a malformed body, never a 422 that
    would tell it something about the endpoint. Routers using it add
    `Depends(declare_admin_key)` so OpenAPI shows the scheme."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            require_admin_key(request)
            return await handler(request)

        return checked


def admin_router() -> APIRouter:
    """A router for operators' routes: ADMIN_API_KEY checked before the body is read,
    and declared to OpenAPI."""
    return APIRouter(
        prefix="/api", route_class=AdminKeyFirstRoute, dependencies=[Depends(declare_admin_key)]
    )


_ISO_DATE = re.compile(r"\d{4}-")


def _iso_only(value: object) -> object:
    """A time in a query is ISO 8601, as the schema says; pydantic alone would also
    take a number as seconds since 1970, which no client means."""
    if isinstance(value, str | int | float) and not _ISO_DATE.match(str(value)):
        raise ValueError("a time in ISO 8601, e.g. 2026-12-07T12:00:00Z")
    return value


# A query parameter's time: ISO 8601 only; without a zone, UTC.
IsoTime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(as_utc)]
