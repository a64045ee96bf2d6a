"""Migration 052 moves each lease held on a session row into cascadian_leases: a run
claimed by the release before it is finished by this one (fenced by the same token),
an expired one is reclaimed and its run cancelled, and the session's lease columns
are left empty."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from cascadian.data import NodeRun, RunOutcome, RunResult
from cascadian.store.migrate import SOURCE_MIGRATIONS, migrate
from cascadian.store.sql_store import SqlStore
from tests.factories import add_strategy, rows
from tests.store.schema_snapshot import scratch_database

LEASES = "052_leases_of_their_own.sql"
NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)


async def test_a_run_in_flight_during_the_upgrade_is_finished_by_the_new_release(
    admin_url: str, tmp_path: Path
) -> None:
    for migration in sorted(SOURCE_MIGRATIONS.glob("*.sql")):
        if migration.name < LEASES:
            shutil.copy(migration, tmp_path / migration.name)
    with scratch_database(admin_url, "cascadian_leases_test") as url:
        migrate(url, tmp_path)
        with psycopg.connect(url, autocommit=True) as db:
            live = add_strategy(db, next_execution_at=NOW - timedelta(seconds=2))
            stale = add_strategy(db, next_execution_at=NOW - timedelta(seconds=1))
            idle = add_strategy(db, next_execution_at=NOW + timedelta(minutes=5))
            # The release before claims both, on the session rows; the second's
            # worker dies and its lease runs out.
            claims = rows(
                db, "select * from cascadian_claim_due_v4(%s, 2, 60, 0) order by workflow_id", NOW
            )
            by_strategy = {c["workflow_id"]: c for c in claims}
            db.execute(
                "update workflow_sessions set lease_expires_at = %s where id = %s",
                (NOW - timedelta(seconds=1), stale),
            )

            assert migrate(url)[0] == LEASES

            assert (
                rows(
                    db,
                    "select id from workflow_sessions where lease_token is not null "
                    "or lease_expires_at is not null",
                )
                == []
            )
            leases = {
                r["workflow_id"]: (r["token"], r["expires_at"])
                for r in rows(db, "select * from cascadian_leases")
            }
            assert leases == {
                live: (by_strategy[live]["execution_id"], NOW + timedelta(seconds=60)),
                stale: (by_strategy[stale]["execution_id"], NOW - timedelta(seconds=1)),
            }
            assert idle not in leases

            store = SqlStore.postgres(url, pool_size=2)
            await store.open()
            try:
                # The live run is recorded by the new finish; the expired one's
                # strategy is claimed again, its abandoned run cancelled.
                logs = [NodeRun("start", "start", "success", NOW, NOW, 0, None, None)]
                outcome = RunOutcome(
                    by_strategy[live]["execution_id"],
                    live,
                    RunResult(True, {}, [], 1, 5, logs),
                    NOW + timedelta(minutes=5),
                    NOW,
                )
                [recorded] = await store.finish_runs([outcome], 3)
                assert recorded.accepted
                again = await store.claim_due(NOW + timedelta(seconds=1), 10, 60)
                assert [c.workflow.id for c in again] == [stale]
            finally:
                await store.close()
            runs = {
                r["id"]: r["status"] for r in rows(db, "select id, status from workflow_executions")
            }
            assert runs[by_strategy[live]["execution_id"]] == "completed"
            assert runs[by_strategy[stale]["execution_id"]] == "cancelled"
            [counted] = rows(
                db,
                "select execution_count, next_execution_at from workflow_sessions where id = %s",
                live,
            )
            assert counted == {
                "execution_count": 1,
                "next_execution_at": NOW + timedelta(minutes=5),
            }
            assert rows(db, "select token from cascadian_leases where workflow_id = %s", live) == [
                {"token": None}
            ]
