"""The `db` fixture's emptying (tests/emptying.py) leaves a database as the full
`truncate TABLES restart identity cascade` does: every table it reaches empty (a table
that hangs off ours but is not listed too), every sequence restarted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from tests.emptying import Emptier
from tests.factories import TABLES, USER, add_run, add_strategy


def arrange(conn: psycopg.Connection[Any]) -> None:
    """Rows in tables with serial ids, in tables that reference others, in a table that
    hangs off a run but is not in TABLES; and every sequence used, also those of tables
    left empty."""
    conn.execute("select nextval(seqrelid) from pg_sequence")
    sid = add_strategy(conn, next_execution_at=None)
    run = add_run(conn, sid, started_at=datetime.now(UTC))
    conn.execute(
        "insert into notifications (user_id, workflow_id, type, title, message)"
        " values (%s, %s, 'system', 't', 'm')",
        (USER, sid),
    )
    conn.execute(
        "insert into strategy_watchlists (workflow_id, market_id) values (%s, 'm1')", (sid,)
    )
    conn.execute(
        "insert into orchestrator_decisions (execution_id, workflow_id, node_id,"
        " market_id, decision, direction, recommended_size, risk_score, ai_reasoning,"
        " ai_confidence, portfolio_snapshot)"
        " values (%s, %s, 'n', 'm1', 'GO', 'YES', 1, 1, 'r', 0.5, '{}')",
        (run, sid),
    )


def state(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Every user table's row count and every sequence's last value, in this database."""
    tables = conn.execute(
        "select c.oid::regclass::text from pg_class c"
        " join pg_namespace n on n.oid = c.relnamespace"
        " where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema')"
    ).fetchall()
    counts = {t: conn.execute(f"select count(*) from {t}").fetchone() for (t,) in tables}
    sequences = dict(
        conn.execute(
            "select seqrelid::regclass::text, pg_sequence_last_value(seqrelid) from pg_sequence"
        ).fetchall()
    )
    return {"rows": counts, "sequences": sequences}


@pytest.mark.both_schemas
def test_emptying_leaves_what_the_full_truncate_leaves(
    db: psycopg.Connection[Any], emptier: Emptier
) -> None:
    assert "orchestrator_decisions" not in TABLES
    arrange(db)
    db.execute(f"truncate {', '.join(TABLES)} restart identity cascade")
    truncated = state(db)

    arrange(db)
    before = state(db)
    emptier.empty(db)

    assert before != truncated
    assert state(db) == truncated


@pytest.mark.both_schemas
def test_a_table_added_later_that_references_ours_is_reached(
    db: psycopg.Connection[Any],
) -> None:
    with db.transaction(force_rollback=True):
        db.execute("create table hangs_off_a_run (run uuid references workflow_executions)")
        reached = Emptier.read(db, TABLES).tables
    assert set(TABLES) <= set(reached)
    assert "hangs_off_a_run" in reached
