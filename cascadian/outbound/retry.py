"""Retry transient HTTP failures, with backoff, without sleeping past the run's deadline.

Connection errors, timeouts, 429 and 5xx are retried with exponential backoff and
full jitter (a 429/503 Retry-After is honoured instead); any other response is
returned to the caller at once. Non-idempotent requests (`idempotent=False`) are
only retried when the server surely did not act on them: connection failures and 429.

tenacity runs the attempts; this module says which failures are retried, how
long to wait (its own jitter, clock and sleep, so tests inject them), and why it
gives up: out of attempts, a Retry-After over the limit, or a wait that would
pass the deadline (checked against the next wait, like tenacity's
stop_before_delay, but on the run's own clock).
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
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from cascadian.errors import OutboundError

# The request never reached the server: always safe to send again.
UNSENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


# The executor stops a run at its deadline itself; a request's timeout is set to
# end a hair later, so a run cut short fails as "timed out", not with a read error.
DEADLINE_SLACK = 0.1


class RetryGaveUp(OutboundError):
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


class _Retryable(Exception):
    """One failed attempt that may be retried: what failed, and any Retry-After."""

    def __init__(
        self,
        last: str,
        *,
        error: Exception | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(last)
        self.last = last
        self.error = error
        self.status = status
        self.retry_after = retry_after


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

    def on_loop_clock(self, deadline: float | None) -> float | None:
        """`deadline`, on this policy's clock, as a time of the running loop's clock
        (what asyncio.timeout_at takes)."""
        if deadline is None:
            return None
        return asyncio.get_running_loop().time() + (deadline - self.now())

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

        async def attempt() -> httpx.Response:
            try:
                response = await send()
            except httpx.TransportError as exc:
                retryable = (
                    isinstance(exc, UNSENT_ERRORS)
                    or (idempotent and isinstance(exc, TRANSIENT_ERRORS))
                ) and not _is_certificate_error(exc)
                if not retryable:
                    raise RetryGaveUp(
                        f"{what} failed: {describe_error(exc)}", attempts=number, last_error=exc
                    ) from exc
                raise _Retryable(describe_error(exc), error=exc) from exc
            status = response.status_code
            if not (status == 429 or (idempotent and status >= 500)):
                return response
            retry_after = None
            if status in (429, 503):
                header = response.headers.get("retry-after")
                retry_after = retry_after_seconds(header, self.wall_clock())
            await response.aclose()
            raise _Retryable(describe_status(response), status=status, retry_after=retry_after)

        def failure(state: RetryCallState) -> _Retryable:
            assert state.outcome is not None  # only asked after an attempt
            exc = state.outcome.exception()
            assert isinstance(exc, _Retryable)  # only these are retried
            return exc

        def wait(state: RetryCallState) -> float:
            retry_after = failure(state).retry_after
            return self.backoff(state.attempt_number) if retry_after is None else retry_after

        def why_stop(state: RetryCallState) -> str | None:
            retry_after = failure(state).retry_after
            if state.attempt_number >= self.max_attempts:
                return "no attempts left"
            if retry_after is not None and retry_after > self.max_retry_after:
                limit = self.max_retry_after
                return f"the server asked to wait {retry_after:g}s, over the {limit:g}s limit"
            if deadline is not None and self.now() + (state.upcoming_sleep or 0.0) > deadline:
                return "the next retry would pass the run's deadline"
            return None

        def give_up(state: RetryCallState) -> httpx.Response:
            last = failure(state)
            attempts = state.attempt_number
            raise RetryGaveUp(
                f"{what} failed after {attempts} attempt(s), retried {attempts - 1} times "
                f"({why_stop(state)}); last error: {last.last}",
                attempts=attempts,
                last_error=last.error,
                last_status=last.status,
            ) from last.error

        retrying = AsyncRetrying(
            sleep=self.sleep,
            retry=retry_if_exception_type(_Retryable),
            wait=wait,
            stop=lambda state: why_stop(state) is not None,
            retry_error_callback=give_up,
        )
        number = 0
        async for trial in retrying:
            number = trial.retry_state.attempt_number
            with trial:
                return await attempt()
        raise AssertionError("unreachable: tenacity returns, or give_up raises")  # pragma: no cover
