"""Database connections stay bounded under any request load: the pool plus one spare.

Before: when the pool had no connection to give within the timeout, every waiting
request opened a direct connection of its own, with no bound. `/api/health` needs no
secret, so 300 health checks against a slow database reached PostgreSQL's connection
limit and other clients got "too many clients already".
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from cascadian.errors import StoreUnavailable
from cascadian.store.psycopg_transport import PsycopgTransport

POOL = 2
REQUESTS = 30
APP = "cascadian-bound-test"
LOCK = 424242


def backends(db: psycopg.Connection[Any]) -> int:
    row = db.execute(
        "select count(*) from pg_stat_activity where application_name = %s", (APP,)
    ).fetchone()
    assert row is not None
    return int(row[0])


async def test_a_burst_of_requests_never_opens_more_than_the_pool_and_one_spare(
    database_url: str, db: psycopg.Connection[Any]
) -> None:
    transport = PsycopgTransport(
        make_conninfo(database_url, application_name=APP), pool_size=POOL, timeout=0.5
    )
    await transport.open()
    db.execute("select pg_advisory_lock(%s)", (LOCK,))  # the "slow database"
    try:
        async with transport._pool.connection(), transport._pool.connection():
            # The pool is busy; each request waits for it, then falls back.
            calls = [
                asyncio.create_task(transport.execute("select pg_advisory_lock(%s)", (LOCK,)))
                for _ in range(REQUESTS)
            ]
            peak = 0
            while not all(c.done() for c in calls):
                peak = max(peak, await asyncio.to_thread(backends, db))
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
    finally:
        db.execute("select pg_advisory_unlock(%s)", (LOCK,))
        await transport.close()
    assert peak <= POOL + 1, f"{peak} connections for a pool of {POOL}"
    assert all(isinstance(o, StoreUnavailable) for o in outcomes)
    busy = [o for o in outcomes if "database busy" in str(o)]
    assert len(busy) >= REQUESTS // 2, "refused, saying why, instead of connecting"


async def test_the_spare_connection_still_serves_the_first_call_after_an_outage(
    database_url: str,
) -> None:
    """The spare exists for this (tests/reliability/test_db_outage.py): a call that the
    pool cannot serve in time still runs, on the spare."""
    transport = PsycopgTransport(database_url, pool_size=1, timeout=0.5)
    await transport.open()
    try:
        async with transport._pool.connection():
            [row] = await transport.execute("select 1 as ok", ())
    finally:
        await transport.close()
    assert row == {"ok": 1}
