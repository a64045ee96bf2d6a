"""A strategy's trading limits and the kill switches, under ADMIN_API_KEY or the
strategy's owner's access token (web/users.py).

    GET|PUT     /api/strategies/{id}/limits
    GET|PUT|DELETE /api/kill-switch
    PUT|DELETE  /api/strategies/{id}/kill-switch

A user reads and changes only their own strategies' (another's is the 404 of a
missing one: the store's SQL checks the owner in the read's or the change's own
statement, and audits the change as the user); `GET /api/kill-switch` shows them the
global switch and their own strategies'. The global switch stops everyone's trading:
turning it on or off is the operator's alone (403 for a user).

Routes only translate HTTP: the trading service (trading/controls.py) checks and
does the work; app.py maps NotFound to 404 and InvalidInput to 422. Money is
exact: a JSON number or a decimal string in, a decimal string out.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from cascadian.data import KillSwitch, TradingLimits
from cascadian.web.control import StrategyId
from cascadian.web.deps import Acting, Trading
from cascadian.web.responses import error_responses
from cascadian.web.users import user_router

router = user_router()

Money = Decimal


class LimitsModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    initial_bankroll: Decimal = Field(description="Starting cash, USD (applies before a trade)")
    max_order_usd: Decimal | None = Field(description="Largest order before fees, USD")
    max_position_usd: Decimal | None = Field(description="Largest position per market at cost")
    max_open_positions: int | None
    daily_loss_usd: Decimal | None = Field(
        description="The day's realised loss (from midnight in the strategy's time zone) "
        "that halts its trading and auto-pauses it"
    )
    min_cash_reserve_usd: Decimal | None = Field(description="Cash a buy must leave, USD")
    updated_at: datetime | None = Field(description="When they were last set; null: never")


class LimitsRequest(BaseModel):
    """The settings to change; a key left out keeps its setting, null removes the limit
    (the bankroll: back to 10,000). Numbers or decimal strings."""

    model_config = ConfigDict(extra="forbid")

    initial_bankroll: Money | None = None
    max_order_usd: Money | None = None
    max_position_usd: Money | None = None
    max_open_positions: int | None = None
    daily_loss_usd: Money | None = None
    min_cash_reserve_usd: Money | None = None


class LimitsResponse(BaseModel):
    success: bool = True
    data: LimitsModel


class KillSwitchModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    scope: str = Field(description="global, or the strategy's id")
    workflow_id: UUID | None
    workflow_name: str | None
    set_by: str
    reason: str
    set_at: datetime


class KillSwitchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    set_by: str = Field(description="Who turns it on (a name or an email)")
    reason: str = Field(description="Why: shown with every order it refuses")


class KillSwitchesResponse(BaseModel):
    success: bool = True
    data: list[KillSwitchModel] = Field(description="Every switch on now, the global one first")


def _limits(found: TradingLimits) -> LimitsResponse:
    return LimitsResponse(data=LimitsModel.model_validate(found))


def _switches(found: list[KillSwitch]) -> KillSwitchesResponse:
    return KillSwitchesResponse(data=[KillSwitchModel.model_validate(k) for k in found])


@router.get(
    "/strategies/{strategy_id}/limits",
    response_model=LimitsResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=["trading"],
    summary="A strategy's trading limits",
)
async def limits(strategy_id: StrategyId, trading: Trading, actor: Acting) -> LimitsResponse:
    return _limits(await trading.limits(strategy_id, actor))


@router.put(
    "/strategies/{strategy_id}/limits",
    response_model=LimitsResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=["trading"],
    summary="Set some of a strategy's trading limits",
)
async def set_limits(
    strategy_id: StrategyId, body: LimitsRequest, trading: Trading, actor: Acting
) -> LimitsResponse:
    """Checked against the next order, under the portfolio's lock. 422 naming a value
    out of range (a limit 0 or less, a negative reserve) and nothing changes."""
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    return _limits(await trading.set_limits(strategy_id, changes, actor))


@router.get(
    "/kill-switch",
    response_model=KillSwitchesResponse,
    responses=error_responses(401, 503),
    tags=["trading"],
    summary="Every kill switch that is on (a user: the global one and their own strategies')",
)
async def kill_switches(trading: Trading, actor: Acting) -> KillSwitchesResponse:
    return _switches(await trading.kill_switches(actor))


@router.put(
    "/kill-switch",
    response_model=KillSwitchesResponse,
    responses=error_responses(401, 403, 422, 503),
    tags=["trading"],
    summary="Turn the global kill switch on: every strategy's orders are refused",
)
async def global_switch_on(
    body: KillSwitchRequest, trading: Trading, actor: Acting
) -> KillSwitchesResponse:
    """Recorded with who, when and why; every order node refuses (`kill_switch`),
    naming it; nothing else about any strategy changes. 422 without who or why; 403
    for a user (an operator's alone)."""
    return _switches(await trading.switch_on(None, body.set_by, body.reason, actor))


@router.delete(
    "/kill-switch",
    response_model=KillSwitchesResponse,
    responses=error_responses(401, 403, 503),
    tags=["trading"],
    summary="Turn the global kill switch off",
)
async def global_switch_off(trading: Trading, actor: Acting) -> KillSwitchesResponse:
    return _switches(await trading.switch_off(None, actor))


@router.put(
    "/strategies/{strategy_id}/kill-switch",
    response_model=KillSwitchesResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=["trading"],
    summary="Turn a strategy's kill switch on: its orders are refused",
)
async def strategy_switch_on(
    strategy_id: StrategyId, body: KillSwitchRequest, trading: Trading, actor: Acting
) -> KillSwitchesResponse:
    return _switches(await trading.switch_on(strategy_id, body.set_by, body.reason, actor))


@router.delete(
    "/strategies/{strategy_id}/kill-switch",
    response_model=KillSwitchesResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=["trading"],
    summary="Turn a strategy's kill switch off",
)
async def strategy_switch_off(
    strategy_id: StrategyId, trading: Trading, actor: Acting
) -> KillSwitchesResponse:
    return _switches(await trading.switch_off(strategy_id, actor))
