"""Retrying transient HTTP failures: which are retried, how long we wait, when we stop."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from email.utils import formatdate

import httpx
import pytest

from cascadian.outbound.retry import RetryGaveUp, RetryPolicy, retry_after_seconds

REQUEST = httpx.Request("GET", "https://api.example.com/data")
WALL_NOW = 1_700_000_000.0


class FakeClock:
    """The loop clock and sleep: sleeping records the wait and moves time on."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.waits: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def policy(clock: FakeClock, jitter: float = 1.0) -> RetryPolicy:
    return RetryPolicy(
        sleep=clock.sleep, random=lambda: jitter, clock=clock.time, wall_clock=lambda: WALL_NOW
    )


def replies(*outcomes: int | httpx.Response | Exception) -> Callable[[], Awaitable[httpx.Response]]:
    """A `send` that answers with the given statuses/responses/exceptions in turn."""
    queue = list(outcomes)
    sent: list[httpx.Response] = []

    async def send() -> httpx.Response:
        outcome = queue.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        response = outcome if isinstance(outcome, httpx.Response) else httpx.Response(outcome)
        response.request = REQUEST
        sent.append(response)
        return response

    send.sent = sent  # type: ignore[attr-defined]
    return send


async def test_5xx_is_retried_with_exponential_backoff_until_success() -> None:
    clock = FakeClock()
    send = replies(503, 502, 500, 200)
    response = await policy(clock).send(send, deadline=None, what="GET x")
    assert response.status_code == 200
    assert clock.waits == [0.5, 1.0, 2.0]


async def test_backoff_is_fully_jittered() -> None:
    clock = FakeClock()
    await policy(clock, jitter=0.25).send(replies(500, 500, 200), deadline=None, what="GET x")
    assert clock.waits == [0.125, 0.25]


def test_backoff_is_capped_at_max_delay() -> None:
    rp = RetryPolicy(random=lambda: 1.0, base_delay=0.5, max_delay=8.0)
    assert [rp.backoff(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


async def test_connection_errors_and_timeouts_are_retried() -> None:
    clock = FakeClock()
    send = replies(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), 200)
    response = await policy(clock).send(send, deadline=None, what="GET x")
    assert response.status_code == 200
    assert clock.waits == [0.5, 1.0]


async def test_429_honours_retry_after_seconds() -> None:
    clock = FakeClock()
    limited = httpx.Response(429, headers={"Retry-After": "3"})
    await policy(clock).send(replies(limited, 200), deadline=None, what="GET x")
    assert clock.waits == [3.0]


async def test_503_honours_retry_after_http_date() -> None:
    clock = FakeClock()
    later = formatdate(WALL_NOW + 7, usegmt=True)
    busy = httpx.Response(503, headers={"Retry-After": later})
    await policy(clock).send(replies(busy, 200), deadline=None, what="GET x")
    assert clock.waits == [7.0]


async def test_retry_after_longer_than_the_limit_gives_up() -> None:
    clock = FakeClock()
    limited = httpx.Response(429, headers={"Retry-After": "3600"})
    with pytest.raises(RetryGaveUp, match="asked to wait 3600s"):
        await policy(clock).send(replies(limited), deadline=None, what="GET x")
    assert clock.waits == []


@pytest.mark.parametrize("status", [200, 201, 301, 400, 401, 403, 404, 422])
async def test_other_statuses_are_returned_at_once(status: int) -> None:
    clock = FakeClock()
    response = await policy(clock).send(replies(status), deadline=None, what="GET x")
    assert response.status_code == status
    assert clock.waits == []


async def test_gives_up_after_max_attempts_naming_retries_and_last_error() -> None:
    clock = FakeClock()
    send = replies(500, 502, 503, 503)
    with pytest.raises(RetryGaveUp) as info:
        await policy(clock).send(send, deadline=None, what="GET https://api.example.com/data")
    assert str(info.value) == (
        "GET https://api.example.com/data failed after 4 attempt(s), retried 3 times "
        "(no attempts left); last error: HTTP 503 Service Unavailable"
    )
    assert info.value.attempts == 4
    assert info.value.last_status == 503
    assert clock.waits == [0.5, 1.0, 2.0]
    assert all(r.is_closed for r in send.sent)  # type: ignore[attr-defined]


async def test_never_sleeps_past_the_deadline() -> None:
    clock = FakeClock(now=100.0)
    send = replies(httpx.ConnectError("refused"), httpx.ConnectError("refused again"))
    with pytest.raises(RetryGaveUp) as info:
        # 0.5s fits before the deadline at 101.2; the next wait (1.0s) would not.
        await policy(clock).send(send, deadline=101.2, what="GET x")
    assert clock.waits == [0.5]
    assert "retried 1 times (the next retry would pass the run's deadline)" in str(info.value)
    assert "ConnectError: refused again" in str(info.value)
    assert isinstance(info.value.last_error, httpx.ConnectError)


async def test_non_idempotent_requests_are_retried_only_when_surely_unsent() -> None:
    clock = FakeClock()
    rp = policy(clock)
    send = replies(httpx.ConnectError("refused"), 429, 500)
    response = await rp.send(send, deadline=None, what="POST x", idempotent=False)
    assert response.status_code == 500, "a 500 on POST may have acted: returned, not retried"
    assert clock.waits == [0.5, 1.0]
    with pytest.raises(RetryGaveUp, match="ReadTimeout"):
        await rp.send(
            replies(httpx.ReadTimeout("slow")), deadline=None, what="POST x", idempotent=False
        )
    assert clock.waits == [0.5, 1.0]


async def test_certificate_failures_are_not_retried() -> None:
    clock = FakeClock()
    failure = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] Hostname mismatch")
    failure.__cause__ = ssl.SSLCertVerificationError("Hostname mismatch")
    with pytest.raises(
        RetryGaveUp, match=r"GET x failed: ConnectError: .*CERTIFICATE_VERIFY_FAILED"
    ):
        await policy(clock).send(replies(failure), deadline=None, what="GET x")
    assert clock.waits == []


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("5", 5.0),
        (" 0 ", 0.0),
        ("-3", 0.0),
        (formatdate(WALL_NOW + 30, usegmt=True), 30.0),
        (formatdate(WALL_NOW - 30, usegmt=True), 0.0),
        (formatdate(WALL_NOW + 12), 12.0),  # "-0000": zone unknown, read as GMT
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_header_parsing(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, WALL_NOW) == seconds
