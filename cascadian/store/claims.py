"""A claimed run as the claim answers it: one row per run, its graph as stored.

The same row comes from the scheduled claim (`claim_due`), from an accepted
manual one (`claim_manual`), a re-run (`claim_rerun`) and an event run; each store
module reads it under its own function's name. A run with an event (a trigger's,
or a re-run of one) reads it as ${variables.trigger_event}. A graph the database
stores but Python cannot load fails that strategy alone, never the claim.

A strategy's graph is decoded once per version, not at every claim: the decoded
values are kept by the text they came as (the last GRAPHS_DECODED texts of at most
DECODED_MAX_CHARS), and shared by the claims of that text, which only read them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from cascadian.data import ClaimedRun, Schedule, Workflow
from cascadian.store.readers import as_dt, as_uuid, dt_or_none, json_value

_GRAPH_FIELDS = ("nodes", "edges", "variables", "trigger")
GRAPHS_DECODED = 1_024
# Larger texts are decoded at each claim: 1,024 graphs of up to a megabyte each
# (the graph size limit) would hold gigabytes; typical graphs are a few kilobytes.
DECODED_MAX_CHARS = 65_536


@lru_cache(maxsize=GRAPHS_DECODED)
def _decoded(stored: str) -> dict[str, Any]:
    """The graph fields of a claim's `stored` text (raises as json.loads does)."""
    return _graph(stored.split("\x00"))


def _graph(parts: list[Any]) -> dict[str, Any]:
    graph = {k: json_value(v) for k, v in zip(_GRAPH_FIELDS, parts, strict=True)}
    graph["variables"] = graph["variables"] or {}  # none stored: none
    return graph


@lru_cache(maxsize=GRAPHS_DECODED)
def _schedule(interval_minutes: Any, cron: str | None, timezone: str | None) -> Schedule:
    """One Schedule for the claims of each stored schedule (frozen: they only read it)."""
    return Schedule(interval_minutes=interval_minutes, cron=cron, timezone=timezone or "UTC")


# The variable an event run's graph reads its event from: ${variables.trigger_event.…}.
EVENT_VARIABLE = "trigger_event"


def claimed_run(row: dict[str, Any], claimed_at: datetime | None = None) -> ClaimedRun:
    """A claim's row as a ClaimedRun; `claimed_at` is the claim's `now`, for a
    scheduled run."""
    problem = None
    parts = [row[k] for k in _GRAPH_FIELDS]
    # jsonb's text never holds a NUL (jsonb refuses \u0000, and escapes control
    # characters), so joined with NULs the four texts say which is which.
    stored = (
        "\x00".join(p or "null" for p in parts)
        if all(p is None or isinstance(p, str) for p in parts)
        else None
    )
    try:
        if stored is not None and len(stored) <= DECODED_MAX_CHARS:
            graph = _decoded(stored)
        else:  # large, or parsed already (PostgREST answers JSON)
            graph = _graph(parts)
    except (ValueError, RecursionError) as exc:
        # PostgreSQL stores nesting Python cannot load: fail this strategy alone.
        why = "nested too deeply" if isinstance(exc, RecursionError) else "not valid JSON"
        problem = f"the strategy's stored graph cannot be read: {why}"
        graph = {"nodes": [], "edges": [], "variables": {}, "trigger": None}
    return ClaimedRun(
        execution_id=as_uuid(row["execution_id"]),
        workflow=Workflow(
            id=as_uuid(row["workflow_id"]),
            name=row["name"],
            nodes=graph["nodes"],
            edges=graph["edges"],
            variables=graph["variables"],
            trigger=graph["trigger"],
            user_id=as_uuid(row["user_id"]),
            execution_id=as_uuid(row["execution_id"]),
            stored_text=stored if problem is None else None,
        ),
        schedule=_schedule(
            row["execution_interval_minutes"], row["cron_expression"], row["timezone"]
        ),
        scheduled_for=dt_or_none(row["scheduled_for"]),
        attempt=row["attempt"],
        lease_expires_at=as_dt(row["lease_expires_at"]),
        next_execution_at=dt_or_none(row.get("next_execution_at")),
        problem=problem,
        claimed_at=claimed_at,
    )


def with_event(claim: ClaimedRun, event: dict[str, Any]) -> ClaimedRun:
    """The claim with its event, which the graph reads as ${variables.trigger_event};
    its orders are keyed by the event (every attempt at it, and a re-run of it, place
    each order once)."""
    workflow = replace(
        claim.workflow,
        variables={**claim.workflow.variables, EVENT_VARIABLE: event},
        stored_text=None,  # the variables are no longer the stored ones
        order_slot=f"event:{event['id']}" if event.get("id") else None,
    )
    return replace(claim, workflow=workflow, event=event)
