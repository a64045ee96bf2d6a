"""A strategy's paper trading, under ADMIN_API_KEY or its owner's access token.

    GET /api/strategies/{id}/paper?limit=50&offset=0&result=

The original builder's buy and sell nodes record simulated orders, never real ones;
this answers the strategy's portfolio (the original app's fields, its limits, the
switches that stop it, its halt and the day's P&L; trading/controls.py), its
positions valued at live prices (trading/paper.py) and a page of its orders:
filled, partly filled, refused and settled.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from cascadian.data import PaperBook, Portfolio
from cascadian.trading.paper import NOTE
from cascadian.web.control import Page, StrategyId
from cascadian.web.deps import Acting, Paper, Trading
from cascadian.web.responses import error_responses
from cascadian.web.trading import KillSwitchModel, LimitsModel
from cascadian.web.users import user_router

router = user_router()


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
    mark_source: str = Field(
        description="best_bid (the tick's last mark, stored), clob (live midpoint), "
        "gamma (listed), or last_order"
    )
    market_value: float
    unrealized_pnl: float
    last_order_at: datetime


class OrderModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    order_id: UUID
    execution_id: UUID | None = Field(description="The run that placed it")
    node_id: str
    order_key: str | None = Field(description="Its own key, when a node places several a run")
    market_id: str
    market_question: str | None
    outcome: str
    side: str = Field(description="buy, sell, or settlement")
    result: str = Field(description="filled, partly_filled, refused or settled")
    refusal: str | None = Field(description="The limit, switch or book rule that refused it")
    detail: str | None = Field(description="Why it was refused")
    shares: Decimal
    notional_usd: Decimal = Field(description="What the shares cost or raised, before fees")
    fee_usd: Decimal
    average_price: Decimal | None
    realized_pnl: Decimal
    position_shares: Decimal | None = Field(description="Shares held once this order was in")
    created_at: datetime


class HaltModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    reason: str = Field(description="The limit that halted it: daily_loss_usd")
    detail: str
    halted_at: datetime


class DayModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    start: datetime = Field(description="Midnight in the strategy's time zone")
    realized_pnl: Decimal = Field(description="P&L realised since then (what the limit counts)")
    orders: int
    refused: int


class PortfolioModel(BaseModel):
    """The original app's paper_portfolios fields; unrealised P&L at the positions'
    marks."""

    model_config = ConfigDict(from_attributes=True)

    initial_bankroll: Decimal
    current_bankroll: Decimal = Field(description="Cash plus the positions' market value")
    available_cash: Decimal
    deployed_capital: Decimal = Field(description="The open positions' cost: exposure at cost")
    market_value: Decimal = Field(description="The open positions at their marks")
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    total_pnl: Decimal
    open_positions: int
    total_trades: int
    winning_trades: int
    losing_trades: int
    win_rate: Decimal | None
    average_win: Decimal | None
    average_loss: Decimal | None
    largest_win: Decimal
    largest_loss: Decimal
    max_drawdown: Decimal
    limits: LimitsModel
    kill_switches: list[KillSwitchModel] = Field(description="The switches that stop it now")
    halt: HaltModel | None = Field(
        description="Its trading halted by a limit: every order refused until an operator "
        "lifts the halt (resuming the strategy or DELETE .../halt)"
    )
    day: DayModel

    @classmethod
    def of(cls, portfolio: Portfolio, book: PaperBook) -> PortfolioModel:
        value = Decimal(str(book.market_value))
        unrealized = Decimal(str(book.unrealized_pnl))
        return cls.model_validate(
            {
                **{k: getattr(portfolio, k) for k in cls.model_fields if hasattr(portfolio, k)},
                "current_bankroll": portfolio.available_cash + value,
                "market_value": value,
                "unrealized_pnl": unrealized,
                "total_pnl": portfolio.realized_pnl + unrealized,
            }
        )


class PaperBookModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    paper: Literal[True] = True
    note: str = NOTE
    portfolio: PortfolioModel
    positions: list[PaperPositionModel]
    orders: list[OrderModel] = Field(description="A page of its orders, newest first")
    total_orders: int = Field(description="Its orders (of `result`, if given) in all")
    cost_basis: float
    market_value: float
    unrealized_pnl: float
    realized_pnl: float
    total_pnl: float


class PaperResponse(BaseModel):
    success: bool = True
    data: PaperBookModel
    metadata: Page


@router.get(
    "/strategies/{strategy_id}/paper",
    response_model=PaperResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=["strategies"],
    summary="A strategy's paper portfolio, positions, P&L and orders (simulated, never real)",
)
async def paper(
    strategy_id: StrategyId,
    service: Paper,
    trading: Trading,
    actor: Acting,
    limit: Annotated[int, Query(ge=1, le=500, description="Orders per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    result: Annotated[
        Literal["filled", "partly_filled", "refused", "settled"] | None,
        Query(description="Only orders with this result"),
    ] = None,
) -> PaperResponse:
    """Open positions are valued at the live order book's midpoint where it has one,
    else at Polymarket's listed price, else at their last order's price."""
    # Each read is scoped to a user's own strategies in its SQL (another's: 404).
    book = await service.book(strategy_id, 0, actor=actor)
    portfolio = await trading.portfolio(strategy_id, actor)
    page = await trading.orders(strategy_id, result, limit, offset, actor)
    data = PaperBookModel(
        portfolio=PortfolioModel.of(portfolio, book),
        positions=[PaperPositionModel.model_validate(p) for p in book.positions],
        orders=[OrderModel.model_validate(o) for o in page.items],
        total_orders=page.total,
        cost_basis=book.cost_basis,
        market_value=book.market_value,
        unrealized_pnl=book.unrealized_pnl,
        realized_pnl=book.realized_pnl,
        total_pnl=book.total_pnl,
    )
    return PaperResponse(data=data, metadata=Page(total=page.total, limit=limit, offset=offset))
