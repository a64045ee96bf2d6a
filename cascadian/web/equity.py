"""A strategy's paper equity curve, under ADMIN_API_KEY or its owner's access token
(another user's strategy is the 404 of a missing one, scoped in the read's SQL).

    GET /api/strategies/{id}/paper/equity?since=&points=500

Its paper portfolio's value over time (cash plus open positions at their marks:
the best bid the bookkeeping step last read), and its value now with each position's
mark (trading/equity.py). Simulated, never real.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from cascadian.trading.equity import MAX_POINTS
from cascadian.trading.paper import NOTE
from cascadian.web.control import StrategyId
from cascadian.web.deps import Acting, Equity, IsoTime
from cascadian.web.responses import error_responses
from cascadian.web.users import user_router

router = user_router()


class EquityPointModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    equity: Decimal = Field(description="Cash plus the open positions at their marks, USD")
    cash: Decimal
    positions_value: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal


class MarkedPositionModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    market_id: str
    outcome: str
    shares: Decimal
    cost: Decimal = Field(description="What the shares held cost, fees included")
    mark_price: Decimal | None = Field(
        description="The token's best bid at the last mark; null: not marked yet (at cost)"
    )
    marked_at: datetime | None
    value: Decimal
    unrealized_pnl: Decimal


class EquityModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    paper: bool = True
    note: str = NOTE
    points: list[EquityPointModel] = Field(description="Oldest first")
    initial_bankroll: Decimal
    cash: Decimal
    positions_value: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    equity: Decimal
    peak_equity: Decimal
    max_drawdown: Decimal
    positions: list[MarkedPositionModel]


class EquityResponse(BaseModel):
    success: bool = True
    data: EquityModel


@router.get(
    "/strategies/{strategy_id}/paper/equity",
    response_model=EquityResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=["strategies"],
    summary="A strategy's paper equity curve and its value at the last marks",
)
async def equity(
    strategy_id: StrategyId,
    service: Equity,
    actor: Acting,
    since: Annotated[IsoTime | None, Query(description="Points from this time on")] = None,
    points: Annotated[
        int, Query(ge=1, le=MAX_POINTS, description="The newest this many points")
    ] = 500,
) -> EquityResponse:
    """At most one point per strategy every 5 minutes while it holds positions, and one
    at each settlement; kept for CASCADIAN_RETENTION_EQUITY_DAYS."""
    curve = await service.curve(strategy_id, since, points, actor)
    return EquityResponse(data=EquityModel.model_validate(curve))
