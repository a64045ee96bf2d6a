"""One tick: claim due strategies, run them concurrently, record each outcome.

    claim  -> store.claim_due       (SQL: cascadian_claim_due_v1)
    run    -> executor.execute      (per-strategy timeout)
    record -> store.finish_runs     (SQL: cascadian_finish_runs_v1)

Claims are taken in batches no larger than the free concurrency, so every
claimed strategy starts at once; claiming stops when a new run could no
longer finish inside the tick budget, or when a worker is stopping.

`run_now` runs one strategy on demand through the same run and record steps,
under a manual claim (SQL: cascadian_claim_manual_v1).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from cascadian.clock import Clock, SystemClock
from cascadian.config import Settings
from cascadian.ports import (
    ClaimedRun,
    RunOutcome,
    RunResult,
    Schedule,
    Store,
    StoreUnavailable,
    WorkflowExecutor,
    raise_unless_ok,
)
from cascadian.schedule import ScheduleError, next_slot, validate

log = logging.getLogger(__name__)

CUT_SHORT = "cancelled: the worker stopped before the run finished; the strategy runs again"


@dataclass
class RunReport:
    workflow_id: str
    workflow_name: str
    status: str  # completed | failed
    duration_ms: int
    nodes_executed: int
    error: str | None
    execution_id: str
    attempt: int
    recorded: bool  # False: not written (store down, or the lease was taken over)
    auto_paused: bool = False
    record_error: str | None = None
    next_execution_at: str | None = None


@dataclass
class TickReport:
    trigger: str
    started_at: datetime
    finished_at: datetime | None = None
    execution_time_ms: int = 0
    claimed: int = 0
    released: int = 0
    cancelled: int = 0  # runs cut short by a stopping worker and given back
    executions: list[RunReport] = field(default_factory=list)
    error: str | None = None

    @property
    def success(self) -> bool:
        return self.error is None

    def data(self) -> dict[str, Any]:
        """The `data` object of the endpoint's response; field names are a dashboard contract."""
        ok = sum(1 for e in self.executions if e.status == "completed")
        return {
            "strategies_checked": self.claimed,
            "strategies_executed": len(self.executions),
            "executions": [e.__dict__ for e in self.executions],
            "execution_time_ms": self.execution_time_ms,
            "succeeded": ok,
            "failed": len(self.executions) - ok,
            "released": self.released,
            "auto_paused": sum(1 for e in self.executions if e.auto_paused),
        }

    def ledger_row(self) -> dict[str, Any]:
        d = self.data()
        return {
            "trigger": self.trigger,
            "started_at": self.started_at.isoformat(),
            "finished_at": (self.finished_at or self.started_at).isoformat(),
            "success": self.success,
            "strategies_checked": d["strategies_checked"],
            "strategies_executed": d["strategies_executed"],
            "succeeded": d["succeeded"],
            "failed": d["failed"],
            "released": self.released,
            "execution_time_ms": self.execution_time_ms,
            "error": self.error,
            "summary": {"auto_paused": d["auto_paused"], "cancelled": self.cancelled},
        }


def failed_result(message: str, duration_ms: int) -> RunResult:
    return RunResult(
        success=False,
        outputs={},
        errors=[{"node_id": None, "node_type": None, "error": message}],
        nodes_executed=0,
        duration_ms=duration_ms,
    )


class TickService:
    def __init__(
        self,
        store: Store,
        executor: WorkflowExecutor,
        settings: Settings,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.settings = settings
        self.clock = clock or SystemClock()
        self._recording: set[UUID] = set()  # runs whose outcome is being written

    async def tick(
        self, trigger: str = "cron", stop: asyncio.Event | None = None, grace_seconds: float = 0.0
    ) -> TickReport:
        """Claim, run and record until nothing is due or the budget is spent.

        `stop` is how a worker shuts down: once it is set nothing more is claimed,
        runs in flight get `grace_seconds` to finish, and those still going then
        are cancelled and their claims given back (SQL: cascadian_cancel_runs_v1).
        """
        s = self.settings
        report = TickReport(trigger=trigger, started_at=self.clock.now())
        t0 = time.perf_counter()
        claim_cutoff = self.clock.monotonic() + s.tick_budget_seconds - s.strategy_timeout_seconds
        loop = asyncio.get_running_loop()
        in_flight: dict[asyncio.Task[RunReport], ClaimedRun] = {}
        stop_wait = asyncio.ensure_future(stop.wait()) if stop is not None else None
        grace_ends: float | None = None  # set once `stop` is
        more_due = True
        try:
            while True:
                if grace_ends is None and stop is not None and stop.is_set():
                    grace_ends = loop.time() + grace_seconds
                free = s.max_concurrency - len(in_flight)
                if more_due and free > 0 and report.error is None and grace_ends is None:
                    if self.clock.monotonic() >= claim_cutoff:
                        more_due = False
                    else:
                        n = min(s.claim_limit, free)
                        claims = await self._claim(report, n, claim_cutoff, stop)
                        more_due = len(claims) == n
                        in_flight |= {asyncio.create_task(self._run(c)): c for c in claims}
                if not in_flight:
                    break
                waiting: set[asyncio.Future[Any]] = set(in_flight)
                if grace_ends is None and stop_wait is not None:
                    waiting.add(stop_wait)  # wake up to start the grace period
                timeout = None if grace_ends is None else max(0.0, grace_ends - loop.time())
                done, _ = await asyncio.wait(
                    waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                for task in [t for t in in_flight if t in done]:
                    del in_flight[task]
                    report.executions.append(task.result())
                if grace_ends is not None and in_flight and loop.time() >= grace_ends:
                    await self._cut_short(report, in_flight)
                    break
        finally:
            if stop_wait is not None:
                stop_wait.cancel()
        report.finished_at = self.clock.now()
        report.execution_time_ms = round((time.perf_counter() - t0) * 1000)
        unrecorded = [e.record_error for e in report.executions if e.record_error]
        if report.error is None and unrecorded:
            report.error = f"{len(unrecorded)} outcome(s) not recorded: {unrecorded[0]}"
        await self._record_tick(report)
        return report

    async def run_now(self, strategy_id: UUID) -> RunReport:
        """Run one strategy now, outside its schedule, and record the run.

        The manual claim takes the strategy's lease, so this never overlaps a
        scheduled run of it (Conflict while one holds the lease). The run does
        not move the schedule, and counts in the counters and towards the
        auto-pause like any run. NotFound for an unknown id.
        """
        now = self.clock.now()
        claim = await self.store.claim_manual(strategy_id, now, self.settings.lease_seconds)
        raise_unless_ok(claim.result)
        assert claim.run is not None  # result ok
        return await self._run(claim.run)

    async def _claim(
        self, report: TickReport, limit: int, cutoff: float, stop: asyncio.Event | None = None
    ) -> list[ClaimedRun]:
        try:
            claims = await self.store.claim_due(
                self.clock.now(), limit, self.settings.lease_seconds
            )
        except StoreUnavailable as exc:
            report.error = str(exc)
            return []
        report.claimed += len(claims)
        stopping = stop is not None and stop.is_set()
        if claims and (stopping or self.clock.monotonic() >= cutoff):
            # The claim came back past the cutoff, or as the worker began to
            # stop: give the strategies back unstarted.
            try:
                report.released += await self.store.release([c.execution_id for c in claims])
            except StoreUnavailable as exc:
                report.error = str(exc)  # the leases expire and the strategies come back
            return []
        return claims

    async def _run(self, claim: ClaimedRun) -> RunReport:
        timeout = self.settings.strategy_timeout_seconds
        start = time.perf_counter()
        try:
            validate(claim.schedule)
            deadline = asyncio.get_running_loop().time() + timeout
            async with asyncio.timeout_at(deadline):
                result = await self.executor.execute(claim.workflow, deadline)
        except ScheduleError as exc:
            result = failed_result(f"invalid schedule: {exc}", 0)
        except TimeoutError:
            result = failed_result(f"timed out after {timeout:g}s", _ms_since(start))
        except Exception as exc:  # the executor port must not raise; record it if it does
            log.exception("executor raised for strategy %s", claim.workflow.id)
            result = failed_result(f"executor error: {type(exc).__name__}: {exc}", _ms_since(start))
        self._recording.add(claim.execution_id)
        try:
            return await self._record(claim, result)
        finally:
            self._recording.discard(claim.execution_id)

    async def _cut_short(
        self, report: TickReport, in_flight: dict[asyncio.Task[RunReport], ClaimedRun]
    ) -> None:
        """Cancel the runs a stopping worker's grace period did not let finish, and
        give their claims back: each strategy is due again, its counters untouched.
        A run whose outcome is already being written is let finish.
        """
        for task, claim in in_flight.items():
            if claim.execution_id not in self._recording:
                task.cancel()
        await asyncio.wait(in_flight)
        cut = []
        for task, claim in in_flight.items():
            if task.cancelled():
                cut.append(claim.execution_id)
            else:  # it finished as it was being cancelled
                report.executions.append(task.result())
        if not cut:
            return
        log.warning("cancelling %d run(s) still going at the end of the grace period", len(cut))
        try:
            report.cancelled += await self.store.cancel_runs(cut, CUT_SHORT, self.clock.now())
        except StoreUnavailable as exc:
            report.error = str(exc)  # the leases expire and the strategies come back

    async def _record(self, claim: ClaimedRun, result: RunResult) -> RunReport:
        finished = self.clock.now()
        next_at: datetime | None
        if claim.scheduled_for is None:
            next_at = claim.next_execution_at  # a manual run leaves the schedule alone
        else:
            try:
                next_at = next_slot(claim.schedule, claim.scheduled_for, finished)
            except ScheduleError:
                # Fall back to the interval so a bad cron can't wedge the strategy;
                # the failure counts towards the auto-pause.
                fallback = Schedule(interval_minutes=claim.schedule.interval_minutes)
                next_at = next_slot(fallback, claim.scheduled_for, finished)
        outcome = RunOutcome(claim.execution_id, claim.workflow.id, result, next_at, finished)
        report = RunReport(
            workflow_id=str(claim.workflow.id),
            workflow_name=claim.workflow.name,
            status="completed" if result.success else "failed",
            duration_ms=result.duration_ms,
            nodes_executed=result.nodes_executed,
            error=result.error_message,
            execution_id=str(claim.execution_id),
            attempt=claim.attempt,
            recorded=False,
            next_execution_at=next_at.isoformat() if next_at else None,
        )
        try:
            [recorded] = await self.store.finish_runs([outcome], self.settings.auto_pause_threshold)
        except Exception as exc:  # one outcome that cannot be written must not end the tick
            log.error("could not record run %s: %s", claim.execution_id, exc)
            report.record_error = str(exc)  # its lease expires and a later tick re-runs it
            return report
        if not recorded.accepted:
            log.warning("outcome of run %s rejected: its lease was taken over", claim.execution_id)
        report.recorded = recorded.accepted
        report.auto_paused = recorded.auto_paused
        return report

    async def _record_tick(self, report: TickReport) -> None:
        try:
            await self.store.record_tick(report.ledger_row())
        except StoreUnavailable as exc:
            log.warning("tick not written to the ledger: %s", exc)


def _ms_since(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)
