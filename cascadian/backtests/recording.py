"""The recorded history: what the live ticks fetched anyway, written after them.

The process's market data tells a HistoryTap (workflow/market/tap.py) of every
answer it fetched upstream. This observer of the tick empties the tap into one
recording at most every CASCADIAN_HISTORY_EVERY_SECONDS, on a task of its own after
the tick has finished, so the tick never waits for it; each recording is one SQL
call (migrations/029), which keeps only what changed. The states last seen before
the retention window (CASCADIAN_HISTORY_RETENTION_DAYS) are deleted by the ticks'
retention step and `cascadian prune`, with the rest of the history (retention.py).
A write that fails is logged and dropped: history is a record, never a reason to
fail.

A state is recorded at the time of the write, which is at or after the fetch that
saw it: a backtest may see a state late, never early.
"""

from __future__ import annotations

import asyncio
import logging

from cascadian.clock import Clock, SystemClock
from cascadian.config import Settings
from cascadian.ports import MarketHistoryStore
from cascadian.reports import RunReport, TickReport
from cascadian.workflow.market.tap import HistoryTap

log = logging.getLogger(__name__)


class HistoryRecorder:
    """A TickObserver: records the tap's contents after ticks."""

    def __init__(
        self,
        store: MarketHistoryStore,
        tap: HistoryTap,
        settings: Settings,
        clock: Clock | None = None,
    ) -> None:
        self.store, self.tap, self.settings = store, tap, settings
        self.clock = clock or SystemClock()
        self._written_at: float | None = None  # monotonic
        self._task: asyncio.Task[None] | None = None
        self.recorded = 0  # recordings written, for tests and logs

    def claimed(self, n: int) -> None:
        pass

    def store_error(self, operation: str) -> None:
        pass

    def tick_finished(self, report: TickReport) -> None:
        # Only after a tick that went well: one that failed (the database down, say)
        # is no time to write, and its error is the tick's to report.
        if report.success:
            self.poke()

    def run_now_finished(self, report: RunReport) -> None:
        if report.record_error is None:
            self.poke()

    def poke(self) -> None:
        """Start a recording if one is due and none is on its way."""
        if self._task is not None and not self._task.done():
            return
        mono = self.clock.monotonic()
        every = self.settings.history_every_seconds
        if len(self.tap) == 0 or (self._written_at is not None and mono - self._written_at < every):
            return
        self._written_at = mono
        self._task = asyncio.get_running_loop().create_task(self._work())

    async def record_now(self) -> dict[str, int] | None:
        """Write what the tap holds now (None: it held nothing)."""
        recording = self.tap.take()
        if not recording:
            return None
        counts = await self.store.record_history(recording, self.clock.now())
        self.recorded += 1
        return counts

    async def _work(self) -> None:
        try:
            await self.record_now()
        except Exception as exc:  # a record, never a reason to fail
            log.warning("the market history was not recorded: %s: %s", type(exc).__name__, exc)

    async def drain(self, within: float | None = None) -> None:
        """Wait (up to `within` seconds) for a recording on its way."""
        if self._task is not None and not self._task.done():
            await asyncio.wait({self._task}, timeout=within)
