"""The buttons that change a strategy: start, pause, stop, resume and run now; and
its triggers, replaced from the JSON in a form.

    POST /console/strategies/{id}/{action}
    POST /console/strategies/{id}/triggers     form field `triggers`: a JSON list

Each is the control API's change, with its rules, made by the operator from the
console (the audit log says so, with the client's address): a refusal (Conflict,
or an invalid schedule) is shown on the strategy's page with 409, never as JSON.
Every form carries the session's CSRF token (session.py).
"""

from __future__ import annotations

import json
import logging
from uuid import UUID

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from cascadian.data import Actor
from cascadian.errors import (
    Conflict,
    MarketUnavailable,
    ScheduleError,
    StoreUnavailable,
    TriggerInvalid,
)
from cascadian.web.console.base import (
    ACTIONS,
    control_of,
    parse_id,
    read_form,
    router,
    sessions_of,
    ticks_of,
    triggers_of,
)
from cascadian.web.console.pages import strategy_page
from cascadian.web.console.session import COOKIE_PATH, ConsoleSession, Refused
from cascadian.web.deps import client_address

log = logging.getLogger(__name__)


@router.post("/strategies/{strategy_id}/{action}")
async def act(request: Request, strategy_id: str, action: str) -> Response:
    form = await read_form(request)
    session = sessions_of(request).check_post(request, form)
    sid = parse_id(strategy_id, "strategy")
    if action == "triggers":
        return await _set_triggers(request, session, sid, form.get("triggers", ""))
    if action not in ACTIONS:
        raise Refused(404, f"There is no action {action[:40]!r}.")
    control = control_of(request)
    actor = Actor.operator("console", client_address(request))
    try:
        if action == "run-now":
            report = await ticks_of(request).run_now(sid, actor)
            if report.record_error:
                raise StoreUnavailable(
                    f"the run finished but was not recorded: {report.record_error}"
                )
            log.info("console: ran %s now (run %s)", sid, report.execution_id)
            return RedirectResponse(
                f"{COOKIE_PATH}/runs/{report.execution_id}?did=run-now", status_code=303
            )
        change = {
            "start": control.start,
            "pause": control.pause,
            "stop": control.stop,
            "resume": control.resume,
        }[action]
        await change(sid, actor)
    except (Conflict, ScheduleError) as exc:
        return await strategy_page(request, session, sid, error=f"Refused: {exc}.", status_code=409)
    log.info("console: %s %s", action, sid)
    return RedirectResponse(f"{COOKIE_PATH}/strategies/{sid}?did={action}", status_code=303)


async def _set_triggers(
    request: Request, session: ConsoleSession, sid: UUID, text: str
) -> Response:
    """The triggers in `text` (a JSON list) replace the strategy's; every problem is
    shown on its page (422), and nothing is saved."""
    actor = Actor.operator("console", client_address(request))
    try:
        raw = json.loads(text or "[]")
    except ValueError as exc:
        return await strategy_page(
            request, session, sid, error=f"The triggers are not JSON: {exc}.", status_code=422
        )
    try:
        await triggers_of(request).set_triggers(sid, raw, actor)
    except TriggerInvalid as exc:
        problems = "; ".join(f"trigger {i + 1}, {field}: {msg}" for i, field, msg in exc.problems)
        error = f"The triggers cannot be used, nothing was saved: {problems}."
        return await strategy_page(request, session, sid, error=error, status_code=422)
    except MarketUnavailable as exc:
        error = f"Nothing was saved: {exc}."
        return await strategy_page(request, session, sid, error=error, status_code=503)
    log.info("console: triggers of %s set", sid)
    return RedirectResponse(f"{COOKIE_PATH}/strategies/{sid}?did=triggers", status_code=303)
