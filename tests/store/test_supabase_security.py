"""migrations/006 on a Supabase-like database: RLS isolates users, functions are service-only.

A fresh database gets a stub of what Supabase provides before our migrations
run: the `auth` schema with `auth.uid()` (read from the `request.jwt.claim.sub`
setting, as PostgREST sets it), the roles anon, authenticated and service_role,
and Supabase's default grants on the public schema. On the plain test database
the same migration applies and changes nothing.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from cascadian.store.migrate import migrate
from tests.factories import add_strategy, rows

ALICE = uuid.UUID("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")
BOB = uuid.UUID("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb")
OWNED = [
    "workflow_sessions",
    "workflow_executions",
    "strategy_execution_logs",
    "strategy_watchlists",
    "notifications",
]
OPERATIONAL = ["cron_ticks", "cascadian_migrations"]

ROLES = """
do $$
begin
    create role anon nologin;
exception when duplicate_object then null;
end $$;
do $$
begin
    create role authenticated nologin;
exception when duplicate_object then null;
end $$;
do $$
begin
    create role service_role nologin bypassrls;
exception when duplicate_object then null;
end $$;
"""

# What a Supabase project has before any migration of ours.
SUPABASE_STUB = """
create schema auth;
create function auth.uid() returns uuid language sql stable as $$
    select nullif(current_setting('request.jwt.claim.sub', true), '')::uuid
$$;
grant usage on schema auth to anon, authenticated, service_role;
grant usage on schema public to anon, authenticated, service_role;
"""
# Until Supabase's 2026 change, every new table and function in `public` was granted
# to the Data API roles; since (30 May for new projects, 30 October 2026 for all) none is.
EXPOSED_BY_DEFAULT = """
alter default privileges in schema public
    grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public
    grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public
    grant all on functions to anon, authenticated, service_role;
"""


@pytest.fixture(scope="module", params=["exposed-by-default", "explicit-grants-2026"])
def supabase_like_db(admin_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    dbname = f"cascadian_supabase_{os.getpid()}_{request.param.split('-')[0]}"
    name = sql.Identifier(dbname)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        superuser = conn.execute("select rolsuper from pg_roles where rolname = current_user")
        if superuser.fetchone() != (True,):
            pytest.skip("creating Supabase's roles needs a superuser")
        conn.execute(ROLES)  # cluster-wide; kept for later runs
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(name))
        conn.execute(sql.SQL("create database {}").format(name))
    url = psycopg.conninfo.make_conninfo(admin_url, dbname=dbname)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SUPABASE_STUB)
        if request.param == "exposed-by-default":
            conn.execute(EXPOSED_BY_DEFAULT)
    migrate(url)
    yield url
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(name))


@pytest.fixture
def conn(supabase_like_db: str) -> Iterator[psycopg.Connection[Any]]:
    """A superuser connection, with two users' strategies and everything hanging off them."""
    with psycopg.connect(supabase_like_db, autocommit=True) as c:
        c.execute(f"truncate {', '.join([*OWNED[::-1], 'cron_ticks'])} restart identity cascade")
        for user in (ALICE, BOB):
            sid = add_strategy(c, next_execution_at=None, user_id=user, name=f"of {user}")
            eid = c.execute(
                "insert into workflow_executions (workflow_id, user_id) values (%s, %s) "
                "returning id",
                (sid, user),
            ).fetchone()[0]
            c.execute(
                "insert into strategy_execution_logs (execution_id, workflow_id, node_id, status) "
                "values (%s, %s, 'n1', 'success')",
                (eid, sid),
            )
            c.execute(
                "insert into strategy_watchlists (workflow_id, market_id) values (%s, 'm1')",
                (sid,),
            )
            c.execute(
                "insert into notifications (user_id, workflow_id, type, title, message) "
                "values (%s, %s, 't', 'title', 'message')",
                (user, sid),
            )
        c.execute(
            "insert into cron_ticks (trigger, started_at, finished_at, success, execution_time_ms)"
            " values ('cron', now(), now(), true, 1)"
        )
        yield c
        c.execute("reset role")


def act_as(c: psycopg.Connection[Any], role: str, user: uuid.UUID | None) -> None:
    """What PostgREST does per request: switch role, set the JWT's subject."""
    c.execute("reset role")
    c.execute("select set_config('request.jwt.claim.sub', %s, false)", (str(user or ""),))
    c.execute(sql.SQL("set role {}").format(sql.Identifier(role)))


def visible(c: psycopg.Connection[Any], table: str) -> list[Any]:
    return rows(c, sql.SQL("select * from {}").format(sql.Identifier(table)).as_string(c))


def seen_by_caller(c: psycopg.Connection[Any], table: str) -> list[Any]:
    """What a Data API caller gets: its rows, or none where the role has no grant at all
    (tables created since Supabase's 2026 change are granted only what we grant)."""
    try:
        with c.transaction():
            return visible(c, table)
    except psycopg.errors.InsufficientPrivilege as exc:
        assert "permission denied for table" in str(exc)
        return []


def test_each_user_reads_only_their_own_rows(conn: psycopg.Connection[Any]) -> None:
    for user in (ALICE, BOB):
        act_as(conn, "authenticated", user)
        for table in OWNED:
            found = visible(conn, table)
            assert len(found) == 1, table
        [mine] = visible(conn, "workflow_sessions")
        assert mine["user_id"] == user
        for table in OPERATIONAL:
            assert seen_by_caller(conn, table) == [], table


def test_the_service_role_reaches_the_store_through_functions_alone(
    conn: psycopg.Connection[Any],
) -> None:
    act_as(conn, "service_role", None)
    assert conn.execute("select cascadian_ping_v1()").fetchone() == (1,)
    [status] = rows(conn, "select * from cascadian_strategies_v1(now(), null, 1, 0)")
    assert status["name"].startswith("of ")


def test_signed_in_users_keep_their_own_notification_settings(
    conn: psycopg.Connection[Any],
) -> None:
    conn.execute("delete from notification_settings")
    act_as(conn, "authenticated", ALICE)
    conn.execute(
        "insert into notification_settings (user_id, notification_type) "
        "values (%s, 'strategy_error')",
        (str(ALICE),),
    )
    assert len(visible(conn, "notification_settings")) == 1
    act_as(conn, "authenticated", BOB)
    assert visible(conn, "notification_settings") == []


def test_anonymous_callers_read_nothing(conn: psycopg.Connection[Any]) -> None:
    act_as(conn, "anon", None)
    for table in OWNED + OPERATIONAL:
        assert seen_by_caller(conn, table) == [], table


def test_users_cannot_write_strategies_through_the_data_api(
    conn: psycopg.Connection[Any],
) -> None:
    act_as(conn, "authenticated", ALICE)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "insert into workflow_sessions (user_id, name) values (%s, 'mine')", (str(ALICE),)
        )
    with contextlib.suppress(psycopg.errors.InsufficientPrivilege):  # no grant, or no row
        conn.execute("update workflow_sessions set name = 'hijacked'")
    act_as(conn, "service_role", None)
    assert all(s["name"] != "hijacked" for s in visible(conn, "workflow_sessions"))


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_only_the_service_role_may_change_state(conn: psycopg.Connection[Any], role: str) -> None:
    conn.execute(
        "update workflow_sessions set auto_run = true, status = 'running', "
        "next_execution_at = now() - interval '1 minute'"
    )
    act_as(conn, role, ALICE)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select * from cascadian_claim_due_v4(now(), 25, 60, 0)")
    act_as(conn, "service_role", None)
    claimed = rows(conn, "select * from cascadian_claim_due_v4(now(), 25, 60, 0)")
    assert {r["user_id"] for r in claimed} == {ALICE, BOB}


def test_every_function_runs_as_its_owner_with_a_fixed_search_path(
    conn: psycopg.Connection[Any],
) -> None:
    functions = rows(
        conn,
        """
        select p.proname, p.prosecdef, p.proconfig,
               has_function_privilege('authenticated', p.oid, 'execute') as authenticated,
               has_function_privilege('anon', p.oid, 'execute') as anon,
               has_function_privilege('service_role', p.oid, 'execute') as service_role
        from pg_proc p
        where p.pronamespace = 'public'::regnamespace and p.proname like 'cascadian\\_%%'
        """,
    )
    assert {"cascadian_claim_due_v4", "cascadian_finish_runs_v4", "cascadian_halt_v3"} <= {
        f["proname"] for f in functions
    }
    for f in functions:
        assert f["prosecdef"] and f["proconfig"] == ["search_path=public, pg_temp"], f
        assert (f["authenticated"], f["anon"], f["service_role"]) == (False, False, True), f


def test_on_plain_postgres_the_migration_changes_nothing(
    db: psycopg.Connection[tuple[object, ...]],
) -> None:
    secured = db.execute(
        "select count(*) from pg_class "
        "where relrowsecurity and relnamespace = 'public'::regnamespace"
    ).fetchone()
    definers = db.execute(
        "select count(*) from pg_proc where prosecdef and proname like 'cascadian\\_%'"
    ).fetchone()
    assert (secured, definers) == ((0,), (0,))
    assert db.execute("select cascadian_restrict_functions_v1()").fetchone() == (0,)
