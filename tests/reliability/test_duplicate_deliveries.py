"""Duplicate deliveries: 16 concurrent ticks over real HTTP, across two server processes,
never run a strategy twice for its slot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.factories import HELLO, NODE_LOGS, USER
from tests.reliability.conftest import TICK, Server, bearer, count

STRATEGIES = 2_000
TICKS = 16


def seed_due(conn: psycopg.Connection[Any], n: int) -> None:
    nodes, edges = HELLO
    conn.execute(
        """
        insert into workflow_sessions (
            user_id, name, nodes, edges, status, auto_run, execution_interval_minutes,
            next_execution_at
        )
        -- Hourly, and due within the last few minutes: the next slot of each is far
        -- enough away that no strategy becomes due again while the test runs.
        select %s, 'due ' || g, %s, %s, 'running', true, 60,
               now() - interval '1 minute' - make_interval(secs => g / 10.0)
        from generate_series(1, %s) as g
        """,
        (USER, Jsonb(nodes), Jsonb(edges), n),
    )


@pytest.mark.slow
async def test_sixteen_concurrent_ticks_run_each_due_strategy_exactly_once(
    db: psycopg.Connection[Any], database_url: str, serve: Callable[..., Server]
) -> None:
    seed_due(db, STRATEGIES)
    slots = dict(db.execute("select id, next_execution_at from workflow_sessions").fetchall())
    servers = [serve(database_url), serve(database_url)]

    async with httpx.AsyncClient(timeout=120) as client:
        replies = await asyncio.gather(
            *(client.post(servers[i % 2].base_url + TICK, headers=bearer()) for i in range(TICKS))
        )

    assert [r.status_code for r in replies] == [200] * TICKS, [r.text[:300] for r in replies]
    assert sum(r.json()["data"]["strategies_executed"] for r in replies) == STRATEGIES
    # Each strategy: one run, one execution row for its slot, its node logs, no lease left.
    assert count(db, "select count(*) from workflow_sessions where execution_count <> 1") == 0
    runs = db.execute(
        "select workflow_id, scheduled_for, attempt, status from workflow_executions"
    ).fetchall()
    assert len(runs) == STRATEGIES
    assert {r[0] for r in runs} == set(slots)
    assert all(r[1] == slots[r[0]] and r[2] == 1 and r[3] == "completed" for r in runs)
    assert count(db, f"select count(*) from {NODE_LOGS}") == 2 * STRATEGIES
    assert count(db, "select count(*) from cascadian_leases where token is not null") == 0
    assert all(s.alive() for s in servers)
