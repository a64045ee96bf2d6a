"""The tick's side of the store (the Store port): claim, finish, release and cancel
runs, find the next slot, keep the tick ledger and prune history.

Each SQL function the tick calls is named here once, as a constant used for the
call and for reading its answer, so a malformed answer names the function it came
from. What the tick writes is built in run_records.py, a claimed run read in
claims.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from cascadian.data import (
    Actor,
    ClaimedRun,
    ManualClaim,
    PruneResult,
    Recorded,
    RetentionPolicy,
    RunOutcome,
    TickEntry,
)
from cascadian.errors import StoreAnswerLost, StoreReplyMalformed, StoreUnavailable
from cascadian.reports import TickReport
from cascadian.store.audit import actor_arg
from cascadian.store.claims import claimed_run, with_event
from cascadian.store.control import read_execution
from cascadian.store.readers import (
    answer_of,
    as_dt,
    as_uuid,
    control_result,
    dt_or_none,
    json_value,
    uuid_or_none,
)
from cascadian.store.run_records import outcomes_json, tick_record
from cascadian.store.transport import Json, JsonText, Transport

# Each function's migration (its first version's, when that is older). 052 moved
# the lease into cascadian_leases: every function that reads or writes it is 052's.
# 060 over 052 (the lease table) and 039 (fair across owners, at most `owner_limit` of
# one owner's in flight): a lease row made only for a strategy's first claim
CLAIM_DUE = "cascadian_claim_due_v6"
# 052 over 051: node logs as one jsonb value of the run's row, or rows (p_log_rows)
FINISH_RUNS = "cascadian_finish_runs_v6"
# 052 over 027: the actor's, audited, a user's own strategies only (v1: 005)
CLAIM_MANUAL = "cascadian_claim_manual_v5"
# 063 over 052: 026's, with an event run's event, and its slot recorded on its row
CLAIM_RERUN = "cascadian_claim_rerun_v4"
CANCEL_RUNS = "cascadian_cancel_runs_v2"  # 052 (v1: 005)
RELEASE_RUNS = "cascadian_release_runs_v2"  # 052 (v1: 003)
NEXT_DUE = "cascadian_next_due_v2"  # 052 (v1: 016)
RECORD_TICK = "cascadian_record_tick_v3"  # 013, the tick's own id and delivery id (ledger 012)
TICKS = "cascadian_ticks_v2"  # 012
PRUNE = "cascadian_prune_v3"  # 063: deleted strategies' leases too (v1: 013)

# The statuses a run's own recorded outcome leaves it in.
RECORDED_STATUSES = frozenset({"completed", "failed"})

# Claimed graphs longer than this (in JSON characters, all rows together) are
# decoded off the event loop.
OFF_LOOP_JSON_CHARS = 1_000_000


def _graph_text(rows: list[dict[str, Any]]) -> int:
    fields = ("nodes", "edges", "variables")
    return sum(len(r[f]) for r in rows for f in fields if isinstance(r.get(f), str))


class SqlRunStore:
    transport: Transport
    # CASCADIAN_NODE_LOG_ROWS: node logs as rows of strategy_execution_logs.
    node_log_rows: bool = False

    async def claim_due(
        self, now: datetime, limit: int, lease_seconds: float, owner_limit: int = 0
    ) -> list[ClaimedRun]:
        rows = await self.transport.rows(
            CLAIM_DUE,
            {
                "p_now": now,
                "p_limit": limit,
                "p_lease_seconds": lease_seconds,
                "p_owner_limit": owner_limit,
            },
        )
        if _graph_text(rows) > OFF_LOOP_JSON_CHARS:  # decoding would hold up other runs
            return await asyncio.to_thread(claimed_runs, rows, now)
        return claimed_runs(rows, now)

    async def finish_runs(
        self, outcomes: Sequence[RunOutcome], pause_threshold: int
    ) -> list[Recorded]:
        """Record a batch in one call, so in one transaction: all of it, or none
        (the recorder isolates a refused outcome by writing singly)."""
        if not outcomes:
            return []
        # Encoding the outputs walks all of them: off the event loop, so a run with
        # large outputs never holds up the others.
        records = JsonText(await asyncio.to_thread(outcomes_json, outcomes))
        try:
            rows = await self.transport.rows(
                FINISH_RUNS,
                {
                    "p_outcomes": records,
                    "p_pause_threshold": pause_threshold,
                    "p_log_rows": self.node_log_rows,
                },
            )
            if len(rows) != len(outcomes):
                raise StoreReplyMalformed(
                    f"{len(outcomes)} outcomes sent to {FINISH_RUNS}, {len(rows)} answers came back"
                )
            return [recorded(r) for r in rows]
        except StoreReplyMalformed as garbled:
            note = f"the answer to recording this run was unreadable ({garbled}); read back"
            return await self._read_back(outcomes, garbled, note)
        except StoreAnswerLost as lost:
            note = f"the answer to recording this run was lost ({lost}); read back"
            return await self._read_back(outcomes, lost, note)

    async def _read_back(
        self,
        outcomes: Sequence[RunOutcome],
        cause: StoreReplyMalformed | StoreAnswerLost,
        note: str,
    ) -> list[Recorded]:
        """The call may have gone through, but its answer is unreadable or lost: read
        each run back, so a run the database shows recorded is not reported as
        unrecorded (and re-run). Otherwise `cause`'s kind of error, saying why."""
        found: list[Recorded] = []
        for outcome in outcomes:
            try:
                run = await read_execution(self.transport, outcome.execution_id)
            except StoreUnavailable as exc:
                raise type(cause)(
                    f"{cause}; reading the runs back failed too ({exc}), so whether "
                    f"{len(outcomes)} outcome(s) were recorded is unknown"
                ) from exc
            # Only our own outcome ends a run completed or failed; cancelled is
            # another claim's doing (an abandoned lease), running is not written.
            if run is None or run.status not in RECORDED_STATUSES:
                status = "missing" if run is None else run.status
                raise type(cause)(
                    f"{cause}; run {outcome.execution_id} reads back {status}, "
                    "so this batch's outcomes are not known to be recorded"
                )
            found.append(Recorded(outcome.execution_id, True, False, (f"{note}: recorded",)))
        return found

    async def next_due(self, now: datetime) -> datetime | None:
        """The earliest slot of a strategy that is not running now."""
        return next_due(await self.transport.value(NEXT_DUE, {"p_now": now}))

    async def release(self, execution_ids: Sequence[UUID]) -> int:
        if not execution_ids:
            return 0
        return int(
            await self.transport.value(RELEASE_RUNS, {"p_execution_ids": list(execution_ids)})
        )

    async def record_tick(self, report: TickReport) -> None:
        # The ledger row takes the tick's own id.
        await self.transport.value(RECORD_TICK, {"p_tick": Json(tick_record(report))})

    async def claim_manual(
        self, strategy_id: UUID, now: datetime, lease_seconds: float, actor: Actor
    ) -> ManualClaim:
        rows = await self.transport.rows(
            CLAIM_MANUAL,
            {
                "p_id": strategy_id,
                "p_now": now,
                "p_lease_seconds": lease_seconds,
                "p_actor": actor_arg(actor),
            },
        )
        return manual_claim(_the_row(CLAIM_MANUAL, rows))

    async def claim_rerun(
        self, execution_id: UUID, now: datetime, lease_seconds: float, actor: Actor
    ) -> ManualClaim:
        rows = await self.transport.rows(
            CLAIM_RERUN,
            {
                "p_execution_id": execution_id,
                "p_now": now,
                "p_lease_seconds": lease_seconds,
                "p_actor": actor_arg(actor),
            },
        )
        return rerun_claim(_the_row(CLAIM_RERUN, rows))

    async def cancel_runs(self, execution_ids: Sequence[UUID], reason: str, now: datetime) -> int:
        if not execution_ids:
            return 0
        return int(
            await self.transport.value(
                CANCEL_RUNS,
                {"p_execution_ids": list(execution_ids), "p_reason": reason, "p_now": now},
            )
        )

    async def ticks(self, limit: int) -> list[TickEntry]:
        return ticks(await self.transport.rows(TICKS, {"p_limit": limit}))

    async def prune(
        self,
        now: datetime,
        policy: RetentionPolicy,
        dry_run: bool = False,
        after: UUID | None = None,
    ) -> PruneResult:
        rows = await self.transport.rows(PRUNE, prune_arguments(now, policy, dry_run, after))
        return prune_result(rows)


@answer_of(CLAIM_DUE)
def claimed_runs(rows: list[dict[str, Any]], now: datetime) -> list[ClaimedRun]:
    return [claimed_run(r, now) for r in rows]


@answer_of(CLAIM_MANUAL)
def manual_claim(row: dict[str, Any]) -> ManualClaim:
    result = control_result(row["result"])
    return ManualClaim(result, claimed_run(row) if result == "ok" else None)


@answer_of(CLAIM_RERUN)
def rerun_claim(row: dict[str, Any]) -> ManualClaim:
    """A re-run of an event run carries its event, marked {rerun: true, rerun_of}; any
    re-run places its orders in the slot of the run its chain goes back to."""
    result = control_result(row["result"])
    if result != "ok":
        return ManualClaim(result, None)
    claim = claimed_run(row)
    event = json_value(row.get("event"))
    if event is not None and not isinstance(event, dict):
        raise TypeError("a re-run's event is not an object")
    if event is not None:
        claim = with_event(claim, event)
    slot = row.get("order_slot")
    if slot:
        claim = replace(claim, workflow=replace(claim.workflow, order_slot=str(slot)))
    return ManualClaim(result, claim)


@answer_of(FINISH_RUNS)
def recorded(row: dict[str, Any]) -> Recorded:
    side = json_value(row.get("side_errors")) or []
    return Recorded(
        as_uuid(row["execution_id"]),
        bool(row["accepted"]),
        bool(row["auto_paused"]),
        tuple(str(e.get("error")) for e in side),
    )


@answer_of(NEXT_DUE)
def next_due(value: Any) -> datetime | None:
    return dt_or_none(value)


@answer_of(TICKS)
def ticks(rows: list[dict[str, Any]]) -> list[TickEntry]:
    return [
        TickEntry(
            id=as_uuid(row["id"]),
            trigger=row["trigger"],
            started_at=as_dt(row["started_at"]),
            finished_at=as_dt(row["finished_at"]),
            success=row["success"],
            strategies_checked=row["strategies_checked"],
            strategies_executed=row["strategies_executed"],
            succeeded=row["succeeded"],
            failed=row["failed"],
            released=row["released"],
            execution_time_ms=row["execution_time_ms"],
            error=row["error"],
            summary=row["summary"] or {},
            gap_seconds=row["gap_seconds"],
            delivery_id=row["delivery_id"],
        )
        for row in rows
    ]


def prune_arguments(
    now: datetime, policy: RetentionPolicy, dry_run: bool, after: UUID | None
) -> dict[str, Any]:
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


@answer_of(PRUNE)
def prune_result(rows: list[dict[str, Any]]) -> PruneResult:
    [row] = rows
    return PruneResult(
        runs=int(row["runs"]),
        node_logs=int(row["node_logs"]),
        ticks=int(row["ticks"]),
        notifications=int(row["notifications"]),
        complete=bool(row["complete"]),
        elapsed_ms=int(row["elapsed_ms"]),
        resume_after=uuid_or_none(row["resume_after"]),
        leases=int(row["leases"]),
    )


def _the_row(function: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The one row a claim of one run answers."""
    if len(rows) != 1:
        raise StoreReplyMalformed(
            f"the database's answer to {function} is malformed: {len(rows)} rows instead of one"
        )
    return rows[0]
