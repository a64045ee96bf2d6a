"""The recorded history: what the live ticks fetched anyway, written after them.

The process's market data tells a HistoryTap (workflow/market/tap.py) of every
answer it fetched upstream. This observer of the tick empties the tap into one
recording at most every CASCADIAN_HISTORY_EVERY_SECONDS, on a task of its own after
the tick has finished, so the tick never waits for it; each recording is one SQL
call (migrations/029), which keeps only what changed. Once an
hour it also deletes the states last seen before the retention window
(CASCADIAN_HISTORY_RETENTION_DAYS), in batches of CASCADIAN_PRUNE_MAX_ROWS. A write
that fails is logged and dropped: history is a record, never a reason to fail.

A state is recorded at the time of the write, which is at or after the fetch that
saw it: a backtest may see a state late, never early.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from cascadian.clock import Clock, SystemClock
from cascadian.config import Settings
from cascadian.data import HistoryPruned
from cascadian.ports import MarketHistoryStore
from cascadian.reports import RunReport, TickReport
from cascadian.workflow.market.tap import HistoryTap

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0
DAY = timedelta(days=1)


class HistoryRecorder:
    """A TickObserver: records the tap's contents after ticks, and prunes."""

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
        self._pruned_at: float | None = None
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
        """Start a recording (and a prune) if one is due and none is on its way."""
        if self._task is not None and not self._task.done():
            return
        mono = self.clock.monotonic()
        every = self.settings.history_every_seconds
        record = len(self.tap) > 0 and (
            self._written_at is None or mono - self._written_at >= every
        )
        prune = self.settings.history_retention_days > 0 and (
            self._pruned_at is None or mono - self._pruned_at >= PRUNE_EVERY_SECONDS
        )
        if not (record or prune):
            return
        if record:
            self._written_at = mono
        if prune:
            self._pruned_at = mono
        self._task = asyncio.get_running_loop().create_task(self._work(record, prune))

    async def record_now(self) -> dict[str, int] | None:
        """Write what the tap holds now (None: it held nothing)."""
        recording = self.tap.take()
        if not recording:
            return None
        counts = await self.store.record_history(recording, self.clock.now())
        self.recorded += 1
        return counts

    async def prune_now(self) -> HistoryPruned | None:
        """Delete one bounded batch of history past retention (None: kept for ever)."""
        days = self.settings.history_retention_days
        if days <= 0:
            return None
        before = self.clock.now() - DAY * days
        return await self.store.prune_history(before, max(1, self.settings.prune_max_rows))

    async def _work(self, record: bool, prune: bool) -> None:
        try:
            if record:
                await self.record_now()
            if prune:
                await self.prune_now()
        except Exception as exc:  # a record, never a reason to fail
            log.warning("the market history was not recorded: %s: %s", type(exc).__name__, exc)

    async def drain(self, within: float | None = None) -> None:
        """Wait (up to `within` seconds) for a recording on its way."""
        if self._task is not None and not self._task.done():
            await asyncio.wait({self._task}, timeout=within)
