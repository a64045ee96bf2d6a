"""The client-side rate limit: never more than N requests in any window, waits in
order, and a refusal (not a hang) when the wait would pass the run's deadline."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascadian.clock import FakeClock
from cascadian.workflow.market.limiter import RateLimited, RateLimiter


def limiter(limit: int, window: float = 10.0) -> tuple[RateLimiter, FakeClock, list[float]]:
    """A limiter on a fake clock whose sleeps move the clock and are recorded."""
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return RateLimiter(limit, window, clock=clock.monotonic, sleep=sleep), clock, waits


async def test_requests_within_the_limit_go_at_once_and_the_next_waits_for_the_window() -> None:
    limit, _, waits = limiter(3)
    for _ in range(4):
        await limit.acquire()
    assert waits == [10.0]  # only the 4th waited, until the 1st left the window


async def test_many_callers_at_once_are_spread_over_windows_in_order() -> None:
    limit, _, waits = limiter(2)
    await asyncio.gather(*(limit.acquire() for _ in range(6)))
    assert waits == [10.0, 10.0, 20.0, 20.0]


async def test_a_slot_frees_once_its_request_has_left_the_window() -> None:
    limit, clock, waits = limiter(2)
    await limit.acquire()
    clock.advance(6)
    await limit.acquire()
    clock.advance(5)  # the first request is 11 s old: its slot is free
    await limit.acquire()
    await limit.acquire()  # the second is 5 s old: wait until it is 10 s old
    assert waits == [5.0]


async def test_a_wait_past_the_deadline_is_refused_at_once_and_reserves_nothing() -> None:
    limit, _, waits = limiter(1)
    await limit.acquire()
    with pytest.raises(RateLimited, match=r"1 requests per 10s.*in 10.0s, after the run's dead"):
        await limit.acquire(within=5.0)
    await limit.acquire(within=10.0)  # the refused request took no slot
    assert waits == [10.0]


@settings(max_examples=50, deadline=None)
@given(
    limit=st.integers(1, 5),
    gaps=st.lists(st.floats(0, 7, allow_nan=False), min_size=1, max_size=40),
)
async def test_no_window_ever_holds_more_than_the_limit(limit: int, gaps: list[float]) -> None:
    rate, clock, _ = limiter(limit)
    sent: list[float] = []
    for gap in gaps:
        clock.advance(gap)
        slot = rate.next_slot()
        await rate.acquire()
        sent.append(slot)
    assert sent == sorted(sent)
    for i, start in enumerate(sent):
        assert sum(1 for t in sent[i:] if t < start + 10.0) <= limit
