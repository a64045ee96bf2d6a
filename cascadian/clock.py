"""Time as the tick service sees it; tests swap in a FakeClock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


def as_utc(at: datetime) -> datetime:
    """A time a person wrote: without a zone it is UTC, as every surface documents."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds
