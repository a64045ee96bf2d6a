"""The orchestrator's decisions in the console: every strategy's, newest first, each
pending one with its approve and reject forms.

    GET  /console/decisions?status=pending&page=1
    POST /console/decisions/{id}/approve     its PAPER buy placed through the trading book
    POST /console/decisions/{id}/reject      a reason (optional); nothing is ever placed

The same service as the API and the CLI (trading/decisions.py), as the console's
operator: an approval places once (approving again shows the first order), an expired
or rejected decision never places. Each form asks first (data-confirm) and carries the
session's CSRF token.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from cascadian.data import DECISION_STATUSES, Actor, DecisionAnswer
from cascadian.errors import InvalidInput, MarketUnavailable
from cascadian.trading.decisions import DecisionService
from cascadian.web.console.base import (
    PAGE_SIZE,
    clamp,
    console_of,
    page,
    parse_id,
    read_form,
    router,
    sessions_of,
)
from cascadian.web.console.session import COOKIE_PATH, ConsoleSession
from cascadian.web.deps import client_address

DONE = {
    "approved": "Approved: its paper buy was placed through the trading book.",
    "already_approved": "Already approved: its paper order was placed then, once.",
    "rejected": "Rejected: nothing will be placed.",
    "already_rejected": "It was rejected already: nothing is placed.",
    "expired": "It expired before it was approved: nothing is placed.",
}


def decisions_of(request: Request) -> DecisionService:
    service: DecisionService = request.app.state.decision_service
    return service


async def decisions_page(
    request: Request,
    session: ConsoleSession,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    status = request.query_params.get("status", "pending") or None
    status = status if status in DECISION_STATUSES else None
    page_no = clamp(request.query_params.get("page"), 1, 1, 100_000)
    found = await decisions_of(request).decisions(
        None, status, PAGE_SIZE, (page_no - 1) * PAGE_SIZE
    )

    def link(page: int) -> str:
        return "?" + urlencode({"status": status or "", "page": page})

    return page(
        request,
        "decisions.html",
        status_code,
        session=session,
        nav="decisions",
        now=console_of(request).now(),
        decisions=found,
        status=status,
        statuses=DECISION_STATUSES,
        page_no=page_no,
        pages=max(1, -(-found.total // PAGE_SIZE)),
        link=link,
        notice=notice,
        error=error,
    )


@router.get("/decisions")
async def decisions(request: Request) -> Response:
    session = sessions_of(request).session(request)
    did = request.query_params.get("did") or ""
    notice = DONE.get(did)
    refusal = request.query_params.get("refused") or ""
    if did == "approved" and refusal:
        notice = f"Approved, and its paper order was refused ({refusal[:40]}): nothing bought."
    return await decisions_page(request, session, notice=notice)


def _done(answer: DecisionAnswer) -> Response:
    query: dict[str, str] = {"did": answer.outcome}
    if answer.order is not None and answer.order.result == "refused":
        query["refused"] = answer.order.refusal or "refused"
    return RedirectResponse(f"{COOKIE_PATH}/decisions?{urlencode(query)}", 303)


@router.post("/decisions/{decision_id}/approve")
async def approve(request: Request, decision_id: str) -> Response:
    form = await read_form(request)
    session = sessions_of(request).check_post(request, form)
    did = parse_id(decision_id, "decision")
    actor = Actor.operator("console", client_address(request))
    try:
        answer = await decisions_of(request).approve(did, actor)
    except MarketUnavailable as exc:
        return await decisions_page(
            request, session, error=f"Not approved: {exc}. Try again.", status_code=503
        )
    return _done(answer)


@router.post("/decisions/{decision_id}/reject")
async def reject(request: Request, decision_id: str) -> Response:
    form = await read_form(request)
    session = sessions_of(request).check_post(request, form)
    did = parse_id(decision_id, "decision")
    actor = Actor.operator("console", client_address(request))
    try:
        answer = await decisions_of(request).reject(did, form.get("reason") or None, actor)
    except InvalidInput as exc:
        return await decisions_page(request, session, error=f"Refused: {exc}.", status_code=422)
    return _done(answer)
