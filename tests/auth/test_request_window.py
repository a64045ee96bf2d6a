"""A user's requests per minute over a sliding window (migrations/050), on a fake
clock: never more than the limit in any 60 seconds, a minute's boundary included
(the fixed window let twice the limit through across it); a refusal's Retry-After
is the least whole number of seconds after which the request is accepted; every
process shares the count (it is in SQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascadian.auth.quotas import UserQuotas
from cascadian.clock import FakeClock
from cascadian.errors import QuotaExceeded
from cascadian.ports import FullStore
from tests.factories import USER, rows

# Just before a minute's boundary.
EDGE = datetime(2026, 12, 7, 12, 0, 59, 500_000, tzinfo=UTC)


def count(db: psycopg.Connection[Any], user: uuid.UUID, at: datetime, limit: int) -> int:
    [row] = rows(db, "select cascadian_count_user_request_v2(%s, %s, %s) as wait", user, at, limit)
    return int(row["wait"])


async def accepted(quotas: UserQuotas) -> bool:
    try:
        await quotas.request(USER)
    except QuotaExceeded:
        return False
    return True


@pytest.mark.both_schemas
async def test_the_limit_at_a_minutes_end_leaves_nothing_for_the_next_minutes_start(
    any_store: FullStore, db: Any
) -> None:
    clock = FakeClock(EDGE)
    quotas = UserQuotas(any_store, clock, requests_per_minute=3)
    assert [await accepted(quotas) for _ in range(3)] == [True, True, True]
    clock.advance(1)  # 12:01:00.5: a new minute, the same sliding one
    with pytest.raises(QuotaExceeded) as refused:
        await quotas.request(USER)
    # The three leave the window at 12:02:00 (their second, 12:00:59, + 61).
    assert refused.value.retry_after == 60
    clock.advance(59)  # 12:01:59.5: still within
    assert not await accepted(quotas)
    clock.advance(1)  # 12:02:00.5
    assert [await accepted(quotas) for _ in range(4)] == [True, True, True, False]


@pytest.mark.both_schemas
async def test_a_refused_request_is_not_counted_and_retry_after_is_exact(
    any_store: FullStore, db: Any
) -> None:
    clock = FakeClock(EDGE)
    quotas = UserQuotas(any_store, clock, requests_per_minute=2)
    assert await accepted(quotas)
    clock.advance(30)  # 12:01:29.5
    assert await accepted(quotas)
    clock.advance(10)  # 12:01:39.5
    for _ in range(5):  # a client hammering: none of these counts
        with pytest.raises(QuotaExceeded) as refused:
            await quotas.request(USER)
    wait = refused.value.retry_after
    assert wait == 21  # the first leaves at 12:02:00
    clock.advance(wait - 1)
    assert not await accepted(quotas)
    clock.advance(1)
    assert await accepted(quotas)


def held_at(taken: list[datetime], when: datetime) -> int:
    """The accepted requests still counted at `when`: a second counts whole, until it
    is 61 seconds old."""
    return sum(int(t.timestamp()) >= int(when.timestamp()) - 60 for t in taken)


TIMES = st.lists(st.integers(min_value=0, max_value=240_000), min_size=1, max_size=40)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(limit=st.integers(min_value=1, max_value=5), offsets_ms=TIMES)
def test_no_60_seconds_ever_hold_more_than_the_limit_and_each_retry_after_is_the_least_wait(
    db: psycopg.Connection[Any], limit: int, offsets_ms: list[int]
) -> None:
    user = uuid.uuid4()
    times = [EDGE + timedelta(milliseconds=ms) for ms in sorted(offsets_ms)]
    taken: list[datetime] = []
    for at in times:
        wait = count(db, user, at, limit)
        if wait == 0:
            taken.append(at)
            continue
        # Refused: the limit was taken within the last 61 seconds.
        assert sum(at - timedelta(seconds=61) < t <= at for t in taken) >= limit
        # Accepted `wait` seconds on (nothing else coming), and not a second sooner.
        assert held_at(taken, at + timedelta(seconds=wait)) < limit
        assert wait == 1 or held_at(taken, at + timedelta(seconds=wait - 1)) >= limit
    for i, first in enumerate(taken):
        within = [t for t in taken[i:] if t - first < timedelta(seconds=60)]
        assert len(within) <= limit
