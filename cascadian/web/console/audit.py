"""The audit log in the console: who changed which strategy, when, from where, and
what changed, newest first, filtered as the API filters it.

    GET /console/audit?strategy&action&actor&source&cursor

The first page updates live (live_rows.py polls for its rows).
Keyset pages, as the API's: "older" follows the page's cursor; a cursor or filter
the page cannot read shows the newest entries rather than an error. A strategy's
own page shows its newest entries (pages.py reads them with `recent_entries`).
"""

from __future__ import annotations

from typing import get_args
from urllib.parse import urlencode
from uuid import UUID

from fastapi import Request
from starlette.responses import Response

from cascadian.audit.service import AuditService, BadCursor, cursor_token, parse_cursor
from cascadian.data import ActorKind, ActorSource, AuditAction, AuditPage, AuditQuery
from cascadian.web.console.base import (
    PAGE_SIZE,
    audit_rows_version,
    console_of,
    live_link,
    page,
    parse_id,
    router,
    sessions_of,
    strategies_of,
)

ACTIONS: tuple[AuditAction, ...] = get_args(AuditAction)
KINDS: tuple[ActorKind, ...] = get_args(ActorKind)
SOURCES: tuple[ActorSource, ...] = get_args(ActorSource)
RECENT = 5  # the entries a strategy's page shows


def audit_of(request: Request) -> AuditService:
    service: AuditService = request.app.state.audit_service
    return service


async def recent_entries(request: Request, strategy_id: UUID) -> AuditPage:
    """A strategy's newest entries, for its page."""
    return await audit_of(request).entries(AuditQuery(workflow_id=strategy_id, limit=RECENT))


def audit_query(request: Request) -> AuditQuery:
    """The log's filters and page as the query string gives them."""
    params = request.query_params
    raw = params.get("strategy")
    try:
        before = parse_cursor(params["cursor"]) if params.get("cursor") else None
    except BadCursor:
        before = None
    return AuditQuery(
        workflow_id=parse_id(raw, "strategy") if raw else None,
        actor_kind=next((k for k in KINDS if k == params.get("actor")), None),
        source=next((s for s in SOURCES if s == params.get("source")), None),
        action=next((a for a in ACTIONS if a == params.get("action")), None),
        limit=PAGE_SIZE,
        before=before,
    )


def audit_filters(query: AuditQuery) -> dict[str, str]:
    return {
        k: v
        for k, v in (
            ("strategy", query.workflow_id and str(query.workflow_id)),
            ("action", query.action),
            ("actor", query.actor_kind),
            ("source", query.source),
        )
        if v
    }


@router.get("/audit")
async def audit_log(request: Request) -> Response:
    session = sessions_of(request).session(request)
    query = audit_query(request)
    sid, action, kind, source = query.workflow_id, query.action, query.actor_kind, query.source
    before = query.before
    found = await audit_of(request).entries(query)
    strategy_name = (await strategies_of(request).get(sid)).name if sid else None
    filters = audit_filters(query)
    older = None
    if found.next is not None:
        older = "?" + urlencode(filters | {"cursor": cursor_token(found.next)})
    return page(
        request,
        "audit.html",
        session=session,
        nav="audit",
        now=console_of(request).now(),
        entries=found.items,
        strategy_id=sid,
        strategy_name=strategy_name,
        action=action,
        kind=kind,
        source=source,
        actions=ACTIONS,
        kinds=KINDS,
        sources=SOURCES,
        older=older,
        newest="?" + urlencode(filters) if before is not None else None,
        live=live_link("audit", filters) if before is None else None,
        live_version=audit_rows_version(found.items),
    )
