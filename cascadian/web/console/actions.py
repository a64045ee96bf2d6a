"""The buttons that change a strategy: start, pause, stop, resume and run now.

    POST /console/strategies/{id}/{action}

Each is the control API's change, with its rules, made by the operator from the
console (the audit log says so, with the client's address): a refusal (Conflict,
or an invalid schedule) is shown on the strategy's page with 409, never as JSON.
Every form carries the session's CSRF token (session.py).
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from cascadian.data import Actor
from cascadian.errors import Conflict, ScheduleError, StoreUnavailable
from cascadian.web.console.base import (
    ACTIONS,
    control_of,
    parse_id,
    read_form,
    router,
    sessions_of,
    ticks_of,
)
from cascadian.web.console.pages import strategy_page
from cascadian.web.console.session import COOKIE_PATH, Refused
from cascadian.web.deps import client_address

log = logging.getLogger(__name__)


@router.post("/strategies/{strategy_id}/{action}")
async def act(request: Request, strategy_id: str, action: str) -> Response:
    session = sessions_of(request).check_post(request, await read_form(request))
    sid = parse_id(strategy_id, "strategy")
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
