"""A strategy's paper portfolio in the console, with its limits and kill switches,
and the forms that change them.

    GET  /console/strategies/{id}/portfolio   cash, P&L, day, limits, switches, positions, orders
    POST /console/trading/{id}/limits         set its limits (every field; blank: no limit)
    POST /console/trading/{id}/kill-switch    its kill switch on (who, why) or off
    POST /console/trading/kill-switch         the global kill switch on or off

The same trading service as the API and the CLI (trading/controls.py): a refusal
(a limit out of range, a switch without who or why) shows on the page with 422 and
changes nothing. Each form asks before it changes anything (data-confirm) and
carries the session's CSRF token. The page is a column of cards, so another (the
equity curve) slots in without reshaping it.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from cascadian.data import LIMIT_NAMES, Actor
from cascadian.errors import InvalidInput
from cascadian.trading.controls import ORDER_RESULTS, TradingService
from cascadian.trading.paper import PaperService
from cascadian.web.console.base import (
    clamp,
    console_of,
    control_of,
    page,
    parse_id,
    read_form,
    router,
    sessions_of,
)
from cascadian.web.console.equity_chart import equity_chart
from cascadian.web.console.pages import paper_page
from cascadian.web.console.session import COOKIE_PATH, ConsoleSession
from cascadian.web.deps import (
    client_address,
    get_equity_service,
    get_paper_service,
    get_trading_service,
)

ORDERS_PAGE = 20
DONE = {
    "limits": "Limits saved: the next order is checked against them.",
    "switch-on": "Kill switch on: its orders are refused until it is cleared.",
    "switch-off": "Kill switch off: its orders are placed again.",
    "global-on": "Global kill switch on: every strategy's orders are refused.",
    "global-off": "Global kill switch off.",
}


def trading_of(request: Request) -> TradingService:
    return get_trading_service(request)


def paper_of(request: Request) -> PaperService:
    return get_paper_service(request)


async def portfolio_page(
    request: Request,
    session: ConsoleSession,
    strategy_id: UUID,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    trading = trading_of(request)
    orders_page = clamp(request.query_params.get("orders"), 1, 1, 100_000)
    result = request.query_params.get("result") or None
    result = result if result in ORDER_RESULTS else None
    status, portfolio, book, orders, curve = await asyncio.gather(
        control_of(request).status(strategy_id),
        trading.portfolio(strategy_id),
        paper_of(request).book(strategy_id, 0, live=False),
        trading.orders(strategy_id, result, ORDERS_PAGE, (orders_page - 1) * ORDERS_PAGE),
        get_equity_service(request).curve(strategy_id, points=2000),
    )

    def link(page: int) -> str:
        return f"?orders={page}" + (f"&result={result}" if result else "")

    return page(
        request,
        "portfolio.html",
        status_code,
        session=session,
        nav="strategies",
        now=console_of(request).now(),
        s=status,
        p=portfolio,
        book=book,
        chart=equity_chart(curve.points, curve.initial_bankroll),
        curve=curve,
        orders=orders,
        orders_page=orders_page,
        orders_pages=max(1, -(-orders.total // ORDERS_PAGE)),
        orders_link=link,
        result=result,
        results=ORDER_RESULTS,
        form=form or {},
        notice=notice,
        error=error,
    )


@router.get("/strategies/{strategy_id}/portfolio")
async def portfolio(request: Request, strategy_id: str) -> Response:
    session = sessions_of(request).session(request)
    done = request.query_params.get("did") or ""
    return await portfolio_page(
        request, session, parse_id(strategy_id, "strategy"), notice=DONE.get(done)
    )


@router.post("/trading/{strategy_id}/limits")
async def set_limits(request: Request, strategy_id: str) -> Response:
    form = await read_form(request)
    session = sessions_of(request).check_post(request, form)
    sid = parse_id(strategy_id, "strategy")
    changes: dict[str, Any] = {name: form.get(name, "").strip() or None for name in LIMIT_NAMES}
    try:
        actor = Actor.operator("console", client_address(request))
        await trading_of(request).set_limits(sid, changes, actor)
    except InvalidInput as exc:
        return await portfolio_page(
            request, session, sid, error=f"Refused: {exc}.", status_code=422, form=form
        )
    return RedirectResponse(f"{COOKIE_PATH}/strategies/{sid}/portfolio?did=limits", 303)


@router.post("/trading/{strategy_id}/kill-switch")
async def strategy_switch(request: Request, strategy_id: str) -> Response:
    form = await read_form(request)
    session = sessions_of(request).check_post(request, form)
    sid = parse_id(strategy_id, "strategy")
    return await _switch(request, session, sid, sid, form, "switch")


@router.post("/trading/kill-switch")
async def global_switch(request: Request) -> Response:
    form = await read_form(request)
    session = sessions_of(request).check_post(request, form)
    back = form.get("back", "")
    sid = parse_id(back, "strategy") if back else None
    return await _switch(request, session, None, sid, form, "global")


async def _switch(
    request: Request,
    session: ConsoleSession,
    scope: UUID | None,
    back: UUID | None,
    form: dict[str, str],
    done: str,
) -> Response:
    """Flip a switch; then back to the strategy's portfolio (or the paper page)."""
    trading = trading_of(request)
    actor = Actor.operator("console", client_address(request))
    on = form.get("on") == "yes"
    try:
        if on:
            await trading.switch_on(scope, form.get("set_by"), form.get("reason"), actor)
        else:
            await trading.switch_off(scope, actor)
    except InvalidInput as exc:
        if back is None:
            return await paper_page(request, session, error=f"Refused: {exc}.", status_code=422)
        return await portfolio_page(
            request, session, back, error=f"Refused: {exc}.", status_code=422, form=form
        )
    did = f"{done}-{'on' if on else 'off'}"
    target = f"/strategies/{back}/portfolio" if back else "/paper"
    return RedirectResponse(f"{COOKIE_PATH}{target}?did={did}", 303)
