"""The audit log over HTTP, under ADMIN_API_KEY or a user's access token (a user sees
the entries they made and those about their own strategies, scoped in the read's
SQL, migrations/049; the client's address only on their own).

    GET /api/audit?strategy_id&actor&user_id&source&action&since&until&limit&cursor

Who changed which strategy, when, from where, and the fields that changed, newest
first, in keyset pages: `metadata.next_cursor` asks for the next (older) page. The
log is written by the changes themselves (migrations/027); this only reads it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, get_args
from uuid import UUID

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from cascadian.audit.service import MAX_LIMIT, AuditService, BadCursor, cursor_token, parse_cursor
from cascadian.data import ActorKind, ActorSource, AuditAction, AuditEntry, AuditQuery
from cascadian.web.deps import Acting, IsoTime
from cascadian.web.responses import error, error_responses
from cascadian.web.users import user_router

router = user_router()


def get_audit_service(request: Request) -> AuditService:
    service: AuditService = request.app.state.audit_service
    return service


Audit = Annotated[AuditService, Depends(get_audit_service)]


class ActorModel(BaseModel):
    kind: ActorKind = Field(description="operator, user or system")
    user_id: UUID | None = Field(description="The acting user's id (a user only)")
    source: ActorSource = Field(description="api, cli, console or cron")
    address: str | None = Field(description="The client's address, where there was one")


class AuditEntryModel(BaseModel):
    id: int
    at: datetime
    actor: ActorModel
    action: str = Field(description=", ".join(get_args(AuditAction)))
    strategy_id: UUID | None
    strategy_name: str | None = Field(description="Its name now (null once it is gone)")
    before: dict[str, Any] | None = Field(
        description="The fields that changed, before the change (null: a creation)"
    )
    after: dict[str, Any] = Field(description="The same fields after the change")


class AuditMetadata(BaseModel):
    limit: int
    next_cursor: str | None = Field(description="Pass as `cursor` for the next, older page")


class AuditResponse(BaseModel):
    success: bool = True
    data: list[AuditEntryModel]
    metadata: AuditMetadata


def entry_model(e: AuditEntry) -> AuditEntryModel:
    a = e.actor
    return AuditEntryModel(
        id=e.id,
        at=e.at,
        actor=ActorModel(kind=a.kind, user_id=a.user_id, source=a.source, address=a.address),
        action=e.action,
        strategy_id=e.workflow_id,
        strategy_name=e.strategy_name,
        before=e.before,
        after=e.after,
    )


@router.get(
    "/audit",
    response_model=AuditResponse,
    responses=error_responses(401, 422, 503),
    tags=["audit"],
    summary="The audit log: who changed which strategy, when, from where, and what changed",
)
async def audit_log(
    audit: Audit,
    acting: Acting,
    strategy_id: Annotated[UUID | None, Query(description="Only this strategy's")] = None,
    actor: Annotated[ActorKind | None, Query(description="Only this kind of actor")] = None,
    user_id: Annotated[UUID | None, Query(description="Only this user's changes")] = None,
    source: Annotated[ActorSource | None, Query(description="Only from here")] = None,
    action: Annotated[AuditAction | None, Query(description="Only this action")] = None,
    since: Annotated[IsoTime | None, Query(description="At or after (ISO 8601)")] = None,
    until: Annotated[IsoTime | None, Query(description="Before (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`metadata.next_cursor` of a page")
    ] = None,
) -> AuditResponse | Response:
    """Newest first. A time without a zone is read as UTC."""
    try:
        before = None if cursor is None else parse_cursor(cursor)
    except BadCursor as exc:
        return error(422, "Validation Error", str(exc))
    query = AuditQuery(
        workflow_id=strategy_id,
        actor_kind=actor,
        user_id=user_id,
        source=source,
        action=action,
        since=since,
        until=until,
        limit=limit,
        before=before,
    )
    page = await audit.entries(query, acting)
    return AuditResponse(
        data=[entry_model(e) for e in page.items],
        metadata=AuditMetadata(
            limit=limit, next_cursor=None if page.next is None else cursor_token(page.next)
        ),
    )
