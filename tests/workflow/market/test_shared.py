"""Shared requests: identical public requests in flight or answered within the TTL are
made once; failures reach the callers waiting for them and are never kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from cascadian.clock import FakeClock
from cascadian.workflow.market.shared import RequestKey, SharedRequests

KEY = RequestKey("GET", "https://gamma.test/markets/keyset", (("limit", "100"),))
OTHER = RequestKey("GET", "https://gamma.test/markets/keyset", (("limit", "50"),))


class Upstream:
    """A fetch that answers when told to, counting the calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.fail: Exception | None = None
        self.cancelled = False

    async def fetch(self) -> dict[str, int]:
        self.calls += 1
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        if self.fail is not None:
            raise self.fail
        return {"answer": self.calls}


def shared(ttl: float = 15.0) -> tuple[SharedRequests, FakeClock]:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    return SharedRequests(ttl, clock.monotonic), clock


async def test_a_thousand_identical_requests_in_flight_make_one_upstream_call() -> None:
    requests, _ = shared()
    upstream = Upstream()
    callers = [asyncio.create_task(requests.get(KEY, upstream.fetch)) for _ in range(1000)]
    await asyncio.sleep(0)
    upstream.release.set()
    answers = await asyncio.gather(*callers)
    assert upstream.calls == 1
    assert answers == [{"answer": 1}] * 1000
    assert (requests.fetches, requests.shared) == (1, 999)


async def test_an_answer_is_reused_within_the_ttl_and_asked_again_after_it() -> None:
    requests, clock = shared(ttl=15)
    upstream = Upstream()
    upstream.release.set()
    await requests.get(KEY, upstream.fetch)
    clock.advance(14.9)
    assert await requests.get(KEY, upstream.fetch) == {"answer": 1}
    clock.advance(0.2)
    assert await requests.get(KEY, upstream.fetch) == {"answer": 2}


async def test_different_requests_are_not_shared() -> None:
    requests, _ = shared()
    upstream = Upstream()
    upstream.release.set()
    await requests.get(KEY, upstream.fetch)
    await requests.get(OTHER, upstream.fetch)
    assert upstream.calls == 2


async def test_a_ttl_of_zero_shares_only_requests_in_flight() -> None:
    requests, _ = shared(ttl=0)
    upstream = Upstream()
    both = [asyncio.create_task(requests.get(KEY, upstream.fetch)) for _ in range(2)]
    await asyncio.sleep(0)
    upstream.release.set()
    await asyncio.gather(*both)
    await requests.get(KEY, upstream.fetch)
    assert upstream.calls == 2


async def test_a_failure_reaches_every_waiting_caller_and_is_not_kept() -> None:
    requests, _ = shared()
    upstream = Upstream()
    upstream.fail = RuntimeError("HTTP 502")
    callers = [asyncio.create_task(requests.get(KEY, upstream.fetch)) for _ in range(3)]
    await asyncio.sleep(0)
    upstream.release.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert [str(r) for r in results] == ["HTTP 502"] * 3
    assert upstream.calls == 1
    upstream.fail = None
    assert await requests.get(KEY, upstream.fetch) == {"answer": 2}  # asked again at once


async def test_a_caller_that_gives_up_does_not_cancel_the_request_for_the_others() -> None:
    requests, _ = shared()
    upstream = Upstream()
    first = asyncio.create_task(requests.get(KEY, upstream.fetch))
    second = asyncio.create_task(requests.get(KEY, upstream.fetch))
    await asyncio.sleep(0)
    first.cancel()
    upstream.release.set()
    assert await second == {"answer": 1}
    assert not upstream.cancelled
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_when_every_caller_gives_up_the_request_is_cancelled_and_forgotten() -> None:
    requests, _ = shared()
    upstream = Upstream()
    only = asyncio.create_task(requests.get(KEY, upstream.fetch))
    await asyncio.sleep(0)
    only.cancel()
    await asyncio.gather(only, return_exceptions=True)
    await asyncio.sleep(0)
    assert upstream.cancelled
    upstream.release.set()
    assert await requests.get(KEY, upstream.fetch) == {"answer": 2}


async def test_the_oldest_answers_make_room_when_the_store_is_full() -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    requests = SharedRequests(15, clock.monotonic, max_entries=2)
    upstream = Upstream()
    upstream.release.set()
    keys = [RequestKey("GET", f"https://gamma.test/{i}") for i in range(3)]
    for key in keys:
        await requests.get(key, upstream.fetch)
    await requests.get(keys[2], upstream.fetch)  # kept
    await requests.get(keys[0], upstream.fetch)  # evicted: asked again
    assert upstream.calls == 4
