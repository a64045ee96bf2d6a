"""The console's live lists: the runs list's pages, the audit log's first page and
the overview's runs in flight change on screen without a reload.

    GET /console/live/runs?status&trigger&window&strategy&owner&cursor&v
    GET /console/live/audit?strategy&action&actor&source&v
    GET /console/live/running?v

static/console.js polls the list's endpoint every few seconds with the version of
the rows it shows (`v`, rendered into the page): an unchanged list answers 204 and
no body; a changed one answers `{v, html}`, its rows rendered by the same template
as the page, which the script puts in place. The same filters as the page, the
same reads (one page of the runs list or the log: their keyset indexes), signed in
like every page; a bad filter is the page's refusal. An older page of runs (a
cursor) updates too: its runs change status there, while new runs arrive on the
newest page. The audit log's older pages do not poll: its entries never change.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from cascadian.data import RunEntry, RunQuery
from cascadian.web.console.audit import audit_of, audit_query
from cascadian.web.console.base import (
    PAGE_SIZE,
    TEMPLATES,
    audit_rows_version,
    console_of,
    router,
    run_rows_version,
    runs_of,
    sessions_of,
)
from cascadian.web.console.operators import find_runs, run_filters

# The runs in flight the overview lists (a link leads to all of them).
RUNNING_SHOWN = 10


async def running_runs(request: Request) -> list[RunEntry]:
    """The newest runs in flight, for the overview."""
    found = await runs_of(request).runs(RunQuery(status="running", limit=RUNNING_SHOWN))
    return found.items


def _rows(request: Request, version: str, template: str, **context: object) -> Response:
    if request.query_params.get("v") == version:
        return Response(status_code=204)
    html = TEMPLATES.get_template(template).render(**context)
    return JSONResponse({"v": version, "html": html})


@router.get("/live/runs")
async def live_runs(request: Request) -> Response:
    sessions_of(request).session(request)
    kept = run_filters(request)
    cursor = request.query_params.get("cursor") or None
    found = await find_runs(request, kept, console_of(request).now(), cursor, PAGE_SIZE)
    return _rows(request, run_rows_version(found.items), "runs_rows.html", runs=found.items)


@router.get("/live/audit")
async def live_audit(request: Request) -> Response:
    sessions_of(request).session(request)
    query = audit_query(request)
    found = await audit_of(request).entries(query)
    return _rows(
        request,
        audit_rows_version(found.items),
        "audit_rows.html",
        entries=found.items,
        now=console_of(request).now(),
        strategy_id=query.workflow_id,
        action=query.action,
        kind=query.actor_kind,
        source=query.source,
    )


@router.get("/live/running")
async def live_running(request: Request) -> Response:
    sessions_of(request).session(request)
    running = await running_runs(request)
    return _rows(
        request,
        run_rows_version(running),
        "running_rows.html",
        running=running,
        running_shown=RUNNING_SHOWN,
    )
