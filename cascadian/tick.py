"""One tick: claim due strategies, run them concurrently, record each outcome.

    claim  -> store.claim_due       (one SQL call: store/runs.py)
    run    -> executor.execute      (per-strategy timeout)
    record -> store.finish_runs     (one SQL call per batch: store/runs.py)

Beside them, at most once a minute, the bookkeeping step (the Bookkeeper port:
trading/marking.py) settles paper positions in resolved markets and marks the
others, on a task of its own started once the first claim has answered (not when
it found the database down), bounded by BOOKKEEPING_MAX_SECONDS; the tick waits for
it only once its runs are over, and a failure of it is logged, never the tick's.

Claims are taken in batches no larger than the free concurrency, so every
claimed strategy starts at once; claiming stops when a new run could no
longer finish inside the tick budget, or when a worker is stopping. A run whose
outcome is waiting to be written no longer holds its concurrency slot, so the
next claim and its runs overlap the write of the last batch (up to as many runs
again waiting on the write): the database writes while the process runs.

`run_now` runs one strategy on demand through the same run and record steps,
under a manual claim (store.claim_manual); `rerun` runs a failed run again with
its recorded inputs, under a claim of its own (store.claim_rerun). Market events
(triggers/, through the TickEvents port) are priced once at the start of a tick and
their runs claimed before due ones; a worker's listener hands its claims to
`run_claimed`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Sequence
from contextlib import suppress
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast
from uuid import UUID

from cascadian.clock import Clock, SystemClock
from cascadian.config import Settings
from cascadian.data import (
    Actor,
    Bookkeeping,
    ClaimedRun,
    Recorded,
    RunOutcome,
    RunResult,
    Workflow,
)
from cascadian.errors import ScheduleError, StoreUnavailable, raise_unless_ok
from cascadian.logs import bind, unbind
from cascadian.ports import (
    Bookkeeper,
    Store,
    TickEvents,
    TickObserver,
    TickObservers,
    WorkflowExecutor,
)
from cascadian.recorder import OutcomeRecorder
from cascadian.reports import RunReport, TickReport, failed_result
from cascadian.retention import Pruner
from cascadian.schedule import MAX_INTERVAL_MINUTES, next_slot, validate

log = logging.getLogger(__name__)
T = TypeVar("T")

# How long past its deadline a run gets to report its own timeout, and then to
# honour its cancellation before it is abandoned.
REPORT_GRACE = 0.25
CANCEL_GRACE = 0.5
# A run that starts within this long of its claim keeps the claim's deadline (one
# timer for the claim's runs); one that starts later, because another strategy's
# work held the event loop, is timed from its own start: it is not charged for it.
SHARED_DEADLINE_SLACK = 0.05

CUT_SHORT = "cancelled: the worker stopped before the run finished; the strategy runs again"
# A tick prunes only with at least this much of its budget left, and leaves this
# much for writing its ledger row.
PRUNE_MIN_MS = 50
PRUNE_MARGIN_MS = 1000
# A worker that ticks back to back (draining a backlog) prunes at most this often;
# the cron's ticks, a minute apart, each prune.
PRUNE_EVERY_SECONDS = 30.0
# An idle worker still writes a tick this often, well inside health's 3-minute
# "ticks overdue" (control.TICKS_OVERDUE_AFTER).
IDLE_LEDGER_EVERY_SECONDS = 60.0
# The most the bookkeeping step may take, and how long past its deadline the tick
# waits for it before cancelling it.
BOOKKEEPING_MAX_SECONDS = 10.0
BOOKKEEPING_GRACE = 0.5


class TickService:
    def __init__(
        self,
        store: Store,
        executor: WorkflowExecutor,
        settings: Settings,
        clock: Clock | None = None,
        *,
        observers: Sequence[TickObserver] = (),
        bookkeeper: Bookkeeper | None = None,
        events: TickEvents | None = None,
    ) -> None:
        self.store = store
        # Settles and marks the paper positions beside the runs (trading/marking.py).
        self.bookkeeper = bookkeeper
        # Market events priced and claimed by each tick (None: scheduled runs only).
        self.events = events
        self.executor = executor
        self.settings = settings
        self.clock = clock or SystemClock()
        # Told of claims, store errors, ticks and runs now (metrics, alerts).
        self.observers = TickObservers(observers)
        self.pruner = Pruner(store, settings, self.clock)
        self._pruned_at: float | None = None  # monotonic
        # When this service last wrote the ledger (monotonic; its start counts), and
        # whether that tick succeeded.
        self._last_ledgered: tuple[float, bool] = (self.clock.monotonic(), True)
        self.recorder = OutcomeRecorder(store, settings.auto_pause_threshold)
        # The claims (by id(): they are alive meanwhile) whose outcome is being written.
        self._recording: set[int] = set()
        self._wakers: set[asyncio.Event] = set()  # ticks to wake when a slot frees
        # Runs that ignored cancellation, kept referenced until they end.
        self._abandoned: set[asyncio.Task[RunResult]] = set()

    async def tick(
        self,
        trigger: str = "cron",
        stop: asyncio.Event | None = None,
        grace_seconds: float = 0.0,
        delivery_id: str | None = None,
        ledger_if_idle: bool = True,
    ) -> TickReport:
        """Claim, run and record until nothing is due or the budget is spent.

        `stop` is how a worker shuts down: once it is set nothing more is claimed,
        runs in flight get `grace_seconds` to finish, and those still going then
        are cancelled and their claims given back (store.cancel_runs).
        `delivery_id` is the scheduler's id for this delivery, kept in the ledger.
        `ledger_if_idle=False` leaves a tick that claimed nothing and failed at
        nothing out of the ledger (a worker wakes at every slot; most find it taken),
        but for one a minute and the first after a failure (see _ledger_wanted).
        """
        report = TickReport(trigger=trigger, started_at=self.clock.now(), delivery_id=delivery_id)
        ids = bind(tick_id=report.id)  # on every line the tick writes, its runs' too
        try:
            return await self._tick(report, stop, grace_seconds, ledger_if_idle)
        finally:
            unbind(ids)  # even when cancelled: later lines are not this tick's

    async def _tick(
        self,
        report: TickReport,
        stop: asyncio.Event | None,
        grace_seconds: float,
        ledger_if_idle: bool,
    ) -> TickReport:
        s = self.settings
        trigger = report.trigger
        t0 = time.perf_counter()
        budget_ends = self.clock.monotonic() + s.tick_budget_seconds
        claim_cutoff = self.clock.monotonic() + s.tick_budget_seconds - s.strategy_timeout_seconds
        loop = asyncio.get_running_loop()
        in_flight: dict[asyncio.Task[RunReport], ClaimedRun] = {}
        # Set when a run ends, a run moves on to being recorded, or `stop` is set:
        # one event to wait on, rather than a wait on every run in flight.
        changed = asyncio.Event()

        def wake(_: Any) -> None:
            changed.set()

        self._wakers.add(changed)
        stop_wait = asyncio.ensure_future(stop.wait()) if stop is not None else None
        if stop_wait is not None:
            stop_wait.add_done_callback(wake)
        grace_ends: float | None = None  # set once `stop` is
        more_due = True
        keeping: asyncio.Task[Bookkeeping] | None = None
        keep_deadline, keep_considered = 0.0, False
        # Market events are priced once, after the first claim (so a database that
        # is down costs one timeout, not two); their crossings are claimed next.
        evaluated = self.events is None
        try:
            while True:
                changed.clear()
                for task in [t for t in in_flight if t.done()]:
                    report.executions.append(_report_of(task, in_flight.pop(task)))
                if grace_ends is not None and in_flight and loop.time() >= grace_ends:
                    await self._cut_short(report, in_flight)
                    break
                if grace_ends is None and stop is not None and stop.is_set():
                    grace_ends = loop.time() + grace_seconds
                free = self._free(in_flight)
                if more_due and free > 0 and report.error is None and grace_ends is None:
                    if self.clock.monotonic() >= claim_cutoff:
                        more_due = False
                    else:
                        n = min(s.claim_limit, free)
                        claims = await self._claim(report, n, claim_cutoff, stop)
                        if not evaluated and report.error is None:
                            evaluated = True
                            more = n - len(claims)
                            claims += await self._claim_crossings(report, more, claim_cutoff)
                        more_due = len(claims) == n
                        if not keep_considered:  # once the first claim answered, if it did
                            keep_considered = True
                            if report.error is None:
                                keeping, keep_deadline = self._start_bookkeeping(budget_ends)
                        # The claim's runs start together and share a deadline (one
                        # timer: workflow/deadlines.py), unless one starts late.
                        deadline = loop.time() + s.strategy_timeout_seconds
                        for claim in claims:
                            task = _started(self._run(claim, deadline))
                            task.add_done_callback(wake)
                            in_flight[task] = claim
                if not in_flight:
                    break
                timeout = None if grace_ends is None else max(0.0, grace_ends - loop.time())
                with suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await changed.wait()
            if keeping is not None:
                await self._finish_bookkeeping(keeping, keep_deadline)
        finally:
            self._wakers.discard(changed)
            if stop_wait is not None:
                stop_wait.cancel()
            if keeping is not None and not keeping.done():
                keeping.cancel()
        unrecorded = [e.record_error for e in report.executions if e.record_error]
        if report.error is None and unrecorded:
            report.error = f"{len(unrecorded)} outcome(s) not recorded: {unrecorded[0]}"
        # Prune only a tick that went well: one that could not record is no time to.
        if report.error is None and not (stop is not None and stop.is_set()):
            await self._prune(report, round((budget_ends - self.clock.monotonic()) * 1000))
        report.finished_at = self.clock.now()
        report.execution_time_ms = round((time.perf_counter() - t0) * 1000)
        if self._ledger_wanted(report, ledger_if_idle):
            await self._record_tick(report)
            self._last_ledgered = (self.clock.monotonic(), report.success)
        self.observers.tick_finished(report)  # alerts go on a task of their own
        d = report.summary()
        lag = "" if d.max_lag_seconds is None else f", max lag {d.max_lag_seconds:.1f}s"
        log.log(
            logging.WARNING if report.error else logging.INFO,
            "tick (%s): %d claimed, %d ok, %d failed, %d released, %d ms%s%s",
            trigger,
            report.claimed,
            d.succeeded,
            d.failed,
            report.released,
            report.execution_time_ms,
            lag,
            f"; error: {report.error}" if report.error else "",
            extra={"tick_summary": True},
        )
        return report

    def _ledger_wanted(self, report: TickReport, ledger_if_idle: bool) -> bool:
        """Whether this tick goes in the ledger. Not when its claim found the database
        unreachable and nothing ran (the write would only wait out the timeout again).
        An idle worker tick only now and then: health reads the ledger to see that
        ticks arrive and that the last one succeeded."""
        if report.store_down and report.claimed == 0:
            return False
        pruned = report.prune_error is not None or (report.prune is not None and report.prune.rows)
        if ledger_if_idle or report.claimed or report.error or pruned:
            return True
        at, succeeded = self._last_ledgered
        return not succeeded or self.clock.monotonic() - at >= IDLE_LEDGER_EVERY_SECONDS

    def _start_bookkeeping(
        self, budget_ends: float
    ) -> tuple[asyncio.Task[Bookkeeping] | None, float]:
        """The bookkeeping step on a task of its own, when it is due, with its
        deadline on the event loop's clock (within the budget, less the ledger's
        margin)."""
        if self.bookkeeper is None or not self.bookkeeper.due():
            return None, 0.0
        left = budget_ends - self.clock.monotonic() - PRUNE_MARGIN_MS / 1000
        if left <= 0:
            return None, 0.0
        deadline = asyncio.get_running_loop().time() + min(BOOKKEEPING_MAX_SECONDS, left)
        return asyncio.get_running_loop().create_task(self.bookkeeper.keep(deadline)), deadline

    async def _finish_bookkeeping(self, task: asyncio.Task[Bookkeeping], deadline: float) -> None:
        """Wait for the step until its deadline (and a little grace), then cancel it."""
        left = deadline - asyncio.get_running_loop().time() + BOOKKEEPING_GRACE
        done, _ = await asyncio.wait({task}, timeout=max(0.0, left))
        if not done:
            task.cancel()
            log.warning("settling and marking paper positions passed its deadline; cancelled")
            return
        if task.cancelled() or task.exception() is not None:  # the port must not raise
            log.warning("settling and marking paper positions failed: %r", task)
            return
        kept = task.result()
        if kept.settled or kept.marked:
            log.info(
                "paper positions: %d settled, %d outcome(s) marked, %d equity point(s)",
                kept.settled,
                kept.marked,
                kept.points,
            )

    def _free(self, in_flight: dict[asyncio.Task[RunReport], ClaimedRun]) -> int:
        """How many more runs may be claimed now: the free concurrency, counting
        only runs not yet waiting on their record, once at least half a claim is
        free (so claims stay wide) and while no more than max_concurrency runs
        wait on the write."""
        s = self.settings
        recording = sum(1 for c in in_flight.values() if id(c) in self._recording)
        running = len(in_flight) - recording
        free = min(s.max_concurrency - running, 2 * s.max_concurrency - len(in_flight))
        if running and free < min(s.claim_limit, s.max_concurrency) // 2:
            return 0
        return max(0, free)

    async def _prune(self, report: TickReport, left_ms: int) -> None:
        """Prune within the caps and what is left of the budget; a failure is
        reported in the tick's summary and logged, never the tick's error."""
        max_ms = left_ms - PRUNE_MARGIN_MS
        if not self.pruner.in_ticks or max_ms < PRUNE_MIN_MS:
            return
        mono = self.clock.monotonic()
        if self._pruned_at is not None and mono - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = mono
        try:
            report.prune = await self.pruner.in_tick(max_ms)
        except Exception as exc:
            report.prune_error = f"{type(exc).__name__}: {exc}"
            log.warning("prune failed; the tick goes on: %s", report.prune_error)

    async def run_now(self, strategy_id: UUID, actor: Actor) -> RunReport:
        """Run one strategy now, outside its schedule, and record the run.

        The manual claim takes the strategy's lease, so this never overlaps a
        scheduled run of it (Conflict while one holds the lease). The run does
        not move the schedule, and counts in the counters and towards the
        auto-pause like any run. The claim is the actor's, in the audit log.
        NotFound for an unknown id, and for a user's run of another's strategy.
        """
        now = self.clock.now()
        lease = self.settings.lease_seconds
        claim = await self.store.claim_manual(strategy_id, now, lease, actor)
        raise_unless_ok(claim.result)
        assert claim.run is not None  # result ok
        report = await self._run(claim.run)
        self.observers.run_now_finished(report)
        return report

    async def rerun(self, execution_id: UUID, actor: Actor) -> RunReport:
        """Run a failed run again with the inputs it had (its recorded graph,
        variables and trigger), as a manual run marked `rerun` that links back to
        it: the strategy's lease, the schedule unmoved, counted in the counters and
        towards the auto-pause as run now is; the claim is the actor's, in the audit
        log. NotFound for an unknown run (and a user's re-run of another's run);
        Conflict (with its code) for a run that did not fail, kept no graph, or
        whose strategy is archived, an old version or running."""
        now = self.clock.now()
        lease = self.settings.lease_seconds
        claim = await self.store.claim_rerun(execution_id, now, lease, actor)
        raise_unless_ok(claim.result)
        assert claim.run is not None  # result ok
        log.info("re-running the failed run %s as run %s", execution_id, claim.run.execution_id)
        report = await self._run(claim.run)
        self.observers.run_now_finished(report)
        return report

    async def _claim_crossings(
        self, report: TickReport, limit: int, cutoff: float
    ) -> list[ClaimedRun]:
        """Price the market's armed triggers once (never raises), then claim the runs of
        the crossings that wrote, up to `limit`."""
        assert self.events is not None
        if await self.events.evaluate(cutoff - self.clock.monotonic()) == 0 or limit <= 0:
            return []
        return await self._claim(report, limit, cutoff)

    async def _claim(
        self, report: TickReport, limit: int, cutoff: float, stop: asyncio.Event | None = None
    ) -> list[ClaimedRun]:
        now = self.clock.now()
        try:
            claims: list[ClaimedRun] = []
            if self.events is not None:  # events first: they are waiting on the market
                claims = await self.events.claim(now, limit, self.settings.lease_seconds)
            if len(claims) < limit:
                claims += await self.store.claim_due(
                    now,
                    limit - len(claims),
                    self.settings.lease_seconds,
                    self.settings.owner_max_runs,
                )
        except StoreUnavailable as exc:
            self.observers.store_error("claim")
            report.error = str(exc)
            # Unreachable (not a refusal or a bad answer): the ledger write would only
            # wait out the same timeout again, doubling the time to the 503.
            report.store_down = type(exc) is StoreUnavailable
            return []
        self.observers.claimed(len(claims))
        if any(c.claimed_at is None for c in claims):  # a store that did not stamp them
            claims = [replace(c, claimed_at=c.claimed_at or now) for c in claims]
        report.claimed += len(claims)
        stopping = stop is not None and stop.is_set()
        if claims and (stopping or self.clock.monotonic() >= cutoff):
            # The claim came back past the cutoff, or as the worker began to
            # stop: give the strategies back unstarted.
            try:
                report.released += await self.store.release([c.execution_id for c in claims])
            except StoreUnavailable as exc:
                self.observers.store_error("release")
                report.error = str(exc)  # the leases expire and the strategies come back
            return []
        return claims

    async def run_claimed(self, claim: ClaimedRun) -> RunReport:
        """Run and record one run claimed elsewhere (an event run a worker's listener
        claimed): the tick's own run and record steps."""
        return await self._run(claim)

    async def _run(self, claim: ClaimedRun, deadline: float | None = None) -> RunReport:
        """Run and record one claim; `deadline` (the event loop's clock) is its claim's,
        else the strategy timeout from now."""
        event_id = claim.event.get("id") if claim.event else None
        # This task's lines.
        bind(strategy_id=claim.workflow.id, execution_id=claim.execution_id, event_id=event_id)
        if claim.event is not None:
            log.info(
                "event run: trigger %s, crossing %s, %s -> %s (%s)",
                claim.event.get("trigger"),
                claim.event.get("crossing"),
                claim.event.get("price_before"),
                claim.event.get("price_after"),
                claim.event.get("source"),
            )
        if claim.problem is not None:
            result = failed_result(claim.problem, 0)
        elif claim.attempt > self.settings.max_attempts:
            # Earlier attempts at this slot ran but were never recorded (their
            # process died, or their outcome could not be written): give the slot
            # up, recorded as failed, rather than re-running it (and its side
            # effects) at every lease expiry.
            what = (
                f"the slot {claim.scheduled_for:%Y-%m-%d %H:%M:%S} UTC"
                if claim.scheduled_for is not None
                else "the event"
            )
            result = failed_result(
                f"gave up on {what}: "
                f"{claim.attempt - 1} attempts at it were never recorded "
                "(CASCADIAN_MAX_ATTEMPTS)",
                0,
            )
        else:
            try:
                validate(claim.schedule)
            except ScheduleError as exc:
                result = failed_result(f"invalid schedule: {exc}", 0)
            else:
                result = await self._execute(claim.workflow, deadline)
        self._recording.add(id(claim))
        for waker in self._wakers:
            waker.set()
        try:
            return await self._record(claim, result)
        finally:
            self._recording.discard(id(claim))

    async def _execute(self, workflow: Workflow, deadline: float | None = None) -> RunResult:
        """Run the workflow by `deadline` (its claim's), or the strategy timeout from
        now if None or if the claim's left it SHARED_DEADLINE_SLACK less. A run that
        ignores its cancellation is abandoned after CANCEL_GRACE: it cannot hold the
        tick."""
        timeout = self.settings.strategy_timeout_seconds
        start = time.perf_counter()
        own = asyncio.get_running_loop().time() + timeout
        if deadline is None or own - deadline > SHARED_DEADLINE_SLACK:
            deadline = own
        task = _started(self.executor.execute(workflow, deadline))
        done = {task} if task.done() else set()
        try:
            # The executor stops itself at the deadline and says how far it got;
            # cancelling it is the fallback for one that does not.
            if not done:  # counted from the run's start, before the task's first step
                left = deadline + REPORT_GRACE - asyncio.get_running_loop().time()
                done, _ = await asyncio.wait({task}, timeout=max(0.0, left))
        except asyncio.CancelledError:  # a stopping worker cut the run short
            task.cancel()
            raise
        if not done:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=CANCEL_GRACE)
            if not done:
                log.error("run of %s ignored its cancellation; abandoning it", workflow.id)
                self._abandoned.add(task)
                task.add_done_callback(self._abandoned.discard)
            return failed_result(f"timed out after {timeout:g}s", _ms_since(start))
        if task.cancelled():
            return failed_result(f"timed out after {timeout:g}s", _ms_since(start))
        exc = task.exception()
        if exc is not None:  # the executor port must not raise; record it if it does
            log.error("executor raised for strategy %s: %r", workflow.id, exc)
            return failed_result(f"executor error: {type(exc).__name__}: {exc}", _ms_since(start))
        return task.result()

    async def _cut_short(
        self, report: TickReport, in_flight: dict[asyncio.Task[RunReport], ClaimedRun]
    ) -> None:
        """Cancel the runs a stopping worker's grace period did not let finish, and
        give their claims back: each strategy is due again, its counters untouched.
        A run whose outcome is already being written is let finish.
        """
        for task, claim in in_flight.items():
            if id(claim) not in self._recording:
                task.cancel()
        await asyncio.wait(in_flight)
        cut = []
        for task, claim in in_flight.items():
            if task.cancelled():
                cut.append(claim.execution_id)
            else:  # it finished as it was being cancelled
                report.executions.append(_report_of(task, claim))
        if not cut:
            return
        log.warning("cancelling %d run(s) still going at the end of the grace period", len(cut))
        try:
            report.cancelled += await self.store.cancel_runs(cut, CUT_SHORT, self.clock.now())
        except StoreUnavailable as exc:
            report.error = str(exc)  # the leases expire and the strategies come back

    async def _record(self, claim: ClaimedRun, result: RunResult) -> RunReport:
        finished = self.clock.now()
        next_at = _next_run(claim, finished)
        outcome = RunOutcome(claim.execution_id, claim.workflow.id, result, next_at, finished)
        recorded: Recorded | None = None
        record_error = None
        try:
            recorded = await self.recorder.record(outcome)
        except Exception as exc:  # one outcome that cannot be written must not end the tick
            self.observers.store_error("finish_runs")
            log.error("could not record run %s: %s", claim.execution_id, exc)
            record_error = str(exc)  # its lease expires and a later tick re-runs it
        else:
            if not recorded.accepted:
                log.warning(
                    "outcome of run %s rejected: its lease was taken over", claim.execution_id
                )
            for problem in recorded.side_errors:
                log.warning("run %s recorded, but: %s", claim.execution_id, problem)
        # Built once it is recorded: a pydantic model's fields set one by one
        # afterwards cost more than the model.
        return RunReport(
            workflow_id=claim.workflow.id,
            workflow_name=claim.workflow.name,
            status="completed" if result.success else "failed",
            duration_ms=result.duration_ms,
            nodes_executed=result.nodes_executed,
            error=result.error_message,
            execution_id=claim.execution_id,
            attempt=claim.attempt,
            recorded=recorded is not None and recorded.accepted,
            auto_paused=recorded is not None and recorded.auto_paused,
            record_error=record_error,
            side_errors=[] if recorded is None else list(recorded.side_errors),
            next_execution_at=next_at,
            lag_seconds=_lag(claim),
            event_id=claim.event.get("id") if claim.event else None,
        )

    async def _record_tick(self, report: TickReport) -> None:
        try:
            await self.store.record_tick(report)
        except StoreUnavailable as exc:
            self.observers.store_error("record_tick")
            log.warning("tick not written to the ledger: %s", exc)


def _started(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """A task that runs at once, until it first waits (Python >= 3.12; a plain task
    before): a run that never waits is done here, without a round of the event loop."""
    loop = asyncio.get_running_loop()
    eager = getattr(asyncio, "eager_task_factory", None)
    return loop.create_task(coro) if eager is None else cast("asyncio.Task[T]", eager(loop, coro))


def _lag(claim: ClaimedRun) -> float | None:
    """How late a scheduled run started against its slot (None for a manual run)."""
    if claim.scheduled_for is None or claim.claimed_at is None:
        return None
    return max(0.0, (claim.claimed_at - claim.scheduled_for).total_seconds())


def _ms_since(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)


def _next_run(claim: ClaimedRun, finished: datetime) -> datetime | None:
    """When the strategy runs next; never raises, whatever the stored schedule."""
    if claim.scheduled_for is None:
        return claim.next_execution_at  # a manual run leaves the schedule alone
    try:
        return next_slot(claim.schedule, claim.scheduled_for, finished)
    except Exception:
        # A bad cron, time zone or interval must not wedge the strategy: fall
        # back to its interval (or 5 minutes); the run is recorded as failed.
        minutes = claim.schedule.interval_minutes
        ok = isinstance(minutes, int) and 1 <= minutes <= MAX_INTERVAL_MINUTES
        return finished + timedelta(minutes=minutes if ok else 5)


def _report_of(task: asyncio.Task[RunReport], claim: ClaimedRun) -> RunReport:
    """The task's report; a bug that escaped _run becomes a failed, unrecorded run
    (its lease expires and it runs again) rather than a crashed tick."""
    if task.exception() is None:
        return task.result()
    exc = task.exception()
    log.error("run %s crashed: %r", claim.execution_id, exc)
    return RunReport(
        workflow_id=claim.workflow.id,
        workflow_name=claim.workflow.name,
        status="failed",
        duration_ms=0,
        nodes_executed=0,
        error=f"internal error: {type(exc).__name__}: {exc}",
        execution_id=claim.execution_id,
        attempt=claim.attempt,
        recorded=False,
        record_error=f"internal error: {type(exc).__name__}",
    )
