"""The SQL functions' answers as our data.

Values may arrive as Python objects (psycopg) or as JSON strings (PostgREST, and
jsonb results in both); every mapping here accepts both.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, ParamSpec, TypeVar, cast, get_args
from uuid import UUID

from cascadian.data import (
    Backlog,
    ClaimedRun,
    ConsoleOverview,
    ControlResult,
    Execution,
    ExecutionDetail,
    ExecutionPage,
    Gauges,
    ManualClaim,
    NodeRun,
    NotificationEntry,
    NotificationPage,
    PaperBook,
    PaperFill,
    PaperOrderEntry,
    PaperOrderPage,
    PaperOrderRecord,
    PaperPosition,
    PruneResult,
    Recorded,
    Schedule,
    ScheduleLag,
    StrategyDetail,
    StrategyGraph,
    StrategyList,
    StrategyPage,
    StrategyRow,
    StrategyStatus,
    TickEntry,
    Watched,
    Workflow,
)
from cascadian.errors import StoreReplyMalformed

P = ParamSpec("P")
R = TypeVar("R")
_SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)


def answer_of(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Mark a mapping as reading `what`: an answer missing a key, or with a value of
    the wrong type, is a StoreReplyMalformed saying so, never a KeyError in a tick."""

    def wrap(mapping: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(mapping)
        def read(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return mapping(*args, **kwargs)
            except _SHAPE_ERRORS as exc:
                detail = f"{type(exc).__name__}: {str(exc)[:120]}"
                raise StoreReplyMalformed(
                    f"the database's answer to {what} is malformed ({detail}); "
                    "is the schema current (`cascadian migrate`), and is anything between "
                    "us and the database rewriting replies?"
                ) from exc

        return read

    return wrap


@answer_of("cascadian_finish_runs_v3")
def recorded(row: dict[str, Any]) -> Recorded:
    """A row of cascadian_finish_runs_v3 (or v2)."""
    side = _json(row.get("side_errors")) or []
    return Recorded(
        _uuid(row["execution_id"]),
        bool(row["accepted"]),
        bool(row["auto_paused"]),
        tuple(str(e.get("error")) for e in side),
    )


_RESULTS = frozenset(get_args(ControlResult))


@answer_of("a control call")
def control_result(value: Any) -> ControlResult:
    """A control function's result code, checked."""
    if value not in _RESULTS:
        raise ValueError(f"unexpected control result {value!r}")
    return cast(ControlResult, value)


@answer_of("cascadian_strategies_v1")
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


@answer_of("cascadian_executions_v1")
def execution_page(d: dict[str, Any]) -> ExecutionPage:
    """The JSON of cascadian_executions_v1."""
    return ExecutionPage([execution(e) for e in d["data"]], int(d["total"]))


@answer_of("cascadian_execution_v2")
def execution_detail(d: dict[str, Any]) -> ExecutionDetail:
    """The JSON of cascadian_execution_v2."""
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


@answer_of("cascadian_ticks_v2")
def tick_entry(row: dict[str, Any]) -> TickEntry:
    """A row of cascadian_ticks_v2."""
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
        delivery_id=row["delivery_id"],
    )


_GRAPH_FIELDS = ("nodes", "edges", "variables", "trigger")


@answer_of("a claim")
def claimed_run(row: dict[str, Any], claimed_at: datetime | None = None) -> ClaimedRun:
    """A row of cascadian_claim_due_v3 (or an ok row of cascadian_claim_manual_v3)
    as a ClaimedRun; `claimed_at` is the claim's `now`, for a scheduled run."""
    problem = None
    parts = [row[k] for k in _GRAPH_FIELDS]
    # jsonb's text never holds a NUL (jsonb refuses \u0000, and escapes control
    # characters), so joined with NULs the four texts say which is which.
    stored = (
        "\x00".join(p or "null" for p in parts)
        if all(p is None or isinstance(p, str) for p in parts)
        else None
    )
    try:
        graph = {k: _json(v) for k, v in zip(_GRAPH_FIELDS, parts, strict=True)}
    except (ValueError, RecursionError) as exc:
        # PostgreSQL stores nesting Python cannot load: fail this strategy alone.
        why = "nested too deeply" if isinstance(exc, RecursionError) else "not valid JSON"
        problem = f"the strategy's stored graph cannot be read: {why}"
        graph = {"nodes": [], "edges": [], "variables": {}, "trigger": None}
    return ClaimedRun(
        execution_id=_uuid(row["execution_id"]),
        workflow=Workflow(
            id=_uuid(row["workflow_id"]),
            name=row["name"],
            nodes=graph["nodes"],
            edges=graph["edges"],
            variables=graph["variables"] or {},
            trigger=graph["trigger"],
            user_id=_uuid(row["user_id"]),
            execution_id=_uuid(row["execution_id"]),
            stored_text=stored if problem is None else None,
        ),
        schedule=Schedule(
            interval_minutes=row["execution_interval_minutes"],
            cron=row["cron_expression"],
            timezone=row["timezone"] or "UTC",
        ),
        scheduled_for=dt_or_none(row["scheduled_for"]),
        attempt=row["attempt"],
        lease_expires_at=_dt(row["lease_expires_at"]),
        next_execution_at=dt_or_none(row.get("next_execution_at")),
        problem=problem,
        claimed_at=claimed_at,
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@answer_of("cascadian_claim_manual_v3")
def manual_claim(row: dict[str, Any]) -> ManualClaim:
    """The row of cascadian_claim_manual_v3."""
    result = control_result(row["result"])
    return ManualClaim(result, claimed_run(row) if result == "ok" else None)


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


@answer_of("cascadian_watch_markets_v1")
def watched(rows: list[dict[str, Any]]) -> Watched:
    """The rows of cascadian_watch_markets_v1."""
    return Watched(
        added=[str(r["market_id"]) for r in rows if r["added"]],
        duplicates=[str(r["market_id"]) for r in rows if not r["added"]],
    )


@answer_of("cascadian_record_paper_order_v1")
def paper_fill(value: Any) -> PaperFill:
    """cascadian_record_paper_order_v1's answer."""
    d = _json(value)
    return PaperFill(
        result=d["result"],
        shares=float(d["shares"]),
        held_shares=float(d["held_shares"]),
        order_id=_uuid(d["order_id"]) if d.get("order_id") else None,
        realized_pnl=float(d.get("realized_pnl") or 0),
        created_at=dt_or_none(d.get("created_at")),
    )


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def paper_order(o: dict[str, Any]) -> PaperOrderRecord:
    """One paper order, as cascadian_paper_book_v1 and the console's reads answer it."""
    return PaperOrderRecord(
        order_id=_uuid(o["order_id"]),
        execution_id=_uuid(o["execution_id"]) if o.get("execution_id") else None,
        node_id=o["node_id"],
        market_id=o["market_id"],
        market_question=o["market_question"],
        outcome=o["outcome"],
        side=o["side"],
        order_type=o["order_type"],
        amount_usd=float(o["amount_usd"]),
        price=float(o["price"]),
        shares=float(o["shares"]),
        price_source=o["price_source"],
        limit_price=_float_or_none(o["limit_price"]),
        position_shares=float(o["position_shares"]),
        realized_pnl=float(o["realized_pnl"]),
        created_at=_dt(o["created_at"]),
    )


@answer_of("cascadian_paper_book_v1")
def paper_book(value: Any) -> PaperBook:
    """cascadian_paper_book_v1's answer."""
    d = _json(value)
    positions = [
        PaperPosition(
            market_id=p["market_id"],
            market_question=p["market_question"],
            outcome=p["outcome"],
            shares=float(p["shares"]),
            cost_basis=float(p["cost_basis"]),
            average_price=_float_or_none(p["average_price"]),
            realized_pnl=float(p["realized_pnl"]),
            mark_price=float(p["mark_price"]),
            mark_source=p["mark_source"],
            market_value=float(p["market_value"]),
            unrealized_pnl=float(p["unrealized_pnl"]),
            last_order_at=_dt(p["last_order_at"]),
        )
        for p in d["positions"]
    ]
    orders = [paper_order(o) for o in d["orders"]]
    return PaperBook(
        positions=positions,
        orders=orders,
        total_orders=int(d["total_orders"]),
        cost_basis=float(d["cost_basis"]),
        market_value=float(d["market_value"]),
        unrealized_pnl=float(d["unrealized_pnl"]),
        realized_pnl=float(d["realized_pnl"]),
    )


# The console's reads (migrations/017).


@answer_of("cascadian_console_overview_v1")
def console_overview(value: Any) -> ConsoleOverview:
    """cascadian_console_overview_v1's answer."""
    d = _json(value)
    return ConsoleOverview(
        by_status={str(k): int(v) for k, v in (d["by_status"] or {}).items()},
        in_flight=int(d["in_flight"]),
    )


@answer_of("cascadian_console_strategies_v1")
def strategy_list(rows: list[dict[str, Any]]) -> StrategyList:
    """The rows of cascadian_console_strategies_v1 (each carries the total)."""
    total = int(rows[0]["total"]) if rows else 0
    return StrategyList([strategy_status(r) for r in rows], total)


@answer_of("cascadian_console_notifications_v1")
def notification_page(value: Any) -> NotificationPage:
    """cascadian_console_notifications_v1's answer."""
    d = _json(value)
    entries = [
        NotificationEntry(
            id=str(n["id"]),
            user_id=_uuid(n["user_id"]) if n.get("user_id") else None,
            workflow_id=_uuid(n["workflow_id"]) if n.get("workflow_id") else None,
            workflow_name=n["workflow_name"],
            type=n["type"],
            title=n["title"],
            message=n["message"],
            link=n["link"],
            priority=n["priority"],
            is_read=bool(n["is_read"]),
            created_at=_dt(n["created_at"]),
        )
        for n in d["data"]
    ]
    return NotificationPage(entries, int(d["total"]))


@answer_of("cascadian_console_paper_orders_v1")
def paper_order_page(value: Any) -> PaperOrderPage:
    """cascadian_console_paper_orders_v1's answer."""
    d = _json(value)
    entries = [
        PaperOrderEntry(_uuid(o["workflow_id"]), o["workflow_name"], paper_order(o))
        for o in d["data"]
    ]
    return PaperOrderPage(entries, int(d["total"]))


@answer_of("cascadian_prune_v1")
def prune_result(rows: list[dict[str, Any]]) -> PruneResult:
    """The one row of cascadian_prune_v1."""
    [row] = rows
    return PruneResult(
        runs=int(row["runs"]),
        node_logs=int(row["node_logs"]),
        ticks=int(row["ticks"]),
        notifications=int(row["notifications"]),
        complete=bool(row["complete"]),
        elapsed_ms=int(row["elapsed_ms"]),
        resume_after=None if row["resume_after"] is None else _uuid(row["resume_after"]),
    )


@answer_of("cascadian_schedule_lag_v1")
def schedule_lag(rows: list[dict[str, Any]]) -> ScheduleLag:
    """The one row of cascadian_schedule_lag_v1."""
    [row] = rows
    return ScheduleLag(
        runs=int(row["runs"]),
        last_lag_seconds=_float_or_none(row["last_lag_seconds"]),
        average_lag_seconds=_float_or_none(row["average_lag_seconds"]),
        max_lag_seconds=_float_or_none(row["max_lag_seconds"]),
        last_scheduled_for=dt_or_none(row["last_scheduled_for"]),
    )


@answer_of("cascadian_backlog_v1")
def backlog(rows: list[dict[str, Any]]) -> Backlog:
    """The one row of cascadian_backlog_v1."""
    [row] = rows
    return Backlog(
        due=int(row["due"]),
        oldest_due_at=dt_or_none(row["oldest_due_at"]),
        oldest_lag_seconds=_float_or_none(row["oldest_lag_seconds"]),
    )


@answer_of("cascadian_metrics_v1")
def gauges(value: Any) -> Gauges:
    """The object cascadian_metrics_v1 answers."""
    g = _json(value)

    def counts(key: str) -> dict[str, int]:
        return {str(k): int(v) for k, v in (g.get(key) or {}).items()}

    return Gauges(
        due=int(g["due"]),
        oldest_due_lag_seconds=float(g["oldest_due_lag_seconds"]),
        leases_in_flight=int(g["leases_in_flight"]),
        strategies_by_status=counts("strategies_by_status"),
        runs_last_5m_by_status=counts("runs_last_5m_by_status"),
        auto_pauses_last_hour=int(g["auto_pauses_last_hour"]),
        last_tick_at=dt_or_none(g.get("last_tick_at")),
        table_rows=counts("table_rows"),
    )


# Strategies as a resource (migrations/010).


def _row_fields(d: dict[str, Any]) -> dict[str, Any]:
    status = strategy_status(d)
    return {
        **{f: getattr(status, f) for f in StrategyStatus.__dataclass_fields__},
        "description": d.get("description"),
        "version": d.get("version") or 1,
        "is_current_version": d.get("is_current_version", True),
        "parent_workflow_id": None
        if d.get("parent_workflow_id") is None
        else _uuid(d["parent_workflow_id"]),
        "created_at": dt_or_none(d.get("created_at")),
        "updated_at": dt_or_none(d.get("updated_at")),
    }


@answer_of("cascadian_list_strategies_v1")
def strategy_page(value: Any) -> StrategyPage:
    """cascadian_list_strategies_v1's answer."""
    d = _json(value)
    return StrategyPage([StrategyRow(**_row_fields(r)) for r in d["data"]], int(d["total"]))


@answer_of("cascadian_strategy_v1")
def strategy_detail(value: Any) -> StrategyDetail:
    """cascadian_strategy_v1's answer (not null)."""
    d = _json(value)
    nodes, edges, variables = (_json(d.get(k)) for k in ("nodes", "edges", "variables"))
    current = d.get("current_version_id")
    return StrategyDetail(
        **_row_fields(d),
        graph=StrategyGraph(
            nodes=nodes if isinstance(nodes, list) else [],
            edges=edges if isinstance(edges, list) else [],
            variables=variables if isinstance(variables, dict) else {},
            trigger=_json(d.get("trigger")),
        ),
        current_version_id=None if current is None else _uuid(current),
    )


@answer_of("cascadian_new_version_v1")
def new_version(row: dict[str, Any]) -> tuple[ControlResult, UUID | None]:
    """The row of cascadian_new_version_v1."""
    result = control_result(row["result"])
    return result, None if row["id"] is None else _uuid(row["id"])
