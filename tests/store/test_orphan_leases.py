"""A deleted strategy's lease row (063): since 059 the lease references no table, so
the row outlives its strategy. It counts as no live lease, retention deletes it once
no run holds it, and a strategy created again with its id starts with no run in
flight (the old run's finish is refused).

The insert's wait for a lease row that a claim or finish holds is made deterministic
with two connections and pg_blocking_pids, as 059's delete race is.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from cascadian.data import RetentionPolicy
from cascadian.ports import FullStore
from cascadian.store.runs import CLAIM_DUE, CLAIM_MANUAL, FINISH_RUNS
from tests.factories import add_run, add_strategy, rows
from tests.store.test_event_claim_race import wait_until_blocked
from tests.store.test_orchestrator_decisions import NOW

pytestmark = pytest.mark.both_schemas

OPERATOR = '{"kind": "operator", "source": "cli"}'
# Runs older than a day go, the newest of each strategy stays.
POLICY = RetentionPolicy(86_400.0, 1, None, None, 1000, 5000)


def running(db: Any, sid: uuid.UUID) -> uuid.UUID:
    """The strategy claimed: a run in flight, its lease held for 300 s."""
    [claim] = rows(
        db,
        f"select execution_id from {CLAIM_MANUAL}(%s, %s, 300, %s::jsonb)",
        sid,
        NOW,
        OPERATOR,
    )
    return uuid.UUID(str(claim["execution_id"]))


def delete(db: Any, sid: uuid.UUID) -> None:
    db.execute("delete from workflow_sessions where id = %s", (sid,))


def leases(db: Any) -> set[uuid.UUID]:
    return {r["workflow_id"] for r in rows(db, "select workflow_id from cascadian_leases")}


async def test_a_deleted_strategys_lease_counts_as_no_live_lease(
    any_store: FullStore, db: Any
) -> None:
    kept = add_strategy(db, next_execution_at=NOW)
    gone = add_strategy(db, next_execution_at=NOW)
    running(db, kept)
    running(db, gone)
    delete(db, gone)
    assert leases(db) == {kept, gone}  # the row stays, as 059 left it
    gauges = await any_store.gauges(NOW)
    assert gauges.leases_in_flight == 1
    [overview] = rows(db, "select cascadian_console_overview_v2(%s) as o", NOW)
    assert overview["o"]["in_flight"] == 1


def test_a_strategy_created_again_with_a_deleted_ones_id_has_no_run_in_flight(
    db: Any,
) -> None:
    sid = add_strategy(db, next_execution_at=NOW - timedelta(minutes=1))
    old_run = running(db, sid)
    delete(db, sid)
    add_strategy(db, next_execution_at=NOW - timedelta(minutes=1), id=sid)

    claimed = rows(db, f"select execution_id from {CLAIM_DUE}(%s, 10, 60, 0)", NOW)
    assert len(claimed) == 1  # not held off by the deleted strategy's lease
    outcome = {
        "execution_id": str(old_run), "workflow_id": str(sid), "success": True,
        "finished_at": NOW.isoformat(), "duration_ms": 5,
    }  # fmt: skip
    [answer] = rows(
        db, f"select accepted from {FINISH_RUNS}(%s::jsonb, 3, false)", json.dumps([outcome])
    )
    assert answer["accepted"] is False
    [strategy] = rows(db, "select execution_count from workflow_sessions where id = %s", sid)
    assert (strategy["execution_count"] or 0) == 0


def test_creating_a_strategy_waits_for_a_held_lease_row_and_deadlocks_nothing(
    db: Any, database_url: str
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    running(db, sid)
    delete(db, sid)
    errors: dict[str, BaseException] = {}
    with (
        psycopg.connect(database_url) as holder,
        psycopg.connect(database_url, autocommit=True) as creator,
    ):
        # A finish's first step: the lease row locked.
        holder.execute("select 1 from cascadian_leases where workflow_id = %s for update", (sid,))

        def create() -> None:
            try:
                add_strategy(creator, next_execution_at=NOW, id=sid)
            except psycopg.Error as exc:
                errors["create"] = exc

        thread = threading.Thread(target=create)
        thread.start()
        wait_until_blocked(db, creator.info.backend_pid)
        # Its second step, the session row: the one being created is no one's yet.
        holder.execute("set local lock_timeout = '10s'")
        holder.execute("update workflow_sessions set updated_at = now() where id = %s", (sid,))
        holder.commit()
        thread.join(30)
    assert errors == {}
    assert leases(db) == set()
    assert len(rows(db, "select id from workflow_sessions where id = %s", sid)) == 1


async def test_retention_deletes_the_lease_rows_no_strategy_or_run_holds(
    any_store: FullStore, db: Any
) -> None:
    live = add_strategy(db, next_execution_at=NOW)
    # Strategies with runs past the retention, so the pass goes in batches.
    for _ in range(3):
        sid = add_strategy(db, next_execution_at=NOW)
        for age in (3, 2):
            add_run(db, sid, started_at=NOW - timedelta(days=age))
    free = [add_strategy(db, next_execution_at=NOW) for _ in range(4)]
    held = add_strategy(db, next_execution_at=NOW)
    for sid in (live, *free):
        db.execute("insert into cascadian_leases (workflow_id) values (%s)", (sid,))
    running(db, held)
    for sid in (*free, held):
        delete(db, sid)

    counted = await any_store.prune(NOW, POLICY, dry_run=True)
    assert counted.leases == 4
    assert leases(db) == {live, *free, held}
    pruned = await any_store.prune(NOW, POLICY)
    assert (pruned.runs, pruned.leases, pruned.complete) == (3, 4, True)
    assert leases(db) == {live, held}  # a run still holds the deleted one's lease

    later = await any_store.prune(NOW + timedelta(seconds=301), POLICY)
    assert later.leases == 1
    assert leases(db) == {live}
