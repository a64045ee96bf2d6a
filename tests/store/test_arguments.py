"""What the store sends: records that the database can always store."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from cascadian.data import NodeRun, RunOutcome, RunResult
from cascadian.store.arguments import LOG_OUTPUT_CAP, outcome_record, to_json


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
