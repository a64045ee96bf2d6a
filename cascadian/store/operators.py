"""What operators read across strategies (the OperatorStore port): the runs list,
filtered and paged by key, and the strategies a bulk change would act on.

Both are read-only SQL functions (migrations/026), each named here once, as a
constant used for the call and for reading its answer. The changes a bulk action
makes go through the control store, one strategy at a time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from cascadian.data import (
    BulkFilter,
    BulkSelection,
    BulkTarget,
    RunCursor,
    RunEntry,
    RunPage,
    RunQuery,
)
from cascadian.store.readers import answer_of, as_dt, as_uuid, dt_or_none, uuid_or_none
from cascadian.store.transport import Transport

RUNS = "cascadian_runs_v2"  # 053: runs in flight read through the leases (v1: 026)
BULK_SELECTION = "cascadian_bulk_selection_v2"  # 049: scoped to p_user


class SqlOperatorStore:
    transport: Transport

    async def runs(self, query: RunQuery) -> RunPage:
        before = query.before
        rows = await self.transport.rows(
            RUNS,
            {
                "p_status": query.status,
                "p_workflow_id": query.workflow_id,
                "p_user_id": query.user_id,
                "p_trigger": query.trigger,
                "p_since": query.since,
                "p_until": query.until,
                "p_rerun_of": query.rerun_of,
                "p_before_at": before.started_at if before else None,
                "p_before_id": before.id if before else None,
                # One more than the page: whether there is a next one.
                "p_limit": query.limit + 1,
            },
        )
        return run_page(rows, query.limit)

    async def bulk_selection(
        self, filter: BulkFilter, now: datetime, limit: int, user: UUID | None = None
    ) -> BulkSelection:
        rows = await self.transport.rows(
            BULK_SELECTION,
            {
                "p_now": now,
                "p_status": filter.status,
                "p_user_id": filter.user_id,
                "p_q": filter.q,
                "p_auto_paused_within": filter.auto_paused_within_seconds,
                "p_limit": limit,
                "p_user": user,
            },
        )
        return bulk_selection(rows)


@answer_of(RUNS)
def run_page(rows: list[dict[str, Any]], limit: int) -> RunPage:
    entries = [
        RunEntry(
            id=as_uuid(r["id"]),
            workflow_id=as_uuid(r["workflow_id"]),
            status=r["status"],
            trigger_kind=r["trigger_kind"],
            scheduled_for=dt_or_none(r["scheduled_for"]),
            attempt=int(r["attempt"]),
            execution_started_at=as_dt(r["execution_started_at"]),
            execution_completed_at=dt_or_none(r["execution_completed_at"]),
            duration_ms=r["duration_ms"],
            nodes_executed=int(r["nodes_executed"] or 0),
            error_message=r["error_message"],
            rerun_of=uuid_or_none(r["rerun_of"]),
            user_id=as_uuid(r["user_id"]),
            workflow_name=r["workflow_name"],
        )
        for r in rows
    ]
    page, more = entries[:limit], len(entries) > limit
    last = page[-1] if page and more else None
    return RunPage(page, RunCursor(last.execution_started_at, last.id) if last else None)


@answer_of(BULK_SELECTION)
def bulk_selection(rows: list[dict[str, Any]]) -> BulkSelection:
    targets = [
        BulkTarget(
            id=as_uuid(r["id"]),
            user_id=as_uuid(r["user_id"]),
            name=r["name"],
            status=r["status"],
            auto_run=bool(r["auto_run"]),
            error_count=int(r["error_count"] or 0),
            last_executed_at=dt_or_none(r["last_executed_at"]),
        )
        for r in rows
    ]
    return BulkSelection(targets, int(rows[0]["total"]) if rows else 0)
