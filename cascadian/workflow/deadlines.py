"""One timer per deadline, shared by the runs given that deadline.

A claim's runs start together and are given one deadline (tick.py), so rather than
an `asyncio.timeout_at` per run (a timer handle pushed on the event loop's heap and
cancelled again at every run), the runs of one deadline share one timer. When it
fires, every run still inside its `at(deadline)` block is cancelled, and that block
raises TimeoutError in it, as `asyncio.timeout_at` does (a cancellation that did not
come from the timer, e.g. a stopping worker's, propagates as it is).

A deadline's timer stays set until it fires, even when its runs are all over: the
next run of the same deadline joins it, and a timer that finds nobody left costs
one call per claim.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class Deadlines:
    """The shared timers of one event loop (a new loop starts afresh; a timer of an
    earlier loop still fires on its own loop)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timers: dict[float, _Timer] = {}

    def at(self, deadline: float) -> Expiry:
        """An async context manager that raises TimeoutError in its block once the
        loop's clock reaches `deadline`."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._timers = loop, {}
        timer = self._timers.get(deadline)
        if timer is None:
            timer = self._timers[deadline] = _Timer(self, loop, deadline)
        return Expiry(timer)

    def _fired(self, timer: _Timer) -> None:
        if self._timers.get(timer.deadline) is timer:
            del self._timers[timer.deadline]

    def pending(self) -> int:
        """How many timers are set (for tests)."""
        return len(self._timers)


class _Timer:
    __slots__ = ("deadline", "fired", "inside", "owner")

    def __init__(self, owner: Deadlines, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        self.owner, self.deadline = owner, deadline
        self.inside: set[Expiry] = set()
        self.fired = False
        loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self.fired = True
        self.owner._fired(self)
        for expiry in self.inside:
            expiry.expire()
        self.inside.clear()


class Expiry:
    """One run's stay under a shared deadline."""

    __slots__ = ("cancelling", "expired", "task", "timer")

    def __init__(self, timer: _Timer) -> None:
        self.timer = timer
        self.expired = False

    async def __aenter__(self) -> Expiry:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a deadline must be used inside a task")
        self.task, self.cancelling = task, task.cancelling()
        if self.timer.fired:  # the deadline has passed already
            self.expire()
        else:
            self.timer.inside.add(self)
        return self

    def expire(self) -> None:
        self.expired = True
        self.task.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.timer.inside.discard(self)
        # As asyncio.Timeout: only a cancellation this deadline made becomes a
        # TimeoutError, and only when no other cancellation is pending.
        if (
            self.expired
            and self.task.uncancel() <= self.cancelling
            and exc_type is asyncio.CancelledError
        ):
            raise TimeoutError from exc
