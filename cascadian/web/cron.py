"""GET|POST /api/cron/strategy-executor: run one tick and answer its summary.

A scheduler's delivery id is kept in the tick ledger: the CloudEvents `ce-id`
header, which Vercel Schedules set to the run's execution id (the same for every
delivery of one run; see README, "Deploying on Vercel", for what is confirmed).
A repeated id still ticks: claims are exactly-once per slot, so a duplicate
delivery finds nothing of its slot left to run, and the ledger shows it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import JSONResponse

from cascadian.observers.alerts import Alerts
from cascadian.reports import TickResponse
from cascadian.web.deps import Ticks, require_cron_secret
from cascadian.web.responses import ErrorBody

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/cron", tags=["cron"])

# Headers that carry a scheduler's delivery id, the first one present wins.
DELIVERY_ID_HEADERS = ("ce-id",)
MAX_DELIVERY_ID = 200

_TICK_ROUTE: dict[str, Any] = {
    "response_model": TickResponse,
    "responses": {
        401: {"model": ErrorBody, "description": "Missing or wrong bearer secret"},
        503: {"model": TickResponse, "description": "Database unavailable or misconfigured"},
    },
    "dependencies": [Depends(require_cron_secret)],
    "summary": "Run one tick: claim due strategies, run them, record their outcomes",
}


def delivery_id(request: Request) -> str | None:
    """The delivery id the request carries, if it is a plausible one (else None)."""
    for name in DELIVERY_ID_HEADERS:
        value = request.headers.get(name, "").strip()
        if not value:
            continue
        if len(value) <= MAX_DELIVERY_ID and value.isascii() and value.isprintable():
            return value
        log.warning("ignoring a %s header that is not a plausible delivery id", name)
    return None


# One route per method (Vercel sends GET, as vercel.json asks), so each has its
# own OpenAPI operation id.
@router.get("/strategy-executor", **_TICK_ROUTE)
@router.post("/strategy-executor", **_TICK_ROUTE)
async def strategy_executor(service: Ticks, request: Request, later: BackgroundTasks) -> Any:
    report = await service.tick(trigger="cron", delivery_id=delivery_id(request))
    alerts: Alerts | None = getattr(request.app.state, "alerts", None)
    if alerts is not None:  # after the answer, within the alerts' own time limit
        later.add_task(alerts.drain, service.settings.alert_timeout_seconds)
    response = report.response()
    if report.success:
        return response
    return JSONResponse(status_code=503, content=response.model_dump(mode="json"))
