"""Our data as the JSON arguments of the SQL functions (jsonb), whichever the transport.

Everything written is made storable here: values jsonb refuses (NUL characters,
unpaired surrogates, NaN) are replaced, and outputs are capped in size.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from datetime import datetime
from typing import Any

from cascadian.data import (
    NodeRun,
    Notification,
    RunOutcome,
    WatchlistEntry,
)
from cascadian.reports import TickReport

# Per-node output summaries in strategy_execution_logs are capped at this many
# characters of JSON; the execution row's outputs at OUTPUTS_CAP in total.
LOG_OUTPUT_CAP = 4_000
OUTPUTS_CAP = 200_000


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


def outcome_record(outcome: RunOutcome) -> dict[str, Any]:
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


def tick_record(report: TickReport) -> dict[str, Any]:
    """The JSON cascadian_record_tick_v2 takes: one row of the tick ledger."""
    d = report.summary()
    return {
        "trigger": report.trigger,
        "started_at": report.started_at.isoformat(),
        "finished_at": (report.finished_at or report.started_at).isoformat(),
        "success": report.success,
        "strategies_checked": d.strategies_checked,
        "strategies_executed": d.strategies_executed,
        "succeeded": d.succeeded,
        "failed": d.failed,
        "released": report.released,
        "execution_time_ms": report.execution_time_ms,
        "error": report.error,
        "summary": {"auto_paused": d.auto_paused, "cancelled": report.cancelled},
        "delivery_id": report.delivery_id,
    }


def notification_record(n: Notification) -> dict[str, Any]:
    """The JSON cascadian_notify_v1 takes."""
    record = asdict(n)
    record["user_id"] = str(n.user_id)
    record["workflow_id"] = str(n.workflow_id) if n.workflow_id else None
    return record


def watchlist_records(entries: list[WatchlistEntry]) -> list[dict[str, Any]]:
    """The JSON cascadian_add_to_watchlist_v1 takes."""
    return [asdict(e) for e in entries]
