"""What operators and dashboards use (the ControlStore port): start, pause, stop and
resume a strategy, each one SQL function call answering a result code (and, in its
transaction, writing the actor's audit entry), and the
reads behind the control API, the paper book and the metrics.

Each SQL function is named here once, as a constant used for the call and for
reading its answer, so a malformed answer names the function it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

from cascadian.data import (
    Actor,
    Backlog,
    ControlResult,
    Execution,
    ExecutionDetail,
    Gauges,
    NodeRun,
    Page,
    PaperBook,
    PaperMark,
    PaperPosition,
    Schedule,
    ScheduleLag,
    StrategyStatus,
)
from cascadian.store.audit import actor_arg
from cascadian.store.readers import (
    answer_of,
    as_dt,
    as_uuid,
    control_result,
    dt_or_none,
    float_or_none,
    json_value,
    read_answer,
    uuid_or_none,
)
from cascadian.store.rows import paper_order, strategy_status
from cascadian.store.transport import Json, Transport

# migrations/027 (over 005, 008 and 010): each change takes its actor, is written to
# the audit log, and a user finds only their own strategies.
START = "cascadian_start_v6"  # 062: the owner asked before the lease is locked
HALT = "cascadian_halt_v4"
RESUME = "cascadian_resume_v6"  # 062: the owner asked before the lease is locked
# migrations/064: an operator lifts a daily-loss halt (scheduling a strategy again no
# longer does).
LIFT_TRADING_HALT = "cascadian_lift_trading_halt_v1"
HALT_LIFTS = ("ok", "not_halted", "not_found", "forbidden")
# The reads, scoped to the acting user (None: the operator, everything): migrations/031
# over 005, 008 (a run with its node logs) and 011 (the paper book).
STRATEGIES = "cascadian_strategies_v3"  # 052: the lease from its table
EXECUTIONS = "cascadian_executions_v2"
EXECUTION = "cascadian_execution_v4"  # 051: node logs from the run's row or the log table
PAPER_BOOK = "cascadian_paper_book_v2"
# Schedule lag, the backlog and the gauges (migrations/013).
SCHEDULE_LAG = "cascadian_schedule_lag_v1"
BACKLOG = "cascadian_backlog_v2"  # 052: leases from their table
METRICS = "cascadian_metrics_v3"  # 063: a deleted strategy's lease counts nowhere


class SqlControlStore:
    transport: Transport

    async def _control(self, function: str, args: dict[str, Any]) -> ControlResult:
        return read_answer(function, control_result, await self.transport.value(function, args))

    async def start(
        self,
        strategy_id: UUID,
        schedule: Schedule,
        next_execution_at: datetime,
        now: datetime,
        actor: Actor,
    ) -> ControlResult:
        return await self._control(
            START,
            {
                "p_id": strategy_id,
                "p_now": now,
                "p_interval": schedule.interval_minutes,
                "p_cron": schedule.cron,
                "p_timezone": schedule.timezone,
                "p_next": next_execution_at,
                "p_actor": actor_arg(actor),
            },
        )

    async def pause(self, strategy_id: UUID, now: datetime, actor: Actor) -> ControlResult:
        return await self._halt(strategy_id, "paused", now, actor)

    async def stop(self, strategy_id: UUID, now: datetime, actor: Actor) -> ControlResult:
        return await self._halt(strategy_id, "stopped", now, actor)

    async def _halt(
        self, strategy_id: UUID, status: str, now: datetime, actor: Actor
    ) -> ControlResult:
        args = {"p_id": strategy_id, "p_status": status, "p_now": now, "p_actor": actor_arg(actor)}
        return await self._control(HALT, args)

    async def resume(
        self, strategy_id: UUID, next_execution_at: datetime, now: datetime, actor: Actor
    ) -> ControlResult:
        return await self._control(
            RESUME,
            {
                "p_id": strategy_id,
                "p_now": now,
                "p_next": next_execution_at,
                "p_actor": actor_arg(actor),
            },
        )

    async def lift_trading_halt(self, strategy_id: UUID, now: datetime, actor: Actor) -> str:
        args = {"p_id": strategy_id, "p_now": now, "p_actor": actor_arg(actor)}
        return read_answer(
            LIFT_TRADING_HALT, _halt_lift, await self.transport.value(LIFT_TRADING_HALT, args)
        )

    async def strategy_status(
        self, strategy_id: UUID, now: datetime, user: UUID | None = None
    ) -> StrategyStatus | None:
        rows = await self.transport.rows(
            STRATEGIES,
            {"p_now": now, "p_id": strategy_id, "p_limit": 1, "p_offset": 0, "p_user": user},
        )
        found = strategy_statuses(rows)
        return found[0] if found else None

    async def executions(
        self, strategy_id: UUID, limit: int, offset: int, user: UUID | None = None
    ) -> Page[Execution] | None:
        page = await self.transport.value(
            EXECUTIONS,
            {"p_workflow_id": strategy_id, "p_limit": limit, "p_offset": offset, "p_user": user},
        )
        return None if page is None else execution_page(page)

    async def execution(
        self, execution_id: UUID, user: UUID | None = None
    ) -> ExecutionDetail | None:
        return await read_execution(self.transport, execution_id, user)

    async def paper_book(
        self,
        strategy_id: UUID,
        marks: Sequence[PaperMark],
        order_limit: int,
        user: UUID | None = None,
    ) -> PaperBook | None:
        book = await self.transport.value(
            PAPER_BOOK,
            {
                "p_workflow_id": strategy_id,
                "p_marks": Json([asdict(m) for m in marks]),
                "p_order_limit": order_limit,
                "p_user": user,
            },
        )
        return None if book is None else paper_book(book)

    async def schedule_lag(self, strategy_id: UUID, runs: int) -> ScheduleLag:
        rows = await self.transport.rows(SCHEDULE_LAG, {"p_id": strategy_id, "p_limit": runs})
        return schedule_lag(rows)

    async def backlog(self, now: datetime) -> Backlog:
        return backlog(await self.transport.rows(BACKLOG, {"p_now": now}))

    async def gauges(self, now: datetime) -> Gauges:
        return gauges(await self.transport.value(METRICS, {"p_now": now}))


async def read_execution(
    transport: Transport, execution_id: UUID, user: UUID | None = None
) -> ExecutionDetail | None:
    """One run with its node logs; None if there is none (or it is not `user`'s). The
    tick reads a run back with it too, when the answer to recording it was unreadable."""
    run = await transport.value(EXECUTION, {"p_id": execution_id, "p_user": user})
    return None if run is None else execution_detail(run)


@answer_of(STRATEGIES)
def strategy_statuses(rows: list[dict[str, Any]]) -> list[StrategyStatus]:
    return [strategy_status(r) for r in rows]


def _execution_fields(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": as_uuid(d["id"]),
        "workflow_id": as_uuid(d["workflow_id"]),
        "status": d["status"],
        "trigger_kind": d["trigger_kind"],
        "scheduled_for": dt_or_none(d["scheduled_for"]),
        "attempt": d["attempt"],
        "execution_started_at": as_dt(d["execution_started_at"]),
        "execution_completed_at": dt_or_none(d["execution_completed_at"]),
        "duration_ms": d["duration_ms"],
        "nodes_executed": d["nodes_executed"],
        "error_message": d["error_message"],
        "rerun_of": uuid_or_none(d.get("rerun_of")),
    }


@answer_of(EXECUTIONS)
def execution_page(d: dict[str, Any]) -> Page[Execution]:
    return Page([Execution(**_execution_fields(e)) for e in d["data"]], int(d["total"]))


@answer_of(EXECUTION)
def execution_detail(d: dict[str, Any]) -> ExecutionDetail:
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


@answer_of(PAPER_BOOK)
def paper_book(value: Any) -> PaperBook:
    d = json_value(value)
    positions = [
        PaperPosition(
            market_id=p["market_id"],
            market_question=p["market_question"],
            outcome=p["outcome"],
            shares=float(p["shares"]),
            cost_basis=float(p["cost_basis"]),
            average_price=float_or_none(p["average_price"]),
            realized_pnl=float(p["realized_pnl"]),
            mark_price=float(p["mark_price"]),
            mark_source=p["mark_source"],
            market_value=float(p["market_value"]),
            unrealized_pnl=float(p["unrealized_pnl"]),
            last_order_at=as_dt(p["last_order_at"]),
        )
        for p in d["positions"]
    ]
    return PaperBook(
        positions=positions,
        orders=[paper_order(o) for o in d["orders"]],
        total_orders=int(d["total_orders"]),
        cost_basis=float(d["cost_basis"]),
        market_value=float(d["market_value"]),
        unrealized_pnl=float(d["unrealized_pnl"]),
        realized_pnl=float(d["realized_pnl"]),
    )


@answer_of(SCHEDULE_LAG)
def schedule_lag(rows: list[dict[str, Any]]) -> ScheduleLag:
    [row] = rows
    return ScheduleLag(
        runs=int(row["runs"]),
        last_lag_seconds=float_or_none(row["last_lag_seconds"]),
        average_lag_seconds=float_or_none(row["average_lag_seconds"]),
        max_lag_seconds=float_or_none(row["max_lag_seconds"]),
        last_scheduled_for=dt_or_none(row["last_scheduled_for"]),
    )


@answer_of(BACKLOG)
def backlog(rows: list[dict[str, Any]]) -> Backlog:
    [row] = rows
    return Backlog(
        due=int(row["due"]),
        oldest_due_at=dt_or_none(row["oldest_due_at"]),
        oldest_lag_seconds=float_or_none(row["oldest_lag_seconds"]),
    )


@answer_of(METRICS)
def gauges(value: Any) -> Gauges:
    g = json_value(value)

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


def _halt_lift(value: Any) -> str:
    if value not in HALT_LIFTS:
        raise ValueError(f"unexpected answer {value!r}")
    return str(value)
