"""The console's pages and the forms that change a strategy.

    GET  /console                         overview: health, backlog, lag, the tick chart
    GET  /console/strategies              the list: filters, search, sort
    GET  /console/strategies/{id}         one strategy: its graph, runs, actions
    POST /console/strategies/{id}/{action}  start, pause, stop, resume, run-now
    GET  /console/runs/{execution_id}     one run: per-node status, timing, error, output
    GET  /console/notifications           what strategies sent their owners
    GET  /console/paper                   paper orders (simulated, never real)
    GET/POST /console/sign-in, POST /console/sign-out

Pages render on the server from the same services as the API (control, tick,
console); a change is the control API's change, so it has the same rules and
the same refusals, shown on the page instead of as JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl, urlencode
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.responses import Response

from cascadian.console import FILTERS, SORTS, ConsoleService, lag
from cascadian.control import ControlService
from cascadian.errors import Conflict, NotFound, ScheduleError, StoreUnavailable
from cascadian.tick import TickService
from cascadian.web.console.charts import axes, chart_data, duration_chart, runs_chart
from cascadian.web.console.diagram import NodeMark, graph_diagram
from cascadian.web.console.render import templates
from cascadian.web.console.session import (
    COOKIE,
    COOKIE_PATH,
    SESSION_SECONDS,
    ConsoleSession,
    Refused,
    Sessions,
    SignInRequired,
    check_same_origin,
    safe_next,
)

log = logging.getLogger(__name__)
TEMPLATES = templates()
PAGE_SIZE = 50
RUNS_PAGE = 20
MAX_FORM_BYTES = 4096
WINDOWS = (1, 3, 6, 24)
ACTIONS = ("start", "pause", "stop", "resume", "run-now")
DONE = {
    "start": "Started: it runs from its next slot.",
    "pause": "Paused: it will not run until resumed.",
    "stop": "Stopped: it will not run until resumed.",
    "resume": "Resumed: it runs from its next slot.",
    "run-now": "Ran now: this is the run.",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; "
    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    sessions: Sessions = request.app.state.console_sessions
    context.setdefault("session", None)
    context.setdefault("notice", None)
    context.setdefault("error", None)
    context["open_console"] = not sessions.needs_key
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)


def _refusal(request: Request, status: int, message: str) -> HTMLResponse:
    return _page(request, "error.html", status, status=status, message=message)


class ConsoleRoute(APIRoute):
    """Console errors as pages (never the API's JSON), and security headers on all."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def rendered(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                query = urlencode({"next": target})
                response = RedirectResponse(f"{COOKIE_PATH}/sign-in?{query}", status_code=303)
            except Refused as exc:
                response = _refusal(request, exc.status, exc.message)
            except NotFound as exc:
                response = _refusal(request, 404, f"Not found: {exc}.")
            except StoreUnavailable as exc:
                response = _refusal(request, 503, str(exc))
            response.headers.update(SECURITY_HEADERS)
            return response

        return rendered


router = APIRouter(prefix=COOKIE_PATH, route_class=ConsoleRoute, include_in_schema=False)


def _sessions(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.console_sessions
    return sessions


def _console(request: Request) -> ConsoleService:
    service: ConsoleService = request.app.state.console_service
    return service


def _control(request: Request) -> ControlService:
    service: ControlService = request.app.state.control_service
    return service


def _ticks(request: Request) -> TickService:
    service: TickService = request.app.state.tick_service
    return service


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded form of a few fields (the console's forms are small)."""
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        raise Refused(413, "This form is too large.")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Refused(413, "This form is too large.")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _page_link(page: int) -> str:
    return f"?page={page}"


def _id(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(f"no {what} has the id {value[:40]!r}") from None


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(high, max(low, int(value or default)))
    except ValueError:
        return default


# Signing in and out


@router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    sessions = _sessions(request)
    sessions.check_configured()
    target = safe_next(request.query_params.get("next"))
    if sessions.read(request.cookies.get(COOKIE)) is not None:
        return RedirectResponse(target, status_code=303)
    return _page(request, "sign_in.html", next=target, needs_key=sessions.needs_key)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    sessions = _sessions(request)
    sessions.check_configured()
    check_same_origin(request)
    form = await _form(request)
    target = safe_next(form.get("next"))
    client = request.client.host if request.client else "?"
    if not sessions.key_matches(form.get("key", "")):
        log.warning("console: sign-in refused (wrong key) from %s", client)
        return _page(
            request,
            "sign_in.html",
            401,
            next=target,
            needs_key=True,
            error="That is not the ADMIN_API_KEY.",
        )
    log.info("console: signed in from %s", client)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        sessions.issue(),
        max_age=SESSION_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=sessions.settings.is_production,
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    _sessions(request).check_post(request, await _form(request))
    response = RedirectResponse(f"{COOKIE_PATH}/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
    return response


# Pages


@router.get("")
async def overview(request: Request) -> Response:
    session = _sessions(request).session(request)
    console, control = _console(request), _control(request)
    hours = _int(request.query_params.get("hours"), 3, 1, 24)
    hours = hours if hours in WINDOWS else 3
    health = await control.health()
    if not health.database:  # what can be said without it, rather than a bare error
        return _page(request, "down.html", 503, session=session, nav="overview", now=console.now())
    summary = await console.overview()
    window = await console.tick_window(hours)
    data = chart_data(window)
    failing = await console.strategies("failing", None, "attention", 8, 0)
    now = console.now()
    oldest_lag = (now - summary.oldest_due_at) if summary.oldest_due_at else None
    return _page(
        request,
        "overview.html",
        session=session,
        nav="overview",
        now=now,
        health=health,
        summary=summary,
        oldest_lag=oldest_lag,
        window=window,
        windows=WINDOWS,
        hours=hours,
        runs_chart=runs_chart(window, data),
        duration_chart=duration_chart(window, data),
        axes=axes(window, data),
        data=data,
        failing=failing,
        lag=lambda s: lag(s, now),
    )


@router.get("/strategies")
async def strategies(request: Request) -> Response:
    session = _sessions(request).session(request)
    console = _console(request)
    q = request.query_params
    filter_, sort = q.get("filter") or "all", q.get("sort") or "attention"
    if filter_ not in FILTERS or sort not in SORTS:
        raise Refused(
            422, f"Choose a filter among {', '.join(FILTERS)}, a sort among {', '.join(SORTS)}."
        )
    search = (q.get("q") or "").strip()
    page_no = _int(q.get("page"), 1, 1, 100_000)
    found = await console.strategies(filter_, search, sort, PAGE_SIZE, (page_no - 1) * PAGE_SIZE)
    now = console.now()

    def link(**change: Any) -> str:
        params = {"filter": filter_, "q": search, "sort": sort, "page": page_no} | change
        return "?" + urlencode({k: v for k, v in params.items() if v not in ("", None)})

    return _page(
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


async def _strategy_page(
    request: Request,
    session: ConsoleSession,
    strategy_id: UUID,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    console, control = _console(request), _control(request)
    status = await control.status(strategy_id)
    graph = await console.graph(strategy_id)
    runs_page = _int(request.query_params.get("runs"), 1, 1, 100_000)
    runs = await control.executions(strategy_id, RUNS_PAGE, (runs_page - 1) * RUNS_PAGE)
    newest = runs if runs_page == 1 else await control.executions(strategy_id, 1, 0)
    latest = await control.execution(newest.executions[0].id) if newest.executions else None
    marks = _marks(latest.logs) if latest else {}
    notes = await console.notifications(strategy_id, 5, 0)
    now = console.now()
    return _page(
        request,
        "strategy.html",
        status_code,
        session=session,
        nav="strategies",
        now=now,
        s=status,
        graph=graph,
        diagram=graph_diagram(graph.nodes, graph.edges, marks),
        runs=runs,
        runs_page=runs_page,
        runs_pages=max(1, -(-runs.total // RUNS_PAGE)),
        runs_link=lambda page: f"?runs={page}",
        latest=latest,
        notes=notes,
        lag=lag(status, now),
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
    session = _sessions(request).session(request)
    done = request.query_params.get("did")
    return await _strategy_page(
        request, session, _id(strategy_id, "strategy"), notice=DONE.get(done or "")
    )


@router.post("/strategies/{strategy_id}/{action}")
async def act(request: Request, strategy_id: str, action: str) -> Response:
    session = _sessions(request).check_post(request, await _form(request))
    sid = _id(strategy_id, "strategy")
    if action not in ACTIONS:
        raise Refused(404, f"There is no action {action[:40]!r}.")
    control = _control(request)
    try:
        if action == "run-now":
            report = await _ticks(request).run_now(sid)
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
        await change(sid)
    except (Conflict, ScheduleError) as exc:
        return await _strategy_page(
            request, session, sid, error=f"Refused: {exc}.", status_code=409
        )
    log.info("console: %s %s", action, sid)
    return RedirectResponse(f"{COOKIE_PATH}/strategies/{sid}?did={action}", status_code=303)


@router.get("/runs/{execution_id}")
async def run(request: Request, execution_id: str) -> Response:
    session = _sessions(request).session(request)
    console, control = _console(request), _control(request)
    detail = await control.execution(_id(execution_id, "run"))
    graph = await console.graph(detail.workflow_id)
    done = request.query_params.get("did")
    return _page(
        request,
        "run.html",
        session=session,
        nav="strategies",
        now=console.now(),
        run=detail,
        graph=graph,
        diagram=graph_diagram(graph.nodes, graph.edges, _marks(detail.logs)),
        notice=DONE.get(done or ""),
    )


@router.get("/notifications")
async def notifications(request: Request) -> Response:
    session = _sessions(request).session(request)
    console = _console(request)
    page_no = _int(request.query_params.get("page"), 1, 1, 100_000)
    raw = request.query_params.get("strategy")
    sid = _id(raw, "strategy") if raw else None
    found = await console.notifications(sid, PAGE_SIZE, (page_no - 1) * PAGE_SIZE)
    strategy_name = (await console.graph(sid)).name if sid else None

    def link(page: int) -> str:
        return f"?strategy={sid}&page={page}" if sid else f"?page={page}"

    return _page(
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
    session = _sessions(request).session(request)
    console = _console(request)
    page_no = _int(request.query_params.get("page"), 1, 1, 100_000)
    found = await console.paper_orders(PAGE_SIZE, (page_no - 1) * PAGE_SIZE)
    return _page(
        request,
        "paper.html",
        session=session,
        nav="paper",
        now=console.now(),
        page=found,
        page_no=page_no,
        pages=max(1, -(-found.total // PAGE_SIZE)),
        link=_page_link,
    )
