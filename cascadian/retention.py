"""Retention: history past its window is deleted in small bounded batches, so the
tables stay the size of their window however many months cascadian runs.

Every tick prunes once its runs are over, within CASCADIAN_PRUNE_MAX_ROWS rows and
CASCADIAN_PRUNE_MAX_MS milliseconds (never past the tick's own budget); a prune
that fails is logged and reported in the tick's summary, and never fails the tick.
`cascadian prune` deletes everything due, one bounded call after another. What is
never deleted (a running run, the newest runs of each strategy, what a lease
points at, unread notifications) is decided in SQL, by the function `prune` calls
(store/runs.py; migrations/013_retention_and_lag.sql). The audit log has a
window of its own (CASCADIAN_RETENTION_AUDIT_DAYS), pruned oldest first within
the same row cap, after the rest (store/audit.py; migrations/035), and so has the
recorded market history (CASCADIAN_HISTORY_RETENTION_DAYS: states last seen before
it; imported prices by CASCADIAN_IMPORTED_HISTORY_RETENTION_DAYS, for ever by
default), last, within what is left of the cap for each of its tables
(store/market_history.py; migrations/044, 056).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

from cascadian.clock import Clock, SystemClock
from cascadian.config import Settings
from cascadian.data import HistoryPruned, PruneResult, RetentionPolicy
from cascadian.ports import Store

log = logging.getLogger(__name__)

DAY_SECONDS = 86_400.0
# What one call of `cascadian prune` may do: bigger than a tick's, still bounded,
# so that no single transaction holds locks for long.
COMMAND_BATCH_ROWS = 20_000
COMMAND_BATCH_MS = 2_000


def _window(days: float) -> float | None:
    return None if days <= 0 else days * DAY_SECONDS


def retention_policy(
    settings: Settings, *, max_rows: int | None = None, max_ms: int | None = None
) -> RetentionPolicy:
    """The settings' retention; the caps are a tick's unless given."""
    return RetentionPolicy(
        run_retention_seconds=_window(settings.retention_run_days),
        keep_runs=settings.retention_keep_runs,
        tick_retention_seconds=_window(settings.retention_tick_days),
        notification_retention_seconds=_window(settings.retention_notification_days),
        max_rows=settings.prune_max_rows if max_rows is None else max_rows,
        max_ms=settings.prune_max_ms if max_ms is None else max_ms,
    )


def add(a: PruneResult, b: PruneResult) -> PruneResult:
    return PruneResult(
        runs=a.runs + b.runs,
        node_logs=a.node_logs + b.node_logs,
        ticks=a.ticks + b.ticks,
        notifications=a.notifications + b.notifications,
        complete=b.complete,
        elapsed_ms=a.elapsed_ms + b.elapsed_ms,
        resume_after=b.resume_after,
        audit_entries=a.audit_entries + b.audit_entries,
        market_history=a.market_history + b.market_history,
        leases=a.leases + b.leases,
    )


class Pruner:
    """Prunes through the store. A tick's prunes go on where the last one stopped
    (`resume_after`), so a pass over many strategies always moves forward."""

    def __init__(self, store: Store, settings: Settings, clock: Clock | None = None) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock or SystemClock()
        self._after: UUID | None = None

    @property
    def in_ticks(self) -> bool:
        """Whether ticks prune: a row cap above 0 and something with a window."""
        p = retention_policy(self.settings)
        windows = (p.run_retention_seconds, p.tick_retention_seconds)
        return p.max_rows > 0 and (
            any(w is not None for w in (*windows, p.notification_retention_seconds))
            or self.settings.retention_audit_days > 0
            or self.settings.history_retention_days > 0
            or self.settings.imported_history_retention_days > 0
        )

    async def in_tick(self, max_ms: int) -> PruneResult:
        """One bounded prune, for a tick; raises what the store raises (the tick
        reports it)."""
        policy = retention_policy(self.settings)
        policy = replace(policy, max_ms=max(1, min(policy.max_ms, max_ms)))
        now = self.clock.now()
        result = await self.store.prune(now, policy, False, self._after)
        self._after = result.resume_after
        left = policy.max_rows - result.rows
        if result.complete and left > 0:
            n = await self._prune_audit(now, left, False)
            result = replace(result, audit_entries=n, complete=n < left)
            left -= n
        if result.complete and left > 0:
            pruned = await self._prune_history(now, left, False)
            if pruned is not None:
                result = replace(result, market_history=pruned.rows, complete=pruned.complete)
        return result

    async def _prune_history(
        self, now: datetime, max_rows: int, dry_run: bool
    ) -> HistoryPruned | None:
        """The market history past its window deleted (or counted): what the ticks
        recorded, and imported prices by their own window; None when both are kept
        for ever."""
        recorded = self.settings.history_retention_days
        imported = self.settings.imported_history_retention_days
        if recorded <= 0 and imported <= 0:
            return None
        return await self.store.prune_history(
            now - timedelta(days=recorded) if recorded > 0 else None,
            now - timedelta(days=imported) if imported > 0 else None,
            max_rows,
            dry_run,
        )

    async def _prune_audit(self, now: datetime, max_rows: int, dry_run: bool) -> int:
        """The audit log's entries past its window deleted (or counted); 0 when it is
        kept for ever."""
        days = self.settings.retention_audit_days
        if days <= 0:
            return 0
        return await self.store.prune_audit(now - timedelta(days=days), max_rows, dry_run)

    async def everything(self, dry_run: bool = False) -> PruneResult:
        """Delete everything due (or, in a dry run, count it), call after bounded call."""
        policy = retention_policy(
            self.settings, max_rows=COMMAND_BATCH_ROWS, max_ms=COMMAND_BATCH_MS
        )
        now = self.clock.now()  # one cutoff for the whole command
        if dry_run:
            counted = await self.store.prune(now, policy, True, None)
            due = await self._prune_history(now, 0, True)
            return replace(
                counted,
                audit_entries=await self._prune_audit(now, 0, True),
                market_history=0 if due is None else due.rows,
            )
        # Each call deletes rows or moves on through the strategies, and the cutoff
        # stays put: the calls end with one that started from the first strategy
        # and had nothing left (rows other transactions hold locked are skipped).
        total = await self.store.prune(now, policy, False, None)
        while not total.complete:
            total = add(total, await self.store.prune(now, policy, False, total.resume_after))
        audit = 0
        while (n := await self._prune_audit(now, policy.max_rows, False)) > 0:
            audit += n
        states = 0
        while (h := await self._prune_history(now, policy.max_rows, False)) is not None:
            states += h.rows
            if h.complete:
                break
        total = replace(total, audit_entries=audit, market_history=states)
        log.info(
            "pruned %d run(s), %d node log(s), %d tick(s), %d notification(s), "
            "%d audit entr(ies), %d market history row(s)",
            total.runs,
            total.node_logs,
            total.ticks,
            total.notifications,
            total.audit_entries,
            total.market_history,
        )
        return total
