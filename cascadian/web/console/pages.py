"""What an operator reads: the overview, the strategies, a strategy, a run, the
notifications and the paper orders.

    GET  /console                         health, backlog, lag, the tick chart, failures,
                                          the runs in flight (live: live_rows.py)
    GET  /console/strategies              the list: filters, search, sort
    GET  /console/strategies/{id}         one strategy: its graph, runs, buttons
    GET  /console/runs/{execution_id}     one run: per-node status, timing, error, output,
                                          its re-run button and links
    GET  /console/notifications           what strategies sent their owners
    GET  /console/paper                   paper orders (simulated, never real), the
                                          global kill switch

(The audit log's page is audit.py's; a strategy's page shows its newest entries.)

Pages render on the server from the same services as the API (control, tick,
console).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import Request
from starlette.responses import Response

from cascadian.console.service import FILTERS, SORTS, lag
from cascadian.data import RunQuery
from cascadian.triggers.service import definition
from cascadian.web.console.audit import recent_entries
from cascadian.web.console.base import (
    DONE,
    PAGE_SIZE,
    RAN_AND_FAILED,
    RERAN_AND_FAILED,
    RUNS_PAGE,
    WINDOWS,
    clamp,
    console_of,
    control_of,
    page,
    page_link,
    parse_id,
    router,
    run_rows_version,
    runs_of,
    sessions_of,
    strategies_of,
    triggers_of,
)
from cascadian.web.console.charts import axes, chart_data, duration_chart, runs_chart
from cascadian.web.console.diagram import NodeMark, graph_diagram
from cascadian.web.console.live_rows import RUNNING_SHOWN, running_runs
from cascadian.web.console.node_inputs import node_inputs
from cascadian.web.console.session import ConsoleSession, Refused
from cascadian.web.deps import get_trading_service


@router.get("")
async def overview(request: Request) -> Response:
    session = sessions_of(request).session(request)
    console, control = console_of(request), control_of(request)
    hours = clamp(request.query_params.get("hours"), 3, 1, 24)
    hours = hours if hours in WINDOWS else 3
    health = await control.health()
    if not health.database:  # what can be said without it, rather than a bare error
        return page(request, "down.html", 503, session=session, nav="overview", now=console.now())
    # Independent reads, at once: a serverless page waits for the slowest, not the sum.
    summary, backlog, window, failing, market, running = await asyncio.gather(
        console.overview(),
        control.backlog(),
        console.tick_window(hours),
        console.strategies("failing", None, "attention", 8, 0),
        triggers_of(request).overview(),
        running_runs(request),
    )
    data = chart_data(window)
    now = console.now()
    late = backlog.oldest_lag_seconds if backlog.due else None
    oldest_lag = timedelta(seconds=late) if late is not None else None
    return page(
        request,
        "overview.html",
        session=session,
        nav="overview",
        now=now,
        health=health,
        summary=summary,
        backlog=backlog,
        oldest_lag=oldest_lag,
        window=window,
        windows=WINDOWS,
        hours=hours,
        runs_chart=runs_chart(window, data),
        duration_chart=duration_chart(window, data),
        axes=axes(window, data),
        data=data,
        failing=failing,
        market=market,
        running=running,
        running_shown=RUNNING_SHOWN,
        running_version=run_rows_version(running),
        lag=lambda s: lag(s, now),
    )


@router.get("/strategies")
async def strategies(request: Request) -> Response:
    session = sessions_of(request).session(request)
    console = console_of(request)
    q = request.query_params
    filter_, sort = q.get("filter") or "all", q.get("sort") or "attention"
    if filter_ not in FILTERS or sort not in SORTS:
        raise Refused(
            422, f"Choose a filter among {', '.join(FILTERS)}, a sort among {', '.join(SORTS)}."
        )
    search = (q.get("q") or "").strip()
    page_no = clamp(q.get("page"), 1, 1, 100_000)
    found = await console.strategies(filter_, search, sort, PAGE_SIZE, (page_no - 1) * PAGE_SIZE)
    now = console.now()

    def link(**change: Any) -> str:
        params = {"filter": filter_, "q": search, "sort": sort, "page": page_no} | change
        return "?" + urlencode({k: v for k, v in params.items() if v not in ("", None)})

    return page(
        request,
        "strategies.html",
        session=session,
        nav="strategies",
        now=now,
        page=found,
        filters=FILTERS,
        sorts=SORTS,
        filter=filter_,
        sort=sort,
        search=search,
        page_no=page_no,
        pages=max(1, -(-found.total // PAGE_SIZE)),
        link=link,
        lag=lambda s: lag(s, now),
    )


async def strategy_page(
    request: Request,
    session: ConsoleSession,
    strategy_id: UUID,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    console, control = console_of(request), control_of(request)
    runs_page = clamp(request.query_params.get("runs"), 1, 1, 100_000)
    # Independent reads, at once (two gathers: one takes at most six, typed).
    (status, graph, runs, notes, recent_lag, changes), triggers = await asyncio.gather(
        asyncio.gather(
            control.status(strategy_id),
            strategies_of(request).get(strategy_id),
            control.executions(strategy_id, RUNS_PAGE, (runs_page - 1) * RUNS_PAGE),
            console.notifications(strategy_id, 5, 0),
            control.schedule_lag(strategy_id),
            recent_entries(request, strategy_id),
        ),
        triggers_of(request).triggers(strategy_id),
    )
    newest = runs if runs_page == 1 else await control.executions(strategy_id, 1, 0)
    latest = await control.execution(newest.items[0].id) if newest.items else None
    marks = _marks(latest.logs) if latest else {}
    now = console.now()
    return page(
        request,
        "strategy.html",
        status_code,
        session=session,
        nav="strategies",
        now=now,
        s=status,
        graph=graph,
        diagram=graph_diagram(graph.graph.nodes, graph.graph.edges, marks),
        runs=runs,
        runs_page=runs_page,
        runs_pages=max(1, -(-runs.total // RUNS_PAGE)),
        runs_link=lambda page: f"?runs={page}",
        latest=latest,
        notes=notes,
        changes=changes,
        lag=lag(status, now),
        recent_lag=recent_lag,
        triggers=triggers,
        trigger_text=json.dumps([definition(t) for t in triggers], indent=1),
        editable=status.status != "archived" and graph.is_current_version,
        actions=_actions(status.status, graph.is_current_version),
        notice=notice,
        error=error,
    )


def _actions(status: str, current: bool) -> list[str]:
    """The buttons worth showing; the control functions still decide."""
    if status == "archived" or not current:
        return []
    shown = []
    if status in ("draft", "active"):
        shown.append("start")
    if status == "running":
        shown.append("pause")
    if status in ("running", "paused", "error"):
        shown.append("stop")
    if status in ("paused", "stopped", "error"):
        shown.append("resume")
    shown.append("run-now")
    return shown


def _marks(logs: Any) -> dict[str, NodeMark]:
    return {log.node_id: NodeMark(log.status, log.error, log.duration_ms) for log in logs}


@router.get("/strategies/{strategy_id}")
async def strategy(request: Request, strategy_id: str) -> Response:
    session = sessions_of(request).session(request)
    done = request.query_params.get("did")
    return await strategy_page(
        request, session, parse_id(strategy_id, "strategy"), notice=DONE.get(done or "")
    )


@router.get("/runs/{execution_id}")
async def run(request: Request, execution_id: str) -> Response:
    session = sessions_of(request).session(request)
    console, control = console_of(request), control_of(request)
    detail = await control.execution(parse_id(execution_id, "run"))
    graph, reruns = await asyncio.gather(
        strategies_of(request).get(detail.workflow_id),
        runs_of(request).runs(RunQuery(rerun_of=detail.id, limit=10)),
    )
    done = request.query_params.get("did")
    failed = detail.status == "failed"
    return page(
        request,
        "run.html",
        session=session,
        nav="strategies",
        now=console.now(),
        run=detail,
        graph=graph,
        diagram=graph_diagram(graph.graph.nodes, graph.graph.edges, _marks(detail.logs)),
        inputs=node_inputs(
            graph.graph, {log.node_id: log.output for log in detail.logs if log.status == "success"}
        ),
        rerunnable=failed and graph.is_current_version and graph.status != "archived",
        reruns=reruns.items,
        # "Ran now" is good news only when the run succeeded.
        notice=DONE.get(done or "") if not failed else None,
        error={"run-now": RAN_AND_FAILED, "rerun": RERAN_AND_FAILED}.get(done or "")
        if failed
        else None,
    )


@router.get("/notifications")
async def notifications(request: Request) -> Response:
    session = sessions_of(request).session(request)
    console = console_of(request)
    page_no = clamp(request.query_params.get("page"), 1, 1, 100_000)
    raw = request.query_params.get("strategy")
    sid = parse_id(raw, "strategy") if raw else None
    found = await console.notifications(sid, PAGE_SIZE, (page_no - 1) * PAGE_SIZE)
    strategy_name = (await strategies_of(request).get(sid)).name if sid else None

    def link(page: int) -> str:
        return f"?strategy={sid}&page={page}" if sid else f"?page={page}"

    return page(
        request,
        "notifications.html",
        strategy_id=sid,
        strategy_name=strategy_name,
        session=session,
        nav="notifications",
        now=console.now(),
        page=found,
        page_no=page_no,
        pages=max(1, -(-found.total // PAGE_SIZE)),
        link=link,
    )


@router.get("/paper")
async def paper(request: Request) -> Response:
    session = sessions_of(request).session(request)
    done = request.query_params.get("did") or ""
    notice = {
        "global-on": "Global kill switch on: every strategy's orders are refused.",
        "global-off": "Global kill switch off.",
    }.get(done)
    return await paper_page(request, session, notice=notice)


async def paper_page(
    request: Request,
    session: ConsoleSession,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    """The paper orders, and the global kill switch with its form."""
    console = console_of(request)
    page_no = clamp(request.query_params.get("page"), 1, 1, 100_000)
    found, switches = await asyncio.gather(
        console.paper_orders(PAGE_SIZE, (page_no - 1) * PAGE_SIZE),
        get_trading_service(request).kill_switches(),
    )
    return page(
        request,
        "paper.html",
        status_code,
        session=session,
        nav="paper",
        now=console.now(),
        page=found,
        page_no=page_no,
        pages=max(1, -(-found.total // PAGE_SIZE)),
        link=page_link,
        global_switch=next((k for k in switches if k.workflow_id is None), None),
        notice=notice,
        error=error,
    )
