"""The Supabase project's published signing keys (its JWKS), fetched and cached.

Projects on Supabase's signing keys publish the public halves at
`<SUPABASE_URL>/auth/v1/.well-known/jwks.json`. The set is fetched through the
SSRF guard (outbound/ssrf.py: the checked address pinned) with a timeout and a
body cap (outbound/body.py), kept for `cache_seconds`, and fetched again early
when a token names a `kid` the set lacks (a rotated key), at most once per
`refresh_seconds`, so a flood of tokens with made-up `kid`s costs one fetch, not
one per request. A fetch that fails keeps the keys already held.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from cascadian.errors import OutboundError
from cascadian.outbound.body import ACCEPT_ENCODING, read_capped
from cascadian.outbound.ssrf import Resolver, check_url, pinned_request

log = logging.getLogger(__name__)

# A project publishes a handful of keys; a larger answer is not a key set.
MAX_JWKS_BYTES = 64 * 1024
# Only these key types sign Supabase's access tokens (ES256, RS256; HS256 has no JWKS).
ASYMMETRIC = frozenset({"ES256", "RS256"})


class JwksUnavailable(OutboundError):
    """The key set could not be fetched or read, and none is held."""


class Jwks:
    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        *,
        allowlist: list[str] | None = None,
        timeout_seconds: float = 5.0,
        cache_seconds: float = 600.0,
        refresh_seconds: float = 30.0,
        monotonic: Callable[[], float] | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.url = url
        self.http = http
        self.allowlist = allowlist or []
        self.timeout_seconds = timeout_seconds
        self.cache_seconds = cache_seconds
        self.refresh_seconds = refresh_seconds
        self.monotonic = monotonic or time.monotonic
        self.resolver = resolver
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._tried_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many fetches were sent (tests and metrics read it)

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key named `kid`, or None if the project does not publish it (after one
        refresh, unless one was tried within `refresh_seconds`). JwksUnavailable when
        no key set could be fetched at all."""
        now = self.monotonic()
        stale = self._fetched_at is None or now - self._fetched_at >= self.cache_seconds
        if stale or kid not in self._keys:
            await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        async with self._lock:  # concurrent requests share one fetch
            now = self.monotonic()
            if self._tried_at is not None and now - self._tried_at < self.refresh_seconds:
                if self._fetched_at is None:
                    raise JwksUnavailable("the project's signing keys could not be fetched")
                return
            self._tried_at = now
            try:
                keys = await self._fetch()
            except OutboundError as exc:
                log.warning("the project's signing keys (JWKS) were not fetched: %s", exc)
                if self._fetched_at is None:
                    raise JwksUnavailable(
                        f"the project's signing keys could not be fetched: {exc}"
                    ) from None
                return
            self._keys = keys
            self._fetched_at = now

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        self.fetches += 1
        try:
            async with asyncio.timeout(self.timeout_seconds):
                target = await check_url(self.url, self.allowlist, self.resolver)
                deadline = asyncio.get_running_loop().time() + self.timeout_seconds
                request = pinned_request(
                    target,
                    "GET",
                    headers={"Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING},
                    timeout=self.timeout_seconds,
                )
                response = await self.http.send(request, stream=True)
                try:
                    if response.status_code != 200:
                        raise OutboundError(f"the JWKS endpoint answered {response.status_code}")
                    body = await read_capped(
                        response, MAX_JWKS_BYTES, "the JWKS endpoint", deadline
                    )
                finally:
                    await response.aclose()
        except TimeoutError:
            raise OutboundError(
                f"the JWKS endpoint did not answer within {self.timeout_seconds:g} s"
            ) from None
        except httpx.HTTPError as exc:
            name = type(exc).__name__
            raise OutboundError(f"the JWKS endpoint could not be reached: {name}") from None
        return _keys_of(body)


def _keys_of(body: bytes) -> dict[str, jwt.PyJWK]:
    """The asymmetric signing keys of a JWKS document, by `kid`; a key that cannot be
    used (another type, no `kid`, malformed) is left out."""
    try:
        document: Any = json.loads(body)
    except ValueError:
        raise OutboundError("the JWKS endpoint's answer is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise OutboundError("the JWKS endpoint's answer has no `keys` list")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("alg", "ES256") not in ASYMMETRIC or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)  # no `alg`: inferred from the key type and curve
        except (jwt.PyJWTError, ValueError, TypeError):
            continue
        if key.algorithm_name in ASYMMETRIC:
            keys[entry["kid"]] = key
    return keys
