"""A stand-in for Supabase's Data API (PostgREST) that runs the real SQL.

respx routes catch what the store sends PostgREST and answer it from the real test
database, the way PostgREST would:

- `POST {url}/rest/v1/rpc/<fn>`: calls `public.<fn>` with the JSON body's keys as
  named arguments. Like PostgREST, the body goes to the database as one JSON
  value and `json_to_record` turns it into arguments of the types the function
  declares (read from pg_proc: our "schema cache"), so JSON → uuid[], jsonb,
  timestamptz conversions are PostgreSQL's own. The call runs in one transaction.
  The answer is built in the database too: `json_agg` of the rows (a JSON array
  of row objects) for a set-returning function, `to_json` of the value for a
  scalar one. Timestamps therefore come back as PostgreSQL writes them in JSON
  (ISO 8601 with offset) and uuids as strings.
- `GET {url}/rest/v1/<table>?select=a,b&<col>=eq.<v>&order=<col>.desc&limit=n&offset=n`:
  a plain read, with only those query parameters.
- The API gateway's key check: `apikey` must be the key, and `Authorization`
  `Bearer <key>`; otherwise 401.
- SQL errors become PostgREST's error JSON `{code, message, details, hint}` with
  the HTTP status PostgREST gives that SQLSTATE; an unknown function is 404
  PGRST202, an unknown table 404 PGRST205.

Not emulated (tests that need these must use a real Supabase):
- authentication and authorization: no JWT is decoded or verified, no role is
  switched to (every call runs as the test database's superuser, which, like
  `service_role`, bypasses row-level security), no `request.jwt.claims` are set,
  so RLS policies and function grants are not exercised here (tests/
  test_supabase_security.py proves those directly in SQL);
- the schema cache's staleness: functions are looked up on every call, so a
  migration is visible at once (real PostgREST reloads on a NOTIFY);
- `Prefer` headers (count, return, tx=rollback, params=single-object), `Range`
  and `Content-Range`, `Accept` variants (CSV, single object, `nulls=stripped`),
  GET/HEAD rpc calls, the filter grammar beyond `eq`, embedding, and writes
  over tables (the store makes none);
- overloaded functions by argument types (only by argument names), variadic
  arguments, and functions returning composite scalars;
- the pooler, network latency and timeouts, HTTP/2, and the gateway's rate limits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import respx
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from cascadian.store.sql_store import SqlStore

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# The HTTP status PostgREST answers for a SQLSTATE (exact codes first, then classes).
_STATUS_BY_CODE = {
    "23503": 409,
    "23505": 409,
    "25006": 405,
    "42883": 404,
    "42P01": 404,
    "42P17": 500,
    "42501": 403,
    "P0001": 400,
}
_STATUS_BY_CLASS = {
    "08": 503,
    "09": 500,
    "0L": 403,
    "0P": 403,
    "25": 500,
    "28": 403,
    "2D": 500,
    "38": 500,
    "39": 500,
    "3B": 500,
    "40": 500,
    "53": 503,
    "54": 500,
    "55": 500,
    "57": 500,
    "58": 500,
    "F0": 500,
    "HV": 500,
    "P0": 500,
    "XX": 500,
}


def postgrest_status(sqlstate: str) -> int:
    return _STATUS_BY_CODE.get(sqlstate) or _STATUS_BY_CLASS.get(sqlstate[:2], 400)


def error(
    status: int, code: str, message: str, details: Any = None, hint: Any = None
) -> httpx.Response:
    body = {"code": code, "details": details, "hint": hint, "message": message}
    return httpx.Response(status, json=body)


@dataclass(frozen=True)
class _Function:
    returns_set: bool
    args: dict[str, str]  # input argument name -> type, in declaration order


_FUNCTIONS = """
select
    p.proretset as returns_set,
    p.pronargdefaults as defaults,
    coalesce(array_agg(a.name order by a.pos) filter (where a.mode in ('i', 'b')), '{}') as names,
    coalesce(
        array_agg(format_type(a.type, null) order by a.pos) filter (where a.mode in ('i', 'b')),
        '{}'
    ) as types
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
left join lateral unnest(
    coalesce(p.proallargtypes, p.proargtypes::oid[]),
    p.proargnames,
    coalesce(p.proargmodes, array_fill('i'::"char", array[p.pronargs]))
) with ordinality as a (type, name, mode, pos) on true
where n.nspname = %s and p.proname = %s
group by p.oid
"""


class PostgrestForwarder:
    """respx side effects answering the PostgREST client's requests from a real PostgreSQL."""

    def __init__(self, conninfo: str, *, url: str, key: str, schema: str = "public") -> None:
        self.url, self.key, self.schema = url, key, schema
        # Like PostgREST's own pool: concurrent requests run concurrently.
        self._pool = AsyncConnectionPool(
            conninfo, min_size=1, max_size=20, open=False, kwargs={"autocommit": True}
        )

    async def open(self) -> None:
        await self._pool.open()

    async def close(self) -> None:
        await self._pool.close()

    def install(self, router: respx.MockRouter) -> respx.MockRouter:
        """Add the forwarding routes (after any the caller added, which win)."""
        router.post(path__regex=r"^/rest/v1/rpc/(?P<fn>[^/]+)$", name="rpc").mock(
            side_effect=self.rpc
        )
        router.get(path__regex=r"^/rest/v1/(?P<table>[^/]+)$", name="select").mock(
            side_effect=self.select
        )
        return router

    def router(self) -> respx.MockRouter:
        return self.install(respx.MockRouter(base_url=self.url, assert_all_called=False))

    @staticmethod
    def transport(router: respx.MockRouter) -> httpx.MockTransport:
        return httpx.MockTransport(router.async_handler)

    async def store(self, router: respx.MockRouter | None = None, key: str = "") -> SqlStore:
        """A SqlStore whose requests go to `router` (default: only the forwarder)."""
        return await SqlStore.supabase(
            self.url,
            key or self.key,
            request_timeout=5.0,
            transport=self.transport(router or self.router()),
        )

    def _refused(self, request: httpx.Request) -> httpx.Response | None:
        if request.headers.get("apikey") != self.key:
            return error(401, "401", "Invalid API key", hint="Double check your Supabase key.")
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return error(401, "PGRST301", "JWSError JWSInvalidSignature")
        return None

    async def rpc(self, request: httpx.Request, fn: str) -> httpx.Response:
        if refused := self._refused(request):
            return refused
        try:
            args = json.loads(request.content or b"{}")
        except ValueError:
            return error(400, "PGRST102", "Empty or invalid json")
        if not isinstance(args, dict):
            return error(400, "PGRST102", "Expected a JSON object of named arguments")
        async with self._pool.connection() as conn:
            found = await self._function(conn, fn, set(args))
            if found is None:
                names = ", ".join(sorted(args))
                return error(
                    404,
                    "PGRST202",
                    f"Could not find the function {self.schema}.{fn}({names}) in the schema cache",
                )
            query = self._call(fn, found, [n for n in found.args if n in args])
            return await self._answer(conn, query, [json.dumps(args)])

    async def _function(
        self, conn: psycopg.AsyncConnection[Any], fn: str, keys: set[str]
    ) -> _Function | None:
        if not _NAME.match(fn):
            return None
        cur = await conn.execute(_FUNCTIONS, (self.schema, fn))
        for returns_set, defaults, names, types in await cur.fetchall():
            args = dict(zip(names, types, strict=True))
            required = frozenset(names[: len(names) - defaults])
            # PostgREST picks the overload whose argument names fit the body's keys.
            if required <= keys <= set(args):
                return _Function(returns_set, args)
        return None

    def _call(self, fn: str, f: _Function, given: list[str]) -> sql.Composed:
        call = sql.SQL("{}({})").format(
            sql.Identifier(self.schema, fn),
            sql.SQL(", ").join(sql.SQL("{0} => _a.{0}").format(sql.Identifier(n)) for n in given),
        )
        if given:
            record = sql.SQL("json_to_record(%s::json) as _a ({})").format(
                sql.SQL(", ").join(
                    # The type is PostgreSQL's own format_type() text.
                    sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(f.args[n]))
                    for n in given
                )
            )
        else:
            record = sql.SQL("(select %s::json) as _a")
        if f.returns_set:
            return sql.SQL(
                "select coalesce(json_agg(_t), '[]')::text from {}, lateral {} _t"
            ).format(record, call)
        return sql.SQL("select to_json({})::text from {}").format(call, record)

    async def select(self, request: httpx.Request, table: str) -> httpx.Response:
        if refused := self._refused(request):
            return refused
        if not _NAME.match(table):
            return error(404, "PGRST205", f"Could not find the table '{self.schema}.{table}'")
        params = request.url.params
        columns = params.get("select", "*")
        if columns == "*":
            selected: sql.Composable = sql.SQL("*")
        elif all(_NAME.match(c) for c in columns.split(",")):
            selected = sql.SQL(", ").join(sql.Identifier(c) for c in columns.split(","))
        else:
            return error(400, "PGRST100", f"select={columns} is not emulated")
        where: list[sql.Composable] = []
        values: list[Any] = []
        for name, value in params.multi_items():
            if name in {"select", "order", "limit", "offset"}:
                continue
            if not (_NAME.match(name) and value.startswith("eq.")):
                return error(400, "PGRST100", f"the filter {name}={value} is not emulated")
            where.append(sql.SQL("{}::text = %s").format(sql.Identifier(name)))
            values.append(value.removeprefix("eq."))
        query = sql.SQL("select {} from {}").format(selected, sql.Identifier(self.schema, table))
        if where:
            query += sql.SQL(" where ") + sql.SQL(" and ").join(where)
        if order := params.get("order"):
            column, _, direction = order.partition(".")
            if not _NAME.match(column) or direction not in {"", "asc", "desc"}:
                return error(400, "PGRST100", f"order={order} is not emulated")
            query += sql.SQL(" order by {} {}").format(
                sql.Identifier(column), sql.SQL(direction or "asc")
            )
        for clause in ("limit", "offset"):
            if (n := params.get(clause)) is not None:
                query += sql.SQL(f" {clause} {{}}").format(sql.Literal(int(n)))
        wrapped = sql.SQL("select coalesce(json_agg(_t), '[]')::text from ({}) _t").format(query)
        async with self._pool.connection() as conn:
            exists = await conn.execute("select to_regclass(%s)", (f"{self.schema}.{table}",))
            if (await exists.fetchone()) == (None,):
                return error(
                    404,
                    "PGRST205",
                    f"Could not find the table '{self.schema}.{table}' in the schema cache",
                )
            return await self._answer(conn, wrapped, values)

    async def _answer(
        self, conn: psycopg.AsyncConnection[Any], query: sql.Composable, params: list[Any]
    ) -> httpx.Response:
        try:
            async with conn.transaction():
                cur = await conn.execute(query, params)
                row = await cur.fetchone()
        except psycopg.Error as exc:
            diag = exc.diag
            code = exc.sqlstate or "XX000"
            return error(
                postgrest_status(code),
                code,
                diag.message_primary or str(exc),
                diag.message_detail,
                diag.message_hint,
            )
        body = "null" if row is None or row[0] is None else row[0]
        return httpx.Response(
            200,
            content=body.encode(),
            headers={"content-type": "application/json; charset=utf-8"},
        )
