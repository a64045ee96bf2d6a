"""JSON read from the database (psycopg's json and jsonb, claimed graphs' texts) is
read by orjson where it reads what json.loads reads, and by json.loads elsewhere:
the values are json.loads's, exactly, whatever the JSON holds."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cascadian.store.readers import loads_json
from cascadian.store.sql_store import SqlStore


def _typed(value: Any) -> Any:
    """`value` with each number's type beside it (1 == 1.0 in Python)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**62, max_value=2**80)
    | st.integers(min_value=-(2**80), max_value=-(2**62))
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_values)
def test_json_is_read_as_json_loads_reads_it(value: Any) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        expected = _typed(json.loads(text))
        assert _typed(loads_json(text)) == expected
        assert _typed(loads_json(text.encode("utf-8", "surrogatepass"))) == expected


def test_what_orjson_cannot_read_as_json_loads_does_is_read_by_json_loads() -> None:
    big = "123456789012345678901234567890"
    assert loads_json(f"[{big}]") == [int(big)]  # orjson: a float
    assert loads_json(b"18446744073709551616") == 2**64
    assert loads_json("1e400") == float("inf")  # orjson refuses it
    assert loads_json('"\\ud800"') == "\ud800"


async def test_jsonb_read_through_the_transport_keeps_integers_past_64_bits(
    store: SqlStore,
) -> None:
    [row] = await store.transport.execute(
        'select %s::jsonb as big, \'{"a": [1, 2.5, "x"]}\'::jsonb as small',
        ("[123456789012345678901234567890, 1.5]",),
    )
    assert row["big"] == [123456789012345678901234567890, 1.5]
    assert isinstance(row["big"][0], int)
    assert row["small"] == {"a": [1, 2.5, "x"]}
