"""Deleting a strategy while its run is being recorded deadlocks with nothing (059):
the lease no longer references the strategy, so the delete never reaches for the
lease row the finish holds (052's ON DELETE CASCADE took the session row and then
the lease row: the opposite order to the finish's, which aborted the finish's whole
batch).

Made deterministic with a third connection holding a key-share lock on the session:
the delete queues behind it, the finish (lease taken) queues behind the delete, and
the holder lets go only once both are seen waiting (pg_blocking_pids).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import psycopg
import pytest

from cascadian.store.runs import CLAIM_MANUAL, FINISH_RUNS
from tests.factories import add_strategy, rows
from tests.store.test_event_claim_race import wait_until_blocked
from tests.store.test_orchestrator_decisions import NOW

pytestmark = pytest.mark.both_schemas

OPERATOR = '{"kind": "operator", "source": "cli"}'


def test_a_strategy_deleted_while_its_run_finishes_deadlocks_nothing(
    db: Any, database_url: str
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    [claim] = rows(
        db,
        f"select execution_id from {CLAIM_MANUAL}(%s, %s, 300, %s::jsonb)",
        sid,
        NOW,
        OPERATOR,
    )
    outcome = {
        "execution_id": str(claim["execution_id"]), "workflow_id": str(sid),
        "success": True, "finished_at": NOW.isoformat(), "duration_ms": 5,
    }  # fmt: skip
    errors: dict[str, BaseException] = {}
    with (
        psycopg.connect(database_url) as holder,
        psycopg.connect(database_url, autocommit=True) as deleter,
        psycopg.connect(database_url, autocommit=True) as finisher,
    ):
        holder.execute("select 1 from workflow_sessions where id = %s for key share", (sid,))

        def run(name: str, conn: psycopg.Connection[Any], query: str, *args: Any) -> None:
            try:
                conn.execute(query, args)
            except psycopg.Error as exc:
                errors[name] = exc

        delete = threading.Thread(
            target=run,
            args=("delete", deleter, "delete from workflow_sessions where id = %s", sid),
        )
        delete.start()
        wait_until_blocked(db, deleter.info.backend_pid)
        finish = threading.Thread(
            target=run,
            args=(
                "finish",
                finisher,
                f"select * from {FINISH_RUNS}(%s::jsonb, 3, false)",
                json.dumps([outcome]),
            ),
        )
        finish.start()
        wait_until_blocked(db, finisher.info.backend_pid)
        holder.commit()
        delete.join(30)
        finish.join(30)
    assert errors == {}
    assert rows(db, "select id from workflow_sessions where id = %s", sid) == []
