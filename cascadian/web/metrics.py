"""GET /api/metrics: Prometheus's text format, under ADMIN_API_KEY (an operator's
read, like the tick ledger; a Prometheus scrape job sends it as a bearer token).

The database's gauges are read at each scrape; when the database does not answer,
the scrape still succeeds with `cascadian_database_up 0` and this process's own
counters. What each metric means is in metrics.py and the README.
"""

from __future__ import annotations

import contextlib

from fastapi import Request
from fastapi.responses import Response

from cascadian.data import Gauges, TradingGauges
from cascadian.errors import StoreUnavailable
from cascadian.observers.metrics import CONTENT_TYPE, WorkerMetrics, exposition
from cascadian.web.deps import Control, Trading, Triggers, admin_router
from cascadian.web.responses import error_responses

router = admin_router()


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        **error_responses(401),
    },
    tags=["ops"],
    summary="Metrics in Prometheus's text format",
)
async def metrics(
    request: Request, control: Control, trading: Trading, triggers: Triggers
) -> Response:
    gauges: Gauges | None
    trading_gauges: TradingGauges | None = None
    try:
        gauges = await control.gauges()
        trading_gauges = await trading.gauges()
    except StoreUnavailable:
        gauges = None
    overview = None
    if gauges is not None:  # a database that did not answer is not asked again
        with contextlib.suppress(StoreUnavailable):
            overview = await triggers.overview()
    worker: WorkerMetrics | None = getattr(request.app.state, "metrics", None)
    body = exposition(gauges, worker, control.clock.now(), trading_gauges, overview)
    return Response(content=body, media_type=CONTENT_TYPE)
