"""A strategy's paper trading, under ADMIN_API_KEY.

    GET /api/strategies/{id}/paper

The original builder's buy and sell nodes record simulated orders, never real ones;
this answers the strategy's paper positions valued at live prices, its P&L and its
newest orders (cascadian/paper.py does the work).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from cascadian.trading.paper import NOTE
from cascadian.web.control import StrategyId
from cascadian.web.deps import Paper, admin_router
from cascadian.web.responses import error_responses

router = admin_router()


class PaperPositionModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    market_id: str
    market_question: str | None
    outcome: str
    shares: float = Field(description="Shares held now (0 once sold)")
    cost_basis: float = Field(description="What the shares held cost, in USD")
    average_price: float | None
    realized_pnl: float = Field(description="P&L of the shares sold, in USD")
    mark_price: float = Field(description="The price the shares are valued at")
    mark_source: str = Field(description="clob (live), gamma (listed), or last_order")
    market_value: float
    unrealized_pnl: float
    last_order_at: datetime


class PaperOrderModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    order_id: UUID
    execution_id: UUID | None = Field(description="The run that placed it")
    node_id: str
    market_id: str
    market_question: str | None
    outcome: str
    side: Literal["buy", "sell"]
    order_type: str
    amount_usd: float
    price: float
    shares: float
    price_source: str = Field(description="clob (live order book) or gamma (listed price)")
    limit_price: float | None
    position_shares: float = Field(description="Shares held once this order was in")
    realized_pnl: float
    created_at: datetime


class PaperBookModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    paper: Literal[True] = True
    note: str = NOTE
    positions: list[PaperPositionModel]
    orders: list[PaperOrderModel] = Field(description="The newest orders, newest first")
    total_orders: int
    cost_basis: float
    market_value: float
    unrealized_pnl: float
    realized_pnl: float
    total_pnl: float


class PaperResponse(BaseModel):
    success: bool = True
    data: PaperBookModel


@router.get(
    "/strategies/{strategy_id}/paper",
    response_model=PaperResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=["strategies"],
    summary="A strategy's paper positions, P&L and orders (simulated, never real)",
)
async def paper(
    strategy_id: StrategyId,
    service: Paper,
    orders: Annotated[int, Query(ge=0, le=500, description="How many orders to list")] = 50,
) -> PaperResponse:
    """Open positions are valued at the live order book's midpoint where it has one,
    else at Polymarket's listed price, else at their last order's price."""
    book = await service.book(strategy_id, orders)
    return PaperResponse(data=PaperBookModel.model_validate(book))
