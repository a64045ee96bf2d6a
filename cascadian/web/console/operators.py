"""The runs of every strategy, re-running a failed run, and bulk changes.

    GET  /console/runs                    every run: status, trigger, window, strategy, owner
    POST /console/runs/{id}/rerun         re-run a failed run with the inputs it had
    GET  /console/bulk                    choose strategies by filter: how many and which
    POST /console/bulk                    pause, resume or stop exactly those, once confirmed

The same services as the API (operators/, TickService.rerun): a refusal is shown
on the page, never as JSON. Every form carries the session's CSRF token.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from cascadian.data import Actor, BulkFilter, RunPage, RunQuery
from cascadian.errors import Conflict, InvalidInput, StoreUnavailable
from cascadian.operators.bulk import ACTIONS, MAX_SELECTION, STATUSES, selection_key
from cascadian.operators.runs import STATUSES as RUN_STATUSES
from cascadian.operators.runs import cursor_text, parse_cursor
from cascadian.web.console.base import (
    PAGE_SIZE,
    bulk_of,
    console_of,
    live_link,
    page,
    parse_id,
    read_form,
    router,
    run_rows_version,
    runs_of,
    sessions_of,
    ticks_of,
)
from cascadian.web.console.session import COOKIE_PATH, ConsoleSession, Refused
from cascadian.web.deps import client_address

log = logging.getLogger(__name__)

# The time windows the runs list offers, and the auto-pause windows bulk offers.
WINDOWS = {"1h": 1, "6h": 6, "24h": 24, "7d": 24 * 7, "30d": 24 * 30}
TRIGGERS = ("scheduled", "manual", "rerun")
AUTO_PAUSED_WITHIN = {"15m": 0.25, "1h": 1, "6h": 6, "24h": 24, "7d": 24 * 7}
VERBS = {"pause": "Pause", "resume": "Resume", "stop": "Stop"}


def _optional_id(value: str | None, what: str) -> UUID | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise Refused(422, f"The {what} must be an id, not {value[:40]!r}.") from None


def run_filters(request: Request) -> dict[str, Any]:
    """The runs list's filters as the page's query string gives them."""
    q = request.query_params
    window = q.get("window") or ""
    if window and window not in WINDOWS:
        raise Refused(422, f"Choose a window among {', '.join(WINDOWS)}.")
    return {
        "status": q.get("status") or None,
        "trigger": q.get("trigger") or None,
        "window": window,
        "strategy": q.get("strategy"),
        "owner": q.get("owner"),
    }


async def find_runs(
    request: Request, kept: dict[str, Any], now: datetime, cursor: str | None, limit: int
) -> RunPage:
    """One page of the runs the filters select (the list, and its live rows)."""
    window = kept["window"]
    query = RunQuery(
        status=kept["status"],
        workflow_id=_optional_id(kept["strategy"], "strategy"),
        user_id=_optional_id(kept["owner"], "owner"),
        trigger=kept["trigger"],
        since=now - timedelta(hours=WINDOWS[window]) if window else None,
        before=_cursor(cursor),
        limit=limit,
    )
    try:
        return await runs_of(request).runs(query)
    except InvalidInput as exc:
        raise Refused(422, f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None


@router.get("/runs")
async def runs(request: Request) -> Response:
    session = sessions_of(request).session(request)
    kept = run_filters(request)
    now = console_of(request).now()
    cursor = request.query_params.get("cursor") or None
    found = await find_runs(request, kept, now, cursor, PAGE_SIZE)
    trigger = kept["trigger"]

    def link(**change: Any) -> str:
        params = kept | change
        return "?" + urlencode({k: v for k, v in params.items() if v not in ("", None)})

    return page(
        request,
        "runs.html",
        session=session,
        nav="runs",
        now=now,
        runs=found.items,
        statuses=RUN_STATUSES,
        triggers=TRIGGERS if trigger in (None, *TRIGGERS) else (*TRIGGERS, trigger),
        windows=WINDOWS,
        chosen=kept,
        first_page=cursor is None,
        live=live_link("runs", kept | {"cursor": cursor}),
        live_version=run_rows_version(found.items),
        newest=link(),
        older=link(cursor=cursor_text(found.next)) if found.next else None,
    )


def _cursor(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return parse_cursor(value)
    except InvalidInput:
        raise Refused(422, "This page of runs is not one the list gave: start again.") from None


@router.post("/runs/{execution_id}/rerun")
async def rerun(request: Request, execution_id: str) -> Response:
    sessions_of(request).check_post(request, await read_form(request))
    run_id = parse_id(execution_id, "run")
    try:
        actor = Actor.operator("console", client_address(request))
        report = await ticks_of(request).rerun(run_id, actor)
    except Conflict as exc:
        raise Refused(409, f"Refused: {exc}.") from None
    if report.record_error:
        raise StoreUnavailable(f"the run finished but was not recorded: {report.record_error}")
    log.info("console: re-ran run %s as run %s", run_id, report.execution_id)
    return RedirectResponse(f"{COOKIE_PATH}/runs/{report.execution_id}?did=rerun", status_code=303)


def _bulk_filter(fields: dict[str, str]) -> BulkFilter:
    status = fields.get("status") or None
    if status is not None and status not in STATUSES:
        raise Refused(422, f"Choose a status among {', '.join(STATUSES)}.")
    within = fields.get("within") or ""
    if within and within not in AUTO_PAUSED_WITHIN:
        raise Refused(422, f"Choose an auto-pause window among {', '.join(AUTO_PAUSED_WITHIN)}.")
    return BulkFilter(
        status=status,
        user_id=_optional_id(fields.get("owner"), "owner"),
        q=(fields.get("q") or "").strip()[:200] or None,
        auto_paused_within_seconds=AUTO_PAUSED_WITHIN[within] * 3600 if within else None,
    )


def _action(fields: dict[str, str]) -> str:
    action = fields.get("action") or "pause"
    if action not in ACTIONS:
        raise Refused(422, f"Choose an action among {', '.join(ACTIONS)}.")
    return action


async def _bulk_page(
    request: Request,
    session: ConsoleSession,
    fields: dict[str, str],
    *,
    results: Any = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    action = _action(fields)
    chosen = _bulk_filter(fields)
    # The selection is shown once the form has been sent (any field), never at first.
    shown = results is None and any(k in fields for k in ("action", "status", "owner", "q"))
    selection = await bulk_of(request).select(chosen) if shown else None
    return page(
        request,
        "bulk.html",
        status_code,
        session=session,
        nav="strategies",
        now=console_of(request).now(),
        fields={k: fields.get(k, "") for k in ("status", "owner", "q", "within")},
        action=action,
        verb=VERBS[action],
        actions=ACTIONS,
        statuses=STATUSES,
        windows=AUTO_PAUSED_WITHIN,
        selection=selection,
        too_many=selection is not None and selection.total > MAX_SELECTION,
        limit=MAX_SELECTION,
        key=selection_key(selection.targets) if selection else None,
        results=results,
        error=error,
    )


@router.get("/bulk")
async def bulk_form(request: Request) -> Response:
    session = sessions_of(request).session(request)
    return await _bulk_page(request, session, dict(request.query_params))


@router.post("/bulk")
async def bulk_apply(request: Request) -> Response:
    form = await read_form(request)
    session = sessions_of(request).check_post(request, form)
    action = _action(form)
    chosen = _bulk_filter(form)
    try:
        actor = Actor.operator("console", client_address(request))
        _, outcomes = await bulk_of(request).apply(action, chosen, actor, form.get("expect") or "-")
    except Conflict as exc:
        # The selection changed since it was shown: show it again, as it is now.
        return await _bulk_page(
            request, session, form, error=f"Nothing changed: {exc}.", status_code=409
        )
    except InvalidInput as exc:
        raise Refused(422, f"Nothing changed: {exc}.") from None
    log.info(
        "console: bulk %s of %d strategies: %s",
        action,
        len(outcomes),
        ", ".join(f"{o.id} {o.outcome}" for o in outcomes),
    )
    return await _bulk_page(request, session, form, results=outcomes)
