"""Adopting cascadian on an existing Cascadian deployment: what `cascadian migrate`
changes there (only the security policies of the tables it writes, each kept),
what it leaves as it was (every column, constraint, index and trigger of the
original's tables), and that the replaced policies can be put back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from cascadian.store.migrate import migrate
from tests.conftest import EXISTING_DEPLOYMENT, create_supabase_roles


@pytest.fixture
def adopted(admin_url: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """A database of its own built from the fixture: its catalog before our
    migrations, and its URL after them."""
    dbname = f"cascadian_adopt_{os.getpid()}"
    name = sql.Identifier(dbname)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        create_supabase_roles(conn)
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(name))
        conn.execute(sql.SQL("create database {}").format(name))
    url = psycopg.conninfo.make_conninfo(admin_url, dbname=dbname)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(EXISTING_DEPLOYMENT.read_text())
        before = catalog(conn)
    migrate(url)
    yield url, before
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(name))


ORIGINAL_TABLES = (
    "workflow_sessions",
    "workflow_executions",
    "notifications",
    "notification_settings",
    "strategy_watchlists",
    "strategy_execution_logs",
    "orchestrator_decisions",
)


def catalog(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Columns, constraints, indexes, triggers and policies of the original's tables."""

    def query(q: str) -> set[tuple[Any, ...]]:
        return {tuple(r) for r in conn.execute(q, (list(ORIGINAL_TABLES),)).fetchall()}

    return {
        "columns": query(
            "select table_name, column_name, data_type, is_nullable, column_default "
            "from information_schema.columns where table_schema = 'public' "
            "and table_name = any(%s)"
        ),
        "constraints": query(
            "select conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "from pg_constraint where conrelid::regclass::text = any(%s)"
        ),
        "indexes": query(
            "select tablename, indexname, indexdef from pg_indexes where schemaname = 'public' "
            "and tablename = any(%s)"
        ),
        "triggers": query(
            "select tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) from pg_trigger "
            "where not tgisinternal and tgrelid::regclass::text = any(%s)"
        ),
        "policies": query(
            "select tablename, policyname, permissive, roles::text, cmd, qual, with_check "
            "from pg_policies where tablename = any(%s)"
        ),
    }


async def test_migrate_keeps_every_column_constraint_index_and_trigger_of_the_original(
    adopted: tuple[str, dict[str, Any]],
) -> None:
    url, before = adopted
    with psycopg.connect(url, autocommit=True) as conn:
        after = catalog(conn)
    for kind in ("columns", "constraints", "indexes", "triggers"):
        assert before[kind] <= after[kind], kind
    # Only the original's policies on the tables cascadian writes are replaced,
    # and each is kept for a rollback.
    replaced = {p for p in before["policies"] if p[0] != "orchestrator_decisions"}
    assert not replaced & after["policies"]
    with psycopg.connect(url, autocommit=True) as conn:
        saved = conn.execute("select count(*) from cascadian_replaced_policies").fetchone()
    assert saved == (len(replaced),)


async def test_restoring_the_policies_puts_back_exactly_what_was_replaced(
    adopted: tuple[str, dict[str, Any]],
) -> None:
    url, before = adopted
    with psycopg.connect(url, autocommit=True) as conn:
        [restored] = conn.execute("select cascadian_restore_policies_v1()").fetchone()
        after = catalog(conn)
    assert restored == len({p for p in before["policies"] if p[0] != "orchestrator_decisions"})
    originals = before["policies"]
    ours = {p for p in after["policies"] if p[1].startswith("cascadian_")}
    assert after["policies"] - ours == originals


def same_key_indexes(url: str, table: str) -> list[tuple[str, str]]:
    """Pairs of indexes of `table` on the same columns in the same order, neither partial."""
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            "select a.indexrelid::regclass::text, b.indexrelid::regclass::text "
            "from pg_index a join pg_index b on b.indrelid = a.indrelid "
            "and a.indexrelid < b.indexrelid and a.indkey::text = b.indkey::text "
            "and a.indoption::text = b.indoption::text and a.indclass::text = b.indclass::text "
            "where a.indrelid = %s::regclass and a.indpred is null and b.indpred is null "
            "and a.indexprs is null and b.indexprs is null",
            (table,),
        ).fetchall()
    return [tuple(r) for r in found]


async def test_no_run_writes_one_index_entry_twice_on_the_app_schema(
    adopted: tuple[str, dict[str, Any]],
) -> None:
    # The app has (workflow_id, execution_started_at desc) as its own index: 060 drops
    # cascadian's copy of it there (a fresh schema keeps it: migrations/schema/snapshot.sql).
    url, _ = adopted
    assert same_key_indexes(url, "workflow_executions") == []
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute(
            "select to_regclass('workflow_executions_workflow_idx')"
        ).fetchone() == (None,)
