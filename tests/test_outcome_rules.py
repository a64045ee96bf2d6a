"""The outcome rules: counters, consecutive errors, rolling average, auto-pause."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from cascadian.data import NodeRun, RunOutcome, RunResult
from cascadian.outcome import LOG_OUTPUT_CAP, Counters, apply, rolling_average, to_record


def test_rolling_average_is_the_mean_of_all_runs() -> None:
    assert rolling_average(None, 0, 120) == 120
    assert rolling_average(100, 1, 200) == 150
    assert rolling_average(150, 2, 300) == 200
    assert rolling_average(100, 2, 101) == 100  # 301 / 3 = 100.33
    assert rolling_average(100, 1, 101) == 101  # 100.5 rounds half up


def test_success_counts_and_resets_consecutive_errors() -> None:
    after, paused = apply(Counters(4, 2, 2, 100), success=True, duration_ms=200, threshold=3)
    assert after == Counters(5, 3, 0, 120)
    assert not paused


def test_third_consecutive_error_auto_pauses() -> None:
    c = Counters()
    pauses = []
    for _ in range(3):
        c, paused = apply(c, success=False, duration_ms=10, threshold=3)
        pauses.append(paused)
    assert pauses == [False, False, True]
    assert c == Counters(3, 0, 3, 10)


def test_an_error_after_a_success_starts_counting_again() -> None:
    c = Counters()
    for success in (False, False, True, False, False):
        c, paused = apply(c, success=success, duration_ms=10, threshold=3)
        assert not paused
    assert c.error_count == 2


def test_the_record_caps_large_node_outputs() -> None:
    big = "x" * (LOG_OUTPUT_CAP * 2)
    run = NodeRun("n", "t", "success", datetime(2026, 1, 1, tzinfo=UTC), None, 3, None, {"b": big})
    result = RunResult(True, {"n": {"b": big}}, [], 1, 3, [run])
    rec = to_record(RunOutcome(uuid4(), uuid4(), result, datetime.now(UTC), datetime.now(UTC)))
    log = rec["logs"][0]["output"]
    assert log["truncated"] is True and len(log["preview"]) == LOG_OUTPUT_CAP
    assert rec["outputs"] == {"n": {"b": big}}  # under the execution row's larger cap


def test_values_jsonb_refuses_are_made_storable() -> None:
    from cascadian.outcome import to_json

    cleaned = to_json({"nan": float("nan"), "inf": [float("-inf")], "s": "a\ud800b\x00"})
    assert cleaned == {"nan": None, "inf": [None], "s": "a?b\ufffd"}
