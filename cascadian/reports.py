"""What a tick reports: one model per run and one for the whole tick, used as they are
from the tick service to the endpoint's JSON, `cascadian tick --json` and the ledger.

Field names are a dashboard contract. Ids stay UUIDs and times datetimes until
pydantic renders them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, Field

from cascadian.data import PruneResult, RunResult


class RunReport(BaseModel):
    """One run of a tick (or a run now)."""

    workflow_id: UUID
    workflow_name: str
    status: Literal["completed", "failed"]
    duration_ms: int
    nodes_executed: int
    error: str | None
    execution_id: UUID
    attempt: int
    recorded: bool = Field(
        description="False: not written (the store was down, or the lease was taken over)"
    )
    auto_paused: bool = False
    record_error: str | None = None
    side_errors: list[str] = Field(
        default_factory=list,
        description="Side writes the database refused (node logs, a notification); "
        "the run itself was recorded",
    )
    next_execution_at: datetime | None = None
    lag_seconds: float | None = Field(
        default=None,
        description="How late the run started against its slot (its start minus the slot); "
        "null for a manual run",
    )
    event_id: UUID | None = Field(
        default=None,
        description="The market event (a trigger's crossing) an event run was claimed for; "
        "null for a scheduled or manual run",
    )


class PruneReport(BaseModel):
    """What the tick's prune deleted (retention.py); a failed prune has `error`."""

    runs: int = 0
    node_logs: int = 0
    ticks: int = 0
    notifications: int = 0
    audit_entries: int = 0
    leases: int = Field(default=0, description="Lease rows of deleted strategies that no run held")
    market_history: int = Field(
        default=0,
        description="Market history rows past their retention: recorded ones "
        "CASCADIAN_HISTORY_RETENTION_DAYS, imported ones CASCADIAN_IMPORTED_HISTORY_RETENTION_DAYS",
    )
    complete: bool = Field(
        default=True,
        description="False: this prune did not cover everything due (a cap stopped it, or "
        "it went on from where the last one stopped); the next ticks go on",
    )
    elapsed_ms: int = 0
    error: str | None = None


class TickSummary(BaseModel):
    """The `data` object of the cron endpoint's answer."""

    strategies_checked: int
    strategies_executed: int
    executions: list[RunReport]
    execution_time_ms: int
    succeeded: int
    failed: int
    released: int
    auto_paused: int
    tick_id: UUID | None = Field(default=None, description="The tick's id in the ledger")
    max_lag_seconds: float | None = Field(
        default=None,
        description="The latest start against its slot among the tick's scheduled runs; "
        "null when it started none",
    )
    pruned: PruneReport | None = Field(
        default=None, description="What the tick's prune deleted; null when it did not prune"
    )


class TickResponse(BaseModel):
    """The cron endpoint's answer (and what `cascadian tick --json` prints)."""

    success: bool
    data: TickSummary | None = None
    error: str | None = None
    message: str | None = None
    execution_time_ms: int | None = None
    timestamp: datetime


@dataclass
class TickReport:
    """A tick as the tick service fills it in."""

    trigger: str
    started_at: datetime
    # The ledger row's id, chosen here so that the tick's log lines carry it.
    id: UUID = field(default_factory=uuid4)
    finished_at: datetime | None = None
    execution_time_ms: int = 0
    claimed: int = 0
    released: int = 0
    cancelled: int = 0  # runs cut short by a stopping worker and given back
    delivery_id: str | None = None  # the scheduler's id for this delivery, if it sent one
    executions: list[RunReport] = field(default_factory=list)
    error: str | None = None
    store_down: bool = False  # the claim found the database unreachable: skip the ledger
    # The tick's prune (never the tick's error: a failed prune leaves the tick a success).
    prune: PruneResult | None = None
    prune_error: str | None = None

    @property
    def success(self) -> bool:
        return self.error is None

    @property
    def max_lag_seconds(self) -> float | None:
        lags = [e.lag_seconds for e in self.executions if e.lag_seconds is not None]
        return max(lags) if lags else None

    def prune_report(self) -> PruneReport | None:
        if self.prune_error is not None:
            return PruneReport(complete=False, error=self.prune_error)
        if self.prune is None:
            return None
        p = self.prune
        return PruneReport(
            runs=p.runs,
            node_logs=p.node_logs,
            ticks=p.ticks,
            notifications=p.notifications,
            audit_entries=p.audit_entries,
            market_history=p.market_history,
            leases=p.leases,
            complete=p.complete,
            elapsed_ms=p.elapsed_ms,
        )

    def summary(self) -> TickSummary:
        ok = sum(1 for e in self.executions if e.status == "completed")
        return TickSummary(
            strategies_checked=self.claimed,
            strategies_executed=len(self.executions),
            executions=self.executions,
            execution_time_ms=self.execution_time_ms,
            succeeded=ok,
            failed=len(self.executions) - ok,
            released=self.released,
            auto_paused=sum(1 for e in self.executions if e.auto_paused),
            tick_id=self.id,
            max_lag_seconds=self.max_lag_seconds,
            pruned=self.prune_report(),
        )

    def response(self) -> TickResponse:
        return TickResponse(
            success=self.success,
            data=self.summary(),
            error=self.error,
            execution_time_ms=None if self.success else self.execution_time_ms,
            timestamp=datetime.now(UTC),
        )


def failed_result(message: str, duration_ms: int) -> RunResult:
    return RunResult(
        success=False,
        outputs={},
        errors=[{"node_id": None, "node_type": None, "error": message}],
        nodes_executed=0,
        duration_ms=duration_ms,
    )
