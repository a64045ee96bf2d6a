"""Two event workers claiming at once share the waiting events (062): a claim locks
only the leases it may claim, so a second worker's claim, while the first one's
transaction is still open, takes the next strategies. cascadian_claim_events_v3
locked every free lease with an event waiting, and its first statement (making
lease rows, ON CONFLICT DO NOTHING) waited for the first claim to commit.

No timing is involved: the first claim's transaction stays open until the second
claim has answered, and a locked lease is skipped, never waited for.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from cascadian.ports import FullStore
from cascadian.store.triggers import CLAIM_EVENTS
from tests.factories import rows
from tests.store.test_triggers_store import NOW, armed_strategy, seen

pytestmark = pytest.mark.both_schemas


def claim(conn: psycopg.Connection[Any], limit: int) -> set[Any]:
    query = f"select workflow_id from {CLAIM_EVENTS}(%s, %s, 60)"
    return {r[0] for r in conn.execute(query, (NOW, limit)).fetchall()}


async def test_a_second_event_claim_takes_the_events_the_first_one_left(
    pg_store: FullStore, db: Any, database_url: str
) -> None:
    strategies = {await armed_strategy(pg_store, db) for _ in range(3)}
    await pg_store.observe([seen("0.50", 0), seen("0.61", 1)], NOW)
    # Their lease rows, free, as any claim before leaves them (a lease row being
    # made is waited for, not skipped).
    for sid in strategies:
        db.execute("insert into cascadian_leases (workflow_id) values (%s)", (sid,))
    with (
        psycopg.connect(database_url) as first,
        psycopg.connect(database_url, autocommit=True) as second,
    ):
        second.execute("set lock_timeout = '5s'")  # a wait is a failure, not a hang
        one = claim(first, 1)  # its transaction stays open
        two = claim(second, 2)
        first.commit()
    assert len(one) == 1 and len(two) == 2
    assert one | two == strategies
    runs = rows(db, "select workflow_id from workflow_executions where trigger_kind = 'event'")
    assert sorted(r["workflow_id"] for r in runs) == sorted(strategies)


async def test_a_claim_takes_the_oldest_waiting_event_first(
    pg_store: FullStore, db: Any, database_url: str
) -> None:
    early = await armed_strategy(pg_store, db)
    await pg_store.observe([seen("0.50", 0), seen("0.61", 1)], NOW)
    late = await armed_strategy(pg_store, db)
    await pg_store.observe([seen("0.50", 2), seen("0.61", 3)], NOW)
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert claim(conn, 1) == {early}
        assert claim(conn, 1) == {late}
