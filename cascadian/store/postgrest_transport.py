"""The store's transport on Supabase: PostgREST's `.rpc()` through the standalone
`postgrest` client (postgrest-py, from the supabase-py project).

The store needs only the Data API, so it does not pull the full `supabase`
package (auth, realtime, storage and functions clients, cryptography and
websockets): docs/supabase.md has the install size and import time saved.

Every call is one POST /rest/v1/rpc/<function> with the arguments by name, so
each is one transaction in the database and atomicity lives in the SQL.

The client uses the service-role key (or an `sb_secret_…` key): it bypasses
row-level security, and only it may execute the state-changing functions
(migrations/006). It is created once, with our own httpx client, whose timeout
keeps every call well inside the tick budget.

Errors: a PostgREST error (`postgrest.APIError`) or a transport error (connect,
read, timeout) becomes StoreUnavailable (StoreRejected for a data error that
would fail again). Messages never carry the key. When the call was sent and the
error is not PostgREST's or the database's own (a gateway's 5xx page, a
connection dropped or a read timing out before any answer), the call may have
been carried out and committed: that is StoreAnswerLost, which the store reads
back where it matters (SqlStore.finish_runs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import orjson
from postgrest import APIError, AsyncPostgrestClient
from postgrest.exceptions import APIErrorFromJSON, generate_default_error_message
from pydantic import ValidationError

from cascadian.errors import (
    StoreAnswerLost,
    StoreRejected,
    StoreReplyMalformed,
    StoreUnavailable,
)
from cascadian.store.transport import Args, Json, JsonText

# PostgREST's codes for "no such function/table in the schema cache" and
# PostgreSQL's for an undefined function/table: the migrations are not applied.
_SCHEMA_CODES = {"PGRST202", "PGRST205", "42883", "42P01"}
# SQLSTATE classes that say the database itself is unwell (08 connection, 53
# resources, 57 operator intervention or timeout, 58 system). Any other SQLSTATE
# means this statement failed on its data and would fail again as it is.
_UNAVAILABLE_CLASSES = {"08", "53", "57", "58"}
# Sent in full, and no answer came back: the database may have run the call.
_ANSWER_LOST_ERRORS = (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError)


def _answer_lost(exc: APIError) -> bool:
    """Not PostgREST's or PostgreSQL's own error (a PGRST code or a SQLSTATE, which
    say the call was refused or rolled back) but a 5xx from something in front of
    them: postgrest-py gives a body that is not PostgREST's (a gateway's page) the
    HTTP status as its code, and an error object without a code none."""
    code = exc.code or ""
    return code == "" or (len(code) == 3 and code.isdigit() and code >= "500")


class PostgrestTransport:
    def __init__(self, client: AsyncPostgrestClient, http: httpx.AsyncClient, key: str) -> None:
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
    ) -> PostgrestTransport:
        """Create the client once: our httpx client, the key in both headers, no retries.

        `url` is the project's URL (`https://<ref>.supabase.co`); `transport`
        replaces the network (tests route PostgREST calls to a real database).
        """
        http = httpx.AsyncClient(timeout=request_timeout, transport=transport)
        client = AsyncPostgrestClient(
            f"{url.rstrip('/')}/rest/v1",
            # A secret key goes in `apikey`; Authorization carries it as the role's
            # token, as supabase-py sends it (x-client-info is postgrest-py's own).
            headers={"apikey": key, "Authorization": f"Bearer {key}"},
            http_client=http,
            # A retried read sleeps 1, 2, 4 s: the tick budget is better spent
            # answering 503 and letting the next tick try again.
            retry_enabled=False,
        )
        return cls(client, http, key)

    async def open(self) -> None:
        """Nothing to do: `connect` made the client, and calls connect on demand."""

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
            if _answer_lost(exc):
                return StoreAnswerLost(self._redact(f"{text} (the call may have been carried out)"))
        else:
            text = f"database unavailable: supabase {type(exc).__name__}"
            if isinstance(exc, _ANSWER_LOST_ERRORS):
                return StoreAnswerLost(f"{text} after the call was sent")
        return StoreUnavailable(self._redact(text))

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "[redacted]") if self._key else text

    async def value(self, function: str, args: Args) -> Any:
        """POST /rest/v1/rpc/<function> with the arguments by name; its JSON answer."""
        try:
            if any(isinstance(v, JsonText) for v in args.values()):
                return await self._rpc_encoded(function, args)
            response = await self._client.rpc(function, _json_args(args)).execute()
        except (APIError, httpx.TransportError) as exc:
            raise self._unavailable(function, exc) from exc
        return response.data

    async def _rpc_encoded(self, function: str, args: Args) -> Any:
        """The POST `.rpc()` sends, with a body written here, so that an argument
        encoded already goes in as it is (postgrest-py would encode it again); its
        answer and errors read as postgrest-py reads them."""
        body = orjson.dumps(_json_args(args))
        response = await self._http.post(
            str(self._client.base_url / "rpc" / function),
            content=body,
            headers={**self._client.headers, "Content-Type": "application/json"},
        )
        if response.is_success:
            try:
                return orjson.loads(response.content)
            except orjson.JSONDecodeError:  # rows() says it is malformed
                return response.text or []
        try:
            error = dict(APIErrorFromJSON.model_validate_json(response.content))
        except ValidationError:
            error = generate_default_error_message(response)
        raise APIError(error)

    async def rows(self, function: str, args: Args) -> list[dict[str, Any]]:
        data = await self.value(function, args)
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise StoreReplyMalformed(
                f"the database's answer to {function} is malformed: expected a JSON array "
                f"of row objects, got {_shape(data)}"
            )
        return data

    async def ping(self) -> None:
        # A function, not a table read: since Supabase stopped granting new tables to
        # the Data API roles (2026), only our functions are sure to be reachable.
        await self.value("cascadian_ping_v1", {})


def _shape(data: Any) -> str:
    if isinstance(data, list):
        odd = next(row for row in data if not isinstance(row, dict))
        return f"an array holding {type(odd).__name__}"
    return type(data).__name__


def _json_args(args: Args) -> dict[str, Any]:
    return {k: _wire(v) for k, v in args.items()}


def _wire(value: Any) -> Any:
    """A Python argument as the JSON PostgREST casts to the parameter's type."""
    if isinstance(value, Json):
        return value.value
    if isinstance(value, JsonText):  # only in a body orjson writes (_rpc_encoded)
        return orjson.Fragment(value.text)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value
