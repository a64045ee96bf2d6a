"""A user naming another user's strategy locks nothing of it (062): start, resume,
update and new version ask whether the caller may change the strategy before they
take its lease's lock. Before, each made and locked the lease first and answered
not_found after: the strategy's claims were held off while the call's transaction
lasted, and a lease row was left behind.

The lock is seen without timing: the stranger's call stays in an open transaction
while another connection claims the strategy (a claim skips a locked lease).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from cascadian.data import Actor, Schedule, StrategyChanges, StrategyGraph
from cascadian.ports import FullStore
from cascadian.store.control import RESUME, START
from cascadian.store.runs import CLAIM_DUE
from cascadian.store.strategies import NEW_VERSION, UPDATE_STRATEGY
from tests.factories import OTHER_USER, add_strategy, rows
from tests.store.test_orchestrator_decisions import NOW

pytestmark = pytest.mark.both_schemas

STRANGER = Actor.user(OTHER_USER)
GRAPH = StrategyGraph([{"id": "start", "type": "start"}])
STRANGER_JSON = f'{{"kind": "user", "user_id": "{OTHER_USER}", "source": "api"}}'

Call = Callable[[FullStore, Any], Awaitable[Any]]
CALLS: dict[str, Call] = {
    "start": lambda s, sid: s.start(sid, Schedule(5), NOW, NOW, STRANGER),
    "resume": lambda s, sid: s.resume(sid, NOW, NOW, STRANGER),
    "update": lambda s, sid: s.update_strategy(
        sid, StrategyChanges(interval_minutes=7), Schedule(7), NOW, NOW, STRANGER
    ),
    "new version": lambda s, sid: s.new_version(
        sid, StrategyChanges(name="mine now", graph=GRAPH), None, None, NOW, STRANGER
    ),
}
# The same calls in SQL, for a transaction left open.
SQL: dict[str, str] = {
    "start": f"select {START}(%s, %s, 5, null, 'UTC', %s, %s::jsonb)",
    "resume": f"select {RESUME}(%s, %s, %s, %s::jsonb)",
    "update": f'select {UPDATE_STRATEGY}(%s, \'{{"name": "x"}}\'::jsonb, %s, %s::jsonb)',
    "new version": f"select result from {NEW_VERSION}(%s, '{{}}'::jsonb, %s, %s::jsonb)",
}


@pytest.mark.parametrize("call", sorted(CALLS))
async def test_a_strangers_change_answers_not_found_and_writes_no_lease(
    any_store: FullStore, db: Any, call: str
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, auto_run=False, status="paused")
    answer = await CALLS[call](any_store, sid)
    assert answer in ("not_found", ("not_found", None))
    assert rows(db, "select workflow_id from cascadian_leases") == []


@pytest.mark.parametrize("call", sorted(SQL))
def test_a_strangers_change_holds_no_lock_a_claim_would_wait_for(
    db: Any, database_url: str, call: str
) -> None:
    sid = add_strategy(db, next_execution_at=NOW - timedelta(minutes=1))
    # Its lease row, as any claim before leaves it (free).
    db.execute("insert into cascadian_leases (workflow_id) values (%s)", (sid,))
    args: tuple[Any, ...] = (sid, NOW, NOW, STRANGER_JSON)
    if call in ("update", "new version"):
        args = (sid, NOW, STRANGER_JSON)
    with (
        psycopg.connect(database_url) as stranger,
        psycopg.connect(database_url, autocommit=True) as worker,
    ):
        assert stranger.execute(SQL[call], args).fetchone() == ("not_found",)
        worker.execute("set lock_timeout = '10s'")  # a wait is a failure, not a hang
        claimed = worker.execute(
            f"select workflow_id from {CLAIM_DUE}(%s, 10, 60, 0)", (NOW,)
        ).fetchall()
        stranger.rollback()
    assert claimed == [(sid,)]
