"""The per-owner cap through a real tick: CASCADIAN_OWNER_MAX_RUNS defaults to the
original spec's 10, and a tick never has more of one owner's strategies running at
once, while another owner's run beside them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.config import Settings
from cascadian.store.sql_store import SqlStore
from tests.api_client import CRON, bearer, client
from tests.executors import ScriptedExecutor
from tests.factories import OTHER_USER, USER, add_strategy, rows


def test_the_cap_is_ten_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASCADIAN_OWNER_MAX_RUNS", raising=False)
    assert Settings(_env_file=None).owner_max_runs == 10  # type: ignore[call-arg]


async def test_a_tick_runs_at_most_the_cap_of_one_owners_strategies_at_once(
    store: SqlStore, db: Any
) -> None:
    now = datetime.now(UTC)
    for i in range(12):
        add_strategy(db, user_id=USER, next_execution_at=now - timedelta(minutes=5, seconds=i))
    add_strategy(db, user_id=OTHER_USER, next_execution_at=now - timedelta(seconds=1))
    executor = ScriptedExecutor()
    async with client(store, executor, CASCADIAN_OWNER_MAX_RUNS=3) as api:
        answer = await api.post("/api/cron/strategy-executor", headers=bearer(CRON))
    assert answer.status_code == 200
    ran = rows(
        db,
        "select user_id, count(*) as n from workflow_executions group by user_id order by n",
    )
    assert {r["user_id"]: r["n"] for r in ran}[OTHER_USER] == 1
    assert executor.max_running <= 4  # at most 3 of USER's, and OTHER_USER's one
    assert {r["user_id"]: r["n"] for r in ran}[USER] >= 3
