"""Fixtures: a real PostgreSQL (embedded, or DATABASE_URL's server) with a test database.

Two schemas: `fresh` (our migrations on an empty database) for every test, and
`existing` (tests/fixtures/existing_deployment.sql, a database shaped like an
existing Cascadian deployment, then our migrations) as well for the tests
marked `both_schemas`: the key scenarios run against both.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from cascadian.ports import Store
from cascadian.store.migrate import migrate
from cascadian.store.sql_store import SqlStore
from tests.emptying import Emptier
from tests.factories import OTHER_USER, TABLES, USER
from tests.supabase_forwarder import PostgrestForwarder

# The suite's scenarios run many strategies of one test user in one tick; the
# per-owner cap (default 10) is proven where it is the subject: tests/store/
# test_fair_claims.py (the claim) and tests/test_owner_cap.py (the tick, the default).
os.environ.setdefault("CASCADIAN_OWNER_MAX_RUNS", "0")

TEST_DB = f"cascadian_test_{os.getpid()}"
EXISTING_DEPLOYMENT = Path(__file__).parent / "fixtures" / "existing_deployment.sql"
# Users an existing deployment knows (its notifications reference auth.users).
KNOWN_USERS = (USER, OTHER_USER)
SUPABASE_URL = "https://cascadian-test.supabase.co"
SUPABASE_KEY = "sb_secret_cascadian-test-key"


def _admin_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from cascadian.store.embedded import start_server

    server = start_server(Path(tmp_path_factory.mktemp("embedded")))
    url = str(server.get_uri())
    without_fsync(url)
    return url


def without_fsync(url: str) -> None:
    """The embedded server lives in this run's temporary directory and goes with it, so
    nothing it writes has to survive the machine crashing: it skips fsync, which the
    tests' many small commits and truncates otherwise wait for. (A crash of PostgreSQL
    alone loses nothing either way; test_db_outage stops a server of its own.)"""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("alter system set fsync = off")
        conn.execute("alter system set full_page_writes = off")
        conn.execute("select pg_reload_conf()")


@pytest.fixture(scope="session")
def admin_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _admin_url(tmp_path_factory)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_schemas") and "schema" in metafunc.fixturenames:
        metafunc.parametrize("schema", ["fresh", "existing"], indirect=True, scope="session")


@pytest.fixture(scope="session")
def schema(request: pytest.FixtureRequest) -> str:
    """Which database the test runs on: fresh, or shaped like an existing deployment."""
    return str(getattr(request, "param", "fresh"))


@pytest.fixture(scope="session")
def database_url(admin_url: str, schema: str) -> Iterator[str]:
    """A database of its own for this test run, migrated; dropped afterwards."""
    dbname = TEST_DB if schema == "fresh" else f"{TEST_DB}_{schema}"
    name = sql.Identifier(dbname)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(name))
        conn.execute(sql.SQL("create database {}").format(name))
        if schema == "existing":
            create_supabase_roles(conn)
    url = psycopg.conninfo.make_conninfo(admin_url, dbname=dbname)
    if schema == "existing":
        with psycopg.connect(url, autocommit=True) as conn:
            # Supabase's databases run in UTC; quiet hours are read in it.
            conn.execute(sql.SQL("alter database {} set timezone = 'UTC'").format(name))
            conn.execute(EXISTING_DEPLOYMENT.read_text())
            for user in KNOWN_USERS:
                conn.execute("insert into auth.users (id) values (%s)", (user,))
    migrate(url)
    yield url
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(name))


def create_supabase_roles(conn: psycopg.Connection[Any]) -> None:
    """anon, authenticated and service_role (cluster-wide, so kept for later runs)."""
    superuser = conn.execute("select rolsuper from pg_roles where rolname = current_user")
    if superuser.fetchone() != (True,):
        pytest.skip("a database shaped like Supabase needs a superuser to create its roles")
    for role in ("anon", "authenticated", "service_role"):
        attributes = "nologin bypassrls" if role == "service_role" else "nologin"
        with contextlib.suppress(psycopg.errors.DuplicateObject):
            conn.execute(sql.SQL("create role {} " + attributes).format(sql.Identifier(role)))


@pytest.fixture(scope="session")
def emptier(database_url: str) -> Emptier:
    """How to empty this database's tables as `truncate TABLES restart identity cascade`
    would (see tests/emptying.py)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return Emptier.read(conn, TABLES)


@pytest.fixture
def db(database_url: str, emptier: Emptier) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A plain connection for arranging and asserting; every test starts with empty tables."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        emptier.empty(conn)
        yield conn


@pytest.fixture(scope="session")
async def pg_store(database_url: str) -> AsyncIterator[SqlStore]:
    store = SqlStore.postgres(database_url, pool_size=20)
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def store(pg_store: SqlStore, db: psycopg.Connection[tuple[object, ...]]) -> SqlStore:
    return pg_store


@pytest.fixture(scope="session")
async def forwarder(database_url: str) -> AsyncIterator[PostgrestForwarder]:
    """PostgREST as respx routes that run the real SQL (see tests/supabase_forwarder.py)."""
    fwd = PostgrestForwarder(database_url, url=SUPABASE_URL, key=SUPABASE_KEY)
    await fwd.open()
    yield fwd
    await fwd.close()


@pytest.fixture(scope="session")
async def supabase_store(forwarder: PostgrestForwarder) -> AsyncIterator[SqlStore]:
    store = await forwarder.store()
    yield store
    await store.close()


@pytest.fixture(params=["postgres", "supabase"])
def any_store(
    request: pytest.FixtureRequest,
    pg_store: SqlStore,
    supabase_store: SqlStore,
    db: psycopg.Connection[tuple[object, ...]],
) -> Store:
    """Each store in turn, over the same real database, starting with empty tables."""
    return pg_store if request.param == "postgres" else supabase_store
