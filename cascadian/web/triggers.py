"""A strategy's triggers, under ADMIN_API_KEY or the strategy's owner's access token
(cascadian/triggers/ does the work; a user's another's strategy is the 404 of a
missing one, checked in the read's or the change's own SQL).

    GET  /api/strategies/{id}/triggers          its triggers, each with its state
    PUT  /api/strategies/{id}/triggers          replace them: {"triggers": [...]}
    GET  /api/strategies/{id}/trigger-events    its newest events, with their runs
    GET  /api/triggers                          the listeners and the events' lag

A trigger that cannot be used (a level outside (0, 1), a negative band, a token or
market Polymarket does not know) is a 422 listing every problem, and nothing is
saved; when Polymarket cannot be asked, a 503, and nothing is saved.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from cascadian.web.control import StrategyId
from cascadian.web.deps import Acting, Triggers
from cascadian.web.responses import error_responses
from cascadian.web.users import user_router

router = user_router()
TAGS: list[str | Enum] = ["triggers"]

TRIGGER_EXAMPLE = {
    "name": "breakout",
    "kind": "price",
    "token_id": "71321045679252212594626385532706912750332728571942532289631379312455583992563",
    "level": "0.65",
    "direction": "above",
    "band": "0.02",
    "price_kind": "midpoint",
}


class TriggersRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    triggers: list[dict[str, Any]] = Field(
        max_length=100,
        description="Each: kind price (token_id, or market_id and outcome; level in (0, 1); "
        "direction above or below; band >= 0; price_kind midpoint, best_bid, best_ask "
        "or last_trade) or kind resolved (market_id); an optional name. [] removes them all",
        examples=[[TRIGGER_EXAMPLE]],
    )


class TriggersResponse(BaseModel):
    success: bool = True
    data: list[dict[str, Any]] = Field(
        description="Each trigger with its state: last_price, state (waiting, armed, "
        "disarmed), crossings, last_crossing_at and last_event (with its run and lag)"
    )


class EventsResponse(BaseModel):
    success: bool = True
    data: list[dict[str, Any]]


class OverviewResponse(BaseModel):
    success: bool = True
    data: dict[str, Any] = Field(
        description="listeners (connected, connections, tokens, reconnects, frames_dropped), "
        "armed_triggers, pending_events, events_last_hour, lag_last_hour"
    )


@router.get(
    "/strategies/{strategy_id}/triggers",
    response_model=TriggersResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=TAGS,
    summary="A strategy's triggers and their state",
)
async def show(strategy_id: StrategyId, triggers: Triggers, actor: Acting) -> TriggersResponse:
    return TriggersResponse(data=await triggers.triggers(strategy_id, actor))


@router.put(
    "/strategies/{strategy_id}/triggers",
    response_model=TriggersResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=TAGS,
    summary="Replace a strategy's triggers",
)
async def replace(
    strategy_id: StrategyId, body: TriggersRequest, triggers: Triggers, actor: Acting
) -> TriggersResponse:
    """A trigger that keeps its name keeps its crossings; a changed one starts its
    state afresh. The first price a trigger sees is a baseline, never a crossing."""
    return TriggersResponse(data=await triggers.set_triggers(strategy_id, body.triggers, actor))


@router.get(
    "/strategies/{strategy_id}/trigger-events",
    response_model=EventsResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=TAGS,
    summary="A strategy's newest trigger events and their runs",
)
async def events(
    strategy_id: StrategyId,
    triggers: Triggers,
    actor: Acting,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EventsResponse:
    return EventsResponse(data=await triggers.events(strategy_id, limit, actor))


@router.get(
    "/triggers",
    response_model=OverviewResponse,
    responses=error_responses(401, 503),
    tags=TAGS,
    summary="The market listeners' state, armed triggers, and the lag from event to run",
)
async def overview(triggers: Triggers, actor: Acting) -> OverviewResponse:
    """For a user: their own strategies' triggers and events, and of the listeners
    only whether each is connected and when it was last heard."""
    return OverviewResponse(data=await triggers.overview(actor))
