"""A Supabase access token, verified here: who the signed-in user is.

Supabase Auth gives each signed-in user a JWT (`sub` the user's id, `role` and
`aud` `authenticated`, `iss` `<SUPABASE_URL>/auth/v1`, `exp`). It is signed with
the project's legacy shared secret (HS256, SUPABASE_JWT_SECRET) or, on projects
using signing keys, with an asymmetric key (ES256 or RS256) whose public half the
project publishes (jwks.py). PyJWT does the cryptography; this module only says
which key and which algorithm a token may use, and which claims it must carry.

Algorithm confusion is refused by construction: the algorithm comes from the key,
never from the token. An HS256 token is checked only against the shared secret
(and only when one is configured); an ES256/RS256 token only against the JWKS key
its `kid` names, with that key's own algorithm. `none` and anything else is
refused before any key is looked at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt
from pydantic import SecretStr

from cascadian.auth.jwks import ASYMMETRIC, Jwks, JwksUnavailable

AUDIENCE = "authenticated"
REQUIRED = ["exp", "iss", "sub", "aud", "role"]


class TokenRefused(Exception):
    """The token is not a valid access token of this project's users; the message
    says why, in words safe to answer (never the token)."""


@dataclass(frozen=True)
class SignedInUser:
    """A user of the app, as their verified token says."""

    id: UUID
    is_anonymous: bool = False
    session_id: str | None = None


class TokenVerifier:
    def __init__(
        self,
        issuer: str,
        *,
        secret: SecretStr | None = None,
        jwks: Jwks | None = None,
        leeway_seconds: float = 30.0,
        allow_anonymous: bool = False,
    ) -> None:
        self.issuer = issuer
        self.secret = secret
        self.jwks = jwks
        self.leeway_seconds = leeway_seconds
        self.allow_anonymous = allow_anonymous

    async def verify(self, token: str) -> SignedInUser:
        """The user, or TokenRefused saying why; JwksUnavailable when the project's
        keys cannot be fetched (the caller answers 503, not 401)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRefused("the token is not a JWT") from None
        alg = header.get("alg")
        key: Any
        if alg == "HS256":
            if self.secret is None:
                raise TokenRefused("HS256 tokens are not accepted: SUPABASE_JWT_SECRET is not set")
            key = self.secret.get_secret_value()
        elif alg in ASYMMETRIC:
            key = await self._public_key(header.get("kid"), alg)
        else:
            raise TokenRefused(f"the token's algorithm {str(alg)[:20]!r} is not accepted")
        claims = self._decode(token, key, alg)
        return self._user(claims)

    async def _public_key(self, kid: Any, alg: str) -> Any:
        if self.jwks is None:
            raise TokenRefused(f"{alg} tokens are not accepted: no signing keys are configured")
        if not isinstance(kid, str) or not kid:
            raise TokenRefused("the token names no signing key (`kid`)")
        try:
            found = await self.jwks.key(kid)
        except JwksUnavailable:
            raise
        if found is None:
            raise TokenRefused("the token's signing key is not one of the project's")
        if found.algorithm_name != alg:
            raise TokenRefused("the token's algorithm is not its signing key's")
        return found.key

    def _decode(self, token: str, key: Any, alg: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=AUDIENCE,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": REQUIRED},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRefused("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRefused("the token is not valid yet") from None
        except jwt.InvalidIssuerError:
            raise TokenRefused("the token was not issued by this project") from None
        except jwt.InvalidAudienceError:
            raise TokenRefused("the token is not for signed-in users (audience)") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRefused(f"the token has no `{exc.claim}` claim") from None
        except jwt.InvalidSignatureError:
            raise TokenRefused("the token's signature does not verify") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise TokenRefused("the token could not be verified") from None
        return claims

    def _user(self, claims: dict[str, Any]) -> SignedInUser:
        if claims.get("role") != AUDIENCE:
            raise TokenRefused("the token is not a signed-in user's (role)")
        try:
            user_id = UUID(str(claims["sub"]))
        except ValueError:
            raise TokenRefused("the token's subject is not a user id") from None
        anonymous = claims.get("is_anonymous") is True
        if anonymous and not self.allow_anonymous:
            raise TokenRefused("anonymous users are not accepted (CASCADIAN_ANONYMOUS_USERS)")
        session = claims.get("session_id")
        return SignedInUser(user_id, anonymous, session if isinstance(session, str) else None)
