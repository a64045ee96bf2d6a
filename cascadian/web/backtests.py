"""Backtests over HTTP, under ADMIN_API_KEY (the backtest service, backtests/service.py).

    POST /api/strategies/{id}/backtest   a saved strategy over a window
    POST /api/strategies/backtest        a posted graph and schedule over a window

Answered synchronously, bounded by CASCADIAN_BACKTEST_MAX_DAYS and _MAX_SLOTS; a
request that cannot run is 422 naming every problem (a node that would look ahead:
its node and field), and nothing runs. Money is strings, as everywhere.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cascadian.data import Schedule, TradingLimits
from cascadian.trading.amounts import FeeRate, Usd
from cascadian.trading.controls import limit_changes
from cascadian.web.deps import Acting, Backtests
from cascadian.web.responses import error_responses
from cascadian.web.strategies import StrategyId
from cascadian.web.users import Quotas, user_router
from cascadian.workflow.format import Graph

router = user_router()
TAGS: list[str | Enum] = ["backtests"]


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: datetime = Field(alias="from", description="Window start (ISO, with a zone)")
    end: datetime = Field(alias="to", description="Window end (ISO, with a zone)")
    variables: dict[str, Any] = Field(
        default_factory=dict,
        description="A variable's value, or a list of values: a sweep, one row each",
    )
    allow_llm: bool = False
    bankroll: Usd | None = Field(
        default=None,
        description="Starting cash, USD: above 0, at most 10^15, 6 decimal places; "
        "default: the strategy's bankroll",
    )
    fee_rate: FeeRate | None = Field(
        default=None,
        description="Taker fee rate, a fraction (0.02 is 2%) from 0 to 1, 6 decimal places; "
        "default: CASCADIAN_DEFAULT_FEE_RATE",
    )

    def values(self) -> dict[str, list[Any]]:
        return {k: v if isinstance(v, list) else [v] for k, v in self.variables.items()}


class ScheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval_minutes: int = Field(default=5, ge=1)
    cron: str | None = None
    timezone: str = "UTC"


class GraphBacktest(Graph):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    schedule: ScheduleBody = Field(default_factory=ScheduleBody)
    backtest_variables: dict[str, Any] = Field(default_factory=dict, alias="sweep")
    allow_llm: bool = False
    limits: dict[str, Any] = Field(
        default_factory=dict,
        description="Trading limits as PUT /api/strategies/{id}/limits takes them "
        "(initial_bankroll, max_order_usd, ...); none by default, a bankroll of 10,000",
    )
    bankroll: Usd | None = Field(
        default=None, description="Starting cash, USD: above 0, at most 10^15, 6 decimal places"
    )
    fee_rate: FeeRate | None = Field(
        default=None, description="Taker fee rate, from 0 to 1, 6 decimal places"
    )


def limits_of(body: dict[str, Any]) -> TradingLimits:
    """A posted graph's limits, each checked as the limits route checks it (422)."""
    if not body:
        return TradingLimits()
    given = {k: v for k, v in limit_changes(body).items() if v is not None}
    return TradingLimits(**given)  # type: ignore[arg-type]


class BacktestResponse(BaseModel):
    success: bool = True
    data: dict[str, Any] = Field(
        description="window, slots, history, flags, sharpe_method, fill_model, `rows` (one "
        "per combination of the variables) and `runs` (each with metrics, equity_curve, "
        "orders with the data each was based on, positions, errors)"
    )


@router.post(
    "/strategies/{strategy_id}/backtest",
    response_model=BacktestResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=TAGS,
    summary="Backtest a strategy over recorded history",
)
async def backtest(
    strategy_id: StrategyId, body: Window, backtests: Backtests, actor: Acting, quotas: Quotas
) -> BacktestResponse:
    """Runs the saved graph at every slot of its schedule between `from` and `to`, on
    the market as it was at each slot, filling orders in an in-memory paper book;
    nothing is written. 422 naming every problem when it cannot run. A user's own
    strategies only (another's: 404), CASCADIAN_USER_MAX_BACKTESTS at once (429)."""
    async with quotas.backtest(actor.user_id):
        report = await backtests.backtest(
            strategy_id,
            body.start,
            body.end,
            body.values(),
            allow_llm=body.allow_llm,
            bankroll=body.bankroll,
            fee_rate=body.fee_rate,
            actor=actor,
        )
    return BacktestResponse(data=report)


@router.post(
    "/strategies/backtest",
    response_model=BacktestResponse,
    responses=error_responses(401, 422, 503),
    tags=TAGS,
    summary="Backtest a posted graph and schedule over recorded history",
)
async def backtest_graph(
    body: GraphBacktest, backtests: Backtests, actor: Acting, quotas: Quotas
) -> BacktestResponse:
    """As `POST /api/strategies/{id}/backtest`, for a graph that is not saved; `sweep`
    maps variables to lists of values."""
    s = body.schedule
    values = {k: v if isinstance(v, list) else [v] for k, v in body.backtest_variables.items()}
    async with quotas.backtest(actor.user_id):
        report = await backtests.backtest_graph(
            body.to_graph(),
            Schedule(s.interval_minutes, s.cron, s.timezone),
            body.start,
            body.end,
            values,
            allow_llm=body.allow_llm,
            limits=limits_of(body.limits),
            bankroll=body.bankroll,
            fee_rate=body.fee_rate,
        )
    return BacktestResponse(data=report)
