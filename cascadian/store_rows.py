"""Rows of the control and read SQL functions (migrations/005) as port dataclasses.

Shared by the Postgres and Supabase stores: values may arrive as Python objects
(psycopg) or as JSON strings (PostgREST, and jsonb results in both).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast, get_args
from uuid import UUID

from cascadian.ports import (
    ControlResult,
    Execution,
    ExecutionDetail,
    ExecutionPage,
    NodeRun,
    Schedule,
    StrategyStatus,
    TickEntry,
)

_RESULTS = frozenset(get_args(ControlResult))


def control_result(value: Any) -> ControlResult:
    """A control function's result code, checked."""
    if value not in _RESULTS:
        raise ValueError(f"unexpected control result {value!r}")
    return cast(ControlResult, value)


def strategy_status(row: dict[str, Any]) -> StrategyStatus:
    """A row of cascadian_strategies_v1."""
    return StrategyStatus(
        id=_uuid(row["id"]),
        user_id=_uuid(row["user_id"]),
        name=row["name"],
        status=row["status"],
        auto_run=row["auto_run"],
        schedule=Schedule(
            interval_minutes=row["execution_interval_minutes"],
            cron=row["cron_expression"],
            timezone=row["timezone"] or "UTC",
        ),
        next_execution_at=dt_or_none(row["next_execution_at"]),
        last_executed_at=dt_or_none(row["last_executed_at"]),
        execution_count=row["execution_count"],
        success_count=row["success_count"],
        error_count=row["error_count"],
        success_rate=row["success_rate"],
        average_execution_time_ms=row["average_execution_time_ms"],
        last_error=row["last_error"],
        run_in_flight=row["run_in_flight"],
        lease_expires_at=dt_or_none(row["lease_expires_at"]),
    )


def execution(d: dict[str, Any]) -> Execution:
    """One element of cascadian_executions_v1's `data`."""
    return Execution(**_execution_fields(d))


def execution_page(d: dict[str, Any]) -> ExecutionPage:
    """The JSON of cascadian_executions_v1."""
    return ExecutionPage([execution(e) for e in d["data"]], int(d["total"]))


def execution_detail(d: dict[str, Any]) -> ExecutionDetail:
    """The JSON of cascadian_execution_v1."""
    logs = [
        NodeRun(
            node_id=log["node_id"],
            node_type=log["node_type"],
            status=log["status"],
            started_at=dt_or_none(log["started_at"]),
            completed_at=dt_or_none(log["completed_at"]),
            duration_ms=log["duration_ms"] or 0,
            error=log["error_message"],
            output=log["output"],
        )
        for log in d["logs"]
    ]
    return ExecutionDetail(
        **_execution_fields(d), outputs=d.get("outputs"), errors=d.get("errors"), logs=logs
    )


def tick_entry(row: dict[str, Any]) -> TickEntry:
    """A row of cascadian_ticks_v1."""
    return TickEntry(
        id=_uuid(row["id"]),
        trigger=row["trigger"],
        started_at=_dt(row["started_at"]),
        finished_at=_dt(row["finished_at"]),
        success=row["success"],
        strategies_checked=row["strategies_checked"],
        strategies_executed=row["strategies_executed"],
        succeeded=row["succeeded"],
        failed=row["failed"],
        released=row["released"],
        execution_time_ms=row["execution_time_ms"],
        error=row["error"],
        summary=row["summary"] or {},
        gap_seconds=row["gap_seconds"],
    )


def _execution_fields(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": _uuid(d["id"]),
        "workflow_id": _uuid(d["workflow_id"]),
        "status": d["status"],
        "trigger_kind": d["trigger_kind"],
        "scheduled_for": dt_or_none(d["scheduled_for"]),
        "attempt": d["attempt"],
        "execution_started_at": _dt(d["execution_started_at"]),
        "execution_completed_at": dt_or_none(d["execution_completed_at"]),
        "duration_ms": d["duration_ms"],
        "nodes_executed": d["nodes_executed"],
        "error_message": d["error_message"],
    }


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _dt(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def dt_or_none(value: Any) -> datetime | None:
    return None if value is None else _dt(value)
