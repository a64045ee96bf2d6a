"""Reading the SQL functions' answers: the coercions every port's mapping shares, and
`answer_of`, which makes a malformed answer an error naming the function it came from.

Values may arrive as Python objects (psycopg) or as JSON strings (PostgREST, and
jsonb results in both); every reader here accepts both. The function names
themselves live in the port modules that call them, one constant each.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, ParamSpec, TypeVar, cast, get_args
from uuid import UUID

import orjson

from cascadian.data import ControlResult
from cascadian.errors import StoreReplyMalformed

P = ParamSpec("P")
R = TypeVar("R")
_SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)


def _malformed(function: str, exc: Exception) -> StoreReplyMalformed:
    detail = f"{type(exc).__name__}: {str(exc)[:120]}"
    return StoreReplyMalformed(
        f"the database's answer to {function} is malformed ({detail}); "
        "is the schema current (`cascadian migrate`), and is anything between "
        "us and the database rewriting replies?"
    )


def answer_of(function: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Mark a mapping as reading `function`'s answer: an answer missing a key, or with
    a value of the wrong type, is a StoreReplyMalformed saying so, never a KeyError
    in a tick."""

    def wrap(mapping: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(mapping)
        def read(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return mapping(*args, **kwargs)
            except _SHAPE_ERRORS as exc:
                raise _malformed(function, exc) from exc

        return read

    return wrap


def read_answer(function: str, mapping: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """`mapping(*args)` as `answer_of(function)` would read it, for a mapping that
    several functions' answers share."""
    return answer_of(function)(mapping)(*args, **kwargs)


_RESULTS = frozenset(get_args(ControlResult))


def control_result(value: Any) -> ControlResult:
    """A control function's result code, checked (read it with `read_answer`)."""
    if value not in _RESULTS:
        raise ValueError(f"unexpected control result {value!r}")
    return cast(ControlResult, value)


def json_value(value: Any) -> Any:
    return loads_json(value) if isinstance(value, str) else value


# An integer of 19 digits or more may not fit in 64 bits, which orjson reads as a
# float (json.loads keeps it whole): looked for as a run of 19 zeros once every
# digit is a zero (bytes.translate and a search: C, faster than a regex by ten).
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19


def loads_json(data: str | bytes) -> Any:
    """json.loads's value, read by orjson (in C, several times faster) whenever it
    reads the same: orjson refuses what it cannot (NaN, 1e400, a lone surrogate),
    and a text with a long run of digits (an integer past 64 bits, maybe) goes to
    json.loads as it is."""
    try:
        raw = data.encode() if isinstance(data, str) else data
        if _LONG_RUN not in raw.translate(_DIGITS_AS_ZEROS):
            return orjson.loads(raw)
    except (UnicodeEncodeError, orjson.JSONDecodeError):  # a lone surrogate, 1e400
        pass
    return json.loads(data)


def as_uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def uuid_or_none(value: Any) -> UUID | None:
    return None if value is None else as_uuid(value)


def as_dt(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def dt_or_none(value: Any) -> datetime | None:
    return None if value is None else as_dt(value)


def float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
