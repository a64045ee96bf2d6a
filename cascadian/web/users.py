"""The routes users share with the operator: the operator key, or a signed-in user's
Supabase access token.

    Authorization: Bearer <ADMIN_API_KEY>      the operator: everything
    Authorization: Bearer <access token>       a user: their own strategies only

The check runs before FastAPI reads the body (as AdminKeyFirstRoute's does), so a
caller who is neither gets 401, never a 422 about a body it may not send. The
operator key is compared first, in constant time; a token shaped like a JWT is
then verified (auth/tokens.py) and the user's request counted against their
share (auth/quotas.py: 429 with Retry-After past it). The user is left on the
request, where `Acting` (deps.py) makes them the Actor the routes pass to the
services; the services pass it to the store, whose SQL scopes every read and
change to them (migrations/027, 031).

Both schemes are declared to OpenAPI, so /docs offers either.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response

from cascadian.auth.jwks import JwksUnavailable
from cascadian.auth.quotas import UserQuotas
from cascadian.auth.tokens import TokenRefused, TokenVerifier
from cascadian.errors import StoreUnavailable
from cascadian.web.deps import AdminDeclared, bearer_matches, get_settings, require_admin_key
from cascadian.web.responses import Unauthorized, error_responses

user_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="SupabaseUser",
    bearerFormat="JWT",
    description="A signed-in user's Supabase access token (session.access_token): "
    "their own strategies only",
)
UserDeclared = Annotated[HTTPAuthorizationCredentials | None, Security(user_bearer)]


class TokensUnavailable(StoreUnavailable):
    """The project's signing keys could not be fetched: a 503, not the user's fault."""


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


async def identify(request: Request) -> UUID | None:
    """The signed-in user making the request, or None for the operator; Unauthorized
    for anyone else, QuotaExceeded past the user's requests per minute."""
    settings = get_settings(request)
    header = request.headers.get("authorization") or ""
    if settings.admin_api_key is not None and bearer_matches(header, settings.admin_api_key):
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is not None and scheme.lower() == "bearer" and _looks_like_jwt(token):
        try:
            user = await verifier.verify(token)
        except TokenRefused as exc:
            raise Unauthorized(f"Invalid access token: {exc}") from None
        except JwksUnavailable as exc:
            raise TokensUnavailable(str(exc)) from None
        quotas: UserQuotas = request.app.state.quotas
        await quotas.request(user.id)
        return user.id
    require_admin_key(request)  # 401, or (development, no key set) the operator
    return None


def get_quotas(request: Request) -> UserQuotas:
    quotas: UserQuotas = request.app.state.quotas
    return quotas


Quotas = Annotated[UserQuotas, Depends(get_quotas)]


def declare_either(_: AdminDeclared = None, __: UserDeclared = None) -> None:
    """Declares both schemes on a route whose check UserOrOperatorRoute already made;
    OpenAPI lists them as alternatives (either one opens the route)."""


class UserOrOperatorRoute(APIRoute):
    """Identifies the caller before FastAPI reads the request body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            request.state.acting_user = await identify(request)
            return await handler(request)

        return checked


def user_router() -> APIRouter:
    """A router for routes users share with the operator."""
    return APIRouter(
        prefix="/api",
        route_class=UserOrOperatorRoute,
        dependencies=[Depends(declare_either)],
        responses=error_responses(429),
    )
