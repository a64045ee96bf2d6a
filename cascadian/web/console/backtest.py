"""A strategy's backtest page: a window (and variables) in a small GET form, then the
results: the figures, the equity curve as an inline SVG (equity_chart.py), a sweep's
rows, and the orders with what each was based on (backtests/, docs/backtests.md).

    GET /console/strategies/{id}/backtest?from=…&to=…&vars=threshold=0.2,0.35

A GET changes nothing: a backtest writes nothing. A request that cannot run shows
every reason (422) and runs nothing.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import Request, Response

from cascadian.backtests.service import BacktestService
from cascadian.clock import as_utc
from cascadian.data import EquityPoint
from cascadian.errors import BacktestCancelled, BacktestInvalid, QuotaExceeded
from cascadian.web.console.base import (
    console_of,
    page,
    parse_id,
    router,
    sessions_of,
    strategies_of,
)
from cascadian.web.console.equity_chart import equity_chart


def _time(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def _vars(text: str) -> dict[str, list[Any]]:
    """`a=1,2; b=x` -> {"a": [1, 2], "b": ["x"]}."""
    found: dict[str, list[Any]] = {}
    for part in text.split(";"):
        name, sep, values = part.partition("=")
        if not part.strip():
            continue
        if not sep or not name.strip():
            raise BacktestInvalid(f"variables: {part.strip()[:40]!r} is not NAME=VALUE")
        found[name.strip()] = [_value(v.strip()) for v in values.split(",")]
    return found


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _points(run: dict[str, Any]) -> list[EquityPoint]:
    zero = Decimal(0)
    return [
        EquityPoint(
            at=_time(p["at"]),
            equity=Decimal(p["equity"]),
            cash=Decimal(p["cash"]),
            positions_value=Decimal(p["exposure"]),
            realized_pnl=Decimal(p["realized_pnl"]),
            unrealized_pnl=zero,
        )
        for p in run["equity_curve"]
    ]


@router.get("/strategies/{strategy_id}/backtest")
async def backtest(request: Request, strategy_id: str) -> Response:
    session = sessions_of(request).session(request)
    sid = parse_id(strategy_id, "strategy")
    strategy = await strategies_of(request).get(sid)
    now = console_of(request).now()
    q = request.query_params
    form = {
        "from": q.get("from") or f"{now - timedelta(days=7):%Y-%m-%dT%H:%M}",
        "to": q.get("to") or f"{now:%Y-%m-%dT%H:%M}",
        "vars": q.get("vars", ""),
    }
    context: dict[str, Any] = {"strategy": strategy, "form": form, "report": None}
    status = 200
    if q.get("from") and q.get("to"):
        service: BacktestService = request.app.state.backtest_service
        try:
            start, end = _time(form["from"]), _time(form["to"])
            report = await service.backtest(sid, start, end, _vars(form["vars"]))
        except ValueError as exc:  # BacktestInvalid is one
            problems = getattr(exc, "problems", [])
            context.update(error=f"Cannot backtest: {exc}", problems=problems)
            status = 422
        except BacktestCancelled as exc:
            context.update(error=str(exc), problems=[])
            status = 503
        except QuotaExceeded as exc:  # the server's backtest processes are all busy
            context.update(error=f"Cannot backtest now: {exc}", problems=[])
            status = 429
        else:
            run = report["runs"][0]
            bankroll = Decimal(run["metrics"]["initial_bankroll"])
            context.update(
                report=report,
                run=run,
                chart=equity_chart(_points(run), bankroll),
            )
    return page(
        request,
        "backtest.html",
        status_code=status,
        session=session,
        nav="strategies",
        now=now,
        **context,
    )
