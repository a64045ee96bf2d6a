"""A long-running worker: ticks continuously on the same claim, run and record code.

Workers on one machine or many share the load through the same database:
claims are SKIP LOCKED and fenced by leases, so no strategy runs twice for a
slot. On SIGTERM or SIGINT a worker stops claiming, lets runs in flight finish
for up to `grace` seconds, then cancels the rest and gives their claims back
(TickService.tick's `stop`).

Between ticks a worker sleeps until the next strategy falls due (store.next_due),
or for `interval` seconds at most, so a run starts within milliseconds of its slot
and a strategy started or resumed meanwhile, or a lease left by a dead worker,
waits no longer than `interval`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress

from cascadian.errors import StoreUnavailable
from cascadian.reports import TickReport
from cascadian.tick import TickService

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, service: TickService, interval: float = 15.0, grace: float = 25.0) -> None:
        self.service = service
        self.interval = interval  # the longest wait between ticks
        self.grace = grace
        self.stopping = asyncio.Event()

    def stop(self) -> None:
        if not self.stopping.is_set():
            log.warning("stopping: no new claims; runs in flight get %gs to finish", self.grace)
        self.stopping.set()

    async def run(self) -> None:
        """Tick until stopped: again as soon as the next strategy is due (at once if
        one is due now), but after `interval` seconds at most."""
        while not self.stopping.is_set():
            report = await self.service.tick(
                "worker", stop=self.stopping, grace_seconds=self.grace, ledger_if_idle=False
            )
            _log_tick(report)
            delay = await self._until_due() if report.success else self.interval
            if delay <= 0:
                continue
            with suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=delay)

    async def _until_due(self) -> float:
        """Seconds until the next slot, within `interval`; `interval` if unknown."""
        clock = self.service.clock
        try:
            due = await self.service.store.next_due(clock.now())
        except StoreUnavailable as exc:
            log.warning("could not read the next slot: %s", exc)
            return self.interval
        if due is None:
            return self.interval
        # A millisecond late rather than early: a claim a hair before the slot finds
        # nothing due and costs a tick.
        return min(self.interval, (due - clock.now()).total_seconds() + 0.001)

    async def run_until_signalled(self) -> None:
        """run(), with SIGTERM and SIGINT calling stop()."""
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT)
        for sig in signals:
            loop.add_signal_handler(sig, self.stop)
        try:
            await self.run()
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)


def _log_tick(report: TickReport) -> None:
    d = report.summary()
    if report.error:
        log.error("tick failed: %s", report.error)
    if d.strategies_executed or report.released or report.cancelled:
        log.info(
            "tick: %d run(s), %d ok, %d failed, %d released, %d cancelled, %d ms",
            d.strategies_executed,
            d.succeeded,
            d.failed,
            report.released,
            report.cancelled,
            report.execution_time_ms,
        )
