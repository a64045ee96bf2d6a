"""The trading book's calls (the TradingStore port): recording a paper order, once,
with its limits checked where it is written (migrations/023, 024).

The fill arrives computed (cascadian/trading/fills.py); the SQL function re-checks
the kill switch, every limit, the cash and the position under the portfolio's lock.
Money crosses as decimal strings both ways, so no digit is lost to a float.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from cascadian.data import OrderOutcome, PaperPlacement, TradingHalt
from cascadian.store.readers import answer_of, json_value, uuid_or_none
from cascadian.store.transport import Json, Transport

# migrations/024: the trading book's order, with order keys and the daily loss halt.
PLACE_PAPER_ORDER = "cascadian_place_paper_order_v2"


class SqlTradingStore:
    transport: Transport

    async def place_paper_order(self, placement: PaperPlacement, now: datetime) -> OrderOutcome:
        answer = await self.transport.value(
            PLACE_PAPER_ORDER,
            {
                "p": Json(placement_record(placement)),
                "p_now": now,
                "p_order_key": placement.intent.order_key,
            },
        )
        return order_outcome(answer)


def placement_record(placement: PaperPlacement) -> dict[str, Any]:
    """The JSON the function takes."""
    order = placement.intent
    return {
        "workflow_id": str(order.workflow_id),
        "execution_id": str(order.execution_id) if order.execution_id else None,
        "slot": order.slot,
        "node_id": order.node_id,
        "market_id": order.market_id,
        "market_question": order.market_question,
        "outcome": order.outcome,
        "side": order.side,
        "order_type": "limit" if order.time_in_force == "limit" else "market",
        "limit_price": None if order.limit_price is None else str(order.limit_price),
        "result": placement.result,
        "refusal": placement.refusal,
        "detail": placement.detail,
        "fee_usd": str(sum((lv.fee_usd for lv in placement.levels), Decimal(0))),
        "fills": [{"price": str(lv.price), "shares": str(lv.shares)} for lv in placement.levels],
    }


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


@answer_of(PLACE_PAPER_ORDER)
def order_outcome(value: Any) -> OrderOutcome:
    d = json_value(value)
    average = d.get("average_price")
    return OrderOutcome(
        result=d["result"],
        shares=_money(d["shares"]),
        notional_usd=_money(d["notional_usd"]),
        fee_usd=_money(d["fee_usd"]),
        average_price=None if average is None else _money(average),
        refusal=d.get("refusal"),
        detail=d.get("detail"),
        order_id=uuid_or_none(d.get("order_id")),
        position_shares=_money(d["position_shares"]),
        available_cash=_money(d["available_cash"]),
        replayed=bool(d["replayed"]),
        halted=_halt(d.get("halted")),
    )


def _halt(value: Any) -> TradingHalt | None:
    if not value:
        return None
    return TradingHalt(
        reason=str(value["reason"]),
        detail=str(value["detail"]),
        strategy_name=value.get("strategy_name"),
        auto_paused=bool(value["auto_paused"]),
    )
