"""A strategy's draft, changes and list query as the JSON the strategy store's calls
take (store/strategies.py): names and descriptions, graphs and schedules made
storable, and only what changes written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cascadian.data import Schedule, StrategyChanges, StrategyDraft, StrategyGraph, StrategyQuery
from cascadian.store.storable import iso, to_json, without_nul


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
        "name": without_nul(draft.name),
        "description": without_nul(draft.description),
        **graph_record(draft.graph),
        **_schedule_record(draft.schedule),
        "start": start,
        "next_execution_at": iso(next_execution_at),
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
        record["name"] = without_nul(changes.name)
    if changes.description is not None or changes.clear_description:
        record["description"] = without_nul(changes.description)
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
            "next_execution_at": iso(next_execution_at),
        }
    return record


def query_record(query: StrategyQuery) -> dict[str, Any]:
    return {
        "status": query.status,
        "user_id": None if query.user_id is None else str(query.user_id),
        "auto_run": query.auto_run,
        "q": without_nul(query.q),
        "sort": query.sort,
        "descending": query.descending,
        "limit": query.limit,
        "offset": query.offset,
    }
