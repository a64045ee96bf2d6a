"""What only the Postgres store promises: the due index, and no session state (Supavisor).

The behaviours both stores share (claims, leases, fenced outcomes, release,
auto-pause, the ledger, node writes) are in tests/test_store_contract.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cascadian.data import RunOutcome, RunResult
from cascadian.reports import TickReport
from cascadian.store.sql_store import SqlStore
from tests.factories import add_strategy

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


# Both hold only the due strategies (the same partial predicate); which one the
# planner picks depends on the statistics the tests before left behind.
DUE_INDEXES = ("workflow_sessions_due_current_idx", "workflow_sessions_due_owner_idx")


async def test_the_due_query_uses_a_partial_due_index(store: SqlStore, db: Any) -> None:
    db.execute("set enable_seqscan = off")
    plan = "\n".join(
        r[0]
        for r in db.execute(
            "explain select id from workflow_sessions where auto_run"
            " and status in ('running','error') and is_current_version"
            " and next_execution_at <= now() order by next_execution_at limit 25"
        ).fetchall()
    )
    assert any(index in plan for index in DUE_INDEXES), plan


async def test_the_store_leaves_no_session_state_for_a_transaction_pooler(
    database_url: str, db: Any
) -> None:
    # Supavisor's transaction mode (port 6543) hands each transaction to any server
    # connection: a prepared statement, a SET, a lock or an open transaction left
    # on one would leak to, or be missing for, the next client. One connection,
    # used for many more calls than psycopg's prepare threshold (5), keeps none.
    sid = add_strategy(db, next_execution_at=NOW)
    store = SqlStore.postgres(database_url, pool_size=1)
    await store.open()
    try:
        now = NOW
        for _ in range(12):
            [claim] = await store.claim_due(now, 25, 60)
            result = RunResult(True, {}, [], 1, 5)
            next_at = now + timedelta(minutes=5)
            outcome = RunOutcome(claim.execution_id, sid, result, next_at, now)
            [recorded] = await store.finish_runs([outcome], 3)
            assert recorded.accepted
            await store.record_tick(TickReport("cron", now, finished_at=now))
            now = next_at
        [state] = await store.transport.execute(
            """
            select
                (select count(*) from pg_prepared_statements) as prepared,
                (select count(*) from pg_settings where source = 'session') as session_settings,
                (select count(*) from pg_locks
                  where pid = pg_backend_pid() and locktype = 'advisory') as advisory_locks,
                (select count(*) from pg_listening_channels()) as listening,
                (select count(*) from pg_class
                  where relpersistence = 't' and pg_table_is_visible(oid)) as temp_tables,
                pg_current_xact_id_if_assigned() is null as no_open_write
            """,
            (),
        )
    finally:
        await store.close()
    assert state == {
        "prepared": 0,
        "session_settings": 0,
        "advisory_locks": 0,
        "listening": 0,
        "temp_tables": 0,
        "no_open_write": True,
    }
