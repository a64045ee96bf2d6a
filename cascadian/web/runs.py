"""Runs across strategies (ADMIN_API_KEY), and re-running a failed one (the key, or
the run's owner's access token: another user's run is the 404 of a missing one,
checked in the re-run's claim's SQL, migrations/048).

    GET  /api/runs                          every strategy's runs: filters, keyset pages
    POST /api/executions/{execution_id}/rerun   run a failed run again with its inputs

Routes only translate HTTP: the runs service (operators/runs.py) and the tick
service (TickService.rerun) do the work.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from cascadian.data import RunQuery
from cascadian.errors import StoreUnavailable
from cascadian.operators.runs import MAX_LIMIT, cursor_text, parse_cursor
from cascadian.web.control import ExecuteNowResponse, ExecutionDetailModel, ExecutionModel
from cascadian.web.deps import Acting, Control, IsoTime, Runs, Ticks, admin_router
from cascadian.web.responses import error_responses
from cascadian.web.users import user_router

router = admin_router()
user_routes = user_router()


class RunModel(ExecutionModel):
    user_id: UUID | None = Field(description="The strategy's owner")
    workflow_name: str | None = Field(description="The strategy's name")


class RunsMetadata(BaseModel):
    limit: int
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page"
    )


class RunListResponse(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    success: bool = True
    data: list[RunModel]
    metadata: RunsMetadata


@router.get(
    "/runs",
    response_model=RunListResponse,
    responses=error_responses(401, 422, 503),
    tags=["executions"],
    summary="Runs of every strategy, filtered, newest first, in keyset pages",
)
async def runs(
    service: Runs,
    status: Annotated[
        str | None, Query(description="running, completed, failed or cancelled")
    ] = None,
    strategy_id: Annotated[UUID | None, Query(description="One strategy (version) only")] = None,
    user_id: Annotated[UUID | None, Query(description="One owner's strategies only")] = None,
    trigger: Annotated[
        str | None,
        Query(description="scheduled, manual, rerun, or a kind triggers add", max_length=40),
    ] = None,
    since: Annotated[IsoTime | None, Query(description="Started at or after this")] = None,
    until: Annotated[IsoTime | None, Query(description="Started before this")] = None,
    rerun_of: Annotated[UUID | None, Query(description="The re-runs of this run")] = None,
    cursor: Annotated[
        str | None, Query(description="`metadata.next_cursor` of the page before", max_length=200)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> RunListResponse:
    """E.g. every failed run of the last hour: `?status=failed&since=<an hour ago>`.
    Pages are keyed by the last run's start and id, so a page deep in the history
    costs what the first does; there is no total."""
    query = RunQuery(
        status=status,
        workflow_id=strategy_id,
        user_id=user_id,
        trigger=trigger,
        since=since,
        until=until,
        rerun_of=rerun_of,
        before=parse_cursor(cursor) if cursor else None,
        limit=limit,
    )
    page = await service.runs(query)
    return RunListResponse(
        data=[RunModel.model_validate(r, from_attributes=True) for r in page.items],
        metadata=RunsMetadata(
            limit=limit, next_cursor=cursor_text(page.next) if page.next else None
        ),
    )


@user_routes.post(
    "/executions/{execution_id}/rerun",
    response_model=ExecuteNowResponse,
    responses=error_responses(401, 404, 409, 422, 503),
    tags=["executions"],
    summary="Run a failed run again, with the inputs it had",
)
async def rerun(
    execution_id: Annotated[UUID, Path(description="The failed run's id")],
    control: Control,
    ticks: Ticks,
    actor: Acting,
) -> ExecuteNowResponse:
    """Runs now, synchronously, the graph, variables and trigger the failed run
    recorded, as a manual run of its strategy marked `trigger_kind: rerun` with
    `rerun_of` the failed run: it does not move the schedule, and counts in the
    counters and towards the auto-pause as `execute-now` does. 409 for a run that did
    not fail or kept no graph, while a run of the strategy holds its lease, or for
    an archived strategy or an old version."""
    report = await ticks.rerun(execution_id, actor)
    if report.record_error:
        raise StoreUnavailable(f"the run finished but was not recorded: {report.record_error}")
    run = await control.execution(report.execution_id, actor)
    return ExecuteNowResponse(
        data=ExecutionDetailModel.model_validate(run),
        recorded=report.recorded,
        auto_paused=report.auto_paused,
    )
