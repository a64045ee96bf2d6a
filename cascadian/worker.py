"""A long-running worker: ticks continuously on the same claim, run and record code.

Workers on one machine or many share the load through the same database:
claims are SKIP LOCKED and fenced by leases, so no strategy runs twice for a
slot. On SIGTERM or SIGINT a worker stops claiming, lets runs in flight finish
for up to `grace` seconds, then cancels the rest and gives their claims back
(TickService.tick's `stop`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress

from cascadian.reports import TickReport
from cascadian.tick import TickService

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, service: TickService, interval: float = 15.0, grace: float = 25.0) -> None:
        self.service = service
        self.interval = interval  # seconds to wait after a tick that found nothing due
        self.grace = grace
        self.stopping = asyncio.Event()

    def stop(self) -> None:
        if not self.stopping.is_set():
            log.warning("stopping: no new claims; runs in flight get %gs to finish", self.grace)
        self.stopping.set()

    async def run(self) -> None:
        """Tick until stopped: at once again after a tick that claimed something (more
        may be due), else after `interval` seconds."""
        while not self.stopping.is_set():
            report = await self.service.tick("worker", stop=self.stopping, grace_seconds=self.grace)
            _log_tick(report)
            if report.claimed and report.success:
                continue
            with suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=self.interval)

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
