"""Making values storable: whatever a node outputs or a user types, a copy jsonb takes.

jsonb refuses NUL characters, unpaired surrogates, NaN and Infinity, and JSON
cannot hold every Python value; these helpers replace what it refuses and cap
outputs in size, and never raise, so a run's outcome can always be written.

`encoded` writes a value's JSON once, with orjson (in C): datetimes, UUIDs and
dataclasses natively, NaN and Infinity as null, sets as lists, other objects as
their str(); only a value orjson refuses (an unpaired surrogate, an integer past 64
bits, nesting past 254, a cycle) or whose JSON holds a NUL takes the careful path
below, as before.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

# Per-node output summaries in strategy_execution_logs are capped at this many
# bytes of JSON (UTF-8; characters, for ASCII); the execution row's outputs at
# OUTPUTS_CAP in total.
LOG_OUTPUT_CAP = 4_000
OUTPUTS_CAP = 200_000


def to_json(value: Any, notes: list[str] | None = None) -> Any:
    """A copy of a node output that jsonb accepts, whatever it holds. Other objects
    become strings; NUL characters and unpaired surrogates become U+FFFD, NaN and
    Infinity null (jsonb refuses them); what JSON cannot hold at all (an integer
    longer than Python will print, a circular reference, nesting too deep) becomes a
    placeholder saying so, noted in `notes`. Never raises."""
    if value is None or isinstance(value, bool | str | float) or value in ({}, []):
        return without_nul(value)  # the common cases, without a JSON round trip
    if isinstance(value, int) and not _too_long(value):
        return value
    if clean_json(value) is not None:
        return value  # as it is: it is written as this same JSON
    try:
        text = json.dumps(value, default=str)
    except RecursionError:
        return _placeholder("nested too deeply", notes)
    except (ValueError, TypeError, OverflowError):
        value = _storable(value, notes, set())
        try:
            text = json.dumps(value, default=str)
        except RecursionError:
            return _placeholder("nested too deeply", notes)
    return without_nul(json.loads(text))


def clean_json(value: Any) -> str | None:
    """`value`'s JSON if jsonb takes it as it is (the common case, one pass in C);
    None if anything in it needs the careful path."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (ValueError, TypeError, OverflowError, RecursionError):
        return None
    # ASCII-escaped: a NUL shows as \u0000, a surrogate (paired or not) as \udXXX.
    return None if "\\u0000" in text or "\\ud" in text else text


def _placeholder(why: str, notes: list[str] | None) -> str:
    if notes is not None:
        notes.append(why)
    return f"(not stored: {why})"


# log2(10): digits to bits.
_BITS_PER_DIGIT = 3.3219


def _too_long(number: int) -> bool:
    limit = sys.get_int_max_str_digits()
    # bit_length is cheap; str() of such a number is what raises.
    return limit > 0 and number.bit_length() > limit * _BITS_PER_DIGIT


def _storable(value: Any, notes: list[str] | None, path: set[int]) -> Any:
    """`value` with every part json.dumps refuses replaced (the slow path)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        if _too_long(value):
            limit = sys.get_int_max_str_digits()
            return _placeholder(f"an integer of more than {limit} digits", notes)
        return value
    if not isinstance(value, dict | list | tuple | set | frozenset):
        return str(value)
    if id(value) in path:
        return _placeholder("a circular reference", notes)
    path.add(id(value))
    try:
        if isinstance(value, dict):
            return {_key(k, notes, path): _storable(v, notes, path) for k, v in value.items()}
        return [_storable(v, notes, path) for v in value]
    finally:
        path.discard(id(value))


def _key(key: Any, notes: list[str] | None, path: set[int]) -> str:
    return key if isinstance(key, str) else str(_storable(key, notes, path))


def without_nul(value: Any) -> Any:
    if isinstance(value, str):
        if value.isascii():
            return value.replace("\x00", "\ufffd")
        # Unpaired surrogates (e.g. from "\ud800" in parsed JSON) are refused too.
        text = value.encode("utf-8", "replace").decode("utf-8")
        return text.replace("\x00", "\ufffd")
    if isinstance(value, float) and not math.isfinite(value):
        return None  # jsonb has no NaN or Infinity
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return value


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


_OPTIONS = orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    """What orjson cannot write itself, as to_json writes it."""
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


def dumps(value: Any) -> bytes:
    """orjson.dumps as `encoded` calls it (raises what it raises)."""
    try:
        # Without OPT_NON_STR_KEYS first: it doubles orjson's time, and only a dict
        # with a key that is not a string needs it (the same JSON either way).
        return orjson.dumps(value, default=_default)
    except TypeError:  # orjson.JSONEncodeError is one
        return orjson.dumps(value, default=_default, option=_OPTIONS)


def _plain_dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return orjson.dumps(value, option=_OPTIONS)


def has_nul(data: bytes) -> bool:
    """Whether orjson's `data` holds a NUL (written as \\u0000): most JSON holds no
    backslash at all, which one memchr tells."""
    return b"\\" in data and b"\\u0000" in data


def fast_json(value: Any, plain: bool = False) -> bytes | None:
    """`value`'s JSON when jsonb takes it as orjson writes it (the common case, one
    pass in C); None when something in it needs the careful path. `plain`: None too
    when it holds anything orjson writes through `_default` (a set, other objects)."""
    try:
        data = _plain_dumps(value) if plain else dumps(value)
    except TypeError:
        return None
    return None if has_nul(data) else data


def encoded(value: Any, notes: list[str] | None = None) -> bytes:
    """`value`'s JSON, as jsonb takes it, encoded once. Never raises."""
    data = fast_json(value)
    if data is not None:
        return data
    safe = to_json(value, notes)  # plain JSON values now, with nothing jsonb refuses
    try:
        return orjson.dumps(safe, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):  # an integer past 64 bits
        return json.dumps(safe, ensure_ascii=False).encode()


def capped_json(data: bytes, cap: int) -> orjson.Fragment:
    """Encoded JSON as it is, or, when longer than `cap`, a preview of it (encoded
    here once: a run's outputs and its node's log hold the same preview)."""
    if len(data) <= cap:
        return orjson.Fragment(data)
    return _preview(len(data), data[:cap])


# Strategies that share a fetch (one Gamma answer) cap the same output run after
# run: its preview is made once, found again by the bytes it shows (a hash and a
# compare of `cap` bytes, a quarter of making it). Few are kept: each key and value
# may be as large as OUTPUTS_CAP (128 could hold ~58 MB); 8 serve the strategies
# sharing one fetch within a tick.
PREVIEWS_KEPT = 8


@lru_cache(maxsize=PREVIEWS_KEPT)
def _preview(size: int, head: bytes) -> orjson.Fragment:
    preview = head.decode("utf-8", "ignore")  # not a character cut in two
    return orjson.Fragment(orjson.dumps({"truncated": True, "size": size, "preview": preview}))
