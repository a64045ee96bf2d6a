"""What the tick writes, as the JSON its store calls take: a run's outcome with its
node logs (`finish_runs`), and a tick's row of the ledger (`record_tick`).

`outcome_record` never raises, so a run's outcome can always be written; the store
builds a batch's records off the event loop, as making them storable walks every
output.
"""

from __future__ import annotations

from typing import Any

from cascadian.data import NodeRun, RunOutcome
from cascadian.reports import TickReport
from cascadian.store.storable import (
    LOG_OUTPUT_CAP,
    OUTPUTS_CAP,
    capped,
    capped_as,
    clean_json,
    iso,
    to_json,
)


def _log_row(run: NodeRun, notes: list[str], clean: bool = False) -> dict[str, Any]:
    """`clean`: the output is known to be storable as it is, and within the cap."""
    if run.output is None or clean:
        output = run.output
    else:
        output = capped(run.output, LOG_OUTPUT_CAP, notes)
    return {
        "node_id": run.node_id,
        "node_type": run.node_type,
        "status": run.status,
        "started_at": iso(run.started_at),
        "completed_at": iso(run.completed_at),
        "duration_ms": run.duration_ms,
        "error_message": to_json(run.error, notes),
        "output": output,
    }


def outcome_record(outcome: RunOutcome) -> dict[str, Any]:
    """The JSON element the finish takes for one outcome (`finish_runs`). Never raises:
    whatever a run produced, its outcome can be written. Values that cannot be
    stored are replaced and the run's errors say so; if the record cannot be built
    at all, it is written without outputs and logs."""
    r = outcome.result
    notes: list[str] = []
    try:
        text = clean_json(r.outputs)
        outputs = capped_as(r.outputs, text, OUTPUTS_CAP, notes)
        # A node's output that is part of the run's outputs, when those are clean and
        # no longer than a log's cap, is clean and within it too: not encoded again.
        small = text is not None and len(text) <= LOG_OUTPUT_CAP and isinstance(r.outputs, dict)
        logs = [
            _log_row(n, notes, small and n.output is r.outputs.get(n.node_id)) for n in r.node_runs
        ]
        errors = to_json(r.errors, notes)
        error_message = to_json(r.error_message, notes)
    except Exception as exc:  # a bug here must not leave the run unrecorded
        why = f"outputs not stored: {type(exc).__name__}: {str(exc)[:200]}"
        outputs, logs = {"note": why}, []
        errors = [_error(why)]
        error_message = None if r.success else why
    if notes:
        replaced = "; ".join(list(dict.fromkeys(notes))[:5])
        listed = errors if isinstance(errors, list) else []
        errors = [*listed, _error(f"some values could not be stored and were replaced: {replaced}")]
    return {
        "execution_id": str(outcome.execution_id),
        "workflow_id": str(outcome.workflow_id),
        "success": r.success,
        "finished_at": outcome.finished_at.isoformat(),
        "duration_ms": r.duration_ms,
        "nodes_executed": r.nodes_executed,
        "outputs": outputs,
        "errors": errors,
        "error_message": error_message,
        "next_execution_at": iso(outcome.next_execution_at),
        "logs": logs,
    }


def _error(message: str) -> dict[str, Any]:
    return {"node_id": None, "node_type": None, "error": message}


def tick_record(report: TickReport) -> dict[str, Any]:
    """The JSON `record_tick` takes: one row of the tick ledger."""
    d = report.summary()
    summary: dict[str, Any] = {"auto_paused": d.auto_paused, "cancelled": report.cancelled}
    if d.max_lag_seconds is not None:
        summary["max_lag_seconds"] = d.max_lag_seconds
    if d.pruned is not None:
        summary["pruned"] = d.pruned.model_dump(exclude_none=True)
    return {
        "id": str(report.id),
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
        "summary": summary,
        "delivery_id": report.delivery_id,
    }
