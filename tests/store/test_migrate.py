"""Migrations apply in order, once, and refuse edits; they also apply over the seed's tables."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from cascadian.errors import MigrationError
from cascadian.store.migrate import SOURCE_MIGRATIONS, migrate, migrations_dir, pending


@pytest.fixture
def empty_db(admin_url: str) -> str:
    name = "cascadian_migrate_test"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return psycopg.conninfo.make_conninfo(admin_url, dbname=name)


def test_migrate_applies_every_file_in_order_then_is_a_no_op(empty_db: str) -> None:
    names = sorted(p.name for p in SOURCE_MIGRATIONS.glob("*.sql"))
    assert pending(empty_db) == names
    assert migrate(empty_db) == names
    assert migrate(empty_db) == []
    assert pending(empty_db) == []


def test_an_edited_applied_migration_is_refused(empty_db: str, tmp_path: Path) -> None:
    (tmp_path / "001_a.sql").write_text("create table a (id int);")
    migrate(empty_db, tmp_path)
    (tmp_path / "001_a.sql").write_text("create table a (id bigint);")
    with pytest.raises(MigrationError, match=r"001_a\.sql was edited after it was applied"):
        migrate(empty_db, tmp_path)


def test_a_failing_migration_leaves_nothing_half_applied(empty_db: str, tmp_path: Path) -> None:
    (tmp_path / "001_bad.sql").write_text("create table b (id int); select no_such_function();")
    with pytest.raises(MigrationError, match=r"001_bad\.sql failed and was rolled back") as info:
        migrate(empty_db, tmp_path)
    assert isinstance(info.value.__cause__, psycopg.errors.UndefinedFunction)
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("select to_regclass('b')").fetchone() == (None,)
    assert pending(empty_db, tmp_path) == ["001_bad.sql"]


def test_migrations_apply_over_an_existing_seed_schema(empty_db: str) -> None:
    # A deployment that already has the seed's workflow_sessions, without our columns.
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(
            """
            create table workflow_sessions (
                id uuid primary key default gen_random_uuid(),
                user_id uuid not null, name text not null,
                nodes jsonb not null default '[]', edges jsonb not null default '[]',
                variables jsonb default '{}', trigger jsonb, status text,
                auto_run boolean default false, execution_interval_minutes int default 5,
                next_execution_at timestamptz, last_executed_at timestamptz,
                execution_count int not null default 0, success_count int not null default 0,
                error_count int not null default 0, average_execution_time_ms int,
                created_at timestamptz default now(), updated_at timestamptz default now())
            """
        )
        conn.execute(
            "insert into workflow_sessions (user_id, name) values (gen_random_uuid(), 'x')"
        )
    migrate(empty_db)
    with psycopg.connect(empty_db) as conn:
        row = conn.execute("select timezone, lease_token from workflow_sessions").fetchone()
    assert row == ("UTC", None)


def test_a_seed_strategy_meant_to_run_without_a_slot_becomes_due(empty_db: str) -> None:
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute((SOURCE_MIGRATIONS / "001_seed_schema.sql").read_text().encode())
        conn.execute(
            "insert into workflow_sessions (user_id, name, status, auto_run) "
            "values (gen_random_uuid(), 'legacy', 'running', true)"
        )
    migrate(empty_db)
    with psycopg.connect(empty_db) as conn:
        row = conn.execute("select next_execution_at <= now() from workflow_sessions").fetchone()
    assert row == (True,)


def test_a_checkout_or_editable_install_reads_the_top_level_folder() -> None:
    # The wheel's copy is checked in tests/test_packaging.py.
    assert migrations_dir() == SOURCE_MIGRATIONS


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres@127.0.0.1:9/none", "postgresql://[bad", "host=127.0.0.1 port=x"],
    ids=["unreachable", "malformed-url", "malformed-keywords"],
)
def test_a_database_that_cannot_be_reached_is_a_migration_error_not_a_crash(url: str) -> None:
    with pytest.raises(MigrationError, match="cannot connect to the database: "):
        migrate(url)
