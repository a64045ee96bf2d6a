"""The outcome rules: counters, consecutive errors, rolling average, auto-pause."""

from __future__ import annotations

from cascadian.outcome import Counters, apply, rolling_average


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
