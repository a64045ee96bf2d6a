"""A strategy's paper portfolio page: its equity curve and its positions at their
marks (trading/equity.py), read from the database only.

    GET /console/strategies/{id}/equity
"""

from __future__ import annotations

from fastapi import Request, Response

from cascadian.trading.paper import NOTE
from cascadian.web.console.base import (
    console_of,
    page,
    parse_id,
    router,
    sessions_of,
    strategies_of,
)
from cascadian.web.console.equity_chart import equity_chart
from cascadian.web.deps import get_equity_service


@router.get("/strategies/{strategy_id}/equity")
async def equity(request: Request, strategy_id: str) -> Response:
    session = sessions_of(request).session(request)
    sid = parse_id(strategy_id, "strategy")
    curve = await get_equity_service(request).curve(sid, points=2000)
    strategy = await strategies_of(request).get(sid)
    return page(
        request,
        "equity.html",
        session=session,
        nav="strategies",
        now=console_of(request).now(),
        strategy=strategy,
        curve=curve,
        chart=equity_chart(curve.points, curve.initial_bankroll),
        note=NOTE,
    )
