"""The trading book's settlements and marks (the MarkStore port; migrations/025).

The tick's bookkeeping step (trading/marking.py) reads the markets every strategy
holds a position in, settles those Gamma shows resolved and marks the rest at their
tokens' best bids; each is one SQL function that takes the portfolios' locks and
does the arithmetic. Money crosses as decimal strings both ways.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from cascadian.data import (
    EquityCurve,
    EquityPoint,
    MarkedPosition,
    MarkHalt,
    MarkResult,
    OpenMarket,
    PositionMark,
    SettledPosition,
    Settlement,
    TradingHalt,
)
from cascadian.store.readers import answer_of, as_dt, as_uuid, dt_or_none, json_value
from cascadian.store.transport import Json, Transport

# migrations/025: settlement, marks and the equity curve.
OPEN_MARKETS = "cascadian_open_markets_v1"
SETTLE_MARKET = "cascadian_settle_market_v2"  # 033
# 041: v2 (033) halting daily loss breaches; 064: v3 with the halt an operator lifts.
MARK_PORTFOLIOS = "cascadian_mark_portfolios_v4"
EQUITY_CURVE = "cascadian_equity_curve_v3"  # 049: 048's v2 (holdings), scoped to p_user


class SqlMarkStore:
    transport: Transport

    async def open_markets(self) -> list[OpenMarket]:
        return open_markets(await self.transport.value(OPEN_MARKETS, {}))

    async def settle_market(
        self, market_id: str, payouts: Mapping[str, Decimal], now: datetime
    ) -> Settlement:
        prices = {outcome: str(price) for outcome, price in payouts.items()}
        answer = await self.transport.value(
            SETTLE_MARKET, {"p_market_id": market_id, "p_prices": Json(prices), "p_now": now}
        )
        return settlement(answer)

    async def mark_portfolios(
        self,
        marks: Sequence[PositionMark],
        now: datetime,
        *,
        min_gap: timedelta,
        keep_after: datetime | None,
        prune_limit: int,
    ) -> MarkResult:
        args = {
            "p_marks": Json(
                [
                    {
                        "market_id": m.market_id,
                        "outcome": m.outcome,
                        "token_id": m.token_id,
                        "price": str(m.price),
                    }
                    for m in marks
                ]
            ),
            "p_now": now,
            "p_min_gap": f"{min_gap.total_seconds()} seconds",
            "p_keep_after": keep_after,
            "p_prune_limit": prune_limit,
        }
        return mark_result(await self.transport.value(MARK_PORTFOLIOS, args))

    async def equity_curve(
        self, strategy_id: UUID, since: datetime | None, limit: int, user: UUID | None = None
    ) -> EquityCurve | None:
        answer = await self.transport.value(
            EQUITY_CURVE,
            {"p_workflow_id": strategy_id, "p_since": since, "p_limit": limit, "p_user": user},
        )
        return equity_curve(answer)


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


@answer_of(OPEN_MARKETS)
def open_markets(value: Any) -> list[OpenMarket]:
    return [
        OpenMarket(str(m["market_id"]), tuple(str(o) for o in m["outcomes"]))
        for m in json_value(value) or []
    ]


@answer_of(SETTLE_MARKET)
def settlement(value: Any) -> Settlement:
    d = json_value(value)
    return Settlement(
        market_id=d["market_id"],
        settled=tuple(
            SettledPosition(
                workflow_id=as_uuid(s["workflow_id"]),
                outcome=s["outcome"],
                shares=_money(s["shares"]),
                price=_money(s["price"]),
                payout=_money(s["payout"]),
                realized_pnl=_money(s["realized_pnl"]),
            )
            for s in d["settled"]
        ),
        unpriced=tuple((as_uuid(u["workflow_id"]), u["outcome"]) for u in d["unpriced"]),
    )


@answer_of(MARK_PORTFOLIOS)
def mark_result(value: Any) -> MarkResult:
    d = json_value(value)
    return MarkResult(
        marks=int(d["marks"]),
        portfolios=int(d["portfolios"]),
        points=int(d["points"]),
        pruned=int(d["pruned"]),
        halts=tuple(
            MarkHalt(
                workflow_id=as_uuid(h["workflow_id"]),
                halt=TradingHalt(
                    reason=h["reason"],
                    detail=h["detail"],
                    strategy_name=h.get("strategy_name"),
                    auto_paused=bool(h["auto_paused"]),
                ),
            )
            for h in d.get("halted") or []
        ),
    )


@answer_of(EQUITY_CURVE)
def equity_curve(value: Any) -> EquityCurve | None:
    d = json_value(value)
    if d is None:
        return None
    now = d["now"]
    return EquityCurve(
        points=tuple(
            EquityPoint(
                at=as_dt(p["at"]),
                equity=_money(p["equity"]),
                cash=_money(p["cash"]),
                positions_value=_money(p["positions_value"]),
                realized_pnl=_money(p["realized_pnl"]),
                unrealized_pnl=_money(p["unrealized_pnl"]),
            )
            for p in d["points"]
        ),
        initial_bankroll=_money(now["initial_bankroll"]),
        cash=_money(now["cash"]),
        positions_value=_money(now["positions_value"]),
        unrealized_pnl=_money(now["unrealized_pnl"]),
        realized_pnl=_money(now["realized_pnl"]),
        equity=_money(now["equity"]),
        peak_equity=_money(now["peak_equity"]),
        max_drawdown=_money(now["max_drawdown"]),
        positions=tuple(
            MarkedPosition(
                market_id=p["market_id"],
                outcome=p["outcome"],
                shares=_money(p["shares"]),
                cost=_money(p["cost"]),
                mark_price=None if p["mark_price"] is None else _money(p["mark_price"]),
                marked_at=dt_or_none(p["marked_at"]),
                value=_money(p["value"]),
                unrealized_pnl=_money(p["unrealized_pnl"]),
                holding=None if p.get("holding") is None else int(p["holding"]),
            )
            for p in now["positions"]
        ),
    )
