"""The ports: the store and the workflow executor the tick service talks to, and
the control store operators' requests go through.

Adapters implement these Protocols; the services and the web layer only see
these names. Data crossing a port is plain frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID

NodeStatus = Literal["success", "error", "skipped"]


class StoreUnavailable(Exception):
    """The database could not be reached or refused the call; nothing was written."""


class StoreRejected(StoreUnavailable):
    """The database refused this statement's data; sending it again would fail again."""


class NotFound(LookupError):
    """No strategy (or run) has this id."""


class Conflict(Exception):
    """The strategy is not in a state that allows the change; nothing was written."""


@dataclass(frozen=True)
class Workflow:
    """What an executor needs to run one strategy once."""

    id: UUID
    name: str
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    variables: dict[str, Any] = field(default_factory=dict)
    trigger: dict[str, Any] | None = None
    user_id: UUID | None = None
    # The workflow_executions row of this run; nodes that write rows reference it.
    execution_id: UUID | None = None


@dataclass(frozen=True)
class NodeRun:
    """One node's part in a run; becomes a strategy_execution_logs row."""

    node_id: str
    node_type: str
    status: NodeStatus
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: int = 0
    error: str | None = None
    output: Any = None


@dataclass(frozen=True)
class RunResult:
    """What a WorkflowExecutor returns for one run."""

    success: bool
    outputs: dict[str, Any]
    errors: list[dict[str, Any]]  # [{"node_id", "node_type", "error"}]
    nodes_executed: int
    duration_ms: int
    node_runs: list[NodeRun] = field(default_factory=list)

    @property
    def error_message(self) -> str | None:
        if self.success:
            return None
        if not self.errors:
            return "workflow failed"
        first = self.errors[0]
        node, text = first.get("node_id"), str(first.get("error"))
        if node and not text.startswith(f"node {node!r}"):
            return f"node {node!r}: {text}"
        return text


class WorkflowExecutor(Protocol):
    async def execute(self, workflow: Workflow, deadline: float | None = None) -> RunResult:
        """Run the workflow once. Failures are reported in the result, not raised.

        `deadline` is when the run must be over, on the event loop's clock
        (loop.time()); the caller also cancels the run then.
        """
        ...


@dataclass(frozen=True)
class Schedule:
    interval_minutes: int
    cron: str | None = None
    timezone: str = "UTC"


@dataclass(frozen=True)
class ClaimedRun:
    """A strategy claimed for one run, holding a lease fenced by `execution_id`."""

    execution_id: UUID
    workflow: Workflow
    schedule: Schedule
    # The slot a scheduled run is for; None for a manual run ("execute now").
    scheduled_for: datetime | None
    attempt: int
    lease_expires_at: datetime
    # A manual run leaves the schedule alone: this is the strategy's
    # next_execution_at when it was claimed, recorded back unchanged.
    next_execution_at: datetime | None = None
    # Why the claimed strategy cannot run at all (e.g. its stored JSON cannot be
    # read); the run is then recorded as failed with this message.
    problem: str | None = None

    @property
    def manual(self) -> bool:
        return self.scheduled_for is None


# What a control change answers (the SQL functions' result codes, migrations/005).
ControlResult = Literal[
    "ok",
    "not_found",
    "already_running",
    "already_paused",
    "already_stopped",
    "not_resumable",
    "run_in_flight",
]


_CONFLICTS: dict[str, str] = {
    "already_running": "the strategy is already running",
    "already_paused": "the strategy is already paused",
    "already_stopped": "the strategy is already stopped",
    "not_resumable": "only a paused, stopped or errored strategy can be resumed; use start",
    "run_in_flight": "a run of this strategy is in flight; try again when it has finished",
}


def raise_unless_ok(result: ControlResult) -> None:
    """Raise NotFound or Conflict (with its reason) for a result other than ok."""
    if result == "not_found":
        raise NotFound("strategy not found")
    if result != "ok":
        raise Conflict(_CONFLICTS[result])


@dataclass(frozen=True)
class ManualClaim:
    """The answer to a manual claim: `run` is set when `result` is ok."""

    result: ControlResult
    run: ClaimedRun | None = None


@dataclass(frozen=True)
class RunOutcome:
    """What the tick hands the store to record for one finished run."""

    execution_id: UUID
    workflow_id: UUID
    result: RunResult
    # None only for a manual run of a strategy that had no next slot.
    next_execution_at: datetime | None
    finished_at: datetime


@dataclass(frozen=True)
class Recorded:
    """The store's answer for one outcome."""

    execution_id: UUID
    accepted: bool  # False: the lease was taken over; the outcome was discarded
    auto_paused: bool = False


@dataclass(frozen=True)
class WatchlistEntry:
    market_id: str
    reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notification:
    user_id: UUID
    workflow_id: UUID | None
    title: str
    message: str
    type: str = "strategy_alert"
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    link: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class NodeStore(Protocol):
    """What nodes may write while a strategy runs (services["store"])."""

    async def add_to_watchlist(
        self, workflow_id: UUID, execution_id: UUID | None, entries: Sequence[WatchlistEntry]
    ) -> tuple[int, int]:
        """Add entries; return (added, duplicates)."""
        ...

    async def notify(self, notification: Notification) -> int: ...


@dataclass(frozen=True)
class StrategyStatus:
    """A strategy as operators see it."""

    id: UUID
    user_id: UUID
    name: str
    status: str
    auto_run: bool
    schedule: Schedule
    next_execution_at: datetime | None
    last_executed_at: datetime | None
    execution_count: int
    success_count: int
    error_count: int  # consecutive
    success_rate: float | None  # 0 to 1; None before the first run
    average_execution_time_ms: int | None
    last_error: str | None
    run_in_flight: bool  # a run holds an unexpired lease
    lease_expires_at: datetime | None


@dataclass(frozen=True)
class Execution:
    """One run (a workflow_executions row), without its outputs or logs."""

    id: UUID
    workflow_id: UUID
    status: str  # running | completed | failed | cancelled
    trigger_kind: str  # scheduled | manual
    scheduled_for: datetime | None
    attempt: int
    execution_started_at: datetime
    execution_completed_at: datetime | None
    duration_ms: int | None
    nodes_executed: int
    error_message: str | None


@dataclass(frozen=True)
class ExecutionDetail(Execution):
    outputs: Any = None
    errors: Any = None
    logs: list[NodeRun] = field(default_factory=list)


@dataclass(frozen=True)
class ExecutionPage:
    executions: list[Execution]
    total: int  # all of the strategy's runs


@dataclass(frozen=True)
class TickEntry:
    """One row of the tick ledger, with the gap since the tick before it."""

    id: UUID
    trigger: str
    started_at: datetime
    finished_at: datetime
    success: bool
    strategies_checked: int
    strategies_executed: int
    succeeded: int
    failed: int
    released: int
    execution_time_ms: int
    error: str | None
    summary: dict[str, Any]
    gap_seconds: float | None  # None for the oldest tick in the ledger


class Store(NodeStore, Protocol):
    async def claim_due(
        self, now: datetime, limit: int, lease_seconds: float
    ) -> list[ClaimedRun]: ...

    async def claim_manual(
        self, strategy_id: UUID, now: datetime, lease_seconds: float
    ) -> ManualClaim:
        """Claim one strategy for a run now, unless a run of it holds a lease."""
        ...

    async def cancel_runs(self, execution_ids: Sequence[UUID], reason: str, now: datetime) -> int:
        """Give back started runs that were cut short; return how many were still held."""
        ...

    async def finish_runs(
        self, outcomes: Sequence[RunOutcome], pause_threshold: int
    ) -> list[Recorded]: ...

    async def release(self, execution_ids: Sequence[UUID]) -> int: ...

    async def record_tick(self, summary: dict[str, Any]) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class ControlStore(Protocol):
    """What operators and dashboards use: each change is one SQL function call."""

    async def start(
        self, strategy_id: UUID, schedule: Schedule, next_execution_at: datetime, now: datetime
    ) -> ControlResult: ...

    async def pause(self, strategy_id: UUID) -> ControlResult: ...

    async def stop(self, strategy_id: UUID) -> ControlResult: ...

    async def resume(
        self, strategy_id: UUID, next_execution_at: datetime, now: datetime
    ) -> ControlResult: ...

    async def strategy_status(self, strategy_id: UUID, now: datetime) -> StrategyStatus | None: ...

    async def list_strategies(
        self, now: datetime, limit: int, offset: int = 0
    ) -> list[StrategyStatus]: ...

    async def executions(self, strategy_id: UUID, limit: int, offset: int) -> ExecutionPage | None:
        """A page of the strategy's runs, newest first; None if there is no such strategy."""
        ...

    async def execution(self, execution_id: UUID) -> ExecutionDetail | None: ...

    async def ticks(self, limit: int) -> list[TickEntry]:
        """The newest ticks of the ledger, newest first."""
        ...


class FullStore(Store, ControlStore, Protocol):
    """A process's store: the tick's side and the operators' side (both adapters)."""
