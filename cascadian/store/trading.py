"""The trading book's calls (the TradingStore port): recording a paper order, once,
with its limits checked where it is written (migrations/023, 024); and what
operators set and read: limits, kill switches, a portfolio, its orders, the
gauges (migrations/032).

The fill arrives computed (cascadian/trading/fills.py); the SQL function re-checks
the kill switch, every limit, the cash and the position under the portfolio's lock.
Money crosses as decimal strings both ways, so no digit is lost to a float.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from cascadian.data import (
    Actor,
    HaltState,
    KillSwitch,
    KillSwitchChange,
    OrderOutcome,
    Page,
    PaperPlacement,
    Portfolio,
    TradingDay,
    TradingGauges,
    TradingHalt,
    TradingLimits,
    TradingOrder,
)
from cascadian.store.audit import actor_arg
from cascadian.store.readers import (
    answer_of,
    as_dt,
    as_uuid,
    dt_or_none,
    json_value,
    uuid_or_none,
)
from cascadian.store.transport import Json, Transport

# migrations/054: the trading book's order (041's v4: order keys, the daily loss of
# cascadian_day_loss_v1), a refused order tried again under its key, and a re-run's
# orders in its failed run's slot; 064's v6 is v5 whose halt tells the owner that an
# operator lifts it.
PLACE_PAPER_ORDER = "cascadian_place_paper_order_v6"
# migrations/040: a kill switch on or off, and limits set, as an actor (audited).
SET_KILL_SWITCH = "cascadian_set_kill_switch_v3"
SET_TRADING_LIMITS = "cascadian_set_trading_limits_v3"
# migrations/049: what operators and a strategy's owner read (p_user: the user a
# read is scoped to, None for everything).
KILL_SWITCHES = "cascadian_kill_switches_v2"
PAPER_PORTFOLIO = "cascadian_paper_portfolio_v3"
TRADING_ORDERS = "cascadian_trading_orders_v2"
# migrations/032.
TRADING_GAUGES = "cascadian_trading_gauges_v1"


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

    async def set_trading_limits(
        self, strategy_id: UUID, changes: Mapping[str, Any], now: datetime, actor: Actor
    ) -> TradingLimits | None:
        answer = await self.transport.value(
            SET_TRADING_LIMITS,
            {
                "p_workflow_id": strategy_id,
                "p": Json({k: None if v is None else str(v) for k, v in changes.items()}),
                "p_now": now,
                "p_actor": actor_arg(actor),
            },
        )
        return None if answer is None else limits_of(json_value(answer))

    async def set_kill_switch(
        self,
        strategy_id: UUID | None,
        on: bool,
        set_by: str | None,
        reason: str | None,
        now: datetime,
        actor: Actor,
    ) -> KillSwitchChange | None:
        answer = await self.transport.value(
            SET_KILL_SWITCH,
            {
                "p_workflow_id": strategy_id,
                "p_on": on,
                "p_by": set_by,
                "p_reason": reason,
                "p_now": now,
                "p_actor": actor_arg(actor),
            },
        )
        if answer is None:
            return None
        return "operator_switch" if json_value(answer).get("refused") else "done"

    async def kill_switches(self, user: UUID | None = None) -> list[KillSwitch]:
        answer = await self.transport.value(KILL_SWITCHES, {"p_user": user})
        return switches_of(json_value(answer))

    async def paper_portfolio(
        self, strategy_id: UUID, now: datetime, user: UUID | None = None
    ) -> Portfolio | None:
        answer = await self.transport.value(
            PAPER_PORTFOLIO, {"p_workflow_id": strategy_id, "p_now": now, "p_user": user}
        )
        return None if answer is None else portfolio_of(json_value(answer))

    async def trading_orders(
        self,
        strategy_id: UUID,
        result: str | None,
        limit: int,
        offset: int,
        user: UUID | None = None,
    ) -> Page[TradingOrder] | None:
        answer = await self.transport.value(
            TRADING_ORDERS,
            {
                "p_workflow_id": strategy_id,
                "p_result": result,
                "p_limit": limit,
                "p_offset": offset,
                "p_user": user,
            },
        )
        return None if answer is None else orders_of(json_value(answer))

    async def trading_gauges(self) -> TradingGauges:
        return gauges_of(json_value(await self.transport.value(TRADING_GAUGES, {})))


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


def _money_or_none(value: Any) -> Decimal | None:
    return None if value is None else _money(value)


@answer_of(SET_TRADING_LIMITS)
def limits_of(d: Any) -> TradingLimits:
    return TradingLimits(
        initial_bankroll=_money(d["initial_bankroll"]),
        max_order_usd=_money_or_none(d["max_order_usd"]),
        max_position_usd=_money_or_none(d["max_position_usd"]),
        max_open_positions=None
        if d["max_open_positions"] is None
        else int(d["max_open_positions"]),
        daily_loss_usd=_money_or_none(d["daily_loss_usd"]),
        min_cash_reserve_usd=_money_or_none(d["min_cash_reserve_usd"]),
        updated_at=dt_or_none(d.get("updated_at")),
    )


def _switch(d: Any) -> KillSwitch:
    return KillSwitch(
        scope=str(d["scope"]),
        workflow_id=uuid_or_none(d["workflow_id"]),
        set_by=str(d["set_by"]),
        reason=str(d["reason"]),
        set_at=as_dt(d["set_at"]),
        workflow_name=d.get("workflow_name"),
    )


@answer_of(KILL_SWITCHES)
def switches_of(value: Any) -> list[KillSwitch]:
    return [_switch(d) for d in value]


@answer_of(PAPER_PORTFOLIO)
def portfolio_of(d: Any) -> Portfolio:
    halt, day = d["halt"], d["day"]
    return Portfolio(
        initial_bankroll=_money(d["initial_bankroll"]),
        available_cash=_money(d["available_cash"]),
        deployed_capital=_money(d["deployed_capital"]),
        realized_pnl=_money(d["realized_pnl"]),
        open_positions=int(d["open_positions"]),
        total_trades=int(d["total_trades"]),
        winning_trades=int(d["winning_trades"]),
        losing_trades=int(d["losing_trades"]),
        win_rate=_money_or_none(d["win_rate"]),
        average_win=_money_or_none(d["average_win"]),
        average_loss=_money_or_none(d["average_loss"]),
        largest_win=_money(d["largest_win"]),
        largest_loss=_money(d["largest_loss"]),
        max_drawdown=_money(d["max_drawdown"]),
        limits=TradingLimits() if d["limits"] is None else limits_of(d["limits"]),
        kill_switches=[_switch(k) for k in d["kill_switches"]],
        halt=None
        if halt is None
        else HaltState(str(halt["reason"]), str(halt["detail"]), as_dt(halt["halted_at"])),
        day=TradingDay(
            start=as_dt(day["start"]),
            realized_pnl=_money(day["realized_pnl"]),
            orders=int(day["orders"]),
            refused=int(day["refused"]),
        ),
    )


@answer_of(TRADING_ORDERS)
def orders_of(d: Any) -> Page[TradingOrder]:
    return Page(
        items=[
            TradingOrder(
                order_id=as_uuid(o["order_id"]),
                execution_id=uuid_or_none(o["execution_id"]),
                node_id=str(o["node_id"]),
                order_key=o["order_key"],
                market_id=str(o["market_id"]),
                market_question=o["market_question"],
                outcome=str(o["outcome"]),
                side=str(o["side"]),
                result=str(o["result"]),
                refusal=o["refusal"],
                detail=o["detail"],
                shares=_money(o["shares"]),
                notional_usd=_money(o["notional_usd"]),
                fee_usd=_money(o["fee_usd"]),
                average_price=_money_or_none(o["average_price"]),
                realized_pnl=_money(o["realized_pnl"]),
                position_shares=_money_or_none(o["position_shares"]),
                created_at=as_dt(o["created_at"]),
            )
            for o in d["orders"]
        ],
        total=int(d["total"]),
    )


@answer_of(TRADING_GAUGES)
def gauges_of(d: Any) -> TradingGauges:
    return TradingGauges(
        halted_by_limit={str(k): int(v) for k, v in d["halted_by_limit"].items()},
        global_kill_switch=bool(d["global_kill_switch"]),
        strategy_kill_switches=int(d["strategy_kill_switches"]),
    )
