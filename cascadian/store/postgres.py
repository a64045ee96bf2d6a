"""The store port on PostgreSQL, through psycopg 3 and a connection pool.

Each method is one statement calling one SQL function (migrations/003-005), on an
autocommit connection: one transaction per state change, and no session state
or server-side prepared statements, so Supabase's transaction pooler works.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

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

log = logging.getLogger(__name__)

_SCHEMA_ERRORS = (
    psycopg.errors.UndefinedFunction,
    psycopg.errors.UndefinedTable,
    psycopg.errors.UndefinedColumn,
)


class PostgresStore:
    def __init__(self, conninfo: str, *, pool_size: int = 10, timeout: float = 5.0) -> None:
        self._timeout = timeout
        self._conninfo = conninfo
        self._refills: set[asyncio.Task[None]] = set()
        self._kwargs: dict[str, Any] = {
            "autocommit": True,
            "prepare_threshold": None,
            "row_factory": dict_row,
            "connect_timeout": max(1, int(timeout)),
        }
        self._pool = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            timeout=timeout,
            open=False,
            kwargs=self._kwargs,
        )

    async def open(self) -> None:
        # wait=False: a database that is down at start-up makes ticks answer
        # 503 until it is back, instead of the app failing to boot.
        await self._pool.open(wait=False)

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        try:
            async with self._connection() as conn:
                yield conn
        except _SCHEMA_ERRORS as exc:
            raise StoreUnavailable(
                f"the database schema is out of date ({exc.diag.message_primary}): "
                "run `cascadian migrate`"
            ) from exc
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            raise StoreUnavailable(f"database unavailable: {type(exc).__name__}") from exc
        except psycopg.Error as exc:  # the statement failed; its transaction rolled back
            detail = exc.diag.message_primary or type(exc).__name__
            raise StoreRejected(f"database error: {detail}") from exc

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; if the pool has none to give in time (after an outage
        it backs off between reconnection attempts for seconds), one direct
        connection, so the first tick after the database is back succeeds."""
        try:
            async with self._pool.connection() as conn:
                yield conn
            return
        except PoolTimeout:
            pass
        conn = await psycopg.AsyncConnection.connect(self._conninfo, **self._kwargs)
        # The database answers again: let the pool refill now rather than after
        # its back-off (a no-op when it is merely busy).
        task = asyncio.get_running_loop().create_task(self._pool.check())
        self._refills.add(task)
        task.add_done_callback(self._refills.discard)
        async with conn:
            yield conn

    async def _rows(self, query: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        async with self._conn() as conn:
            try:
                # A statement that hangs (a lock, a stalled network) must not hold
                # the tick past its budget; cancelling it rolls it back.
                async with asyncio.timeout(self._timeout):
                    cur = await conn.execute(query, params)
                    return await cur.fetchall()
            except TimeoutError as exc:
                raise StoreUnavailable(
                    f"database did not answer within {self._timeout:g}s"
                ) from exc

    async def ping(self) -> None:
        await self._rows("select 1 as ok", ())

    async def claim_due(self, now: datetime, limit: int, lease_seconds: float) -> list[ClaimedRun]:
        rows = await self._rows(
            "select * from cascadian_claim_due_v1(%s, %s, %s)", (now, limit, lease_seconds)
        )
        return [claimed_run(r) for r in rows]

    async def finish_runs(
        self, outcomes: Sequence[RunOutcome], pause_threshold: int
    ) -> list[Recorded]:
        rows = await self._rows(
            "select * from cascadian_finish_runs_v1(%s, %s)",
            (Jsonb([to_record(o) for o in outcomes]), pause_threshold),
        )
        return [Recorded(r["execution_id"], r["accepted"], r["auto_paused"]) for r in rows]

    async def release(self, execution_ids: Sequence[UUID]) -> int:
        if not execution_ids:
            return 0
        rows = await self._rows(
            "select cascadian_release_runs_v1(%s) as released", (list(execution_ids),)
        )
        return int(rows[0]["released"])

    async def record_tick(self, report: TickReport) -> None:
        await self._rows("select cascadian_record_tick_v1(%s) as id", (Jsonb(tick_record(report)),))

    async def add_to_watchlist(
        self, workflow_id: UUID, execution_id: UUID | None, entries: Sequence[WatchlistEntry]
    ) -> tuple[int, int]:
        [row] = await self._rows(
            "select * from cascadian_add_to_watchlist_v1(%s, %s, %s)",
            (workflow_id, execution_id, Jsonb([asdict(e) for e in entries])),
        )
        return int(row["added"]), int(row["duplicates"])

    async def notify(self, notification: Notification) -> int:
        [row] = await self._rows(
            "select cascadian_notify_v1(%s) as id", (Jsonb(notification_record(notification)),)
        )
        return int(row["id"])

    # The tick's manual claim and shutdown (migrations/005).

    async def claim_manual(
        self, strategy_id: UUID, now: datetime, lease_seconds: float
    ) -> ManualClaim:
        [row] = await self._rows(
            "select * from cascadian_claim_manual_v1(%s, %s, %s)",
            (strategy_id, now, lease_seconds),
        )
        return manual_claim(row)

    async def cancel_runs(self, execution_ids: Sequence[UUID], reason: str, now: datetime) -> int:
        if not execution_ids:
            return 0
        rows = await self._rows(
            "select cascadian_cancel_runs_v1(%s, %s, %s) as cancelled",
            (list(execution_ids), reason, now),
        )
        return int(rows[0]["cancelled"])

    # The control store (migrations/005): one function call per change, and reads.

    async def _control(self, query: str, params: Sequence[Any]) -> ControlResult:
        [row] = await self._rows(f"select {query} as result", params)
        return control_result(row["result"])

    async def start(
        self, strategy_id: UUID, schedule: Schedule, next_execution_at: datetime, now: datetime
    ) -> ControlResult:
        return await self._control(
            "cascadian_start_v1(%s, %s, %s, %s, %s, %s)",
            (
                strategy_id,
                now,
                schedule.interval_minutes,
                schedule.cron,
                schedule.timezone,
                next_execution_at,
            ),
        )

    async def pause(self, strategy_id: UUID) -> ControlResult:
        return await self._control("cascadian_halt_v1(%s, 'paused')", (strategy_id,))

    async def stop(self, strategy_id: UUID) -> ControlResult:
        return await self._control("cascadian_halt_v1(%s, 'stopped')", (strategy_id,))

    async def resume(
        self, strategy_id: UUID, next_execution_at: datetime, now: datetime
    ) -> ControlResult:
        return await self._control(
            "cascadian_resume_v1(%s, %s, %s)", (strategy_id, now, next_execution_at)
        )

    async def strategy_status(self, strategy_id: UUID, now: datetime) -> StrategyStatus | None:
        rows = await self._rows(
            "select * from cascadian_strategies_v1(%s, %s, 1, 0)", (now, strategy_id)
        )
        return strategy_status(rows[0]) if rows else None

    async def list_strategies(
        self, now: datetime, limit: int, offset: int = 0
    ) -> list[StrategyStatus]:
        rows = await self._rows(
            "select * from cascadian_strategies_v1(%s, null, %s, %s)", (now, limit, offset)
        )
        return [strategy_status(r) for r in rows]

    async def executions(self, strategy_id: UUID, limit: int, offset: int) -> ExecutionPage | None:
        [row] = await self._rows(
            "select cascadian_executions_v1(%s, %s, %s) as page", (strategy_id, limit, offset)
        )
        return None if row["page"] is None else execution_page(row["page"])

    async def execution(self, execution_id: UUID) -> ExecutionDetail | None:
        [row] = await self._rows("select cascadian_execution_v1(%s) as run", (execution_id,))
        return None if row["run"] is None else execution_detail(row["run"])

    async def ticks(self, limit: int) -> list[TickEntry]:
        rows = await self._rows("select * from cascadian_ticks_v1(%s)", (limit,))
        return [tick_entry(r) for r in rows]
