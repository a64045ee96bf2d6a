"""Group commit for run outcomes.

Runs that finish while an earlier write is in flight are written together in the
next call of `store.finish_runs`, so a busy tick makes one round trip per
batch instead of one per run, and a quiet one adds no waiting at all.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from cascadian.data import Recorded, RunOutcome, RunResult
from cascadian.errors import StoreRejected, StoreUnavailable
from cascadian.ports import Store

log = logging.getLogger(__name__)

Pending = tuple[RunOutcome, "asyncio.Future[Recorded]"]


class OutcomeRecorder:
    def __init__(self, store: Store, pause_threshold: int, max_batch: int = 200) -> None:
        self.store = store
        self.pause_threshold = pause_threshold
        self.max_batch = max_batch
        self._pending: list[Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, outcome: RunOutcome) -> Recorded:
        """Record one outcome; raises what the store raised for it."""
        future: asyncio.Future[Recorded] = asyncio.get_running_loop().create_future()
        self._pending.append((outcome, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        return await future

    async def _write_pending(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                try:
                    await self._write(batch)
                except BaseException as exc:  # cancelled: nobody may wait forever
                    for _, future in batch:
                        _settle(future, exc)
                    raise
        finally:
            for _, future in self._pending:
                _settle(future, RuntimeError("the outcome writer stopped"))
            self._pending.clear()

    async def _write(self, batch: list[Pending]) -> None:
        try:
            recorded = await self.store.finish_runs([o for o, _ in batch], self.pause_threshold)
            if len(recorded) != len(batch):
                raise RuntimeError(f"{len(batch)} outcomes sent, {len(recorded)} answers")
        except StoreUnavailable as exc:
            if not isinstance(exc, StoreRejected):  # the whole batch waits for its leases
                for _, future in batch:
                    _settle(future, exc)
                return
            refused: Exception = exc
        except Exception as exc:  # e.g. a bug building one outcome's record
            log.exception("writing %d outcome(s) failed", len(batch))
            refused = exc
        else:
            for (_, future), result in zip(batch, recorded, strict=True):
                _settle(future, result)
            return
        # Some outcome could not be written: find it by writing singly, so one
        # outcome never keeps the others of its batch from being recorded.
        if len(batch) > 1:
            for item in batch:
                await self._write([item])
        else:
            await self._write_stripped(batch[0], refused)

    async def _write_stripped(self, item: Pending, exc: Exception) -> None:
        """Record a refused outcome without its outputs and node logs, so its
        counters and lease still move on instead of it re-running forever."""
        outcome, future = item
        log.error(
            "run %s: outcome refused (%s); recording it without outputs", outcome.execution_id, exc
        )
        note = f"outputs not stored: {exc}"
        r = outcome.result
        errors = [] if r.success else [*r.errors[:1], {"node_id": None, "error": note}]
        stripped = RunResult(r.success, {"note": note}, errors, r.nodes_executed, r.duration_ms)
        try:
            [recorded] = await self.store.finish_runs(
                [replace(outcome, result=stripped)], self.pause_threshold
            )
        except Exception as again:
            _settle(future, again)
        else:
            _settle(future, recorded)


def _settle(future: asyncio.Future[Recorded], result: Recorded | BaseException) -> None:
    if future.done():  # its run was cancelled while waiting
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
