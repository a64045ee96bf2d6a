"""Migrating from zero gives the schema in migrations/schema/snapshot.sql, and what
the migrations add to an existing Cascadian deployment is the same as what they
give an empty database (tests/store/schema_snapshot.py describes both)."""

from __future__ import annotations

import difflib
import os

import psycopg
import pytest

from cascadian.store.migrate import migrate
from tests.conftest import EXISTING_DEPLOYMENT, create_supabase_roles
from tests.store.schema_snapshot import (
    PRIVILEGE_KINDS,
    REGENERATE,
    SNAPSHOT,
    Part,
    describe,
    render,
    scratch_database,
)

# Added only there: the triggers that guard the scheduler's columns (022) and a
# decision's facts (055) where Supabase's roles exist. (013's index on
# orchestrator_decisions: 046 gives a new database the table, and the index.)
ONLY_ON_AN_EXISTING_DEPLOYMENT = {
    ("trigger", "workflow_sessions.cascadian_scheduler_columns"),
    ("trigger", "orchestrator_decisions.cascadian_decision_columns"),
}


@pytest.fixture(scope="module")
def from_zero(admin_url: str) -> list[Part]:
    with scratch_database(admin_url, f"cascadian_snapshot_{os.getpid()}") as url:
        migrate(url)
        with psycopg.connect(url) as conn:
            return describe(conn)


@pytest.fixture(scope="module")
def existing_deployment(admin_url: str) -> tuple[list[Part], list[Part]]:
    """The schema of tests/fixtures/existing_deployment.sql before and after our migrations."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        create_supabase_roles(conn)
    with scratch_database(admin_url, f"cascadian_snapshot_existing_{os.getpid()}") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(EXISTING_DEPLOYMENT.read_text())
            before = describe(conn)
        migrate(url)
        with psycopg.connect(url) as conn:
            return before, describe(conn)


def test_migrating_an_empty_database_gives_the_schema_snapshot(from_zero: list[Part]) -> None:
    expected = SNAPSHOT.read_text(encoding="utf-8")
    actual = render(from_zero)
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(),
            actual.splitlines(),
            "migrations/schema/snapshot.sql",
            "the migrations, from zero",
            lineterm="",
        )
        pytest.fail(
            "the migrations no longer give migrations/schema/snapshot.sql; if the change "
            f"is meant, regenerate it with `{REGENERATE}` and review its diff:\n"
            + "\n".join(list(diff)[:200]),
            pytrace=False,
        )


def test_what_the_migrations_add_to_an_existing_deployment_is_what_they_give_an_empty_one(
    from_zero: list[Part], existing_deployment: tuple[list[Part], list[Part]]
) -> None:
    # Grants, policies, row-level security and SECURITY DEFINER are set only where
    # Supabase's roles exist: tests/store/test_supabase_security.py covers them.
    before, after = ({p.key: p for p in parts} for parts in existing_deployment)
    fresh = {p.key: p.text for p in from_zero}
    added = {
        key: part.text
        for key, part in after.items()
        if key not in before and part.kind not in PRIVILEGE_KINDS
    }
    assert set(added) - set(fresh) == ONLY_ON_AN_EXISTING_DEPLOYMENT
    assert {key: text for key, text in added.items() if key in fresh and fresh[key] != text} == {}
    functions = {key for key in fresh if key[0] == "function"}
    assert functions <= set(added)


def test_the_migrations_change_nothing_an_existing_deployment_had_but_its_policies(
    existing_deployment: tuple[list[Part], list[Part]],
) -> None:
    before, after = ({p.key: p for p in parts} for parts in existing_deployment)
    changed = {key for key in before.keys() & after.keys() if before[key].text != after[key].text}
    removed = {key for key in before.keys() - after.keys()}
    assert changed == set()
    # 009 replaces the app's policies on the tables cascadian writes (kept in
    # cascadian_replaced_policies; docs/existing-deployment.md says why).
    assert removed and {kind for kind, _ in removed} == {"policy"}
