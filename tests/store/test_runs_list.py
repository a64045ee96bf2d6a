"""The runs list across strategies (migrations/026) answers the same over both
transports, on both schemas: each filter, the order, and keyset pages that never
repeat or skip a run, even among runs started at the same instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.data import RunQuery
from cascadian.ports import FullStore
from tests.factories import OTHER_USER, USER, add_run, add_strategy, set_lease

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def arrange(db: Any) -> dict[str, Any]:
    mine = add_strategy(db, next_execution_at=None, name="Mine")
    theirs = add_strategy(db, next_execution_at=None, name="Theirs", user_id=OTHER_USER)
    at = {m: NOW - timedelta(minutes=m) for m in (5, 30, 90, 200)}
    return {
        "mine": mine,
        "theirs": theirs,
        "failed_5": add_run(db, mine, started_at=at[5], status="failed", error_message="boom"),
        "ok_30": add_run(
            db,
            mine,
            started_at=at[30],
            trigger_kind="scheduled",
            scheduled_for=at[30],
        ),
        "failed_90": add_run(db, theirs, started_at=at[90], status="failed", user_id=OTHER_USER),
        "ok_200": add_run(db, theirs, started_at=at[200], user_id=OTHER_USER),
    }


async def ids(store: FullStore, **query: Any) -> list[Any]:
    return [r.id for r in (await store.runs(RunQuery(**query))).items]


async def test_every_run_of_every_strategy_comes_newest_first_with_its_strategy_and_owner(
    any_store: FullStore, db: Any
) -> None:
    a = arrange(db)
    page = await any_store.runs(RunQuery())
    assert [r.id for r in page.items] == [a["failed_5"], a["ok_30"], a["failed_90"], a["ok_200"]]
    first = page.items[0]
    assert (first.workflow_name, first.user_id, first.status) == ("Mine", USER, "failed")
    assert first.error_message == "boom"
    assert page.next is None


async def test_every_failed_run_in_the_last_hour(any_store: FullStore, db: Any) -> None:
    a = arrange(db)
    hour_ago = NOW - timedelta(hours=1)
    assert await ids(any_store, status="failed", since=hour_ago) == [a["failed_5"]]
    assert await ids(any_store, status="failed") == [a["failed_5"], a["failed_90"]]


async def test_each_filter_alone_and_together(any_store: FullStore, db: Any) -> None:
    a = arrange(db)
    assert await ids(any_store, workflow_id=a["theirs"]) == [a["failed_90"], a["ok_200"]]
    assert await ids(any_store, user_id=OTHER_USER) == [a["failed_90"], a["ok_200"]]
    assert await ids(any_store, trigger="scheduled") == [a["ok_30"]]
    assert await ids(any_store, trigger="manual") == [a["failed_5"], a["failed_90"], a["ok_200"]]
    assert await ids(any_store, trigger="rerun") == []
    window = {"since": NOW - timedelta(minutes=100), "until": NOW - timedelta(minutes=10)}
    assert await ids(any_store, **window) == [a["ok_30"], a["failed_90"]]
    assert await ids(any_store, user_id=USER, status="completed", **window) == [a["ok_30"]]


async def test_keyset_pages_cover_every_run_once_even_with_equal_start_times(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    same = NOW - timedelta(minutes=1)
    made = {add_run(db, sid, started_at=same) for _ in range(5)}
    made |= {add_run(db, sid, started_at=NOW - timedelta(minutes=m)) for m in (2, 3)}
    seen: list[Any] = []
    page = await any_store.runs(RunQuery(limit=2))
    pages = 1
    while True:
        seen += [r.id for r in page.items]
        if page.next is None:
            break
        page = await any_store.runs(RunQuery(limit=2, before=page.next))
        pages += 1
    assert len(seen) == len(made) == 7 and set(seen) == made
    assert pages == 4  # 2 + 2 + 2 + 1: the last page says it is the last


async def test_the_runs_in_flight_are_the_runs_the_leases_hold_and_the_overview_counts(
    any_store: FullStore, db: Any
) -> None:
    # Read through cascadian_leases (053): a live lease's run, and one whose lease ran
    # out and no claim has taken over yet; both counted by the overview's tile.
    a = arrange(db)
    live = add_run(db, a["mine"], started_at=NOW - timedelta(minutes=1), status="running")
    set_lease(db, a["mine"], live, NOW + timedelta(minutes=1))
    stale = add_run(
        db, a["theirs"], started_at=NOW - timedelta(minutes=2), status="running", user_id=OTHER_USER
    )
    set_lease(db, a["theirs"], stale, NOW - timedelta(seconds=1))
    assert await ids(any_store, status="running") == [live, stale]
    assert await ids(any_store, status="running", user_id=OTHER_USER) == [stale]
    assert (await any_store.console_overview(NOW)).in_flight == 2
    # Finished, the run leaves both at once.
    set_lease(db, a["mine"], None, None)
    db.execute("update workflow_executions set status = 'completed' where id = %s", (live,))
    assert await ids(any_store, status="running") == [stale]
    assert (await any_store.console_overview(NOW)).in_flight == 1
