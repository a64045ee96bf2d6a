"""GET|POST /api/cron/strategy-executor: run one tick and answer its summary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from cascadian.reports import response_body
from cascadian.tick import TickService
from cascadian.web.deps import get_tick_service, require_cron_secret

router = APIRouter(prefix="/api/cron", tags=["cron"])


class ExecutionSummary(BaseModel):
    workflow_id: str
    workflow_name: str
    status: str
    duration_ms: int
    nodes_executed: int
    error: str | None
    execution_id: str
    attempt: int
    recorded: bool
    auto_paused: bool
    record_error: str | None = None
    next_execution_at: str | None = None


class TickData(BaseModel):
    strategies_checked: int
    strategies_executed: int
    executions: list[ExecutionSummary]
    execution_time_ms: int
    succeeded: int
    failed: int
    released: int
    auto_paused: int


class TickResponse(BaseModel):
    success: bool
    data: TickData | None = None
    error: str | None = None
    message: str | None = None
    execution_time_ms: int | None = None
    timestamp: str


class ErrorResponse(BaseModel):
    success: bool = False
    error: str
    message: str | None = None
    execution_time_ms: int | None = None
    timestamp: str | None = None  # absent from the 401 body, which is a fixed contract


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


_TICK_ROUTE: dict[str, Any] = {
    "response_model": TickResponse,
    "responses": {
        401: {"model": ErrorResponse, "description": "Missing or wrong bearer secret"},
        503: {"model": TickResponse, "description": "Database unavailable or misconfigured"},
    },
    "dependencies": [Depends(require_cron_secret)],
    "summary": "Run one tick: claim due strategies, run them, record their outcomes",
}


# One route per method (Vercel Cron sends GET), so each has its own OpenAPI operation id.
@router.get("/strategy-executor", **_TICK_ROUTE)
@router.post("/strategy-executor", **_TICK_ROUTE)
async def strategy_executor(service: Annotated[TickService, Depends(get_tick_service)]) -> Any:
    report = await service.tick(trigger="cron")
    body = response_body(report)
    return body if report.success else JSONResponse(status_code=503, content=body)
