"""The console's live figures: a small JSON document the overview and a strategy's
page poll every few seconds (static/console.js), so runs in flight, the backlog, the
scheduler's health and a strategy's state and newest run change on screen without a
reload. Read-only, signed in like every page, a handful of the reads the pages make.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from cascadian.web.console.base import console_of, control_of, parse_id, router, sessions_of
from cascadian.web.console.render import ago, duration_ms, percent, span, when


@router.get("/live")
async def live(request: Request) -> Response:
    sessions_of(request).session(request)
    console, control = console_of(request), control_of(request)
    health = await control.health()
    now = console.now()
    body: dict[str, Any] = {"now": when(now), "database": health.database}
    if not health.database:
        return JSONResponse(body, status_code=503)
    backlog, summary, failing = await asyncio.gather(
        control.backlog(),
        console.overview(),
        console.strategies("failing", None, "attention", 1, 0),
    )
    body |= {
        "healthy": health.ok,
        "last_tick": ago(health.last_tick_at, now),
        "due": backlog.due,
        "due_note": f"oldest {span(backlog.oldest_lag_seconds)} late"
        if backlog.due and backlog.oldest_lag_seconds is not None
        else "nothing waiting",
        "in_flight": summary.in_flight,
        "failing": failing.total,
    }
    strategy_id = request.query_params.get("strategy")
    if strategy_id:
        sid = parse_id(strategy_id, "strategy")
        s, runs = await asyncio.gather(control.status(sid), control.executions(sid, 1, 0))
        newest = runs.items[0] if runs.items else None
        body["strategy"] = {
            "status": s.shown_status,
            "in_flight": f"yes, lease until {when(s.lease_expires_at)}"
            if s.run_in_flight
            else "no",
            "runs": runs.total,
            "runs_line": f"{s.execution_count} · {percent(s.success_rate)} succeeded · "
            f"average {duration_ms(s.average_execution_time_ms)}",
            "last_run": f"{when(s.last_executed_at)} ({ago(s.last_executed_at, now)})",
            "error_streak": s.error_count,
            "newest_run": None
            if newest is None
            else {
                "id": str(newest.id),
                "status": newest.status,
                "started": ago(newest.execution_started_at, now),
            },
        }
    return JSONResponse(body)
