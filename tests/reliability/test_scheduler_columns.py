"""The scheduler's columns are the scheduler's (migrations/022): what a signed-in owner
may and may not write to their own strategies through Supabase's Data API.

Each write runs as PostgREST runs a request: `SET ROLE authenticated` and the JWT's
claims in `request.jwt.claims`. On a database shaped like an existing Cascadian
deployment the owner's row policies (009) let the owner write their rows; the trigger
of 022 refuses the scheduler's columns there. On a fresh database the Data API roles
have no write access at all, so the refusals hold there too (marked `both_schemas`).
The scheduler itself, as the service role over both transports, keeps working.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.store.migrate import load_migrations
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from tests.api_client import client
from tests.conftest import SUPABASE_KEY, SUPABASE_URL, create_supabase_roles
from tests.executors import ScriptedExecutor
from tests.factories import HELLO, OTHER_USER, USER, add_strategy, chain, node, rows, strategy
from tests.supabase_forwarder import PostgrestForwarder

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)
ON_THE_APPS_SCHEMA = pytest.mark.parametrize("schema", ["existing"], indirect=True, scope="session")
# What refuses a Data API write where the owner has no write access at all.
NO_ACCESS = "permission denied for table workflow_sessions"


@pytest.fixture
def conn(db: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    """The test database as its superuser; the Data API's roles exist (cluster-wide)."""
    create_supabase_roles(db)
    yield db
    db.execute("reset role")


def as_owner(c: psycopg.Connection[Any], user: uuid.UUID = USER) -> None:
    """What PostgREST does for a signed-in user's request: the role, and the JWT's claims."""
    c.execute("reset role")
    claims = json.dumps({"sub": str(user), "role": "authenticated"})
    c.execute("select set_config('request.jwt.claims', %s, false)", (claims,))
    c.execute("set role authenticated")


def everything(c: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    c.execute("reset role")
    return rows(c, "select * from workflow_sessions order by id")


def refused(
    c: psycopg.Connection[Any], schema: str, says: str, statement: str, *params: Any
) -> psycopg.Error:
    """The owner's statement is refused with SQLSTATE 42501 and changes no strategy."""
    before = everything(c)
    as_owner(c)
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
        c.execute(statement, params)
    assert (says if schema == "existing" else NO_ACCESS) in str(caught.value)
    assert everything(c) == before
    return caught.value


def claimable(c: psycopg.Connection[Any], at: datetime) -> list[uuid.UUID]:
    """The strategies a claim at `at` would take (read, not claimed), as the scheduler
    sees them (the leases are out of a signed-in user's sight)."""
    c.execute("reset role")
    found = rows(
        c,
        "select id from workflow_sessions s where auto_run and status in ('running', 'error') "
        "and is_current_version and next_execution_at <= %s and not exists ("
        "select 1 from cascadian_leases l where l.workflow_id = s.id and l.expires_at > %s)",
        at,
        at,
    )
    return [r["id"] for r in found]


# What an owner can no longer write


@pytest.mark.both_schemas
def test_an_owner_cannot_unarchive_a_strategy(conn: Any, schema: str) -> None:
    sid = add_strategy(conn, next_execution_at=None, status="archived", auto_run=False)
    refused(
        conn,
        schema,
        "auto_run cannot be written",
        "update workflow_sessions set status = 'running', auto_run = true where id = %s",
        sid,
    )
    for status in ("draft", "paused", "running"):
        refused(
            conn,
            schema,
            "an archived strategy stays archived",
            "update workflow_sessions set status = %s where id = %s",
            status,
            sid,
        )


@pytest.mark.both_schemas
def test_an_owner_cannot_arm_an_auto_paused_strategy(conn: Any, schema: str) -> None:
    sid = add_strategy(conn, next_execution_at=NOW, status="error", auto_run=False, error_count=3)
    for assignment, says in (
        ("status = 'running', auto_run = true, error_count = 0", "error_count, auto_run"),
        ("auto_run = true", "auto_run cannot be written"),
        ("status = 'running'", "status 'running' cannot be set"),
        ("error_count = 0", "error_count cannot be written"),
    ):
        refused(conn, schema, says, f"update workflow_sessions set {assignment} where id = %s", sid)
    assert claimable(conn, NOW) == []


@pytest.mark.both_schemas
def test_an_owner_cannot_move_the_next_run_to_now(conn: Any, schema: str) -> None:
    sid = add_strategy(conn, next_execution_at=NOW + timedelta(days=1))
    error = refused(
        conn,
        schema,
        "next_execution_at cannot be written",
        "update workflow_sessions set next_execution_at = %s where id = %s",
        NOW,
        sid,
    )
    assert claimable(conn, NOW) == []
    if schema == "existing":  # what PostgREST answers the app with (403, this JSON)
        assert error.sqlstate == "42501"
        assert error.diag.message_primary == (
            "workflow_sessions: next_execution_at cannot be written through the Data API"
        )
        assert "written by cascadian's scheduler" in (error.diag.message_detail or "")
        assert "/api/strategies/{id}" in (error.diag.message_hint or "")


@pytest.mark.both_schemas
@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("execution_count", 1000),
        ("success_count", 1000),
        ("error_count", 0),
        ("average_execution_time_ms", 1),
        ("last_executed_at", NOW),
        ("last_error", None),
    ],
)
def test_an_owner_cannot_write_the_counters(
    conn: Any, schema: str, column: str, value: Any
) -> None:
    sid = add_strategy(
        conn,
        next_execution_at=NOW,
        execution_count=7,
        success_count=4,
        error_count=2,
        average_execution_time_ms=40,
        last_executed_at=NOW - timedelta(minutes=5),
        last_error="the market is closed",
    )
    refused(
        conn,
        schema,
        f"{column} cannot be written",
        sql.SQL("update workflow_sessions set {} = %s where id = %s")
        .format(sql.Identifier(column))
        .as_string(conn),
        value,
        sid,
    )


@pytest.mark.both_schemas
def test_an_owner_cannot_clear_or_take_a_live_lease(conn: Any, schema: str) -> None:
    sid = add_strategy(conn, next_execution_at=NOW)
    [claimed] = rows(conn, "select * from cascadian_claim_due_v6(%s, 10, 60, 0)", NOW)
    assert claimed["workflow_id"] == sid
    # The lease is a row of cascadian_leases (052), out of reach (below); the session's
    # old lease columns, which nothing reads now, stay the scheduler's too.
    for assignment, says in (
        ("lease_expires_at = %s", "lease_expires_at cannot be written"),
        ("lease_token = gen_random_uuid()", "lease_token cannot be written"),
    ):
        params = [NOW] if "%s" in assignment else []
        refused(
            conn,
            schema,
            says,
            f"update workflow_sessions set {assignment} where id = %s",
            *params,
            sid,
        )
    # The run still holds its slot: nobody else claims it while it runs.
    assert claimable(conn, NOW + timedelta(seconds=30)) == []


@pytest.mark.both_schemas
def test_an_owner_cannot_insert_a_running_due_strategy(conn: Any, schema: str) -> None:
    insert = (
        "insert into workflow_sessions (user_id, name, nodes, edges, status, {}) "
        "values (%s, 'sneaky', %s, %s, 'running', {})"
    )
    nodes, edges = HELLO
    for columns, values, says in (
        ("auto_run, next_execution_at", "true, now()", "next_execution_at, auto_run"),
        ("auto_run", "true", "auto_run cannot be written"),
        ("next_execution_at", "now()", "next_execution_at cannot be written"),
        ("execution_count, success_count", "50, 50", "execution_count, success_count"),
        ("lease_token, lease_expires_at", "gen_random_uuid(), now()", "lease_token"),
    ):
        refused(
            conn, schema, says, insert.format(columns, values), USER, Jsonb(nodes), Jsonb(edges)
        )
    assert claimable(conn, NOW + timedelta(days=1)) == []


@ON_THE_APPS_SCHEMA
def test_the_schedule_of_a_scheduled_strategy_changes_only_through_the_api(conn: Any) -> None:
    running = add_strategy(conn, next_execution_at=NOW)
    for assignment in ("execution_interval_minutes = 1", "cron_expression = '* * * * *'"):
        refused(
            conn,
            "existing",
            "cannot be written through the Data API",
            f"update workflow_sessions set {assignment} where id = %s",
            running,
        )
    # A strategy that is not scheduled keeps its schedule as a setting the owner edits.
    draft = add_strategy(conn, next_execution_at=None, status="draft", auto_run=False)
    as_owner(conn)
    conn.execute(
        "update workflow_sessions set execution_interval_minutes = 15, "
        "cron_expression = '0 * * * *', timezone = 'Europe/London' where id = %s",
        (draft,),
    )
    conn.execute("reset role")
    s = strategy(conn, draft)
    assert (s["execution_interval_minutes"], s["cron_expression"], s["timezone"]) == (
        15,
        "0 * * * *",
        "Europe/London",
    )


@ON_THE_APPS_SCHEMA
def test_an_old_version_cannot_be_made_current_again(conn: Any) -> None:
    old = add_strategy(conn, next_execution_at=NOW, is_current_version=False)
    add_strategy(conn, next_execution_at=NOW, version=2, parent_workflow_id=old)
    refused(
        conn,
        "existing",
        "an old version of a strategy stays old",
        "update workflow_sessions set is_current_version = true where id = %s",
        old,
    )


@ON_THE_APPS_SCHEMA
def test_an_owner_cannot_touch_another_users_strategy_either(conn: Any) -> None:
    theirs = add_strategy(conn, next_execution_at=NOW, user_id=OTHER_USER, status="paused")
    before = everything(conn)
    as_owner(conn)
    conn.execute("update workflow_sessions set name = 'mine now' where id = %s", (theirs,))
    assert everything(conn) == before


# What an owner still writes: the original builder's own writes


@ON_THE_APPS_SCHEMA
def test_the_original_builders_own_writes_still_work(conn: Any) -> None:
    """createWorkflow, updateWorkflow, createVersion, toggleFavorite, archiveWorkflow,
    duplicate_workflow and deleteWorkflow of the app's workflow-session service, with
    the columns each sends."""
    nodes, edges = chain(node("start", "start"), node("end", "end"))
    as_owner(conn)
    [[draft]] = conn.execute(
        "insert into workflow_sessions (user_id, name, description, nodes, edges, trigger, "
        "variables, tags, folder, status) values (%s, 'my strategy', 'cheap ones', %s, %s, "
        "%s, %s, array['polymarket'], 'ideas', 'draft') returning id",
        (USER, Jsonb(nodes), Jsonb(edges), Jsonb({"type": "manual"}), Jsonb({"limit": 3})),
    ).fetchall()
    conn.execute(
        "update workflow_sessions set name = 'renamed', description = 'cheaper ones', "
        "nodes = %s, edges = %s, trigger = %s, variables = %s, tags = array['x'], "
        "folder = 'work', status = 'active', is_favorite = true where id = %s",
        (Jsonb(nodes[:1]), Jsonb([]), Jsonb(None), Jsonb({"limit": 5}), draft),
    )
    # A new version: the old row is no longer current; the new one copies its status.
    conn.execute("update workflow_sessions set is_current_version = false where id = %s", (draft,))
    [[version]] = conn.execute(
        "insert into workflow_sessions (user_id, name, description, nodes, edges, trigger, "
        "variables, tags, folder, status, version, is_current_version, parent_workflow_id) "
        "select user_id, name, description, %s, %s, trigger, variables, tags, folder, status, "
        "version + 1, true, id from workflow_sessions where id = %s returning id",
        (Jsonb(nodes), Jsonb(edges), draft),
    ).fetchall()
    conn.execute("update workflow_sessions set is_favorite = false where id = %s", (version,))
    conn.execute("update workflow_sessions set status = 'archived' where id = %s", (draft,))
    [[copy]] = conn.execute(
        "insert into workflow_sessions (user_id, name, description, nodes, edges, trigger, "
        "variables, tags, folder, status) select %s, 'copy', description || ' (Copy)', nodes, "
        "edges, trigger, variables, tags, folder, 'draft' from workflow_sessions where id = %s "
        "returning id",
        (USER, version),
    ).fetchall()
    conn.execute("delete from workflow_sessions where id = %s", (copy,))
    conn.execute("reset role")

    old, new = strategy(conn, draft), strategy(conn, version)
    assert (old["name"], old["status"], old["is_current_version"]) == ("renamed", "archived", False)
    assert old["variables"] == {"limit": 5} and old["tags"] == ["x"] and old["is_favorite"]
    assert (new["version"], new["parent_workflow_id"], new["status"]) == (2, draft, "active")
    assert (new["auto_run"], new["next_execution_at"], new["execution_count"]) == (False, None, 0)
    assert rows(conn, "select id from workflow_sessions where id = %s", copy) == []


@ON_THE_APPS_SCHEMA
def test_an_owner_may_halt_their_running_strategy_and_resend_unchanged_columns(
    conn: Any,
) -> None:
    sid = add_strategy(conn, next_execution_at=NOW, execution_count=3, success_count=3)
    before = strategy(conn, sid)
    as_owner(conn)
    # A client that sends back the whole row it read changes none of the scheduler's columns.
    conn.execute(
        "update workflow_sessions set name = 'halted', status = 'paused', "
        "execution_count = %s, next_execution_at = %s, auto_run = %s, "
        "lease_token = %s where id = %s",
        (before["execution_count"], before["next_execution_at"], True, None, sid),
    )
    conn.execute("update workflow_sessions set status = 'stopped' where id = %s", (sid,))
    conn.execute("reset role")
    after = strategy(conn, sid)
    assert (after["name"], after["status"], after["execution_count"]) == ("halted", "stopped", 3)
    assert claimable(conn, NOW) == []


# The scheduler itself, and the app's server routes, as the service role


@ON_THE_APPS_SCHEMA
def test_the_guard_is_installed_on_the_apps_schema(conn: Any) -> None:
    [trigger] = rows(
        conn,
        "select tgname, pg_get_triggerdef(oid) as definition from pg_trigger "
        "where tgrelid = 'workflow_sessions'::regclass and tgname = 'cascadian_scheduler_columns'",
    )
    assert "BEFORE INSERT OR UPDATE" in trigger["definition"]


@ON_THE_APPS_SCHEMA
def test_dropping_the_trigger_undoes_it_and_applying_the_file_again_restores_it(
    conn: Any,
) -> None:
    [guard] = [m for m in load_migrations() if m.name == "022_scheduler_columns.sql"]
    sid = add_strategy(conn, next_execution_at=NOW + timedelta(days=1))
    move = "update workflow_sessions set next_execution_at = %s where id = %s"
    try:
        conn.execute("drop trigger cascadian_scheduler_columns on workflow_sessions")
        as_owner(conn)
        conn.execute(move, (NOW, sid))
        assert claimable(conn, NOW) == [sid]
    finally:
        conn.execute("reset role")
        conn.execute(guard.sql)
        conn.execute(guard.sql)  # twice, as a second `supabase db push` would
    refused(conn, "existing", "next_execution_at", move, NOW + timedelta(days=2), sid)
    [[count]] = conn.execute(
        "select count(*) from pg_trigger where tgrelid = 'workflow_sessions'::regclass "
        "and tgname = 'cascadian_scheduler_columns'"
    ).fetchall()
    assert count == 1


@ON_THE_APPS_SCHEMA
def test_the_service_role_still_writes_the_scheduler_columns_directly(conn: Any) -> None:
    """The app's own server routes (its execute-now) update the counters with the service key."""
    sid = add_strategy(conn, next_execution_at=NOW, status="archived", auto_run=False)
    conn.execute("set role service_role")
    conn.execute(
        "update workflow_sessions set execution_count = 9, next_execution_at = %s, "
        "status = 'running', auto_run = true where id = %s",
        (NOW, sid),
    )
    conn.execute("reset role")
    assert claimable(conn, NOW) == [sid]


@pytest.fixture(params=["postgres", "supabase"])
async def service_store(
    request: pytest.FixtureRequest, database_url: str
) -> AsyncIterator[SqlStore]:
    """A store whose every statement runs as the service role, as with the service key."""
    as_service = psycopg.conninfo.make_conninfo(database_url, options="-c role=service_role")
    if request.param == "postgres":
        store = SqlStore.postgres(as_service, pool_size=2)
        await store.open()
        yield store
        await store.close()
        return
    forwarder = PostgrestForwarder(as_service, url=SUPABASE_URL, key=SUPABASE_KEY)
    await forwarder.open()
    store = await forwarder.store()
    yield store
    await store.close()
    await forwarder.close()


@ON_THE_APPS_SCHEMA
async def test_the_scheduler_as_the_service_role_runs_and_controls_strategies(
    conn: Any, service_store: SqlStore
) -> None:
    settings = Settings(CASCADIAN_STRATEGY_TIMEOUT_SECONDS=5, CASCADIAN_LEASE_SECONDS=60)
    sid = add_strategy(conn, next_execution_at=NOW, name="scheduled")
    report = await TickService(service_store, ScriptedExecutor(), settings, FakeClock(NOW)).tick()
    [run] = report.executions
    assert run.recorded and run.status == "completed"
    s = strategy(conn, sid)
    assert (s["execution_count"], s["lease_token"]) == (1, None)
    assert s["next_execution_at"] == NOW + timedelta(minutes=5)

    async with client(service_store, ScriptedExecutor()) as api:
        for action, status in (("pause", "paused"), ("resume", "running"), ("stop", "stopped")):
            reply = await api.post(f"/api/strategies/{sid}/{action}")
            assert reply.status_code == 200, reply.text
            assert reply.json()["data"]["status"] == status
        assert (await api.post(f"/api/strategies/{sid}/start")).status_code == 200
        assert (await api.post(f"/api/strategies/{sid}/execute-now")).status_code == 200
        graph = {"nodes": HELLO[0], "edges": HELLO[1]}
        edited = await api.patch(f"/api/strategies/{sid}", json={"graph": graph})
        assert edited.status_code == 200, edited.text
        new = uuid.UUID(edited.json()["data"]["id"])
        assert (await api.delete(f"/api/strategies/{new}")).status_code == 200
    assert strategy(conn, sid)["execution_count"] == 2
    assert (strategy(conn, new)["status"], strategy(conn, new)["auto_run"]) == ("archived", False)


# The lease (052): in a table of cascadian's own, out of a signed-in user's reach


@pytest.mark.both_schemas
@pytest.mark.parametrize(
    "statement",
    [
        "select * from cascadian_leases",
        "insert into cascadian_leases (workflow_id) select id from workflow_sessions",
        "update cascadian_leases set token = null, expires_at = null",
        "delete from cascadian_leases",
    ],
    ids=["read", "insert", "update", "delete"],
)
def test_a_signed_in_owner_can_neither_read_nor_write_the_leases(
    conn: psycopg.Connection[Any], statement: str
) -> None:
    add_strategy(conn, next_execution_at=NOW, lease_expires_at=NOW + timedelta(minutes=1))
    before = rows(conn, "select * from cascadian_leases")
    as_owner(conn)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="cascadian_leases"):
        conn.execute(statement)
    conn.execute("reset role")
    assert rows(conn, "select * from cascadian_leases") == before
