"""What a tick reports: per run, and for the whole tick (the endpoint's `data`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cascadian.data import RunResult


@dataclass
class RunReport:
    workflow_id: str
    workflow_name: str
    status: str  # completed | failed
    duration_ms: int
    nodes_executed: int
    error: str | None
    execution_id: str
    attempt: int
    recorded: bool  # False: not written (store down, or the lease was taken over)
    auto_paused: bool = False
    record_error: str | None = None
    next_execution_at: str | None = None


@dataclass
class TickReport:
    trigger: str
    started_at: datetime
    finished_at: datetime | None = None
    execution_time_ms: int = 0
    claimed: int = 0
    released: int = 0
    cancelled: int = 0  # runs cut short by a stopping worker and given back
    executions: list[RunReport] = field(default_factory=list)
    error: str | None = None

    @property
    def success(self) -> bool:
        return self.error is None

    def data(self) -> dict[str, Any]:
        """The `data` object of the endpoint's response; field names are a dashboard contract."""
        ok = sum(1 for e in self.executions if e.status == "completed")
        return {
            "strategies_checked": self.claimed,
            "strategies_executed": len(self.executions),
            "executions": [e.__dict__ for e in self.executions],
            "execution_time_ms": self.execution_time_ms,
            "succeeded": ok,
            "failed": len(self.executions) - ok,
            "released": self.released,
            "auto_paused": sum(1 for e in self.executions if e.auto_paused),
        }

    def ledger_row(self) -> dict[str, Any]:
        d = self.data()
        return {
            "trigger": self.trigger,
            "started_at": self.started_at.isoformat(),
            "finished_at": (self.finished_at or self.started_at).isoformat(),
            "success": self.success,
            "strategies_checked": d["strategies_checked"],
            "strategies_executed": d["strategies_executed"],
            "succeeded": d["succeeded"],
            "failed": d["failed"],
            "released": self.released,
            "execution_time_ms": self.execution_time_ms,
            "error": self.error,
            "summary": {"auto_paused": d["auto_paused"], "cancelled": self.cancelled},
        }


def failed_result(message: str, duration_ms: int) -> RunResult:
    return RunResult(
        success=False,
        outputs={},
        errors=[{"node_id": None, "node_type": None, "error": message}],
        nodes_executed=0,
        duration_ms=duration_ms,
    )


def response_body(report: TickReport) -> dict[str, Any]:
    """What the cron endpoint answers for a tick (and `cascadian tick --json` prints)."""
    body: dict[str, Any] = {
        "success": report.success,
        "data": report.data(),
        "timestamp": datetime.now(UTC).isoformat(),
    }
    if not report.success:
        body |= {"error": report.error, "execution_time_ms": report.execution_time_ms}
    return body
