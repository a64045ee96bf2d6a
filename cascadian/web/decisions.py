"""The orchestrator's decisions (approval mode), under ADMIN_API_KEY or, as the other
strategy routes, its owner's access token:

    GET  /api/strategies/{id}/decisions?status=pending&limit=50&offset=0
    POST /api/strategies/{id}/decisions/{decision_id}/approve
    POST /api/strategies/{id}/decisions/{decision_id}/reject   {"reason"?}
    GET  /api/decisions?status=pending          every strategy's (the operator's)

An approval places the decision's PAPER buy through the trading book (never a real
order), once, in the same transaction as the approval and its audit entry; an expired
or rejected decision never places (trading/decisions.py). Money is a decimal string.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cascadian.data import Decision, DecisionAnswer
from cascadian.trading.decisions import DecisionService
from cascadian.web.control import Page, StrategyId
from cascadian.web.deps import Acting, admin_router
from cascadian.web.responses import error_responses
from cascadian.web.users import user_router

router = user_router()
operators = admin_router()

DecisionId = Annotated[UUID, Path(description="The decision's id (orchestrator_decisions)")]
Status = Annotated[
    Literal["pending", "expired", "approved", "rejected"] | None,
    Query(description="Only decisions with this status (expired: pending past its expiry)"),
]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]


def get_decision_service(request: Request) -> DecisionService:
    service: DecisionService = request.app.state.decision_service
    return service


Decisions = Annotated[DecisionService, Depends(get_decision_service)]


class DecisionModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    workflow_id: UUID
    execution_id: UUID = Field(description="The run that made it")
    node_id: str
    market_id: str
    market_question: str | None
    outcome: str | None
    direction: str = Field(description="YES or NO")
    recommended_size: Decimal = Field(description="The paper buy's dollars, before fees")
    actual_size: Decimal | None = Field(description="What the approval's order spent")
    risk_score: int = Field(description="1 (safe) to 10 (very risky)")
    ai_reasoning: str
    ai_confidence: Decimal
    status: str = Field(description="pending, expired, approved or rejected")
    created_at: datetime
    expires_at: datetime | None
    decided_at: datetime | None
    order_id: UUID | None = Field(description="The approval's paper order")
    override_reason: str | None = Field(description="Why it was rejected")
    portfolio_snapshot: dict[str, Any]


class OrderOutcomeModel(BaseModel):
    """The approval's paper order, as the trading book recorded it."""

    model_config = ConfigDict(from_attributes=True)

    order_id: UUID | None
    result: str = Field(description="filled, partly_filled or refused")
    refusal: str | None = Field(description="The limit, switch or book rule that refused it")
    detail: str | None
    shares: Decimal
    notional_usd: Decimal = Field(description="What the shares cost, before fees")
    fee_usd: Decimal
    average_price: Decimal | None
    available_cash: Decimal | None
    replayed: bool = Field(description="True: the first approval's order, answered again")


class DecisionListResponse(BaseModel):
    success: bool = True
    data: list[DecisionModel]
    metadata: Page


class DecisionResult(BaseModel):
    outcome: str = Field(
        description="approved, rejected, expired (nothing placed), already_approved (the "
        "first approval's order, replayed) or already_rejected"
    )
    decision: DecisionModel
    order: OrderOutcomeModel | None = Field(description="The approval's paper order")


class DecisionResponse(BaseModel):
    success: bool = True
    data: DecisionResult


class RejectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


def _page(found: Any, limit: int, offset: int) -> DecisionListResponse:
    return DecisionListResponse(
        data=[DecisionModel.model_validate(d) for d in found.items],
        metadata=Page(total=found.total, limit=limit, offset=offset),
    )


def _answer(answer: DecisionAnswer) -> DecisionResponse:
    order = None if answer.order is None else OrderOutcomeModel.model_validate(answer.order)
    return DecisionResponse(
        data=DecisionResult(
            outcome=answer.outcome, decision=_decision(answer.decision), order=order
        )
    )


def _decision(found: Decision) -> DecisionModel:
    return DecisionModel.model_validate(found)


@router.get(
    "/strategies/{strategy_id}/decisions",
    response_model=DecisionListResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=["decisions"],
    summary="A strategy's orchestrator decisions, newest first",
)
async def strategy_decisions(
    strategy_id: StrategyId,
    service: Decisions,
    actor: Acting,
    status: Status = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DecisionListResponse:
    return _page(await service.decisions(strategy_id, status, limit, offset, actor), limit, offset)


@router.post(
    "/strategies/{strategy_id}/decisions/{decision_id}/approve",
    response_model=DecisionResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=["decisions"],
    summary="Approve a pending decision: its PAPER buy is placed through the trading book",
)
async def approve(
    strategy_id: StrategyId, decision_id: DecisionId, service: Decisions, actor: Acting
) -> DecisionResponse:
    """Filled now against the outcome's order book (fill-and-kill, at most the decision's
    size), under the strategy's kill switch, limits and cash; a refusal is the order's
    outcome. Approving again answers the first approval's order (`already_approved`);
    an expired decision answers `expired` and places nothing."""
    return _answer(await service.approve(decision_id, actor, strategy_id))


@router.post(
    "/strategies/{strategy_id}/decisions/{decision_id}/reject",
    response_model=DecisionResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=["decisions"],
    summary="Reject a pending decision: nothing is placed, ever",
)
async def reject(
    strategy_id: StrategyId,
    decision_id: DecisionId,
    service: Decisions,
    actor: Acting,
    body: RejectRequest | None = None,
) -> DecisionResponse:
    reason = body.reason if body is not None else None
    return _answer(await service.reject(decision_id, reason, actor, strategy_id))


@operators.get(
    "/decisions",
    response_model=DecisionListResponse,
    responses=error_responses(401, 422, 503),
    tags=["decisions"],
    summary="Every strategy's orchestrator decisions, newest first",
)
async def all_decisions(
    service: Decisions, status: Status = None, limit: Limit = 50, offset: Offset = 0
) -> DecisionListResponse:
    return _page(await service.decisions(None, status, limit, offset), limit, offset)
