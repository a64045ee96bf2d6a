"""Backtests: the same graph run over recorded history, in simulated time, with no
look-ahead and no side effects (docs/backtests.md).

    recording.py   the recorded history: what the live ticks fetched, written after them
"""
