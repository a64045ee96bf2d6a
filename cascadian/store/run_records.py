"""What the tick writes, as the JSON its store calls take: a run's outcome with its
node logs (`finish_runs`), and a tick's row of the ledger (`record_tick`).

A run's outputs are encoded once (storable.encoded), node by node, and those bytes
go into the finish call as they are: into the execution row's outputs and, for an
output within a log's cap, into its node's log, so no large output is encoded
twice (outputs of a few KB in all, plain JSON, take one pass for the run's outputs
and are written again into their logs by the batch's pass, in C). An
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
    dumps,
    encoded,
    fast_json,
    to_json,
)


def outcomes_json(outcomes: Sequence[RunOutcome]) -> bytes:
    """The finish call's argument: the outcomes' records as one JSON array."""
    return dumps([outcome_record(o) for o in outcomes])


def _log_row(run: NodeRun, notes: list[str], known: Any) -> dict[str, Any]:
    """`known`: what the log stores as the output, when the run's outputs worked it
    out already (_NOT_KNOWN: work it out here)."""
    if run.output is None:
        output: Any = None
    elif known is _NOT_KNOWN:
        output = capped_json(encoded(run.output, notes), LOG_OUTPUT_CAP)
    else:
        output = known
    return {
        "node_id": run.node_id,
        "node_type": run.node_type,
        "status": run.status,
        "started_at": run.started_at,  # datetimes: orjson writes ISO 8601
        "completed_at": run.completed_at,
        "duration_ms": run.duration_ms,
        "error_message": to_json(run.error, notes),
        "output": output,
    }


_NOT_KNOWN = object()


def _outputs(
    outputs: Any, intermediate: frozenset[str], notes: list[str]
) -> tuple[Any, dict[str, Any]]:
    """The run's outputs, capped (an intermediate node's as its log is), and what
    each node's log stores as its output, worked out on the way."""
    if not isinstance(outputs, dict) or not all(isinstance(k, str) for k in outputs):
        return capped_json(encoded(outputs, notes), OUTPUTS_CAP), {}
    small = fast_json(outputs, plain=True) if _shallow(outputs) else None
    if small is not None and len(small) <= LOG_OUTPUT_CAP:
        # Plain JSON, clean, within a log's cap: one pass here; each log holds its
        # node's output as it is, which the batch's pass writes again (a few KB at
        # most, in C), rather than a call per node.
        return orjson.Fragment(small), outputs
    parts = {k: encoded(v, notes) for k, v in outputs.items()}
    logged = {k: capped_json(v, LOG_OUTPUT_CAP) for k, v in parts.items()}
    whole = orjson.dumps(
        {k: logged[k] if k in intermediate else orjson.Fragment(v) for k, v in parts.items()}
    )
    return capped_json(whole, OUTPUTS_CAP), logged


# A node output with more top-level values than this is not taken for a small one.
_SHALLOW_ITEMS = 64


def _shallow(outputs: dict[str, Any]) -> bool:
    """Whether the outputs look small enough to try encoding them in one pass: no
    node's output holds a non-empty container (a list of markets, say), so a large
    run's outputs are not encoded whole only to be found over the cap."""
    for output in outputs.values():
        if isinstance(output, dict):
            values: Any = output.values()
        elif isinstance(output, list | tuple):
            values = output
        else:
            continue
        if len(values) > _SHALLOW_ITEMS:
            return False
        for value in values:
            if value and isinstance(value, dict | list | tuple):
                return False
    return True


def _known(run: NodeRun, outputs: Any, logged: dict[str, Any]) -> Any:
    """What `run`'s log stores as its output, when its output is the one the run's
    outputs hold (and were worked out with); _NOT_KNOWN otherwise."""
    if logged and run.node_id in logged and run.output is outputs.get(run.node_id):
        return logged[run.node_id]
    return _NOT_KNOWN


def outcome_record(outcome: RunOutcome) -> dict[str, Any]:
    """The JSON element the finish takes for one outcome (`finish_runs`), its encoded
    parts as orjson Fragments. Never raises: whatever a run produced, its outcome
    can be written. Values that cannot be stored are replaced and the run's errors
    say so; if the record cannot be built at all, it is written without outputs and
    logs."""
    r = outcome.result
    notes: list[str] = []
    try:
        outputs, logged = _outputs(r.outputs, r.intermediate, notes)
        logs = [_log_row(n, notes, _known(n, r.outputs, logged)) for n in r.node_runs]
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
        "execution_id": outcome.execution_id,  # UUIDs and datetimes: orjson writes them
        "workflow_id": outcome.workflow_id,
        "success": r.success,
        "finished_at": outcome.finished_at,
        "duration_ms": r.duration_ms,
        "nodes_executed": r.nodes_executed,
        "outputs": outputs,
        "errors": orjson.Fragment(encoded(errors)) if errors else errors,  # plain JSON
        "error_message": error_message,
        "next_execution_at": outcome.next_execution_at,
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
