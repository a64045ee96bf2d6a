"""Bulk pause, resume or stop over a filtered selection, under ADMIN_API_KEY or a
user's access token (a user's selection is their own strategies only, whatever
owner the filter names: its SQL (migrations/049) forces it; and each
change checks the owner again where it writes).

    POST /api/strategies/bulk    {"action", "filter", "preview", "expect"}

A preview answers the selection (how many, which, and its key) and changes
nothing; an apply changes each strategy through the control service and answers
one result per strategy. The bulk service (operators/bulk.py) does the work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from cascadian.data import BulkFilter
from cascadian.operators.bulk import MAX_SELECTION, selection_key
from cascadian.web.deps import Acting, Bulk
from cascadian.web.responses import error_responses
from cascadian.web.users import user_router

router = user_router()


class BulkFilterModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: (
        Literal["draft", "active", "running", "paused", "stopped", "error", "auto-paused"] | None
    ) = Field(default=None, description="`auto-paused`: status error and not scheduled")
    user_id: UUID | None = Field(default=None, description="One owner's strategies")
    q: str | None = Field(
        default=None, max_length=200, description="A case-insensitive substring of the name"
    )
    auto_paused_within_minutes: float | None = Field(
        default=None,
        strict=True,  # a number: not true, not "60"
        gt=0,
        le=366 * 24 * 60,
        description="Auto-paused by a run within the last this many minutes",
    )

    def to_filter(self) -> BulkFilter:
        within = self.auto_paused_within_minutes
        return BulkFilter(
            status=self.status,
            user_id=self.user_id,
            q=(self.q or "").strip() or None,
            auto_paused_within_seconds=None if within is None else within * 60,
        )


class BulkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["pause", "resume", "stop"]
    filter: BulkFilterModel = Field(default_factory=BulkFilterModel)
    preview: bool = Field(default=False, description="Answer the selection; change nothing")
    expect: str | None = Field(
        default=None,
        max_length=64,
        description="The `selection` key a preview answered: refused (409, nothing changed) "
        "if the selection is no longer exactly that",
    )


class BulkTargetModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    user_id: UUID
    name: str
    status: str
    auto_paused: bool
    last_executed_at: datetime | None


class BulkOutcomeModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    outcome: Literal["changed", "unchanged", "refused"] = Field(
        description="changed; unchanged: it already was so; refused: `reason` says why"
    )
    status: str | None = Field(description="Its status afterwards (as selected when refused)")
    reason: str | None


class BulkData(BaseModel):
    action: str
    total: int = Field(
        description=f"Strategies matching (a change acts on at most {MAX_SELECTION})"
    )
    selection: str = Field(description="The selection's key, for `expect`")
    strategies: list[BulkTargetModel]
    results: list[BulkOutcomeModel] | None = Field(
        description="One per strategy; null for a preview"
    )
    changed: int
    unchanged: int
    refused: int


class BulkResponse(BaseModel):
    success: bool = True
    data: BulkData


@router.post(
    "/strategies/bulk",
    response_model=BulkResponse,
    responses=error_responses(401, 409, 422, 503),
    tags=["strategies"],
    summary="Pause, resume or stop every strategy a filter selects",
)
async def bulk(body: BulkRequest, service: Bulk, actor: Acting) -> BulkResponse:
    """E.g. resume every strategy auto-paused in the last hour:
    `{"action": "resume", "filter": {"auto_paused_within_minutes": 60}}`. Preview
    first (`"preview": true`), then apply with `"expect"` set to the preview's
    `selection`, so exactly the strategies shown are changed. Each is changed as
    its own control call (`POST /api/strategies/{id}/pause`, ...), with its rules and
    its own entry in the audit log;
    one refused never stops the others. 422 for more than 500 matches."""
    filter = body.filter.to_filter()
    if body.preview:
        selection = await service.select(filter, actor)
        outcomes = None
    else:
        selection, outcomes = await service.apply(body.action, filter, actor, body.expect)
    shown = selection.targets[:MAX_SELECTION]
    counts = {
        k: sum(o.outcome == k for o in outcomes or []) for k in ("changed", "unchanged", "refused")
    }
    return BulkResponse(
        data=BulkData(
            action=body.action,
            total=selection.total,
            selection=selection_key(selection.targets),
            strategies=[BulkTargetModel.model_validate(t) for t in shown],
            results=None
            if outcomes is None
            else [BulkOutcomeModel.model_validate(o) for o in outcomes],
            **counts,
        )
    )
