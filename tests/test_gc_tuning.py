"""The collector's first threshold in a process that ticks."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from cascadian.bootstrap import tune_gc
from cascadian.config import Settings


@pytest.fixture(autouse=True)
def restored() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_the_first_threshold_is_raised_and_the_older_ones_kept() -> None:
    gc.set_threshold(700, 11, 12)
    tune_gc(Settings())
    assert gc.get_threshold() == (10_000, 11, 12)


def test_a_threshold_of_zero_leaves_pythons_own() -> None:
    gc.set_threshold(700, 10, 10)
    tune_gc(Settings(CASCADIAN_GC_THRESHOLD=0))  # type: ignore[call-arg]
    assert gc.get_threshold() == (700, 10, 10)


def test_a_negative_threshold_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="CASCADIAN_GC_THRESHOLD"):
        Settings(CASCADIAN_GC_THRESHOLD=-1)  # type: ignore[call-arg]
