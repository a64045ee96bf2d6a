"""What the operators' console reads besides the control store (the ConsoleStore
port): the overview, a filtered and sorted page of strategies, notifications and
paper orders. Read-only.

Each SQL function (migrations/017) is named here once, as a constant used for the
call and for reading its answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from cascadian.data import (
    ConsoleOverview,
    NotificationEntry,
    Page,
    PaperOrderEntry,
    StrategyStatus,
)
from cascadian.store.readers import answer_of, as_dt, as_uuid, json_value, uuid_or_none
from cascadian.store.rows import paper_order, strategy_status
from cascadian.store.transport import Transport

# 052: runs in flight from the lease table (v1: 017).
CONSOLE_OVERVIEW = "cascadian_console_overview_v2"
CONSOLE_STRATEGIES = "cascadian_console_strategies_v2"
CONSOLE_NOTIFICATIONS = "cascadian_console_notifications_v1"
CONSOLE_PAPER_ORDERS = "cascadian_console_paper_orders_v1"


class SqlConsoleStore:
    transport: Transport

    async def console_overview(self, now: datetime) -> ConsoleOverview:
        return console_overview(await self.transport.value(CONSOLE_OVERVIEW, {"p_now": now}))

    async def console_strategies(
        self, now: datetime, filter: str, search: str | None, sort: str, limit: int, offset: int
    ) -> Page[StrategyStatus]:
        rows = await self.transport.rows(
            CONSOLE_STRATEGIES,
            {
                "p_now": now,
                "p_filter": filter,
                "p_search": search,
                "p_sort": sort,
                "p_limit": limit,
                "p_offset": offset,
            },
        )
        return strategy_list(rows)

    async def notifications(
        self, strategy_id: UUID | None, limit: int, offset: int
    ) -> Page[NotificationEntry]:
        page = await self.transport.value(
            CONSOLE_NOTIFICATIONS,
            {"p_workflow_id": strategy_id, "p_limit": limit, "p_offset": offset},
        )
        return notification_page(page)

    async def paper_orders(self, limit: int, offset: int) -> Page[PaperOrderEntry]:
        page = await self.transport.value(
            CONSOLE_PAPER_ORDERS, {"p_limit": limit, "p_offset": offset}
        )
        return paper_order_page(page)


@answer_of(CONSOLE_OVERVIEW)
def console_overview(value: Any) -> ConsoleOverview:
    d = json_value(value)
    return ConsoleOverview(
        by_status={str(k): int(v) for k, v in (d["by_status"] or {}).items()},
        in_flight=int(d["in_flight"]),
    )


@answer_of(CONSOLE_STRATEGIES)
def strategy_list(rows: list[dict[str, Any]]) -> Page[StrategyStatus]:
    """Each row carries the total."""
    total = int(rows[0]["total"]) if rows else 0
    return Page([strategy_status(r) for r in rows], total)


@answer_of(CONSOLE_NOTIFICATIONS)
def notification_page(value: Any) -> Page[NotificationEntry]:
    d = json_value(value)
    entries = [
        NotificationEntry(
            id=str(n["id"]),
            user_id=uuid_or_none(n.get("user_id") or None),
            workflow_id=uuid_or_none(n.get("workflow_id") or None),
            workflow_name=n["workflow_name"],
            type=n["type"],
            title=n["title"],
            message=n["message"],
            link=n["link"],
            priority=n["priority"],
            is_read=bool(n["is_read"]),
            created_at=as_dt(n["created_at"]),
        )
        for n in d["data"]
    ]
    return Page(entries, int(d["total"]))


@answer_of(CONSOLE_PAPER_ORDERS)
def paper_order_page(value: Any) -> Page[PaperOrderEntry]:
    d = json_value(value)
    entries = [
        PaperOrderEntry(as_uuid(o["workflow_id"]), o["workflow_name"], paper_order(o))
        for o in d["data"]
    ]
    return Page(entries, int(d["total"]))
