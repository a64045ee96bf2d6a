"""Our data as the JSON arguments of the SQL functions (jsonb), whichever the transport.

Everything written is made storable here: values jsonb refuses (NUL characters,
unpaired surrogates, NaN) are replaced, and outputs are capped in size.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

from cascadian.data import (
    NodeRun,
    Notification,
    PaperMark,
    PaperOrder,
    RetentionPolicy,
    RunOutcome,
    Schedule,
    StrategyChanges,
    StrategyDraft,
    StrategyGraph,
    StrategyQuery,
    WatchlistEntry,
)
from cascadian.reports import TickReport

# Per-node output summaries in strategy_execution_logs are capped at this many
# characters of JSON; the execution row's outputs at OUTPUTS_CAP in total.
LOG_OUTPUT_CAP = 4_000
OUTPUTS_CAP = 200_000


def to_json(value: Any, notes: list[str] | None = None) -> Any:
    """A copy of a node output that jsonb accepts, whatever it holds. Other objects
    become strings; NUL characters and unpaired surrogates become U+FFFD, NaN and
    Infinity null (jsonb refuses them); what JSON cannot hold at all (an integer
    longer than Python will print, a circular reference, nesting too deep) becomes a
    placeholder saying so, noted in `notes`. Never raises."""
    if value is None or isinstance(value, bool | str | float) or value in ({}, []):
        return _without_nul(value)  # the common cases, without a JSON round trip
    if isinstance(value, int) and not _too_long(value):
        return value
    if _clean_json(value) is not None:
        return value  # as it is: it is written as this same JSON
    try:
        text = json.dumps(value, default=str)
    except RecursionError:
        return _placeholder("nested too deeply", notes)
    except (ValueError, TypeError, OverflowError):
        value = _storable(value, notes, set())
        try:
            text = json.dumps(value, default=str)
        except RecursionError:
            return _placeholder("nested too deeply", notes)
    return _without_nul(json.loads(text))


def _clean_json(value: Any) -> str | None:
    """`value`'s JSON if jsonb takes it as it is (the common case, one pass in C);
    None if anything in it needs the careful path."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (ValueError, TypeError, OverflowError, RecursionError):
        return None
    # ASCII-escaped: a NUL shows as \u0000, a surrogate (paired or not) as \udXXX.
    return None if "\\u0000" in text or "\\ud" in text else text


def _placeholder(why: str, notes: list[str] | None) -> str:
    if notes is not None:
        notes.append(why)
    return f"(not stored: {why})"


# log2(10): digits to bits.
_BITS_PER_DIGIT = 3.3219


def _too_long(number: int) -> bool:
    limit = sys.get_int_max_str_digits()
    # bit_length is cheap; str() of such a number is what raises.
    return limit > 0 and number.bit_length() > limit * _BITS_PER_DIGIT


def _storable(value: Any, notes: list[str] | None, path: set[int]) -> Any:
    """`value` with every part json.dumps refuses replaced (the slow path)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        if _too_long(value):
            limit = sys.get_int_max_str_digits()
            return _placeholder(f"an integer of more than {limit} digits", notes)
        return value
    if not isinstance(value, dict | list | tuple | set | frozenset):
        return str(value)
    if id(value) in path:
        return _placeholder("a circular reference", notes)
    path.add(id(value))
    try:
        if isinstance(value, dict):
            return {_key(k, notes, path): _storable(v, notes, path) for k, v in value.items()}
        return [_storable(v, notes, path) for v in value]
    finally:
        path.discard(id(value))


def _key(key: Any, notes: list[str] | None, path: set[int]) -> str:
    return key if isinstance(key, str) else str(_storable(key, notes, path))


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


def capped(value: Any, cap: int, notes: list[str] | None = None) -> Any:
    return _capped(value, _clean_json(value), cap, notes)


def _capped(value: Any, text: str | None, cap: int, notes: list[str] | None) -> Any:
    """capped(), given `value`'s _clean_json."""
    if text is None:
        safe = to_json(value, notes)
        text = json.dumps(safe)
    else:
        safe = value
    if len(text) <= cap:
        return safe
    return {"truncated": True, "size": len(text), "preview": text[:cap]}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


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
        "started_at": _iso(run.started_at),
        "completed_at": _iso(run.completed_at),
        "duration_ms": run.duration_ms,
        "error_message": to_json(run.error, notes),
        "output": output,
    }


def outcome_record(outcome: RunOutcome) -> dict[str, Any]:
    """The JSON element cascadian_finish_runs_v3 takes for one outcome. Never raises:
    whatever a run produced, its outcome can be written. Values that cannot be
    stored are replaced and the run's errors say so; if the record cannot be built
    at all, it is written without outputs and logs."""
    r = outcome.result
    notes: list[str] = []
    try:
        text = _clean_json(r.outputs)
        outputs = _capped(r.outputs, text, OUTPUTS_CAP, notes)
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
        "next_execution_at": _iso(outcome.next_execution_at),
        "logs": logs,
    }


def _error(message: str) -> dict[str, Any]:
    return {"node_id": None, "node_type": None, "error": message}


def tick_record(report: TickReport) -> dict[str, Any]:
    """The JSON cascadian_record_tick_v3 takes: one row of the tick ledger."""
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


def notification_record(n: Notification) -> dict[str, Any]:
    """The JSON cascadian_notify_v2 takes."""
    record = asdict(n)
    record["user_id"] = str(n.user_id)
    record["workflow_id"] = str(n.workflow_id) if n.workflow_id else None
    return record


def watchlist_records(entries: list[WatchlistEntry]) -> list[dict[str, Any]]:
    """The JSON cascadian_add_to_watchlist_v1 takes."""
    return [asdict(e) for e in entries]


def paper_order_record(order: PaperOrder) -> dict[str, Any]:
    """The JSON cascadian_record_paper_order_v1 takes."""
    record = to_json(asdict(order))
    record["workflow_id"] = str(order.workflow_id)
    record["execution_id"] = str(order.execution_id) if order.execution_id else None
    return dict(record)


def paper_marks(marks: Sequence[PaperMark]) -> list[dict[str, Any]]:
    """The JSON cascadian_paper_book_v1 takes for the marks."""
    return [asdict(m) for m in marks]


def prune_arguments(
    now: datetime, policy: RetentionPolicy, dry_run: bool, after: UUID | None
) -> dict[str, Any]:
    """The named arguments of cascadian_prune_v1."""
    return {
        "p_now": now,
        "p_run_retention_seconds": policy.run_retention_seconds,
        "p_keep_last": policy.keep_runs,
        "p_tick_retention_seconds": policy.tick_retention_seconds,
        "p_notification_retention_seconds": policy.notification_retention_seconds,
        "p_max_rows": policy.max_rows,
        "p_max_ms": policy.max_ms,
        "p_dry_run": dry_run,
        "p_after": after,
    }


# Strategies as a resource (migrations/010).


def graph_record(graph: StrategyGraph) -> dict[str, Any]:
    """A graph as the jsonb columns take it (text jsonb refuses made storable)."""
    return {
        "nodes": to_json(graph.nodes),
        "edges": to_json(graph.edges),
        "variables": to_json(graph.variables),
        "trigger": to_json(graph.trigger),
    }


def _schedule_record(schedule: Schedule) -> dict[str, Any]:
    return {
        "interval_minutes": schedule.interval_minutes,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
    }


def draft_record(
    draft: StrategyDraft, start: bool, next_execution_at: datetime | None
) -> dict[str, Any]:
    return {
        "user_id": str(draft.user_id),
        "name": _without_nul(draft.name),
        "description": _without_nul(draft.description),
        **graph_record(draft.graph),
        **_schedule_record(draft.schedule),
        "start": start,
        "next_execution_at": _iso(next_execution_at),
    }


def version_record(
    changes: StrategyChanges, schedule: Schedule | None, next_execution_at: datetime | None
) -> dict[str, Any]:
    """The new version's graph, with any new name, description and schedule."""
    assert changes.graph is not None
    return graph_record(changes.graph) | update_record(changes, schedule, next_execution_at)


def _naming(changes: StrategyChanges) -> dict[str, Any]:
    record: dict[str, Any] = {}
    if changes.name is not None:
        record["name"] = _without_nul(changes.name)
    if changes.description is not None or changes.clear_description:
        record["description"] = _without_nul(changes.description)
    return record


def update_record(
    changes: StrategyChanges, schedule: Schedule | None, next_execution_at: datetime | None
) -> dict[str, Any]:
    """A rename or reschedule in place; `schedule` None leaves the schedule alone."""
    record = _naming(changes)
    if schedule is not None:
        record |= {
            "schedule": True,
            **_schedule_record(schedule),
            "next_execution_at": _iso(next_execution_at),
        }
    return record


def query_record(query: StrategyQuery) -> dict[str, Any]:
    return {
        "status": query.status,
        "user_id": None if query.user_id is None else str(query.user_id),
        "auto_run": query.auto_run,
        "q": _without_nul(query.q),
        "sort": query.sort,
        "descending": query.descending,
        "limit": query.limit,
        "offset": query.offset,
    }
