"""Fixtures: a real PostgreSQL (embedded, or DATABASE_URL's server) with a fresh test database."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from cascadian.ports import Store
from cascadian.store.migrate import migrate
from cascadian.store.sql_store import SqlStore
from tests.factories import TABLES
from tests.supabase_forwarder import PostgrestForwarder

TEST_DB = f"cascadian_test_{os.getpid()}"
SUPABASE_URL = "https://cascadian-test.supabase.co"
SUPABASE_KEY = "sb_secret_cascadian-test-key"


def _admin_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from cascadian.store.embedded import start_server

    server = start_server(Path(tmp_path_factory.mktemp("embedded")))
    return str(server.get_uri())


@pytest.fixture(scope="session")
def admin_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _admin_url(tmp_path_factory)


@pytest.fixture(scope="session")
def database_url(admin_url: str) -> Iterator[str]:
    """A database of its own for this test run, migrated; dropped afterwards."""
    name = sql.Identifier(TEST_DB)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(name))
        conn.execute(sql.SQL("create database {}").format(name))
    url = psycopg.conninfo.make_conninfo(admin_url, dbname=TEST_DB)
    migrate(url)
    yield url
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(name))


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A plain connection for arranging and asserting; every test starts with empty tables."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"truncate {', '.join(TABLES)} restart identity cascade")
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
