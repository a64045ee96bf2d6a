"""What the tick writes: records that the database can always store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch
from uuid import UUID, uuid4

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascadian.data import NodeRun, RunOutcome, RunResult
from cascadian.store import run_records, storable
from cascadian.store.run_records import outcomes_json
from cascadian.store.storable import LOG_OUTPUT_CAP, to_json


def test_the_record_caps_large_node_outputs() -> None:
    big = "x" * (LOG_OUTPUT_CAP * 2)
    run = NodeRun("n", "t", "success", datetime(2026, 1, 1, tzinfo=UTC), None, 3, None, {"b": big})
    result = RunResult(True, {"n": {"b": big}}, [], 1, 3, [run])
    rec = record(RunOutcome(uuid4(), uuid4(), result, datetime.now(UTC), datetime.now(UTC)))
    log = rec["logs"][0]["output"]
    assert log["truncated"] is True and len(log["preview"]) == LOG_OUTPUT_CAP
    assert rec["outputs"] == {"n": {"b": big}}  # under the execution row's larger cap


def test_values_jsonb_refuses_are_made_storable() -> None:
    cleaned = to_json({"nan": float("nan"), "inf": [float("-inf")], "s": "a\ud800b\x00"})
    assert cleaned == {"nan": None, "inf": [None], "s": "a?b\ufffd"}


def record(outcome: RunOutcome) -> Any:
    """The outcome's element of the finish call's JSON, as the database reads it."""
    return orjson.loads(outcomes_json([outcome]))[0]


def _record_of(outputs: dict[str, object], runs: list[NodeRun]) -> Any:
    result = RunResult(True, outputs, [], len(runs), 3, runs)
    return record(RunOutcome(uuid4(), uuid4(), result, datetime.now(UTC), datetime.now(UTC)))


def _node(node_id: str, output: object) -> NodeRun:
    return NodeRun(node_id, "t", "success", datetime(2026, 1, 1, tzinfo=UTC), None, 3, None, output)


def test_a_node_output_shared_with_large_outputs_is_still_capped_in_its_log() -> None:
    big = {"b": "x" * (LOG_OUTPUT_CAP * 2)}
    small = {"s": 1}
    rec = _record_of({"n": big, "m": small}, [_node("n", big), _node("m", small)])
    logs = rec["logs"]
    assert isinstance(logs, list)
    assert logs[0]["output"]["truncated"] is True
    assert logs[1]["output"] == {"s": 1}


def test_a_node_output_shared_with_unstorable_outputs_is_cleaned_in_its_log() -> None:
    dirty = {"s": "a\x00b"}
    rec = _record_of({"n": dirty}, [_node("n", dirty)])
    logs = rec["logs"]
    assert isinstance(logs, list)
    assert logs[0]["output"] == {"s": "a\ufffdb"}
    assert rec["outputs"] == {"n": {"s": "a\ufffdb"}}


def test_small_clean_outputs_are_logged_as_they_are() -> None:
    out = {"price": 0.25, "tags": ["a", "b"]}
    rec = _record_of({"n": out}, [_node("n", out)])
    logs = rec["logs"]
    assert isinstance(logs, list)
    assert logs[0]["output"] == out and rec["outputs"] == {"n": out}


class Counted:
    """An object JSON cannot hold: written as its str(), counted."""

    calls = 0

    def __str__(self) -> str:
        Counted.calls += 1
        return "counted"


def test_a_nodes_output_is_encoded_once_for_the_outputs_and_its_log() -> None:
    out = {"thing": Counted()}
    Counted.calls = 0
    rec = _record_of({"n": out}, [_node("n", out)])
    assert rec["outputs"] == {"n": {"thing": "counted"}}
    assert rec["logs"][0]["output"] == {"thing": "counted"}
    assert Counted.calls == 1


@dataclass(frozen=True)
class Quote:
    market: UUID
    at: datetime
    price: float


def test_datetimes_uuids_and_dataclasses_are_written_natively_non_finite_floats_as_null() -> None:
    market = uuid4()
    at = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)
    out = {"quote": Quote(market, at, float("nan")), "seen": {1, 2}, "limit": float("inf")}
    rec = _record_of({"n": out}, [_node("n", out)])
    assert rec["outputs"]["n"] == {
        "quote": {"market": str(market), "at": "2026-12-07T21:00:00+00:00", "price": None},
        "seen": [1, 2],
        "limit": None,
    }
    assert not any("could not be stored" in str(e) for e in rec["errors"])


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [*value, *(s for v in value.values() for s in _strings(v))]
    return []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(output=JSONISH)
def test_whatever_a_node_outputs_the_batch_is_json_jsonb_takes(output: Any) -> None:
    rec = _record_of({"n": output}, [_node("n", output)])
    text = json.dumps(rec, allow_nan=False)  # no NaN or Infinity survived
    for s in _strings(rec):
        assert "\x00" not in s
        s.encode("utf-8")  # no unpaired surrogate
    assert text


def test_an_intermediate_nodes_output_is_stored_capped_as_its_log_the_last_nodes_whole() -> None:
    big = {"b": "x" * (LOG_OUTPUT_CAP * 2)}
    runs = [_node("fetch", big), _node("end", big)]
    result = RunResult(True, {"fetch": big, "end": big}, [], 2, 3, runs, frozenset({"fetch"}))
    rec = record(RunOutcome(uuid4(), uuid4(), result, datetime.now(UTC), datetime.now(UTC)))
    assert rec["outputs"]["fetch"] == rec["logs"][0]["output"]
    assert rec["outputs"]["fetch"]["truncated"] is True
    assert rec["outputs"]["end"] == big


def test_outputs_with_keys_that_are_not_strings_are_written_with_their_keys_as_strings() -> None:
    out = {1: "one", "two": {2.5: [3]}}
    rec = _record_of({"n": out}, [_node("n", out)])
    assert rec["outputs"] == {"n": {"1": "one", "two": {"2.5": [3]}}}
    assert rec["logs"][0]["output"] == {"1": "one", "two": {"2.5": [3]}}


KEYED = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=4) | st.integers(), inner, max_size=4)
        | st.frozensets(st.integers(), max_size=3)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=KEYED)
def test_the_fast_encoding_writes_what_orjson_writes_with_every_option(value: Any) -> None:
    # Tried without OPT_NON_STR_KEYS first, for speed: the same JSON either way.
    try:
        full = orjson.dumps(value, default=storable._default, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        assert storable.fast_json(value) is None
        return
    assert storable.fast_json(value) == (None if b"\\u0000" in full else full)
    assert storable.has_nul(full) == (b"\\u0000" in full)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(outputs=st.dictionaries(st.sampled_from(["a", "b", "c"]), KEYED, min_size=1))
def test_outputs_encoded_in_one_pass_or_node_by_node_are_the_same_record(outputs: Any) -> None:
    runs = [_node(k, v) for k, v in outputs.items()]
    result = RunResult(True, outputs, [], len(runs), 3, runs, frozenset(list(outputs)[:1]))
    outcome = RunOutcome(uuid4(), uuid4(), result, datetime.now(UTC), datetime.now(UTC))
    one_pass = outcomes_json([outcome])
    with patch.object(run_records, "_SHALLOW_ITEMS", -1):  # every container: node by node
        node_by_node = outcomes_json([outcome])
    assert one_pass == node_by_node


def test_a_large_intermediate_output_and_its_log_hold_one_preview_of_its_whole_json() -> None:
    markets = {"items": [{"id": str(i), "question": f'q{i} "quoted"'} for i in range(300)]}
    runs = [_node("fetch", markets), _node("end", {})]
    result = RunResult(True, {"fetch": markets, "end": {}}, [], 2, 3, runs, frozenset({"fetch"}))
    rec = record(RunOutcome(uuid4(), uuid4(), result, datetime.now(UTC), datetime.now(UTC)))
    whole = orjson.dumps(markets)
    assert rec["outputs"]["fetch"] == {
        "truncated": True,
        "size": len(whole),
        "preview": whole[:LOG_OUTPUT_CAP].decode(),
    }
    assert rec["logs"][0]["output"] == rec["outputs"]["fetch"]


def test_the_previews_kept_are_few_as_each_may_be_as_large_as_the_outputs_cap() -> None:
    # Keyed by up to OUTPUTS_CAP bytes and about as large: 128 kept could hold ~58 MB.
    for i in range(20):
        storable.capped_json(b"[" + b"%d," % i * 1000 + b"0]", 100)
    assert storable._preview.cache_info().currsize <= 8


def test_runs_sharing_an_output_share_its_preview_and_any_change_makes_a_new_one() -> None:
    markets = {"items": [{"id": str(i), "question": f"q{i} é"} for i in range(300)]}
    whole = orjson.dumps(markets)
    first = storable.capped_json(whole, LOG_OUTPUT_CAP)
    again = storable.capped_json(orjson.dumps(markets), LOG_OUTPUT_CAP)  # another run's bytes
    assert again is first  # made once
    assert orjson.loads(orjson.dumps(first)) == {
        "truncated": True,
        "size": len(whole),
        "preview": whole[:LOG_OUTPUT_CAP].decode("utf-8", "ignore"),
    }
    markets["items"][299]["question"] = "changed past the preview"  # the same head
    longer = orjson.dumps(markets)
    moved = orjson.loads(orjson.dumps(storable.capped_json(longer, LOG_OUTPUT_CAP)))
    assert moved["size"] == len(longer) != len(whole)
    markets["items"][0]["question"] = "changed in the preview"
    changed = orjson.dumps(markets)
    shown = orjson.loads(orjson.dumps(storable.capped_json(changed, LOG_OUTPUT_CAP)))
    assert shown["preview"] == changed[:LOG_OUTPUT_CAP].decode("utf-8", "ignore")
