"""The store's transport on PostgreSQL, through psycopg 3 and a connection pool.

Each call is one statement calling one SQL function, with named arguments, on
an autocommit connection: one transaction per state change, and no session
state or server-side prepared statements, so Supabase's transaction pooler works.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb, set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from cascadian.errors import StoreRejected, StoreUnavailable
from cascadian.store.readers import loads_json
from cascadian.store.transport import Args, Json, JsonText

log = logging.getLogger(__name__)

_SCHEMA_ERRORS = (
    psycopg.errors.UndefinedFunction,
    psycopg.errors.UndefinedTable,
    psycopg.errors.UndefinedColumn,
)


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    """json and jsonb read as json.loads reads them, mostly by orjson (readers.py)."""
    set_json_loads(loads_json, conn)


class PsycopgTransport:
    def __init__(self, conninfo: str, *, pool_size: int = 10, timeout: float = 5.0) -> None:
        self._timeout = timeout
        self._conninfo = conninfo
        self._refills: set[asyncio.Task[None]] = set()
        # At most one connection beyond the pool: the fallback below must not let a
        # burst of requests (health checks need no secret) open one each.
        self._direct = asyncio.Semaphore(1)
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
            configure=_configure,
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
            raise StoreUnavailable(f"database unavailable: {_cause(exc)}") from exc
        except psycopg.Error as exc:  # the statement failed; its transaction rolled back
            detail = exc.diag.message_primary or type(exc).__name__
            raise StoreRejected(f"database error: {detail}") from exc

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; if the pool has none to give in time (after an outage
        it backs off between reconnection attempts for seconds), the one spare direct
        connection, so the first tick after the database is back succeeds. Callers
        queue for the spare, and give up with StoreUnavailable after the timeout:
        connections stay <= pool + 1."""
        try:
            async with self._pool.connection() as conn:
                yield conn
            return
        except PoolTimeout:
            pass
        try:
            # Wait for the spare as long as for the pool: right after an outage the
            # claim and a record may both need it, one after the other.
            await asyncio.wait_for(self._direct.acquire(), self._timeout)
        except TimeoutError:
            raise StoreUnavailable(
                f"database busy: all {self._pool.max_size} pooled connections and the "
                "spare one are in use"
            ) from None
        try:
            conn = await psycopg.AsyncConnection.connect(self._conninfo, **self._kwargs)
            await _configure(conn)
            # The database answers again: let the pool refill now rather than after
            # its back-off (a no-op when it is merely busy).
            task = asyncio.get_running_loop().create_task(self._pool.check())
            self._refills.add(task)
            task.add_done_callback(self._refills.discard)
            async with conn:
                yield conn
        finally:
            self._direct.release()

    async def ping(self) -> None:
        await self.execute("select 1 as ok", ())

    async def rows(self, function: str, args: Args) -> list[dict[str, Any]]:
        return await self.execute(_call(function, tuple(args), "rows"), _params(args))

    async def value(self, function: str, args: Args) -> Any:
        [row] = await self.execute(_call(function, tuple(args), "value"), _params(args))
        return row["value"]

    async def execute(
        self, query: str, params: Sequence[Any] | dict[str, Any]
    ) -> list[dict[str, Any]]:
        """One statement's rows; StoreUnavailable / StoreRejected when it fails."""
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


def _cause(exc: Exception) -> str:
    """The driver's reason on one line ("connection failed: ... Connection refused"):
    libpq's messages name the host and port, never the password."""
    first = " ".join(str(exc).split("\n", 1)[0].split())
    return f"{first[:200]} ({type(exc).__name__})" if first else type(exc).__name__


@cache
def _call(function: str, names: tuple[str, ...], kind: str) -> str:
    """`select * from f(a => %(a)s, ...)` for rows, `select f(...) as value` for a value."""
    call = f"{function}({', '.join(f'{n} => %({n})s' for n in names)})"
    return f"select * from {call}" if kind == "rows" else f"select {call} as value"


def _params(args: Args) -> dict[str, Any]:
    return {k: _param(v) for k, v in args.items()}


def _param(value: Any) -> Any:
    if isinstance(value, Json):
        return Jsonb(value.value)
    if isinstance(value, JsonText):
        return Jsonb(value.text, dumps=_as_is)
    return value


def _as_is(text: bytes) -> bytes:
    return text
