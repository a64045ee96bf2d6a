"""The transport port under the store: "call this SQL function with these named
arguments", and nothing else.

The store's port modules (runs.py, control.py, ...) know each function's name, its
arguments and how its answer becomes our data; a transport only moves the call and
its answer, and maps its driver's errors to StoreUnavailable / StoreRejected.
Arguments are Python values (UUID, datetime, int, float, str, None, a list of
UUIDs), or `Json` for a jsonb argument (`JsonText` when encoded already).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Json:
    """A jsonb argument (an object or array), as opposed to a SQL array."""

    value: Any


@dataclass(frozen=True, slots=True)
class JsonText:
    """A jsonb argument encoded already (UTF-8 JSON), sent as it is."""

    text: bytes


Args = Mapping[str, Any]


class Transport(Protocol):
    async def open(self) -> None:
        """Start connecting; a database that is down makes calls fail, not this."""
        ...

    async def rows(self, function: str, args: Args) -> list[dict[str, Any]]:
        """The rows of a set-returning function."""
        ...

    async def value(self, function: str, args: Args) -> Any:
        """The single value a scalar function returns (jsonb arrives parsed)."""
        ...

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""
        ...

    async def close(self) -> None: ...
