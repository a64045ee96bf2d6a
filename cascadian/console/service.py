"""What the operators' console reads, for the pages in web/console/.

Each read is one store call (one SQL function of migrations/017, or the control
store's), so the console sees what the API sees. The changes the console makes
(pause, resume, run now, ...) go through the control and tick services, never
through here. Schedule lag is computed here from the slot and the clock, so a
strategy waiting for a claim shows how late it is before it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args
from uuid import UUID

from cascadian.clock import Clock, SystemClock
from cascadian.data import (
    ConsoleOverview,
    NotificationEntry,
    Page,
    PaperOrderEntry,
    StrategyStatus,
    TickEntry,
)
from cascadian.ports import ConsoleStore, ControlStore

Filter = Literal[
    "all", "failing", "due", "running", "paused", "stopped", "error", "draft", "active", "archived"
]
Sort = Literal["attention", "name", "next_run", "last_run"]
FILTERS: tuple[str, ...] = get_args(Filter)
SORTS: tuple[str, ...] = get_args(Sort)
# The tick ledger holds a row a minute (more with workers); the chart reads at
# most this many of the newest.
MAX_CHART_TICKS = 1000


def lag(status: StrategyStatus, now: datetime) -> timedelta | None:
    """How late a strategy is: from its slot to now while the slot has come and no
    run holds it; None when it is not waiting for a claim."""
    if not status.auto_run or status.status not in ("running", "error"):
        return None
    if status.next_execution_at is None or status.run_in_flight:
        return None
    late = now - status.next_execution_at
    return late if late > timedelta(0) else None


@dataclass(frozen=True)
class TickWindow:
    """The ticks of the last `hours`, oldest first. `complete` is False when the
    ledger had more ticks in the window than were read, so the oldest part of the
    window is not shown (and no gap may be read into it)."""

    since: datetime
    until: datetime
    ticks: list[TickEntry]
    complete: bool


class ConsoleService:
    def __init__(self, store: ConsoleStore, control: ControlStore, clock: Clock | None = None):
        self.store, self.control = store, control
        self.clock = clock or SystemClock()

    def now(self) -> datetime:
        return self.clock.now()

    async def overview(self) -> ConsoleOverview:
        return await self.store.console_overview(self.clock.now())

    async def tick_window(self, hours: int) -> TickWindow:
        until = self.clock.now()
        since = until - timedelta(hours=hours)
        newest = await self.control.ticks(MAX_CHART_TICKS)
        inside = [t for t in newest if t.started_at >= since]
        complete = len(newest) < MAX_CHART_TICKS or len(inside) < len(newest)
        return TickWindow(since, until, sorted(inside, key=lambda t: t.started_at), complete)

    async def strategies(
        self, filter: str, search: str | None, sort: str, limit: int, offset: int
    ) -> Page[StrategyStatus]:
        """ValueError for a filter or sort the console does not offer."""
        if filter not in FILTERS:
            raise ValueError(f"unknown filter {filter!r}; one of {', '.join(FILTERS)}")
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
        search = (search or "").strip()[:200] or None
        return await self.store.console_strategies(
            self.clock.now(), filter, search, sort, limit, offset
        )

    async def notifications(
        self, strategy_id: UUID | None, limit: int, offset: int
    ) -> Page[NotificationEntry]:
        return await self.store.notifications(strategy_id, limit, offset)

    async def paper_orders(self, limit: int, offset: int) -> Page[PaperOrderEntry]:
        return await self.store.paper_orders(limit, offset)
