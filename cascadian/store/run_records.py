"""What the tick writes, as the JSON its store calls take: a run's outcome with its
node logs (`finish_runs`), and a tick's row of the ledger (`record_tick`).

A run's outputs are encoded once (storable.encoded), node by node, and those bytes
go into the finish call as they are: into the execution row's outputs and, for an
output within a log's cap, into its node's log, so nothing is encoded twice. An
intermediate node's output (one that went on to other nodes) is stored capped in the
outputs as in its log; the last nodes' outputs whole, up to the run's cap. The
batch is one `outcomes_json` of the records. `outcome_record` never raises, so a
run's outcome can always be written; the store builds a batch's JSON off the event
loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from cascadian.data import NodeRun, RunOutcome
from cascadian.reports import TickReport
from cascadian.store.storable import (
    LOG_OUTPUT_CAP,
    OUTPUTS_CAP,
    capped_json,
    encoded,
    iso,
    to_json,
)


def outcomes_json(outcomes: Sequence[RunOutcome]) -> bytes:
    """The finish call's argument: the outcomes' records as one JSON array."""
    return orjson.dumps([outcome_record(o) for o in outcomes], option=orjson.OPT_NON_STR_KEYS)


def _log_row(run: NodeRun, notes: list[str], known: bytes | None) -> dict[str, Any]:
    """`known`: the output's JSON, when the run's outputs encoded it already."""
    if run.output is None:
        output: Any = None
    else:
        output = capped_json(encoded(run.output, notes) if known is None else known, LOG_OUTPUT_CAP)
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


def _outputs(
    outputs: Any, intermediate: frozenset[str], notes: list[str]
) -> tuple[Any, dict[str, bytes]]:
    """The run's outputs, capped (an intermediate node's as its log is), and each
    node's output as encoded on the way."""
    if not isinstance(outputs, dict) or not all(isinstance(k, str) for k in outputs):
        return capped_json(encoded(outputs, notes), OUTPUTS_CAP), {}
    parts = {node_id: encoded(output, notes) for node_id, output in outputs.items()}
    whole = orjson.dumps(
        {
            k: capped_json(v, LOG_OUTPUT_CAP) if k in intermediate else orjson.Fragment(v)
            for k, v in parts.items()
        }
    )
    return capped_json(whole, OUTPUTS_CAP), parts


def _known(run: NodeRun, outputs: Any, parts: dict[str, bytes]) -> bytes | None:
    """The JSON of `run`'s output, when it is the one the run's outputs hold."""
    if parts and run.output is outputs.get(run.node_id):
        return parts.get(run.node_id)
    return None


def outcome_record(outcome: RunOutcome) -> dict[str, Any]:
    """The JSON element the finish takes for one outcome (`finish_runs`), its encoded
    parts as orjson Fragments. Never raises: whatever a run produced, its outcome
    can be written. Values that cannot be stored are replaced and the run's errors
    say so; if the record cannot be built at all, it is written without outputs and
    logs."""
    r = outcome.result
    notes: list[str] = []
    try:
        outputs, parts = _outputs(r.outputs, r.intermediate, notes)
        logs = [_log_row(n, notes, _known(n, r.outputs, parts)) for n in r.node_runs]
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
        "errors": orjson.Fragment(encoded(errors)),  # plain JSON by now
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
