"""Retry transient HTTP failures, with backoff, without sleeping past the run's deadline.

Connection errors, timeouts, 429 and 5xx are retried with exponential backoff and
full jitter (a 429/503 Retry-After is honoured instead); any other response is
returned to the caller at once. Non-idempotent requests (`idempotent=False`) are
only retried when the server surely did not act on them: connection failures and 429.
"""

from __future__ import annotations

import asyncio
import random as _random
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime

import httpx

from cascadian.errors import NodeError

# The request never reached the server: always safe to send again.
UNSENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


# The executor stops a run at its deadline itself; a request's timeout is set to
# end a hair later, so a run cut short fails as "timed out", not with a read error.
DEADLINE_SLACK = 0.1


class RetryGaveUp(NodeError):
    """Retries were exhausted or would pass the deadline; carries the last failure."""

    def __init__(
        self,
        message: str,
        *,
        attempts: int,
        last_error: Exception | None = None,
        last_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_error = last_error
        self.last_status = last_status


def _is_certificate_error(exc: BaseException | None) -> bool:
    # httpx wraps TLS failures in ConnectError; a bad certificate will not get better.
    while exc is not None:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Parse a Retry-After header (delta-seconds or HTTP-date); None if absent or invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() - now
    return max(0.0, seconds) if seconds == seconds else None  # NaN check


def describe_error(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def describe_status(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.reason_phrase}".rstrip()


@dataclass(frozen=True)
class RetryPolicy:
    """How to retry; `sleep`, `random`, `clock` and `wall_clock` are injectable for tests."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    # A server asking for a longer pause than this is treated as a failure.
    max_retry_after: float = 60.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    random: Callable[[], float] = _random.random
    # The deadline's clock; None: the running loop's time().
    clock: Callable[[], float] | None = None
    # For Retry-After HTTP-dates.
    wall_clock: Callable[[], float] = field(default=time.time)

    def backoff(self, retry: int) -> float:
        """Full-jitter wait before retry number `retry` (1-based)."""
        return self.random() * min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))

    def now(self) -> float:
        """The current time on the deadline's clock."""
        return self.clock() if self.clock else asyncio.get_running_loop().time()

    async def send(
        self,
        send: Callable[[], Awaitable[httpx.Response]],
        *,
        deadline: float | None,
        what: str,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Call `send` until it returns a non-retryable response, or raise RetryGaveUp.

        A discarded response is closed, so `send` may return streaming responses.
        """
        attempt = 0
        while True:
            attempt += 1
            error: Exception | None = None
            status: int | None = None
            retry_after: float | None = None
            try:
                response = await send()
            except httpx.TransportError as exc:
                retryable = (
                    isinstance(exc, UNSENT_ERRORS)
                    or (idempotent and isinstance(exc, TRANSIENT_ERRORS))
                ) and not _is_certificate_error(exc)
                if not retryable:
                    raise RetryGaveUp(
                        f"{what} failed: {describe_error(exc)}", attempts=attempt, last_error=exc
                    ) from exc
                error, last = exc, describe_error(exc)
            else:
                status = response.status_code
                if not (status == 429 or (idempotent and status >= 500)):
                    return response
                if status in (429, 503):
                    header = response.headers.get("retry-after")
                    retry_after = retry_after_seconds(header, self.wall_clock())
                last = describe_status(response)
                await response.aclose()

            wait = self.backoff(attempt) if retry_after is None else retry_after
            why: str | None = None
            if attempt >= self.max_attempts:
                why = "no attempts left"
            elif retry_after is not None and retry_after > self.max_retry_after:
                limit = self.max_retry_after
                why = f"the server asked to wait {retry_after:g}s, over the {limit:g}s limit"
            elif deadline is not None and self.now() + wait > deadline:
                why = "the next retry would pass the run's deadline"
            if why:
                raise RetryGaveUp(
                    f"{what} failed after {attempt} attempt(s), retried {attempt - 1} times "
                    f"({why}); last error: {last}",
                    attempts=attempt,
                    last_error=error,
                    last_status=status,
                ) from error
            await self.sleep(wait)
