"""What nodes write while a strategy runs (the NodeStore port): the watchlist,
notifications and simulated (paper) orders.

Each SQL function is named here once, as a constant used for the call and for
reading its answer. Writes go through the same transport as the tick's, so a node
on Supabase writes exactly what it writes on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

from cascadian.data import Notification, PaperFill, PaperOrder, Watched, WatchlistEntry
from cascadian.store.readers import answer_of, dt_or_none, json_value, uuid_or_none
from cascadian.store.storable import to_json
from cascadian.store.transport import Json, Transport

# migrations/004: the native nodes' writes (notify v2, the owner's settings: 007).
ADD_TO_WATCHLIST = "cascadian_add_to_watchlist_v1"
NOTIFY = "cascadian_notify_v2"
# migrations/011: the original builder's nodes' writes.
WATCH_MARKETS = "cascadian_watch_markets_v1"
RECORD_PAPER_ORDER = "cascadian_record_paper_order_v1"


class SqlNodeStore:
    transport: Transport

    async def add_to_watchlist(
        self, workflow_id: UUID, execution_id: UUID | None, entries: Sequence[WatchlistEntry]
    ) -> tuple[int, int]:
        rows = await self.transport.rows(
            ADD_TO_WATCHLIST, _watchlist_arguments(workflow_id, execution_id, entries)
        )
        return added_and_duplicates(rows)

    async def notify(self, notification: Notification, now: datetime) -> int | None:
        """The new notification's id; None when the owner's settings suppress it."""
        sent = await self.transport.value(
            NOTIFY, {"p": Json(notification_record(notification)), "p_now": now}
        )
        return notification_id(sent)

    async def watch_markets(
        self, workflow_id: UUID, execution_id: UUID | None, entries: Sequence[WatchlistEntry]
    ) -> Watched:
        rows = await self.transport.rows(
            WATCH_MARKETS, _watchlist_arguments(workflow_id, execution_id, entries)
        )
        return watched(rows)

    async def record_paper_order(self, order: PaperOrder, now: datetime) -> PaperFill:
        fill = await self.transport.value(
            RECORD_PAPER_ORDER, {"p": Json(paper_order_record(order)), "p_now": now}
        )
        return paper_fill(fill)


def _watchlist_arguments(
    workflow_id: UUID, execution_id: UUID | None, entries: Sequence[WatchlistEntry]
) -> dict[str, Any]:
    return {
        "p_workflow_id": workflow_id,
        "p_execution_id": execution_id,
        "p_entries": Json([asdict(e) for e in entries]),
    }


def notification_record(n: Notification) -> dict[str, Any]:
    record = asdict(n)
    record["user_id"] = str(n.user_id)
    record["workflow_id"] = str(n.workflow_id) if n.workflow_id else None
    return record


def paper_order_record(order: PaperOrder) -> dict[str, Any]:
    record = to_json(asdict(order))
    record["workflow_id"] = str(order.workflow_id)
    record["execution_id"] = str(order.execution_id) if order.execution_id else None
    return dict(record)


@answer_of(ADD_TO_WATCHLIST)
def added_and_duplicates(rows: list[dict[str, Any]]) -> tuple[int, int]:
    [row] = rows
    return int(row["added"]), int(row["duplicates"])


@answer_of(NOTIFY)
def notification_id(value: Any) -> int | None:
    return None if value is None else int(value)


@answer_of(WATCH_MARKETS)
def watched(rows: list[dict[str, Any]]) -> Watched:
    return Watched(
        added=[str(r["market_id"]) for r in rows if r["added"]],
        duplicates=[str(r["market_id"]) for r in rows if not r["added"]],
    )


@answer_of(RECORD_PAPER_ORDER)
def paper_fill(value: Any) -> PaperFill:
    d = json_value(value)
    return PaperFill(
        result=d["result"],
        shares=float(d["shares"]),
        held_shares=float(d["held_shares"]),
        order_id=uuid_or_none(d.get("order_id") or None),
        realized_pnl=float(d.get("realized_pnl") or 0),
        created_at=dt_or_none(d.get("created_at")),
    )
