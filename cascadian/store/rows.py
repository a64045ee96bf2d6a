"""Rows several SQL functions answer in the same shape: a strategy's status (the
control store's, the console's and the strategy resource's reads) and a paper
order (a strategy's paper book and the console's list of orders).

Plain readers: the port module that calls a function reads these under that
function's name (`answer_of`), so a malformed row still names it.
"""

from __future__ import annotations

from typing import Any

from cascadian.data import PaperOrderRecord, Schedule, StrategyStatus
from cascadian.store.readers import as_dt, as_uuid, dt_or_none, float_or_none, uuid_or_none


def strategy_status(row: dict[str, Any]) -> StrategyStatus:
    return StrategyStatus(
        id=as_uuid(row["id"]),
        user_id=as_uuid(row["user_id"]),
        name=row["name"],
        status=row["status"],
        auto_run=row["auto_run"],
        schedule=Schedule(
            interval_minutes=row["execution_interval_minutes"],
            cron=row["cron_expression"],
            timezone=row["timezone"] or "UTC",
        ),
        next_execution_at=dt_or_none(row["next_execution_at"]),
        last_executed_at=dt_or_none(row["last_executed_at"]),
        execution_count=row["execution_count"],
        success_count=row["success_count"],
        error_count=row["error_count"],
        success_rate=row["success_rate"],
        average_execution_time_ms=row["average_execution_time_ms"],
        last_error=row["last_error"],
        run_in_flight=row["run_in_flight"],
        lease_expires_at=dt_or_none(row["lease_expires_at"]),
    )


def paper_order(o: dict[str, Any]) -> PaperOrderRecord:
    return PaperOrderRecord(
        order_id=as_uuid(o["order_id"]),
        execution_id=uuid_or_none(o.get("execution_id") or None),
        node_id=o["node_id"],
        market_id=o["market_id"],
        market_question=o["market_question"],
        outcome=o["outcome"],
        side=o["side"],
        order_type=o["order_type"],
        amount_usd=float(o["amount_usd"]),
        price=float(o["price"]),
        shares=float(o["shares"]),
        price_source=o["price_source"],
        limit_price=float_or_none(o["limit_price"]),
        position_shares=float(o["position_shares"]),
        realized_pnl=float(o["realized_pnl"]),
        created_at=as_dt(o["created_at"]),
    )
