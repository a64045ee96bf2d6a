"""Arranging strategies and reading them back, in plain SQL."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from cascadian.data import Actor

TABLES = [
    "cascadian_leases",  # no foreign key since 059: truncated in its own right
    "cascadian_copy_trade_triggers",
    "cascadian_copy_trade_trades",
    "cascadian_copy_trade_cursors",
    "cascadian_history_markets",
    "cascadian_market_history",
    "cascadian_price_history",
    "cascadian_book_history",
    "cascadian_wallet_metrics",
    "cascadian_trigger_listeners",
    "cascadian_trigger_events",
    "cascadian_triggers",
    "notification_settings",
    "cascadian_kill_switches",
    "cascadian_marks",
    "cascadian_equity_points",
    "cascadian_positions",
    "cascadian_trading_orders",
    "cascadian_trading_limits",
    "cascadian_paper_portfolios",
    "cascadian_paper_orders",
    "strategy_watchlists",
    "strategy_execution_logs",
    "notifications",
    "workflow_executions",
    "workflow_sessions",
    "cron_ticks",
    "cascadian_audit_log",
    "cascadian_user_requests",
    "cascadian_user_request_seconds",
    "cascadian_user_slots",
]

# Every run's node logs as the run API reads them (cascadian_execution_v4), whichever
# form they were written in (one jsonb value of the run's row, or rows of
# strategy_execution_logs): a table expression with that table's columns, for
# `select ... from {NODE_LOGS} order by node_index`.
NODE_LOGS = """(
    select
        e.id as execution_id, e.workflow_id, x.ord::integer as node_index, l.node_id,
        l.node_type, l.status, l.started_at, l.completed_at, l.duration_ms,
        l.error_message, l.output
    from workflow_executions e
    cross join lateral jsonb_array_elements(cascadian_execution_v4(e.id, null) -> 'logs')
        with ordinality as x (log, ord)
    cross join lateral jsonb_to_record(x.log) as l (
        node_id text, node_type text, status text, started_at timestamptz,
        completed_at timestamptz, duration_ms integer, error_message text, output jsonb
    )
) as node_logs"""

USER = uuid.UUID("11111111-1111-4111-8111-111111111111")
OTHER_USER = uuid.UUID("22222222-2222-4222-8222-222222222222")
# Who acts in tests that are not about who acts.
OPERATOR = Actor.operator("api", "127.0.0.1")
_names = itertools.count(1)


def node(node_id: str, node_type: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "data": {"config": config}}


def chain(*nodes: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ids = [n["id"] for n in nodes]
    edges = [{"id": f"{a}-{b}", "source": a, "target": b} for a, b in itertools.pairwise(ids)]
    return list(nodes), edges


HELLO = chain(node("start", "start"), node("end", "end"))


def add_strategy(
    conn: psycopg.Connection[Any],
    *,
    next_execution_at: datetime | None,
    name: str | None = None,
    graph: tuple[list[dict[str, Any]], list[dict[str, Any]]] = HELLO,
    status: str = "running",
    auto_run: bool = True,
    interval: int = 5,
    cron: str | None = None,
    timezone: str = "UTC",
    user_id: uuid.UUID = USER,
    **columns: Any,
) -> uuid.UUID:
    nodes, edges = graph
    # The lease lives in cascadian_leases (052), not on the session row.
    lease = {k: columns.pop(k) for k in ("lease_token", "lease_expires_at") if k in columns}
    values: dict[str, Any] = {
        "user_id": user_id,
        "name": name or f"strategy {next(_names)}",
        "nodes": Jsonb(nodes),
        "edges": Jsonb(edges),
        "status": status,
        "auto_run": auto_run,
        "execution_interval_minutes": interval,
        "next_execution_at": next_execution_at,
        "cron_expression": cron,
        "timezone": timezone,
        **columns,
    }
    values = {k: Jsonb(v) if isinstance(v, dict | list) else v for k, v in values.items()}
    cols = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    row = conn.execute(
        f"insert into workflow_sessions ({cols}) values ({marks}) returning id",
        list(values.values()),
    ).fetchone()
    assert row is not None
    sid = uuid.UUID(str(row[0]))
    if lease:
        set_lease(conn, sid, lease.get("lease_token"), lease.get("lease_expires_at"))
    return sid


def set_lease(
    conn: psycopg.Connection[Any],
    strategy_id: uuid.UUID,
    token: uuid.UUID | None,
    expires_at: datetime | None,
) -> None:
    """Hold (or free) a strategy's lease as a claim would leave it; a token alone gets
    the expiry of one already held a long time ago."""
    if token is None and expires_at is not None:
        token = uuid.uuid4()
    if token is not None and expires_at is None:
        expires_at = datetime(2000, 1, 1, tzinfo=UTC)
    conn.execute(
        "insert into cascadian_leases (workflow_id, token, expires_at) values (%s, %s, %s)"
        " on conflict (workflow_id) do update"
        " set token = excluded.token, expires_at = excluded.expires_at",
        (strategy_id, token, expires_at),
    )


def strategy(conn: psycopg.Connection[Any], strategy_id: uuid.UUID) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "select * from workflow_sessions where id = %s", (strategy_id,)
        ).fetchone()
        assert row is not None
        # Since 052 nothing writes the session's lease columns; its lease is its own row's.
        assert (row["lease_token"], row["lease_expires_at"]) == (None, None)
        lease = cur.execute(
            "select token, expires_at from cascadian_leases where workflow_id = %s",
            (strategy_id,),
        ).fetchone()
    row["lease_token"], row["lease_expires_at"] = (
        (lease["token"], lease["expires_at"]) if lease else (None, None)
    )
    return row


def rows(conn: psycopg.Connection[Any], query: str, *params: Any) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def add_run(
    conn: psycopg.Connection[Any],
    workflow_id: uuid.UUID,
    *,
    started_at: datetime,
    status: str = "completed",
    trigger_kind: str = "manual",
    user_id: uuid.UUID = USER,
    snapshot: dict[str, Any] | None = None,
    error_message: str | None = None,
    **columns: Any,
) -> uuid.UUID:
    """A workflow_executions row as a finished run leaves it (a manual one unless
    told: a scheduled one needs its slot)."""
    values: dict[str, Any] = {
        "workflow_id": workflow_id,
        "user_id": user_id,
        "execution_started_at": started_at,
        "status": status,
        "trigger_kind": trigger_kind,
        "workflow_snapshot": Jsonb(snapshot) if snapshot is not None else None,
        "error_message": error_message,
        **columns,
    }
    cols = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    row = conn.execute(
        f"insert into workflow_executions ({cols}) values ({marks}) returning id",
        list(values.values()),
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))
