"""What a run's outcome does to a strategy: counters, rolling average, auto-pause.

The rules run in SQL, in the function `finish_runs` calls (store/runs.py), so they
are atomic under concurrent ticks. The pure `apply` below is their specification:
the store tests check the SQL against it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Counters:
    execution_count: int = 0
    success_count: int = 0
    error_count: int = 0  # consecutive
    average_execution_time_ms: int | None = None


def rolling_average(prev_avg: int | None, prev_count: int, new_ms: int) -> int:
    """(prev_avg * prev_count + new) / (prev_count + 1), rounded half up."""
    if prev_avg is None or prev_count == 0:
        return new_ms
    q, r = divmod(prev_avg * prev_count + new_ms, prev_count + 1)
    return q + (1 if 2 * r >= prev_count + 1 else 0)


def apply(c: Counters, success: bool, duration_ms: int, threshold: int) -> tuple[Counters, bool]:
    """The counters after one run, and whether the strategy is auto-paused."""
    errors = 0 if success else c.error_count + 1
    after = replace(
        c,
        execution_count=c.execution_count + 1,
        success_count=c.success_count + int(success),
        error_count=errors,
        average_execution_time_ms=rolling_average(
            c.average_execution_time_ms, c.execution_count, duration_ms
        ),
    )
    return after, (not success and errors >= threshold)
