"""The set-based claim and finish (migrations/015, now 052's v6) write what the
one-at-a-time version (052's v5) writes, and a refused part of a batch still leaves the
rest of it recorded."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from cascadian.data import NodeRun, RunOutcome, RunResult
from cascadian.store.run_records import outcomes_json
from cascadian.store.sql_store import SqlStore
from tests.factories import add_strategy, rows, strategy

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)
LATER = NOW + timedelta(seconds=2)
NEXT = NOW + timedelta(minutes=5)

SESSION_COLUMNS = (
    "execution_count, success_count, error_count, average_execution_time_ms, last_error, "
    "status, auto_run, next_execution_at, lease_token, lease_expires_at, last_executed_at"
)
RUN_COLUMNS = (
    "status, execution_completed_at, duration_ms, nodes_executed, outputs, errors, "
    "error_message, execution_started_at, attempt, trigger_kind"
)
LOG_COLUMNS = (
    "node_id, node_type, status, started_at, completed_at, duration_ms, error_message, "
    "output, node_index"
)


def result(i: int) -> RunResult:
    """A mix: successes and failures, with and without node logs and outputs."""
    logs = [
        NodeRun("start", "start", "success", NOW, NOW, 0, None, {"i": i}),
        NodeRun("end", "end", "skipped" if i % 3 == 0 else "success"),
    ]
    if i % 2:
        return RunResult(True, {"end": {"i": i}}, [], 2, 10 + i, logs)
    errors = [{"node_id": "start", "node_type": "start", "error": f"failed {i}"}]
    return RunResult(False, {}, errors, 1, 20 + i, logs)


def written(db: Any, sid: uuid.UUID, eid: uuid.UUID) -> tuple[Any, ...]:
    session = rows(db, f"select {SESSION_COLUMNS} from workflow_sessions where id = %s", sid)
    run = rows(db, f"select {RUN_COLUMNS} from workflow_executions where id = %s", eid)
    logs = rows(
        db,
        f"select {LOG_COLUMNS} from strategy_execution_logs where execution_id = %s "
        "order by node_index",
        eid,
    )
    return session, run, logs


async def claim_all(store: SqlStore, db: Any, n: int, **columns: Any) -> list[Any]:
    for i in range(n):
        add_strategy(db, next_execution_at=NOW - timedelta(seconds=n - i), **columns)
    claims = await store.claim_due(NOW, n, 60)
    assert len(claims) == n
    return claims


def finish(
    db: Any,
    version: str,
    outcomes: list[RunOutcome],
    threshold: int = 3,
    log_rows: bool | None = None,
) -> list[Any]:
    """v6 takes `log_rows` (CASCADIAN_NODE_LOG_ROWS); v5, one at a time, does not."""
    records = Jsonb(outcomes_json(outcomes), dumps=lambda text: text)
    if log_rows is None:
        query = f"select * from cascadian_finish_runs_{version}(%s, %s)"
        return rows(db, query, records, threshold)
    query = f"select * from cascadian_finish_runs_{version}(%s, %s, %s)"
    return rows(db, query, records, threshold, log_rows)


def read_logs(db: Any, eid: uuid.UUID) -> Any:
    """A run's logs as the run API answers them (migrations/051)."""
    [run] = rows(db, "select cascadian_execution_v4(%s, null) as run", eid)
    return run["run"]["logs"]


async def test_a_batch_written_set_based_leaves_the_rows_the_loop_leaves(
    store: SqlStore, db: Any
) -> None:
    # The same six outcomes on two sets of identical strategies, one set per version;
    # some strategies have failed before, so one of them is auto-paused.
    claims = await claim_all(store, db, 12, error_count=2)
    outcomes = [
        RunOutcome(c.execution_id, c.workflow.id, result(i % 6), NEXT if i % 6 else None, LATER)
        for i, c in enumerate(claims)
    ]
    loop, sets = finish(db, "v5", outcomes[:6]), finish(db, "v6", outcomes[6:], log_rows=True)
    strip = [{k: v for k, v in r.items() if k != "execution_id"} for r in loop]
    assert strip == [{k: v for k, v in r.items() if k != "execution_id"} for r in sets]
    assert [r["execution_id"] for r in sets] == [c.execution_id for c in claims[6:]]
    assert any(r["auto_paused"] for r in sets)
    for a, b in zip(claims[:6], claims[6:], strict=True):
        left = written(db, a.workflow.id, a.execution_id)
        right = written(db, b.workflow.id, b.execution_id)
        assert left[1:] == right[1:]
        # Each strategy its own slot: compare whether it moved on, not where it was.
        same = {"lease_token": None, "next_execution_at": None}
        moved = [w[0][0]["next_execution_at"] == NEXT for w in (left, right)]
        assert moved[0] == moved[1]
        assert left[0][0] | same == right[0][0] | same
    notes = rows(db, "select count(*) as n from notifications")
    assert notes[0]["n"] % 2 == 0 and notes[0]["n"] > 0  # as many from each version


@pytest.mark.parametrize("log_rows", [False, True], ids=["jsonb", "rows"])
async def test_the_finish_leaves_the_same_rows_with_the_node_logs_on_the_run_or_as_rows(
    store: SqlStore, db: Any, log_rows: bool
) -> None:
    claims = await claim_all(store, db, 12, error_count=2)
    outcomes = [
        RunOutcome(c.execution_id, c.workflow.id, result(i % 6), NEXT if i % 6 else None, LATER)
        for i, c in enumerate(claims)
    ]
    old = finish(db, "v6", outcomes[:6], log_rows=True)
    new = finish(db, "v6", outcomes[6:], log_rows=log_rows)
    strip = [{k: v for k, v in r.items() if k != "execution_id"} for r in old]
    assert strip == [{k: v for k, v in r.items() if k != "execution_id"} for r in new]
    assert any(r["auto_paused"] for r in new)
    for a, b in zip(claims[:6], claims[6:], strict=True):
        left = written(db, a.workflow.id, a.execution_id)
        right = written(db, b.workflow.id, b.execution_id)
        assert left[1] == right[1]
        assert (right[2] == left[2]) if log_rows else (right[2] == [])
        same = {"lease_token": None, "next_execution_at": None}
        assert left[0][0] | same == right[0][0] | same
        # Read through the run API, the logs are the same either way.
        assert read_logs(db, b.execution_id) == read_logs(db, a.execution_id)
    stored = rows(
        db,
        "select node_logs from workflow_executions where id = any(%s)",
        [c.execution_id for c in claims[6:]],
    )
    assert all((r["node_logs"] is None) == log_rows for r in stored)


async def test_a_run_with_its_logs_on_its_row_answers_no_node_logs_column(
    store: SqlStore, db: Any
) -> None:
    [claim] = await claim_all(store, db, 1)
    outcome = RunOutcome(claim.execution_id, claim.workflow.id, result(1), NEXT, LATER)
    finish(db, "v6", [outcome], log_rows=False)
    run = await store.execution(claim.execution_id)
    assert run is not None
    assert [(n.node_id, n.status, n.output) for n in run.logs] == [
        ("start", "success", {"i": 1}),
        ("end", "success", None),
    ]
    # A skipped node without times starts when the run ended, as a row of the table did.
    assert run.logs[1].started_at == LATER


async def test_a_batch_v6_sends_through_v5_keeps_its_logs_as_rows_and_they_still_read(
    store: SqlStore, db: Any
) -> None:
    # The same run twice in a batch goes one outcome at a time, through v5 (as a batch
    # the database refuses does), which writes its logs as rows.
    [claim] = await claim_all(store, db, 1)
    outcome = RunOutcome(claim.execution_id, claim.workflow.id, result(1), NEXT, LATER)
    answers = finish(db, "v6", [outcome, outcome], log_rows=False)
    assert [a["accepted"] for a in answers] == [True, False]
    assert len(rows(db, "select id from strategy_execution_logs")) == 2
    assert [n["node_id"] for n in read_logs(db, claim.execution_id)] == ["start", "end"]


async def test_a_refused_node_log_in_a_batch_is_reported_for_its_own_run_only(
    store: SqlStore, db: Any
) -> None:
    claims = await claim_all(store, db, 3)
    broken = NodeRun("n1", "filter", "exploded")  # type: ignore[arg-type]
    outcomes = [
        RunOutcome(
            c.execution_id,
            c.workflow.id,
            RunResult(True, {}, [], 1, 5, [broken] if i == 1 else list(result(1).node_runs)),
            NEXT,
            LATER,
        )
        for i, c in enumerate(claims)
    ]
    answers = finish(db, "v6", outcomes, log_rows=True)
    assert [a["accepted"] for a in answers] == [True, True, True]
    assert [len(a["side_errors"]) for a in answers] == [0, 1, 0]
    assert answers[1]["side_errors"][0]["write"] == "node_logs"
    for c in claims:
        assert strategy(db, c.workflow.id)["execution_count"] == 1
    logs = rows(db, "select execution_id from strategy_execution_logs")
    assert {r["execution_id"] for r in logs} == {claims[0].execution_id, claims[2].execution_id}


async def test_an_outcome_whose_lease_was_taken_over_is_refused_and_the_rest_recorded(
    store: SqlStore, db: Any
) -> None:
    claims = await claim_all(store, db, 3)
    db.execute(
        "update cascadian_leases set token = gen_random_uuid() where workflow_id = %s",
        (claims[0].workflow.id,),
    )
    outcomes = [RunOutcome(c.execution_id, c.workflow.id, result(1), NEXT, LATER) for c in claims]
    answers = finish(db, "v6", outcomes, log_rows=True)
    assert [a["accepted"] for a in answers] == [False, True, True]
    assert strategy(db, claims[0].workflow.id)["execution_count"] == 0
    [run] = rows(db, "select status from workflow_executions where id = %s", claims[0].execution_id)
    assert run["status"] == "running"


async def test_the_same_run_twice_in_a_batch_is_recorded_once(store: SqlStore, db: Any) -> None:
    [claim] = await claim_all(store, db, 1)
    outcome = RunOutcome(claim.execution_id, claim.workflow.id, result(1), NEXT, LATER)
    answers = finish(db, "v6", [outcome, outcome], log_rows=False)
    assert [a["accepted"] for a in answers] == [True, False]
    assert strategy(db, claim.workflow.id)["execution_count"] == 1


async def test_the_claim_takes_the_earliest_due_first_and_no_more_than_asked(
    store: SqlStore, db: Any
) -> None:
    sids = [add_strategy(db, next_execution_at=NOW - timedelta(seconds=i)) for i in range(5)]
    add_strategy(db, next_execution_at=NOW + timedelta(seconds=1))
    claims = await store.claim_due(NOW, 3, 60)
    assert [c.workflow.id for c in claims] == [sids[4], sids[3], sids[2]]
    assert [c.scheduled_for for c in claims] == [NOW - timedelta(seconds=i) for i in (4, 3, 2)]


async def test_next_due_is_the_earliest_slot_not_held_by_a_run(store: SqlStore, db: Any) -> None:
    assert await store.next_due(NOW) is None
    add_strategy(db, next_execution_at=NOW + timedelta(seconds=30))
    add_strategy(db, next_execution_at=NOW - timedelta(seconds=5))
    add_strategy(db, next_execution_at=NOW - timedelta(seconds=9), auto_run=False)
    assert await store.next_due(NOW) == NOW - timedelta(seconds=5)
    await store.claim_due(NOW, 1, 60)  # the due one now runs
    assert await store.next_due(NOW) == NOW + timedelta(seconds=30)


def table_writes(db: Any) -> dict[str, tuple[int, int]]:
    """(HOT, all) updates so far of the tables a run updates, this connection's own
    included (flushed to the statistics first)."""
    db.execute("select pg_stat_force_next_flush()")
    db.execute("select pg_stat_clear_snapshot()")
    found = rows(
        db,
        "select relname, n_tup_hot_upd, n_tup_upd from pg_stat_user_tables "
        "where relname in ('workflow_sessions', 'workflow_executions', 'cascadian_leases')",
    )
    return {r["relname"]: (r["n_tup_hot_upd"], r["n_tup_upd"]) for r in found}


def since(after: dict[str, tuple[int, int]], before: dict[str, tuple[int, int]]) -> Any:
    return {k: (after[k][0] - before[k][0], after[k][1] - before[k][1]) for k in after}


def fillfactors(db: Any) -> dict[str, list[str] | None]:
    found = rows(
        db,
        "select relname, reloptions from pg_class "
        "where relname in ('workflow_sessions', 'workflow_executions', 'cascadian_leases') "
        "and relkind = 'r'",
    )
    return {r["relname"]: r["reloptions"] for r in found}


def run_all(db: Any, n: int) -> tuple[Any, Any]:
    """Claim and finish every due strategy, each in its own transaction as a worker
    does: what each wrote."""
    before = table_writes(db)
    claims = rows(
        db,
        "select execution_id, workflow_id from cascadian_claim_due_v6(%s, %s, 60, 0)",
        NOW,
        n,
    )
    assert len(claims) == n
    claimed = table_writes(db)
    outcomes = [
        RunOutcome(c["execution_id"], c["workflow_id"], result(1), None, LATER) for c in claims
    ]
    assert all(a["accepted"] for a in finish(db, "v6", outcomes, log_rows=False))
    return since(claimed, before), since(table_writes(db), claimed)


async def test_a_run_writes_its_session_row_once_and_its_lease_hot(db: Any, schema: str) -> None:
    n = 150  # rows enough for several pages: packed full, no update would fit beside them
    for i in range(n):
        add_strategy(db, next_execution_at=NOW - timedelta(seconds=n - i))
    # A strategy's first claim makes its lease row, so its first lease is an insert and
    # an update in one transaction; later runs find the row.
    first_claim, first_finish = run_all(db, n)
    assert first_claim["workflow_sessions"][1] == 0
    assert first_finish["workflow_sessions"][1] == n
    claimed, finished = run_all(db, n)  # the finish kept each strategy due (no next slot)
    # The claim writes no session row; the finish writes each once.
    assert claimed["workflow_sessions"] == (0, 0)
    assert finished["workflow_sessions"][1] == n
    # Each lease is taken and given back by HOT updates: the table's only index is its
    # key, which no update changes, and its pages keep room (fillfactor 50).
    assert claimed["cascadian_leases"] == (n, n)
    assert finished["cascadian_leases"] == (n, n)
    assert fillfactors(db)["cascadian_leases"] == ["fillfactor=50"]
    if schema == "existing":
        # The app indexes workflow_executions.status, and workflow_sessions.updated_at,
        # which its trigger sets on every update: no room on a page makes those HOT,
        # so migrations/020 leaves their storage as it was; the session's one update
        # is never HOT there.
        assert finished["workflow_sessions"] == (0, n)
        assert fillfactors(db)["workflow_sessions"] is None
        assert fillfactors(db)["workflow_executions"] is None
        return
    assert fillfactors(db)["workflow_sessions"] == ["fillfactor=50"]
    assert fillfactors(db)["workflow_executions"] == ["fillfactor=50"]
    # A finished row, its node logs on it (051), is larger than the one the claim
    # inserted: about half fit beside it (without the logs on the row, about 9 in 10).
    hot, updated = finished["workflow_executions"]
    assert updated == n and hot >= 0.4 * n


@contextmanager
def lease_inserts_tried(db: Any) -> Iterator[Callable[[], int]]:
    """How many rows the claims try to insert into cascadian_leases (a row-level
    BEFORE INSERT trigger fires for each, also for one whose key then conflicts and
    is passed over): counted in a table of the test's own, dropped afterwards."""
    db.execute("create table lease_insert_tries (workflow_id uuid)")
    db.execute(
        "create function lease_insert_tried() returns trigger language plpgsql as $$ "
        "begin insert into lease_insert_tries values (new.workflow_id); return new; end $$"
    )
    db.execute(
        "create trigger lease_insert_tried before insert on cascadian_leases "
        "for each row execute function lease_insert_tried()"
    )
    try:
        yield lambda: int(rows(db, "select count(*) as n from lease_insert_tries")[0]["n"])
    finally:
        db.execute("drop trigger lease_insert_tried on cascadian_leases")
        db.execute("drop function lease_insert_tried()")
        db.execute("drop table lease_insert_tries")


async def test_a_claim_makes_lease_rows_only_for_strategies_never_claimed_before(
    any_store: SqlStore, db: Any
) -> None:
    old = [add_strategy(db, next_execution_at=NOW - timedelta(seconds=10 + i)) for i in range(3)]
    with lease_inserts_tried(db) as tried:
        assert {c.workflow.id for c in await any_store.claim_due(NOW, 10, 60)} == set(old)
        assert tried() == 3  # their first claim: a row each
        db.execute("update cascadian_leases set token = null, expires_at = null")
        new = [add_strategy(db, next_execution_at=NOW - timedelta(seconds=i)) for i in range(2)]
        claims = await any_store.claim_due(NOW, 10, 60)
        # Every due strategy is claimed, old and new, but an insert is tried only for
        # the new ones (060; v5 tried one for every pick at every claim).
        assert {c.workflow.id for c in claims} == set(old) | set(new)
        assert tried() == 3 + 2
    held = rows(db, "select workflow_id, token from cascadian_leases where token is not null")
    assert {(r["workflow_id"], r["token"]) for r in held} == {
        (c.workflow.id, c.execution_id) for c in claims
    }
