"""Crash: a server killed with SIGKILL in mid-tick loses no run and double-counts none."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from cascadian.config import Settings
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.workflow.executor import GraphExecutor
from tests.factories import NODE_LOGS, USER, chain, node
from tests.reliability.conftest import TICK, Server, bearer, count, wait_until

CLAIMED = 20  # what the killed tick claims at once (its concurrency)
WAITING = 5  # due as well, but beyond the killed tick's concurrency: never claimed by it
DELAY = chain(node("start", "start"), node("wait", "delay", seconds=1.5), node("end", "end"))

# A short lease, so the test need not wait long for it to expire.
SETTINGS: dict[str, Any] = {
    "CASCADIAN_LEASE_SECONDS": 3,
    "CASCADIAN_STRATEGY_TIMEOUT_SECONDS": 2.5,
    "CASCADIAN_TICK_BUDGET_SECONDS": 8,
}


def seed_due(conn: psycopg.Connection[Any], n: int) -> None:
    nodes, edges = DELAY
    conn.execute(
        """
        insert into workflow_sessions (
            user_id, name, nodes, edges, status, auto_run, execution_interval_minutes,
            next_execution_at
        )
        select %s, 'due ' || g, %s, %s, 'running', true, 60,
               now() - interval '1 minute' - make_interval(secs => g / 10.0)
        from generate_series(1, %s) as g
        """,
        (USER, Jsonb(nodes), Jsonb(edges), n),
    )


def post_tick_in_background(server: Server) -> threading.Thread:
    def call() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server is killed under it
            httpx.post(server.base_url + TICK, headers=bearer(), timeout=30)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
async def test_a_tick_killed_mid_run_is_rerun_once_after_its_leases_expire(
    db: psycopg.Connection[Any],
    database_url: str,
    store: SqlStore,
    serve: Callable[..., Server],
) -> None:
    seed_due(db, CLAIMED + WAITING)
    slots = dict(db.execute("select id, next_execution_at from workflow_sessions").fetchall())
    server = serve(database_url, CASCADIAN_MAX_CONCURRENCY=CLAIMED, **SETTINGS)

    request = post_tick_in_background(server)
    wait_until(
        lambda: (
            count(db, "select count(*) from workflow_executions where status = 'running'")
            == CLAIMED
        ),
        10,
        "the tick to claim its strategies",
    )
    server.kill()  # SIGKILL: the 1.5 s delays are still running
    request.join(10)

    # What the dead tick left: claims and running execution rows, nothing recorded.
    claimed = {
        r[0] for r in db.execute("select workflow_id from cascadian_leases where token is not null")
    }
    assert len(claimed) == CLAIMED
    assert count(db, "select count(*) from workflow_sessions where execution_count > 0") == 0
    assert count(db, f"select count(*) from {NODE_LOGS}") == 0

    # No tick may take the claims over before their leases expire.
    wait_until(
        lambda: count(db, "select count(*) from cascadian_leases where expires_at > now()") == 0,
        10,
        "the leases to expire",
    )
    settings = Settings(**(SETTINGS | {"CASCADIAN_MAX_CONCURRENCY": 50}))
    report = await TickService(store, GraphExecutor(), settings).tick()

    assert report.success and len(report.executions) == CLAIMED + WAITING
    assert all(e.status == "completed" and e.recorded for e in report.executions)
    # Counters are exact: every strategy counted once, none lost.
    assert db.execute(
        "select count(*) filter (where execution_count = 1 and success_count = 1), "
        "count(*) filter (where l.token is not null) from workflow_sessions s "
        "left join cascadian_leases l on l.workflow_id = s.id"
    ).fetchone() == (CLAIMED + WAITING, 0)
    runs = db.execute(
        "select workflow_id, scheduled_for, attempt, status, error_message "
        "from workflow_executions order by workflow_id, attempt"
    ).fetchall()
    by_strategy: dict[Any, list[tuple[Any, ...]]] = {}
    for run in runs:
        by_strategy.setdefault(run[0], []).append(run[1:])
    for sid, slot in slots.items():
        if sid in claimed:  # the dead attempt is marked abandoned; the second one completed
            assert [(r[0], r[1], r[2]) for r in by_strategy[sid]] == [
                (slot, 1, "cancelled"),
                (slot, 2, "completed"),
            ]
            assert "abandoned" in by_strategy[sid][0][3]
        else:  # never claimed by the dead tick: one ordinary run
            assert [(r[0], r[1], r[2]) for r in by_strategy[sid]] == [(slot, 1, "completed")]
    # Node logs only for the runs that completed: three nodes each.
    assert count(db, f"select count(*) from {NODE_LOGS}") == 3 * (CLAIMED + WAITING)
