"""Claims are fair across owners (cascadian_claim_due_v4): no owner has more than
the cap of their strategies in flight at once, and one owner's backlog never keeps
another owner's due strategies waiting; on both transports and both schemas."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.store.sql_store import SqlStore
from tests.factories import OTHER_USER, USER, add_strategy

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def due(db: Any, owner: uuid.UUID, n: int, minutes_ago: float) -> list[uuid.UUID]:
    """`n` strategies of `owner` due since `minutes_ago`, a second apart."""
    return [
        add_strategy(
            db,
            user_id=owner,
            next_execution_at=NOW - timedelta(minutes=minutes_ago) + timedelta(seconds=i),
        )
        for i in range(n)
    ]


def owners_of(claims: list[Any]) -> Counter[uuid.UUID]:
    return Counter(c.workflow.user_id for c in claims)


def finish(db: Any, ids: list[uuid.UUID]) -> None:
    """The runs end: leases dropped, the next slot in an hour."""
    db.execute(
        "update workflow_sessions set lease_token = null, lease_expires_at = null, "
        "next_execution_at = %s where id = any(%s)",
        (NOW + timedelta(hours=1), ids),
    )


async def test_one_owner_never_has_more_than_the_cap_in_flight(
    any_store: SqlStore, db: Any
) -> None:
    due(db, USER, 30, minutes_ago=10)
    first = await any_store.claim_due(NOW, 25, 60, owner_limit=10)
    assert len(first) == 10
    assert await any_store.claim_due(NOW, 25, 60, owner_limit=10) == []  # all ten in flight
    finish(db, [c.workflow.id for c in first[:4]])
    assert len(await any_store.claim_due(NOW, 25, 60, owner_limit=10)) == 4


async def test_a_backlog_of_one_owner_does_not_keep_the_others_waiting(
    any_store: SqlStore, db: Any
) -> None:
    """The heavy owner's 300 are all due earlier than everyone else's; the claim
    still gives every other owner their due strategies at once, and the heavy one
    only its cap."""
    heavy = uuid.uuid4()
    others = [USER, OTHER_USER] + [uuid.uuid4() for _ in range(8)]
    due(db, heavy, 300, minutes_ago=60)
    for owner in others:
        due(db, owner, 3, minutes_ago=1)
    claims = await any_store.claim_due(NOW, 40, 60, owner_limit=10)
    shares = owners_of(claims)
    assert shares[heavy] == 10
    assert {o: shares[o] for o in others} == {o: 3 for o in others}


async def test_claims_go_round_the_owners_earliest_first_within_each(
    any_store: SqlStore, db: Any
) -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    mine = {a: due(db, a, 10, 30), b: due(db, b, 10, 20), c: due(db, c, 10, 10)}
    claims = await any_store.claim_due(NOW, 6, 60, owner_limit=10)
    assert owners_of(claims) == {a: 2, b: 2, c: 2}
    assert {x.workflow.id for x in claims} == {s for ids in mine.values() for s in ids[:2]}


async def test_an_owner_with_runs_in_flight_comes_after_those_with_none(
    any_store: SqlStore, db: Any
) -> None:
    busy, idle = uuid.uuid4(), uuid.uuid4()
    due(db, busy, 5, minutes_ago=30)
    assert len(await any_store.claim_due(NOW, 3, 60, owner_limit=10)) == 3
    due(db, idle, 5, minutes_ago=1)
    # busy's next would be its 4th in flight; idle's first three rank ahead of it.
    assert owners_of(await any_store.claim_due(NOW, 3, 60, owner_limit=10)) == {idle: 3}


async def test_no_cap_claims_one_owners_backlog_as_wide_as_the_claim(
    any_store: SqlStore, db: Any
) -> None:
    due(db, USER, 40, minutes_ago=10)
    assert len(await any_store.claim_due(NOW, 25, 60)) == 25


async def test_a_strategy_not_yet_due_is_never_claimed_for_fairness(
    any_store: SqlStore, db: Any
) -> None:
    due(db, USER, 2, minutes_ago=1)
    add_strategy(db, user_id=OTHER_USER, next_execution_at=NOW + timedelta(minutes=5))
    claims = await any_store.claim_due(NOW, 25, 60, owner_limit=10)
    assert owners_of(claims) == {USER: 2}


async def test_concurrent_claims_hold_the_cap_between_them(any_store: SqlStore, db: Any) -> None:
    """Claims take turns, so each sees the leases of the one before: sixteen at once
    hand out one owner's ten, and the other owner's three, once each."""
    due(db, USER, 200, minutes_ago=30)
    due(db, OTHER_USER, 3, minutes_ago=1)
    batches = await asyncio.gather(
        *(any_store.claim_due(NOW, 25, 60, owner_limit=10) for _ in range(16))
    )
    claimed = [c for batch in batches for c in batch]
    assert len({c.workflow.id for c in claimed}) == len(claimed)
    assert owners_of(claimed) == {USER: 10, OTHER_USER: 3}
