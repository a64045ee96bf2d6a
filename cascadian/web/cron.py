"""GET|POST /api/cron/strategy-executor: run one tick and answer its summary."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from cascadian.reports import TickResponse
from cascadian.web.deps import Ticks, require_cron_secret
from cascadian.web.responses import ErrorBody

router = APIRouter(prefix="/api/cron", tags=["cron"])

_TICK_ROUTE: dict[str, Any] = {
    "response_model": TickResponse,
    "responses": {
        401: {"model": ErrorBody, "description": "Missing or wrong bearer secret"},
        503: {"model": TickResponse, "description": "Database unavailable or misconfigured"},
    },
    "dependencies": [Depends(require_cron_secret)],
    "summary": "Run one tick: claim due strategies, run them, record their outcomes",
}


# One route per method (Vercel Cron sends GET), so each has its own OpenAPI operation id.
@router.get("/strategy-executor", **_TICK_ROUTE)
@router.post("/strategy-executor", **_TICK_ROUTE)
async def strategy_executor(service: Ticks) -> Any:
    report = await service.tick(trigger="cron")
    response = report.response()
    if report.success:
        return response
    return JSONResponse(status_code=503, content=response.model_dump(mode="json"))
