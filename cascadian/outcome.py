"""What a run's outcome does to a strategy: the rules, and the record the store writes.

The rules (counters, rolling average, auto-pause) run in SQL, in
cascadian_finish_runs_v1, so they are atomic under concurrent ticks. The pure
`apply` below is their specification: the store tests check the SQL against it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cascadian.data import NodeRun, RunOutcome

# Per-node output summaries in strategy_execution_logs are capped at this many
# characters of JSON; the execution row's outputs at OUTPUTS_CAP in total.
LOG_OUTPUT_CAP = 4_000
OUTPUTS_CAP = 200_000


@dataclass(frozen=True)
class Counters:
    execution_count: int = 0
    success_count: int = 0
    error_count: int = 0  # consecutive
    average_execution_time_ms: int | None = None


def rolling_average(prev_avg: int | None, prev_count: int, new_ms: int) -> int:
    """(prev_avg * prev_count + new) / (prev_count + 1), rounded half up."""
    if prev_avg is None or prev_count == 0:
        return new_ms
    q, r = divmod(prev_avg * prev_count + new_ms, prev_count + 1)
    return q + (1 if 2 * r >= prev_count + 1 else 0)


def apply(c: Counters, success: bool, duration_ms: int, threshold: int) -> tuple[Counters, bool]:
    """The counters after one run, and whether the strategy is auto-paused."""
    errors = 0 if success else c.error_count + 1
    after = replace(
        c,
        execution_count=c.execution_count + 1,
        success_count=c.success_count + int(success),
        error_count=errors,
        average_execution_time_ms=rolling_average(
            c.average_execution_time_ms, c.execution_count, duration_ms
        ),
    )
    return after, (not success and errors >= threshold)


def to_json(value: Any) -> Any:
    """A copy of a node output that jsonb accepts: other objects become strings; NUL
    characters and unpaired surrogates become U+FFFD, NaN and Infinity null (jsonb
    refuses them, which would fail the whole outcome)."""
    if value is None or isinstance(value, bool | int | str | float) or value in ({}, []):
        return _without_nul(value)  # the common cases, without a JSON round trip
    try:
        return _without_nul(json.loads(json.dumps(value, default=str)))
    except RecursionError:
        return "(not stored: nested too deeply)"


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        if value.isascii():
            return value.replace("\x00", "\ufffd")
        # Unpaired surrogates (e.g. from "\ud800" in parsed JSON) are refused too.
        text = value.encode("utf-8", "replace").decode("utf-8")
        return text.replace("\x00", "\ufffd")
    if isinstance(value, float) and not math.isfinite(value):
        return None  # jsonb has no NaN or Infinity
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def capped(value: Any, cap: int) -> Any:
    safe = to_json(value)
    try:
        text = json.dumps(safe)
    except RecursionError:
        return "(not stored: nested too deeply)"
    if len(text) <= cap:
        return safe
    return {"truncated": True, "size": len(text), "preview": text[:cap]}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _log_row(run: NodeRun) -> dict[str, Any]:
    return {
        "node_id": run.node_id,
        "node_type": run.node_type,
        "status": run.status,
        "started_at": _iso(run.started_at),
        "completed_at": _iso(run.completed_at),
        "duration_ms": run.duration_ms,
        "error_message": to_json(run.error),
        "output": None if run.output is None else capped(run.output, LOG_OUTPUT_CAP),
    }


def to_record(outcome: RunOutcome) -> dict[str, Any]:
    """The JSON element cascadian_finish_runs_v1 takes for one outcome."""
    r = outcome.result
    return {
        "execution_id": str(outcome.execution_id),
        "workflow_id": str(outcome.workflow_id),
        "success": r.success,
        "finished_at": outcome.finished_at.isoformat(),
        "duration_ms": r.duration_ms,
        "nodes_executed": r.nodes_executed,
        "outputs": capped(r.outputs, OUTPUTS_CAP),
        "errors": to_json(r.errors),
        "error_message": to_json(r.error_message),
        "next_execution_at": _iso(outcome.next_execution_at),
        "logs": [_log_row(n) for n in r.node_runs],
    }
