"""One call to a Polymarket API: rate-limited, retried, decoded, failing in plain words.

Every attempt, retries included, takes a slot from the process's rate limiter
first, since each is a request Polymarket counts. Connection errors, timeouts,
429 (honouring Retry-After) and 5xx are retried by the RetryPolicy inside the
run's deadline. Polymarket's read endpoints take no credentials, and none are sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from cascadian.errors import NodeError, OutboundError
from cascadian.outbound.body import read_capped
from cascadian.outbound.retry import DEADLINE_SLACK, RetryGaveUp, RetryPolicy, describe_status
from cascadian.workflow.market.limiter import RateLimited, RateLimiter

log = logging.getLogger(__name__)


class PolymarketError(NodeError):
    """A Polymarket API could not be reached or gave an unusable answer."""


class PolymarketRejected(PolymarketError):
    """The API answered the request with a client error (4xx other than 429)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upstream:
    """One Polymarket API at `base_url` (`name` says which in error messages)."""

    client: httpx.AsyncClient
    base_url: str
    name: str
    retry: RetryPolicy
    limiter: RateLimiter | None = None
    timeout: float = 10.0
    # The largest decoded body read (streamed, so a larger one is never held whole);
    # None: read as httpx reads it.
    max_body_bytes: int | None = None
    _warned: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")

    @property
    def where(self) -> str:
        return f"The {self.name} at {self.base_url}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | httpx.QueryParams | None = None,
        body: Any = None,
        deadline: float | None = None,
    ) -> Any:
        """The decoded JSON answer; raises PolymarketError with a plain message."""
        url = self.url(path)
        timeout = self._timeout(url, deadline)
        limiter = self.limiter

        async def attempt() -> httpx.Response:
            if limiter is not None:
                left = None if deadline is None else deadline - self.retry.now()
                await limiter.acquire(within=left, what=f"{method} {url}")
            if self.max_body_bytes is None:
                return await self.client.request(
                    method, url, params=params, json=body, timeout=timeout
                )
            request = self.client.build_request(
                method, url, params=params, json=body, timeout=timeout
            )
            return await self.client.send(request, stream=True)

        try:
            response = await self.retry.send(attempt, deadline=deadline, what=f"{method} {url}")
        except RetryGaveUp as exc:
            raise PolymarketError(f"{self.where} could not be reached: {exc}") from exc
        except RateLimited as exc:
            raise PolymarketError(f"{self.where} was not called: {exc}") from exc
        content = await self._content(response, url, deadline)
        self._warn_if_deprecated(path, response)
        if not response.is_success:
            text = content[:200].decode("utf-8", "replace")
            raise PolymarketRejected(
                f"{self.where} rejected the request: {describe_status(response)}: {text}",
                response.status_code,
            )
        try:
            return json.loads(content)
        except ValueError:
            kind = response.headers.get("content-type", "no content-type")
            raise PolymarketError(f"{self.where} sent a reply that is not JSON ({kind}).") from None

    async def _content(self, response: httpx.Response, url: str, deadline: float | None) -> bytes:
        """The body: as httpx read it, or streamed within `max_body_bytes`."""
        if self.max_body_bytes is None:
            return response.content
        try:
            return await read_capped(
                response, self.max_body_bytes, url, self.retry.on_loop_clock(deadline)
            )
        except OutboundError as exc:
            raise PolymarketError(f"{self.where}: {exc}") from None
        finally:
            await response.aclose()

    def _timeout(self, url: str, deadline: float | None) -> float:
        if deadline is None:
            return self.timeout
        left = deadline - self.retry.now()
        if left <= 0:
            raise PolymarketError(f"No time left before the run's deadline to call {url}.")
        return min(self.timeout, left + DEADLINE_SLACK)

    def _warn_if_deprecated(self, path: str, response: httpx.Response) -> None:
        # Gamma marks retired endpoints with Deprecation/Sunset headers before removing them.
        headers = response.headers
        if path in self._warned or not (headers.get("deprecation") or headers.get("sunset")):
            return
        self._warned.add(path)
        log.warning(
            "%s%s is deprecated (Sunset: %s; %s)",
            self.base_url,
            path,
            headers.get("sunset", "not given"),
            headers.get("warning", "no warning given"),
        )
