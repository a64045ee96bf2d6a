"""A strategy's paper portfolio over time: its equity curve and its value now at the
marks the bookkeeping step stored (marking.py), for the API and the console.

Read from SQL only: no market data is fetched here, so a page or a dashboard
polling it costs one database read and never a request to Polymarket.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from cascadian.data import Actor, EquityCurve, scope
from cascadian.errors import NotFound
from cascadian.ports import MarkStore

# The most points one read answers (the newest): a day of 5-minute points, and more.
MAX_POINTS = 2000


class EquityService:
    def __init__(self, store: MarkStore) -> None:
        self.store = store

    async def curve(
        self,
        strategy_id: UUID,
        since: datetime | None = None,
        points: int = 500,
        actor: Actor | None = None,
    ) -> EquityCurve:
        """The newest `points` of the curve since `since`, oldest first, and the value
        now; NotFound for an unknown strategy (or a user `actor`'s read of one not
        theirs, checked in the read's SQL)."""
        limit = max(0, min(points, MAX_POINTS))
        found = await self.store.equity_curve(strategy_id, since, limit, scope(actor))
        if found is None:
            raise NotFound("strategy not found")
        return found
