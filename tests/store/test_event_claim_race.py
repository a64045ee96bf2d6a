"""An event whose run outlived its lease but was recorded while another worker was
claiming events is not run again (058): the claim takes the leases before it reads
the events, so the late finish has either committed, and its event counts as done,
or it waits for the claim and is fenced off.

Made deterministic with two connections: A holds the row lock of a paused strategy's
waiting event (which the claim marks skipped, and so waits on) while it records the
late run, and commits only once the claim is seen waiting on it (pg_blocking_pids).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from cascadian.ports import FullStore
from cascadian.store.triggers import CLAIM_EVENTS
from tests.factories import rows
from tests.store.test_triggers_store import NOW, armed_strategy, seen

pytestmark = pytest.mark.both_schemas


def wait_until_blocked(watcher: psycopg.Connection[Any], pid: int) -> None:
    """Until the backend `pid` waits on a lock (a condition, not a timing)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = watcher.execute("select cardinality(pg_blocking_pids(%s))", (pid,)).fetchone()
        if row and row[0]:
            return
        time.sleep(0.01)
    raise AssertionError("the claim never waited on the lock")


async def test_a_late_finish_committed_during_an_event_claim_is_not_run_again(
    pg_store: FullStore, db: Any, database_url: str
) -> None:
    late = await armed_strategy(pg_store, db)
    paused = await armed_strategy(pg_store, db)
    await pg_store.observe([seen("0.50", 0), seen("0.61", 1)], NOW)
    claims = await pg_store.claim_events(NOW, 10, 60)
    first = {c.workflow.id: c for c in claims}
    assert set(first) == {late, paused}
    db.execute(
        "update workflow_sessions set auto_run = false, status = 'paused' where id = %s",
        (paused,),
    )
    after_lease = NOW + timedelta(seconds=61)
    with (
        psycopg.connect(database_url) as a,
        psycopg.connect(database_url, autocommit=True) as b,
    ):
        # A: the paused strategy's event row held; the late run recorded as a finish
        # records it (its run completed, its lease given back), not yet committed.
        a.execute(
            "select 1 from cascadian_trigger_events where workflow_id = %s for update", (paused,)
        )
        a.execute(
            "update workflow_executions set status = 'completed', execution_completed_at = %s"
            " where id = %s",
            (after_lease, first[late].execution_id),
        )
        a.execute(
            "update cascadian_leases set token = null, expires_at = null"
            " where workflow_id = %s and token = %s",
            (late, first[late].execution_id),
        )
        answer: list[Any] = []
        claim = threading.Thread(
            target=lambda: answer.extend(
                b.execute(
                    f"select workflow_id from {CLAIM_EVENTS}(%s, 10, 60)", (after_lease,)
                ).fetchall()
            )
        )
        claim.start()
        wait_until_blocked(db, b.info.backend_pid)
        a.commit()
        claim.join(30)
        assert not claim.is_alive()
    assert answer == []  # the late run's event is done: nothing to claim
    assert await pg_store.claim_events(after_lease, 10, 60) == []
    runs = rows(db, "select status from workflow_executions where workflow_id = %s", late)
    assert runs == [{"status": "completed"}]
    outcomes = rows(
        db,
        "select workflow_id, outcome from cascadian_trigger_events order by workflow_id",
    )
    assert {(r["workflow_id"], r["outcome"]) for r in outcomes} == {
        (late, "ran"),
        (paused, "skipped"),
    }
