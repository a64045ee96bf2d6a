"""The store port on Supabase, through PostgREST with supabase-py's async client.

Every state change is one `.rpc()` call to the same SQL function the Postgres
store calls (migrations/003-005), so each is one transaction in the database
and atomicity lives in the SQL, not here. Nothing reads a row over PostgREST
and writes it back.

The client uses the service-role key (or an `sb_secret_…` key): it bypasses
row-level security, and only it may execute the state-changing functions
(migrations/006). It is created once, with our own httpx client, whose timeout
keeps every call well inside the tick budget.

Errors: a PostgREST error (`postgrest.APIError`) or a transport error (connect,
read, timeout) becomes StoreUnavailable: the tick answers 503, and since each
call is one SQL transaction, nothing is half-written. Messages never carry the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import httpx
from postgrest import APIError
from supabase import AsyncClient, AsyncClientOptions, acreate_client

from cascadian.data import (
    ClaimedRun,
    ControlResult,
    ExecutionDetail,
    ExecutionPage,
    ManualClaim,
    Notification,
    Recorded,
    RunOutcome,
    Schedule,
    StrategyStatus,
    TickEntry,
    WatchlistEntry,
)
from cascadian.errors import StoreRejected, StoreUnavailable
from cascadian.outcome import to_record
from cascadian.ports import FullStore
from cascadian.reports import TickReport
from cascadian.store.rows import (
    claimed_run,
    control_result,
    execution_detail,
    execution_page,
    manual_claim,
    notification_record,
    strategy_status,
    tick_entry,
    tick_record,
)

# PostgREST's codes for "no such function/table in the schema cache" and
# PostgreSQL's for an undefined function/table: the migrations are not applied.
_SCHEMA_CODES = {"PGRST202", "PGRST205", "42883", "42P01"}
# SQLSTATE classes that say the database itself is unwell (08 connection, 53
# resources, 57 operator intervention or timeout, 58 system). Any other SQLSTATE
# means this statement failed on its data and would fail again as it is.
_UNAVAILABLE_CLASSES = {"08", "53", "57", "58"}


class SupabaseStore:
    def __init__(self, client: AsyncClient, http: httpx.AsyncClient, key: str) -> None:
        self._client = client
        self._http = http
        self._key = key

    @classmethod
    async def connect(
        cls,
        url: str,
        key: str,
        *,
        request_timeout: httpx.Timeout | float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> SupabaseStore:
        """Create the client once: our httpx client, no session, no token refresh, no retries.

        `transport` replaces the network (tests route PostgREST calls to a real database).
        """
        http = httpx.AsyncClient(timeout=request_timeout, transport=transport)
        options = AsyncClientOptions(
            httpx_client=http,
            auto_refresh_token=False,
            persist_session=False,
            # A retried read sleeps 1, 2, 4 s: the tick budget is better spent
            # answering 503 and letting the next tick try again.
            postgrest_client_retry=False,
        )
        try:
            client = await acreate_client(url, key, options=options)
        except Exception:
            await http.aclose()
            raise
        return cls(client, http, key)

    async def close(self) -> None:
        await self._http.aclose()

    def _unavailable(self, what: str, exc: Exception) -> StoreUnavailable:
        if isinstance(exc, APIError):
            code, message = exc.code or "", exc.message or ""
            if code in _SCHEMA_CODES:
                text = (
                    f"the database schema is out of date ({message}): "
                    "run `cascadian migrate` (PostgREST reloads its schema cache after DDL)"
                )
            elif code in {"401", "403", "42501"} or "api key" in message.lower():
                text = (
                    f"supabase refused {what} ({code}: {message}): check SUPABASE_SERVICE_ROLE_KEY"
                )
            else:
                text = f"database error in {what}: {code}: {message}"
                is_sqlstate = len(code) == 5 and not code.startswith("PGRST")
                if is_sqlstate and code[:2] not in _UNAVAILABLE_CLASSES:
                    return StoreRejected(self._redact(text))
        else:
            text = f"database unavailable: supabase {type(exc).__name__}"
        return StoreUnavailable(self._redact(text))

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "[redacted]") if self._key else text

    async def _rpc(self, fn: str, params: dict[str, Any]) -> Any:
        """POST /rest/v1/rpc/<fn> with the arguments by name; the function's JSON answer."""
        try:
            response = await self._client.rpc(fn, params).execute()
        except (APIError, httpx.TransportError) as exc:
            raise self._unavailable(fn, exc) from exc
        return response.data

    async def _rows(self, fn: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows of a set-returning function."""
        data = await self._rpc(fn, params)
        if not isinstance(data, list):
            raise StoreUnavailable(f"database error in {fn}: expected rows, got {type(data)}")
        return data

    async def ping(self) -> None:
        try:
            await self._client.table("workflow_sessions").select("id").limit(1).execute()
        except (APIError, httpx.TransportError) as exc:
            raise self._unavailable("ping", exc) from exc

    async def claim_due(self, now: datetime, limit: int, lease_seconds: float) -> list[ClaimedRun]:
        rows = await self._rows(
            "cascadian_claim_due_v1",
            {"p_now": now.isoformat(), "p_limit": limit, "p_lease_seconds": lease_seconds},
        )
        return [claimed_run(r) for r in rows]

    async def finish_runs(
        self, outcomes: Sequence[RunOutcome], pause_threshold: int
    ) -> list[Recorded]:
        """Record a batch in one call, so in one transaction: all of it, or none.

        As with the Postgres store, a failed batch raises StoreUnavailable with
        nothing written; the caller isolates outcomes by recording each run with
        its own call (the tick) or by writing a failed batch again one outcome
        at a time (cascadian/recorder.py).
        """
        if not outcomes:
            return []
        rows = await self._rows(
            "cascadian_finish_runs_v1",
            {"p_outcomes": [to_record(o) for o in outcomes], "p_pause_threshold": pause_threshold},
        )
        return [
            Recorded(UUID(r["execution_id"]), bool(r["accepted"]), bool(r["auto_paused"]))
            for r in rows
        ]

    async def release(self, execution_ids: Sequence[UUID]) -> int:
        if not execution_ids:
            return 0
        released = await self._rpc(
            "cascadian_release_runs_v1", {"p_execution_ids": [str(i) for i in execution_ids]}
        )
        return int(released)

    async def record_tick(self, report: TickReport) -> None:
        await self._rpc("cascadian_record_tick_v1", {"p_tick": tick_record(report)})

    async def add_to_watchlist(
        self, workflow_id: UUID, execution_id: UUID | None, entries: Sequence[WatchlistEntry]
    ) -> tuple[int, int]:
        [row] = await self._rows(
            "cascadian_add_to_watchlist_v1",
            {
                "p_workflow_id": str(workflow_id),
                "p_execution_id": str(execution_id) if execution_id else None,
                "p_entries": [asdict(e) for e in entries],
            },
        )
        return int(row["added"]), int(row["duplicates"])

    async def notify(self, notification: Notification) -> int:
        return int(await self._rpc("cascadian_notify_v1", {"p": notification_record(notification)}))

    # The tick's manual claim and shutdown (migrations/005).

    async def claim_manual(
        self, strategy_id: UUID, now: datetime, lease_seconds: float
    ) -> ManualClaim:
        [row] = await self._rows(
            "cascadian_claim_manual_v1",
            {"p_id": str(strategy_id), "p_now": now.isoformat(), "p_lease_seconds": lease_seconds},
        )
        return manual_claim(row)

    async def cancel_runs(self, execution_ids: Sequence[UUID], reason: str, now: datetime) -> int:
        if not execution_ids:
            return 0
        cancelled = await self._rpc(
            "cascadian_cancel_runs_v1",
            {
                "p_execution_ids": [str(i) for i in execution_ids],
                "p_reason": reason,
                "p_now": now.isoformat(),
            },
        )
        return int(cancelled)

    # The control store (migrations/005): one function call per change, and reads.

    async def _control(self, fn: str, params: dict[str, Any]) -> ControlResult:
        return control_result(await self._rpc(fn, params))

    async def start(
        self, strategy_id: UUID, schedule: Schedule, next_execution_at: datetime, now: datetime
    ) -> ControlResult:
        return await self._control(
            "cascadian_start_v1",
            {
                "p_id": str(strategy_id),
                "p_now": now.isoformat(),
                "p_interval": schedule.interval_minutes,
                "p_cron": schedule.cron,
                "p_timezone": schedule.timezone,
                "p_next": next_execution_at.isoformat(),
            },
        )

    async def pause(self, strategy_id: UUID) -> ControlResult:
        return await self._control(
            "cascadian_halt_v1", {"p_id": str(strategy_id), "p_status": "paused"}
        )

    async def stop(self, strategy_id: UUID) -> ControlResult:
        return await self._control(
            "cascadian_halt_v1", {"p_id": str(strategy_id), "p_status": "stopped"}
        )

    async def resume(
        self, strategy_id: UUID, next_execution_at: datetime, now: datetime
    ) -> ControlResult:
        return await self._control(
            "cascadian_resume_v1",
            {
                "p_id": str(strategy_id),
                "p_now": now.isoformat(),
                "p_next": next_execution_at.isoformat(),
            },
        )

    async def _strategies(
        self, now: datetime, strategy_id: UUID | None, limit: int, offset: int
    ) -> list[StrategyStatus]:
        rows = await self._rows(
            "cascadian_strategies_v1",
            {
                "p_now": now.isoformat(),
                "p_id": str(strategy_id) if strategy_id else None,
                "p_limit": limit,
                "p_offset": offset,
            },
        )
        return [strategy_status(r) for r in rows]

    async def strategy_status(self, strategy_id: UUID, now: datetime) -> StrategyStatus | None:
        found = await self._strategies(now, strategy_id, 1, 0)
        return found[0] if found else None

    async def list_strategies(
        self, now: datetime, limit: int, offset: int = 0
    ) -> list[StrategyStatus]:
        return await self._strategies(now, None, limit, offset)

    async def executions(self, strategy_id: UUID, limit: int, offset: int) -> ExecutionPage | None:
        page = await self._rpc(
            "cascadian_executions_v1",
            {"p_workflow_id": str(strategy_id), "p_limit": limit, "p_offset": offset},
        )
        return None if page is None else execution_page(page)

    async def execution(self, execution_id: UUID) -> ExecutionDetail | None:
        run = await self._rpc("cascadian_execution_v1", {"p_id": str(execution_id)})
        return None if run is None else execution_detail(run)

    async def ticks(self, limit: int) -> list[TickEntry]:
        rows = await self._rows("cascadian_ticks_v1", {"p_limit": limit})
        return [tick_entry(r) for r in rows]


if TYPE_CHECKING:

    def _implements(store: SupabaseStore) -> FullStore:
        """The ports this adapter implements (Store and ControlStore), checked by mypy."""
        return store
