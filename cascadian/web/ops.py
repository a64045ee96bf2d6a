"""Is the scheduler healthy? The tick ledger (ADMIN_API_KEY) and a public health check.

GET /api/cron/ticks?limit=   the newest ticks, each with the gap since the one before
GET /api/health              database reachable, last tick, ticks overdue or failing; no secret,
                             so it answers a snapshot (health_snapshot.py), read once per
                             CASCADIAN_HEALTH_CACHE_SECONDS whatever the request rate
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from cascadian.control import RECENT_TICKS, TICKS_OVERDUE_AFTER
from cascadian.web.deps import Control, require_admin_key
from cascadian.web.health_snapshot import HealthSnapshot
from cascadian.web.responses import error_responses, now_iso

router = APIRouter(prefix="/api")


class TickModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    trigger: str = Field(description="cron, worker or cli")
    started_at: datetime
    finished_at: datetime
    success: bool
    strategies_checked: int
    strategies_executed: int
    succeeded: int
    failed: int
    released: int
    execution_time_ms: int
    error: str | None
    summary: dict[str, Any]
    gap_seconds: float | None = Field(
        description="Seconds since the tick before this one; null for the oldest tick"
    )
    delivery_id: str | None = Field(
        default=None,
        description="The scheduler's id for the request that ran this tick (the CloudEvents "
        "`ce-id` header, which Vercel Schedules set to the run's execution id, the same for "
        "every delivery of one run): two ticks with one id are a duplicate delivery. Null "
        "when the request carried none",
    )


class TicksResponse(BaseModel):
    success: bool = True
    data: list[TickModel]


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]
    last_tick_at: datetime | None
    ticks_overdue: bool | None = Field(
        description=f"No tick for over {TICKS_OVERDUE_AFTER.total_seconds():g} s (or none "
        "yet); null when the database is unavailable"
    )
    failing_ticks: int | None = Field(
        default=None,
        description=f"How many of the newest ticks (up to {RECENT_TICKS}) failed in a row; "
        "any makes the status `degraded`. Null when the database is unavailable",
    )
    oldest_due_lag_seconds: float | None = Field(
        default=None,
        description="How late the oldest due strategy that no run holds is (0: none is "
        "due); null when the database is unavailable",
    )
    schedule_late: bool | None = Field(
        default=None,
        description="The oldest due strategy is later than CASCADIAN_MAX_SCHEDULE_LAG_SECONDS "
        "(the status is then degraded)",
    )
    timestamp: str


@router.get(
    "/cron/ticks",
    response_model=TicksResponse,
    responses=error_responses(401, 422, 503),
    dependencies=[Depends(require_admin_key)],
    tags=["cron"],
    summary="The tick ledger, newest first",
)
async def ticks(
    control: Control, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> TicksResponse:
    """A gap much longer than the cron's period is ticks the scheduler missed."""
    return TicksResponse(data=[TickModel.model_validate(t) for t in await control.ticks(limit)])


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "The database is unavailable"}},
    tags=["ops"],
    summary="Is the database reachable, and are ticks arriving?",
)
async def health(request: Request) -> Any:
    """Needs no secret and reveals nothing sensitive. 200 with status `degraded` when
    ticks are overdue, the newest tick failed, or the oldest due strategy is later
    than CASCADIAN_MAX_SCHEDULE_LAG_SECONDS; 503 when the database is unreachable.
    The figures are at most CASCADIAN_HEALTH_CACHE_SECONDS old (one read serves
    every request meanwhile, so a flood costs the database one read per period)."""
    snapshot: HealthSnapshot = request.app.state.health_snapshot
    h = await snapshot.get()
    body = HealthResponse(
        status="ok" if h.ok else "degraded",
        database="ok" if h.database else "unavailable",
        last_tick_at=h.last_tick_at,
        ticks_overdue=h.ticks_overdue,
        failing_ticks=h.failing_ticks,
        oldest_due_lag_seconds=h.oldest_due_lag_seconds,
        schedule_late=h.schedule_late,
        timestamp=now_iso(),
    )
    if h.database:
        return body
    return JSONResponse(status_code=503, content=body.model_dump(mode="json"))
