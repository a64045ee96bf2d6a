"""What the tick writes: records that the database can always store."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from cascadian.data import NodeRun, RunOutcome, RunResult
from cascadian.store.run_records import outcome_record
from cascadian.store.storable import LOG_OUTPUT_CAP, to_json


def test_the_record_caps_large_node_outputs() -> None:
    big = "x" * (LOG_OUTPUT_CAP * 2)
    run = NodeRun("n", "t", "success", datetime(2026, 1, 1, tzinfo=UTC), None, 3, None, {"b": big})
    result = RunResult(True, {"n": {"b": big}}, [], 1, 3, [run])
    rec = outcome_record(RunOutcome(uuid4(), uuid4(), result, datetime.now(UTC), datetime.now(UTC)))
    log = rec["logs"][0]["output"]
    assert log["truncated"] is True and len(log["preview"]) == LOG_OUTPUT_CAP
    assert rec["outputs"] == {"n": {"b": big}}  # under the execution row's larger cap


def test_values_jsonb_refuses_are_made_storable() -> None:
    cleaned = to_json({"nan": float("nan"), "inf": [float("-inf")], "s": "a\ud800b\x00"})
    assert cleaned == {"nan": None, "inf": [None], "s": "a?b\ufffd"}


def _record_of(outputs: dict[str, object], runs: list[NodeRun]) -> dict[str, object]:
    result = RunResult(True, outputs, [], len(runs), 3, runs)
    return outcome_record(
        RunOutcome(uuid4(), uuid4(), result, datetime.now(UTC), datetime.now(UTC))
    )


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
