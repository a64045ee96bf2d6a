"""CPU-heavy node work off the event loop, stopped by the run's deadline.

A sort or a filter over a large list never yields to the event loop: run in the
loop, it would freeze every other strategy of the process and no timeout could
stop it. Run in a worker thread instead, the loop keeps serving the other runs
(the GIL is handed over every few milliseconds), and the work checks a
`Checkpoint` in its loops, which raises once the run's deadline has passed or
its run was cancelled, so the thread ends soon after.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from cascadian.errors import NodeError

T = TypeVar("T")

# How many checkpoints pass between two looks at the clock.
_EVERY = 1024


class Stopped(NodeError):
    """The work was stopped at a checkpoint: the run's deadline passed or it was cancelled."""


class Checkpoint:
    """Called in the heavy loop; raises Stopped once the work should stop."""

    def __init__(self, deadline: float | None) -> None:
        # The event loop's clock is time.monotonic (asyncio's default).
        self.deadline = deadline
        self.cancelled = threading.Event()
        self._count = 0

    def __call__(self) -> None:
        self._count += 1
        if self._count % _EVERY:
            return
        if self.cancelled.is_set():
            raise Stopped("cancelled")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise Stopped("the run's time is up")


async def offload(work: Callable[[Checkpoint], T], deadline: float | None) -> T:
    """Run `work(checkpoint)` in a worker thread and answer its result."""
    checkpoint = Checkpoint(deadline)
    try:
        return await asyncio.to_thread(work, checkpoint)
    except asyncio.CancelledError:
        checkpoint.cancelled.set()  # the thread stops at its next checkpoint
        raise
