"""The worker tier's hands: event runs claimed as soon as a crossing is written, and
run through the tick's own run and record steps (TickService.run_claimed).

Woken by its own listener (a crossing written in this process), and every
`poll_interval` seconds regardless, so an event another worker's listener wrote, or
one whose run died with its worker (its lease expired), is still run. At most
`max_concurrency` event runs at once. On stop: nothing more is claimed, runs in
flight get `grace` seconds, the rest are cancelled and their claims given back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from cascadian.clock import Clock, SystemClock
from cascadian.data import ClaimedRun
from cascadian.errors import StoreUnavailable
from cascadian.ports import FullStore
from cascadian.reports import RunReport
from cascadian.tick import CUT_SHORT, TickService

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]


class EventRunner:
    def __init__(
        self,
        store: FullStore,
        ticks: TickService,
        *,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        poll_interval: float = 1.0,
        max_concurrency: int = 10,
        lease_seconds: float = 60.0,
        on_started: Callable[[ClaimedRun], None] = lambda _: None,
    ) -> None:
        self.store, self.ticks = store, ticks
        self.clock = clock or SystemClock()
        self.sleep = sleep
        self.poll_interval = poll_interval
        self.max_concurrency, self.lease_seconds = max_concurrency, lease_seconds
        self.on_started = on_started  # told of each claim as its run starts
        self._wake = asyncio.Event()
        self._in_flight: dict[asyncio.Task[RunReport], ClaimedRun] = {}
        self.runs = 0

    def wake(self) -> None:
        """A crossing was written: claim now."""
        self._wake.set()

    async def run(self, stop: asyncio.Event, grace: float = 25.0) -> None:
        try:
            while not stop.is_set():
                self._wake.clear()
                await self._claim()
                await self._wait(stop)
        finally:
            await self._finish(grace)

    async def _claim(self) -> None:
        free = self.max_concurrency - len(self._in_flight)
        if free <= 0:
            return
        try:
            claims = await self.store.claim_events(self.clock.now(), free, self.lease_seconds)
        except StoreUnavailable as exc:
            log.warning("event runs not claimed: %s", exc)
            return
        for claim in claims:
            self.on_started(claim)
            task = asyncio.create_task(self.ticks.run_claimed(claim))
            self._in_flight[task] = claim
            task.add_done_callback(self._done)
            self.runs += 1
        if len(claims) == free:  # maybe more waiting
            self._wake.set()

    def _done(self, task: asyncio.Task[RunReport]) -> None:
        self._in_flight.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("event run crashed: %r", task.exception())
        elif not task.cancelled():
            # Outside a tick, as a run now is: the metrics count it, alerts see it.
            self.ticks.observers.run_now_finished(task.result())
        self._wake.set()  # a slot is free, and its strategy's next event may wait

    async def _wait(self, stop: asyncio.Event) -> None:
        waits = [
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self.sleep(self.poll_interval)),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def _finish(self, grace: float) -> None:
        if not self._in_flight:
            return
        tasks = set(self._in_flight)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await asyncio.wait(tasks)
        cut = [
            self._in_flight[t].execution_id for t in tasks if not t.done() and t in self._in_flight
        ]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if cut:
            try:
                await self.store.cancel_runs(cut, CUT_SHORT, self.clock.now())
            except StoreUnavailable as exc:
                log.warning("cut-short event runs not given back (their leases expire): %s", exc)
