"""The store: every port method is one call of one SQL function, named here once with
its named arguments and the mapping of its answer to our data.

One class serves both back ends. The transport under it (psycopg, or PostgREST's
`.rpc()` for Supabase) only moves the call, so the two cannot drift apart. Each
function is one transaction in the database; nothing here reads a row and
writes it back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import httpx

from cascadian.data import (
    Backlog,
    ClaimedRun,
    ConsoleOverview,
    ControlResult,
    ExecutionDetail,
    ExecutionPage,
    Gauges,
    ManualClaim,
    Notification,
    NotificationPage,
    PaperBook,
    PaperFill,
    PaperMark,
    PaperOrder,
    PaperOrderPage,
    PruneResult,
    Recorded,
    RetentionPolicy,
    RunOutcome,
    Schedule,
    ScheduleLag,
    StrategyChanges,
    StrategyDetail,
    StrategyDraft,
    StrategyList,
    StrategyPage,
    StrategyQuery,
    StrategyStatus,
    TickEntry,
    Watched,
    WatchlistEntry,
)
from cascadian.errors import StoreAnswerLost, StoreReplyMalformed, StoreUnavailable
from cascadian.reports import TickReport
from cascadian.store import answers
from cascadian.store.arguments import (
    draft_record,
    notification_record,
    outcome_record,
    paper_marks,
    paper_order_record,
    prune_arguments,
    query_record,
    tick_record,
    update_record,
    version_record,
    watchlist_records,
)
from cascadian.store.transport import Json, Transport

if TYPE_CHECKING:
    from cascadian.ports import FullStore


# The statuses a run's own recorded outcome leaves it in.
RECORDED_STATUSES = frozenset({"completed", "failed"})

# Claimed graphs longer than this (in JSON characters, all rows together) are
# decoded off the event loop.
OFF_LOOP_JSON_CHARS = 1_000_000


def _graph_text(rows: list[dict[str, Any]]) -> int:
    fields = ("nodes", "edges", "variables")
    return sum(len(r[f]) for r in rows for f in fields if isinstance(r.get(f), str))


class SqlStore:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @classmethod
    def postgres(cls, conninfo: str, *, pool_size: int = 10, timeout: float = 5.0) -> SqlStore:
        """The store on PostgreSQL through psycopg; `open()` it before use."""
        from cascadian.store.psycopg_transport import PsycopgTransport

        return cls(PsycopgTransport(conninfo, pool_size=pool_size, timeout=timeout))

    @classmethod
    async def supabase(
        cls,
        url: str,
        key: str,
        *,
        request_timeout: httpx.Timeout | float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> SqlStore:
        """The store on Supabase through PostgREST (`transport` replaces the network)."""
        from cascadian.store.postgrest_transport import PostgrestTransport

        return cls(
            await PostgrestTransport.connect(
                url, key, request_timeout=request_timeout, transport=transport
            )
        )

    async def open(self) -> None:
        await self.transport.open()

    async def ping(self) -> None:
        await self.transport.ping()

    async def close(self) -> None:
        await self.transport.close()

    # The tick (migrations/003, 015, the ledger 012): claim, record, release, the ledger.

    async def claim_due(self, now: datetime, limit: int, lease_seconds: float) -> list[ClaimedRun]:
        rows = await self.transport.rows(
            "cascadian_claim_due_v3",
            {"p_now": now, "p_limit": limit, "p_lease_seconds": lease_seconds},
        )
        if _graph_text(rows) > OFF_LOOP_JSON_CHARS:  # decoding would hold up other runs
            return await asyncio.to_thread(lambda: [answers.claimed_run(r, now) for r in rows])
        return [answers.claimed_run(r, now) for r in rows]

    async def finish_runs(
        self, outcomes: Sequence[RunOutcome], pause_threshold: int
    ) -> list[Recorded]:
        """Record a batch in one call, so in one transaction: all of it, or none
        (the recorder isolates a refused outcome by writing singly)."""
        if not outcomes:
            return []
        # Making outputs storable walks all of them: off the event loop, so a run
        # with large outputs never holds up the others.
        records = await asyncio.to_thread(lambda: [outcome_record(o) for o in outcomes])
        try:
            rows = await self.transport.rows(
                "cascadian_finish_runs_v3",
                {"p_outcomes": Json(records), "p_pause_threshold": pause_threshold},
            )
            if len(rows) != len(outcomes):
                raise StoreReplyMalformed(
                    f"{len(outcomes)} outcomes sent to cascadian_finish_runs_v3, "
                    f"{len(rows)} answers came back"
                )
            return [answers.recorded(r) for r in rows]
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
                run = await self.execution(outcome.execution_id)
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
        """The earliest slot of a strategy that is not running now (migrations/016)."""
        value = await self.transport.value("cascadian_next_due_v1", {"p_now": now})
        return answers.dt_or_none(value)

    async def release(self, execution_ids: Sequence[UUID]) -> int:
        if not execution_ids:
            return 0
        return int(
            await self.transport.value(
                "cascadian_release_runs_v1", {"p_execution_ids": list(execution_ids)}
            )
        )

    async def record_tick(self, report: TickReport) -> None:
        # migrations/013: the ledger row takes the tick's own id.
        await self.transport.value(
            "cascadian_record_tick_v3", {"p_tick": Json(tick_record(report))}
        )

    # What nodes write (migrations/004).

    async def add_to_watchlist(
        self, workflow_id: UUID, execution_id: UUID | None, entries: Sequence[WatchlistEntry]
    ) -> tuple[int, int]:
        [row] = await self.transport.rows(
            "cascadian_add_to_watchlist_v1",
            {
                "p_workflow_id": workflow_id,
                "p_execution_id": execution_id,
                "p_entries": Json(watchlist_records(list(entries))),
            },
        )
        return int(row["added"]), int(row["duplicates"])

    async def notify(self, notification: Notification, now: datetime) -> int | None:
        """The new notification's id; None when the owner's settings suppress it."""
        sent = await self.transport.value(
            "cascadian_notify_v2", {"p": Json(notification_record(notification)), "p_now": now}
        )
        return None if sent is None else int(sent)

    # What the original builder's nodes write (migrations/011).

    async def watch_markets(
        self, workflow_id: UUID, execution_id: UUID | None, entries: Sequence[WatchlistEntry]
    ) -> Watched:
        rows = await self.transport.rows(
            "cascadian_watch_markets_v1",
            {
                "p_workflow_id": workflow_id,
                "p_execution_id": execution_id,
                "p_entries": Json(watchlist_records(list(entries))),
            },
        )
        return answers.watched(rows)

    async def record_paper_order(self, order: PaperOrder, now: datetime) -> PaperFill:
        fill = await self.transport.value(
            "cascadian_record_paper_order_v1", {"p": Json(paper_order_record(order)), "p_now": now}
        )
        return answers.paper_fill(fill)

    async def paper_book(
        self, strategy_id: UUID, marks: Sequence[PaperMark], order_limit: int
    ) -> PaperBook | None:
        book = await self.transport.value(
            "cascadian_paper_book_v1",
            {
                "p_workflow_id": strategy_id,
                "p_marks": Json(paper_marks(marks)),
                "p_order_limit": order_limit,
            },
        )
        return None if book is None else answers.paper_book(book)

    # The tick's manual claim (migrations/005, 010) and shutdown (005).

    async def claim_manual(
        self, strategy_id: UUID, now: datetime, lease_seconds: float
    ) -> ManualClaim:
        rows = await self.transport.rows(
            "cascadian_claim_manual_v3",
            {"p_id": strategy_id, "p_now": now, "p_lease_seconds": lease_seconds},
        )
        if len(rows) != 1:
            raise StoreReplyMalformed(
                f"the database's answer to cascadian_claim_manual_v3 is malformed: "
                f"{len(rows)} rows instead of one"
            )
        return answers.manual_claim(rows[0])

    async def cancel_runs(self, execution_ids: Sequence[UUID], reason: str, now: datetime) -> int:
        if not execution_ids:
            return 0
        return int(
            await self.transport.value(
                "cascadian_cancel_runs_v1",
                {"p_execution_ids": list(execution_ids), "p_reason": reason, "p_now": now},
            )
        )

    # The control store (migrations/005; 010 refuses archived strategies): one
    # function call per change, and reads.

    async def _control(self, function: str, args: dict[str, Any]) -> ControlResult:
        return answers.control_result(await self.transport.value(function, args))

    async def start(
        self, strategy_id: UUID, schedule: Schedule, next_execution_at: datetime, now: datetime
    ) -> ControlResult:
        return await self._control(
            "cascadian_start_v3",
            {
                "p_id": strategy_id,
                "p_now": now,
                "p_interval": schedule.interval_minutes,
                "p_cron": schedule.cron,
                "p_timezone": schedule.timezone,
                "p_next": next_execution_at,
            },
        )

    async def pause(self, strategy_id: UUID, now: datetime) -> ControlResult:
        return await self._control(
            "cascadian_halt_v3", {"p_id": strategy_id, "p_status": "paused", "p_now": now}
        )

    async def stop(self, strategy_id: UUID, now: datetime) -> ControlResult:
        return await self._control(
            "cascadian_halt_v3", {"p_id": strategy_id, "p_status": "stopped", "p_now": now}
        )

    async def resume(
        self, strategy_id: UUID, next_execution_at: datetime, now: datetime
    ) -> ControlResult:
        return await self._control(
            "cascadian_resume_v3", {"p_id": strategy_id, "p_now": now, "p_next": next_execution_at}
        )

    async def _strategies(
        self, now: datetime, strategy_id: UUID | None, limit: int, offset: int
    ) -> list[StrategyStatus]:
        rows = await self.transport.rows(
            "cascadian_strategies_v1",
            {"p_now": now, "p_id": strategy_id, "p_limit": limit, "p_offset": offset},
        )
        return [answers.strategy_status(r) for r in rows]

    async def strategy_status(self, strategy_id: UUID, now: datetime) -> StrategyStatus | None:
        found = await self._strategies(now, strategy_id, 1, 0)
        return found[0] if found else None

    async def list_strategies(
        self, now: datetime, limit: int, offset: int = 0
    ) -> list[StrategyStatus]:
        return await self._strategies(now, None, limit, offset)

    async def executions(self, strategy_id: UUID, limit: int, offset: int) -> ExecutionPage | None:
        page = await self.transport.value(
            "cascadian_executions_v1",
            {"p_workflow_id": strategy_id, "p_limit": limit, "p_offset": offset},
        )
        return None if page is None else answers.execution_page(page)

    async def execution(self, execution_id: UUID) -> ExecutionDetail | None:
        run = await self.transport.value("cascadian_execution_v2", {"p_id": execution_id})
        return None if run is None else answers.execution_detail(run)

    async def ticks(self, limit: int) -> list[TickEntry]:
        # migrations/012
        rows = await self.transport.rows("cascadian_ticks_v2", {"p_limit": limit})
        return [answers.tick_entry(r) for r in rows]

    # The console's reads (migrations/017).

    async def console_overview(self, now: datetime) -> ConsoleOverview:
        return answers.console_overview(
            await self.transport.value("cascadian_console_overview_v1", {"p_now": now})
        )

    async def console_strategies(
        self, now: datetime, filter: str, search: str | None, sort: str, limit: int, offset: int
    ) -> StrategyList:
        rows = await self.transport.rows(
            "cascadian_console_strategies_v1",
            {
                "p_now": now,
                "p_filter": filter,
                "p_search": search,
                "p_sort": sort,
                "p_limit": limit,
                "p_offset": offset,
            },
        )
        return answers.strategy_list(rows)

    async def notifications(
        self, strategy_id: UUID | None, limit: int, offset: int
    ) -> NotificationPage:
        page = await self.transport.value(
            "cascadian_console_notifications_v1",
            {"p_workflow_id": strategy_id, "p_limit": limit, "p_offset": offset},
        )
        return answers.notification_page(page)

    async def paper_orders(self, limit: int, offset: int) -> PaperOrderPage:
        page = await self.transport.value(
            "cascadian_console_paper_orders_v1", {"p_limit": limit, "p_offset": offset}
        )
        return answers.paper_order_page(page)

    # Retention, schedule lag and the gauges (migrations/013).

    async def prune(
        self,
        now: datetime,
        policy: RetentionPolicy,
        dry_run: bool = False,
        after: UUID | None = None,
    ) -> PruneResult:
        rows = await self.transport.rows(
            "cascadian_prune_v1", prune_arguments(now, policy, dry_run, after)
        )
        return answers.prune_result(rows)

    async def schedule_lag(self, strategy_id: UUID, runs: int) -> ScheduleLag:
        rows = await self.transport.rows(
            "cascadian_schedule_lag_v1", {"p_id": strategy_id, "p_limit": runs}
        )
        return answers.schedule_lag(rows)

    async def backlog(self, now: datetime) -> Backlog:
        rows = await self.transport.rows("cascadian_backlog_v1", {"p_now": now})
        return answers.backlog(rows)

    async def gauges(self, now: datetime) -> Gauges:
        return answers.gauges(await self.transport.value("cascadian_metrics_v1", {"p_now": now}))

    # Strategies as a resource (migrations/010): each change one function call.

    async def create_strategy(
        self, draft: StrategyDraft, start: bool, next_execution_at: datetime | None, now: datetime
    ) -> UUID:
        new_id = await self.transport.value(
            "cascadian_create_strategy_v1",
            {"p": Json(draft_record(draft, start, next_execution_at)), "p_now": now},
        )
        return UUID(str(new_id))

    async def strategy(self, strategy_id: UUID, now: datetime) -> StrategyDetail | None:
        found = await self.transport.value(
            "cascadian_strategy_v1", {"p_id": strategy_id, "p_now": now}
        )
        return None if found is None else answers.strategy_detail(found)

    async def strategies(self, query: StrategyQuery, now: datetime) -> StrategyPage:
        page = await self.transport.value(
            "cascadian_list_strategies_v1", {"p": Json(query_record(query)), "p_now": now}
        )
        return answers.strategy_page(page)

    async def new_version(
        self,
        strategy_id: UUID,
        changes: StrategyChanges,
        schedule: Schedule | None,
        next_execution_at: datetime | None,
        now: datetime,
    ) -> tuple[ControlResult, UUID | None]:
        record = version_record(changes, schedule, next_execution_at)
        [row] = await self.transport.rows(
            "cascadian_new_version_v1", {"p_id": strategy_id, "p": Json(record), "p_now": now}
        )
        return answers.new_version(row)

    async def update_strategy(
        self,
        strategy_id: UUID,
        changes: StrategyChanges,
        schedule: Schedule | None,
        next_execution_at: datetime | None,
        now: datetime,
    ) -> ControlResult:
        return await self._control(
            "cascadian_update_strategy_v1",
            {
                "p_id": strategy_id,
                "p": Json(update_record(changes, schedule, next_execution_at)),
                "p_now": now,
            },
        )

    async def archive_strategy(self, strategy_id: UUID, now: datetime) -> ControlResult:
        return await self._control(
            "cascadian_archive_strategy_v1", {"p_id": strategy_id, "p_now": now}
        )


if TYPE_CHECKING:

    def _implements(store: SqlStore) -> FullStore:
        """The ports this store implements (Store and ControlStore), checked by mypy."""
        return store
