"""The two ports the tick service talks to: the store and the workflow executor.

Adapters implement these Protocols; the tick service and the web layer only see
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
    scheduled_for: datetime
    attempt: int
    lease_expires_at: datetime


@dataclass(frozen=True)
class RunOutcome:
    """What the tick hands the store to record for one finished run."""

    execution_id: UUID
    workflow_id: UUID
    result: RunResult
    next_execution_at: datetime
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


class Store(NodeStore, Protocol):
    async def claim_due(
        self, now: datetime, limit: int, lease_seconds: float
    ) -> list[ClaimedRun]: ...

    async def finish_runs(
        self, outcomes: Sequence[RunOutcome], pause_threshold: int
    ) -> list[Recorded]: ...

    async def release(self, execution_ids: Sequence[UUID]) -> int: ...

    async def record_tick(self, summary: dict[str, Any]) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
