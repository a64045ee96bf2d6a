"""Operators' control of strategies, and the reads dashboards use.

The web routes (web/control.py, web/ops.py) and `cascadian strategies` call
this service. It computes next slots (schedule.py) and makes each change with
one control-store call, that is one SQL function (migrations/005, 027). Every change
is made by an Actor, which the SQL writes to the audit log in the change's own
transaction; a user acting on a strategy that is not theirs gets NotFound, as for
one that does not exist.

A daily-loss halt (the trading book's circuit breaker) is an operator's to lift
(migrations/064): an operator's start or resume lifts it, in a transaction of its
own once the strategy is scheduled (were that one to fail, the strategy runs with
its orders refused: the safe side), and `lift_halt` lifts it alone. A user's
start or resume schedules the strategy and leaves the halt.

Running a strategy now is the tick service's job (TickService.run_now).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from cascadian.clock import Clock, SystemClock
from cascadian.data import (
    Actor,
    Backlog,
    Execution,
    ExecutionDetail,
    Gauges,
    Page,
    Schedule,
    ScheduleLag,
    StrategyStatus,
    TickEntry,
    scope,
)
from cascadian.errors import Forbidden, NotFound, StoreUnavailable, raise_unless_ok
from cascadian.ports import ControlStore
from cascadian.schedule import first_slot, validate

# The cron runs every minute: no tick for this long means ticks are being missed.
TICKS_OVERDUE_AFTER = timedelta(minutes=3)
# How many of the newest ticks health looks at for a failing streak.
RECENT_TICKS = 5
# The recent runs a strategy's schedule lag is read over.
LAG_RUNS = 20


@dataclass(frozen=True)
class Health:
    database: bool  # reachable
    last_tick_at: datetime | None
    ticks_overdue: bool | None  # None: unknown, the database is unreachable
    # The newest ticks that failed in a row (up to RECENT_TICKS); None: unknown.
    failing_ticks: int | None = None
    # How late the oldest due strategy is, and whether that is past
    # CASCADIAN_MAX_SCHEDULE_LAG_SECONDS (None: unknown).
    oldest_due_lag_seconds: float | None = None
    schedule_late: bool | None = None

    @property
    def ok(self) -> bool:
        return (
            self.database
            and not self.ticks_overdue
            and not self.failing_ticks
            and not self.schedule_late
        )


class ControlService:
    def __init__(
        self,
        store: ControlStore,
        clock: Clock | None = None,
        *,
        max_schedule_lag_seconds: float = 300.0,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.max_schedule_lag_seconds = max_schedule_lag_seconds

    # The reads take the actor too: a user's are scoped to their own strategies in
    # the SQL (another's is NotFound, as a missing one); None: the operator.
    async def status(self, strategy_id: UUID, actor: Actor | None = None) -> StrategyStatus:
        """NotFound also when `actor` is a user who does not own it."""
        status = await self.store.strategy_status(strategy_id, self.clock.now(), scope(actor))
        if status is None:
            raise NotFound("strategy not found")
        return status

    async def start(
        self,
        strategy_id: UUID,
        actor: Actor,
        interval_minutes: int | None = None,
        cron: str | None = None,
        timezone: str | None = None,
    ) -> StrategyStatus:
        """Schedule the strategy and set it running, with a fresh error streak; it
        first runs at its next slot.

        Unset fields keep the strategy's schedule, except that an interval given
        without a cron expression makes it an interval schedule. ScheduleError
        for an invalid cron expression or time zone; Conflict if already running.
        """
        keep = (await self.status(strategy_id, actor)).schedule
        if cron is None and interval_minutes is None:
            cron = keep.cron
        schedule = Schedule(
            interval_minutes=interval_minutes or keep.interval_minutes,
            cron=cron,
            timezone=timezone or keep.timezone,
        )
        validate(schedule)
        now = self.clock.now()
        next_at = first_slot(schedule, now)
        raise_unless_ok(await self.store.start(strategy_id, schedule, next_at, now, actor))
        await self._lift_for_operator(strategy_id, now, actor)
        return await self.status(strategy_id, actor)

    async def pause(self, strategy_id: UUID, actor: Actor) -> StrategyStatus:
        raise_unless_ok(await self.store.pause(strategy_id, self.clock.now(), actor))
        return await self.status(strategy_id, actor)

    async def stop(self, strategy_id: UUID, actor: Actor) -> StrategyStatus:
        raise_unless_ok(await self.store.stop(strategy_id, self.clock.now(), actor))
        return await self.status(strategy_id, actor)

    async def resume(self, strategy_id: UUID, actor: Actor) -> StrategyStatus:
        """Set a paused, stopped or auto-paused strategy running again from now,
        with its error state cleared (and, by an operator, its trading halt)."""
        schedule = (await self.status(strategy_id, actor)).schedule
        validate(schedule)
        now = self.clock.now()
        raise_unless_ok(await self.store.resume(strategy_id, first_slot(schedule, now), now, actor))
        await self._lift_for_operator(strategy_id, now, actor)
        return await self.status(strategy_id, actor)

    async def lift_halt(self, strategy_id: UUID, actor: Actor) -> bool:
        """Lift the strategy's daily-loss halt; False if it had none. Forbidden for a
        user (the owner included), NotFound for a strategy that does not exist."""
        result = await self.store.lift_trading_halt(strategy_id, self.clock.now(), actor)
        if result == "forbidden":
            raise Forbidden("a daily-loss halt is lifted by an operator, not by a user")
        if result == "not_found":
            raise NotFound("strategy not found")
        return result == "ok"

    async def _lift_for_operator(self, strategy_id: UUID, now: datetime, actor: Actor) -> None:
        if actor.kind == "operator":
            await self.store.lift_trading_halt(strategy_id, now, actor)

    async def executions(
        self, strategy_id: UUID, limit: int, offset: int, actor: Actor | None = None
    ) -> Page[Execution]:
        page = await self.store.executions(strategy_id, limit, offset, scope(actor))
        if page is None:
            raise NotFound("strategy not found")
        return page

    async def execution(self, execution_id: UUID, actor: Actor | None = None) -> ExecutionDetail:
        run = await self.store.execution(execution_id, scope(actor))
        if run is None:
            raise NotFound("execution not found")
        return run

    async def ticks(self, limit: int) -> list[TickEntry]:
        return await self.store.ticks(limit)

    async def health(self) -> Health:
        try:
            ticks = await self.store.ticks(RECENT_TICKS)
        except StoreUnavailable:
            return Health(database=False, last_tick_at=None, ticks_overdue=None)
        lag = await self._oldest_due_lag()
        late = None if lag is None else lag > self.max_schedule_lag_seconds
        if not ticks:
            return Health(
                database=True,
                last_tick_at=None,
                ticks_overdue=True,
                failing_ticks=0,
                oldest_due_lag_seconds=lag,
                schedule_late=late,
            )
        last = ticks[0].started_at
        overdue = self.clock.now() - last > TICKS_OVERDUE_AFTER
        failing = next((i for i, t in enumerate(ticks) if t.success), len(ticks))
        return Health(
            database=True,
            last_tick_at=last,
            ticks_overdue=overdue,
            failing_ticks=failing,
            oldest_due_lag_seconds=lag,
            schedule_late=late,
        )

    async def _oldest_due_lag(self) -> float | None:
        try:
            return (await self.backlog()).oldest_lag_seconds or 0.0
        except StoreUnavailable:
            return None

    async def backlog(self) -> Backlog:
        """The strategies due now that no live lease holds, and the oldest's lag."""
        return await self.store.backlog(self.clock.now())

    async def schedule_lag(
        self, strategy_id: UUID, runs: int = LAG_RUNS, actor: Actor | None = None
    ) -> ScheduleLag:
        """How late the strategy's newest `runs` scheduled runs started against their
        slots; NotFound for an unknown id (or another user's)."""
        await self.status(strategy_id, actor)
        return await self.store.schedule_lag(strategy_id, runs)

    async def gauges(self) -> Gauges:
        """The figures /api/metrics reads from the database."""
        return await self.store.gauges(self.clock.now())
