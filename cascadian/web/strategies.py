"""Strategies as a resource, under ADMIN_API_KEY or a signed-in user's token (a user
sees, creates and changes only their own: web/users.py).

    GET    /api/strategies                 list, with filters, sorting and paging
    POST   /api/strategies                 create (a draft unless `start`)
    POST   /api/strategies/validate        check a graph without saving it
    POST   /api/strategies/dry-run         run a posted graph, writing nothing
    GET    /api/strategies/{id}            one strategy, with its graph
    PATCH  /api/strategies/{id}            edit: a new graph makes a new version
    DELETE /api/strategies/{id}            archive: never runs again, history kept
    POST   /api/strategies/{id}/dry-run    run it now, writing nothing
    GET    /api/strategies/{id}/export     the document `import` (a create) takes
    GET    /api/node-types                 each node type's config as JSON Schema

Routes only translate HTTP: the strategy service (cascadian/strategies.py) does
the work; responses.py maps GraphInvalid to 422 with every problem, NotFound to
404, Conflict to 409 and an invalid schedule to 422. The graph format is the
request bodies' JSON Schema (workflow/format.py).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cascadian.data import (
    DryRun,
    GraphProblem,
    StrategyChanges,
    StrategyDetail,
    StrategyQuery,
    StrategyRow,
)
from cascadian.errors import GraphInvalid
from cascadian.schedule import MAX_INTERVAL_MINUTES
from cascadian.web.control import NodeLogModel, Page, StrategyStatusModel
from cascadian.web.deps import Acting, Strategies, Triggers
from cascadian.web.responses import error_responses
from cascadian.web.users import Quotas, user_router
from cascadian.workflow.format import Graph, StrategyDocument, document

router = user_router()

StrategyId = Annotated[UUID, Path(description="The strategy's id (a workflow_sessions id)")]
AllowLlm = Annotated[
    bool,
    Query(
        description="Really ask the LLM provider (its chat-completions call only; every "
        "other request but GET and HEAD stays unsent). Off: an llm-analysis node fails "
        "saying so"
    ),
]
Status = Literal["draft", "active", "running", "paused", "stopped", "error", "archived"]
TAGS: list[str | Enum] = ["strategies"]


class StrategyRowModel(StrategyStatusModel):
    description: str | None
    version: int = Field(description="1, then one more for each new graph")
    is_current_version: bool = Field(description="False: a later version replaced it")
    parent_workflow_id: UUID | None = Field(description="The version this one replaced")
    created_at: datetime | None
    updated_at: datetime | None


class StrategyDetailModel(StrategyRowModel):
    current_version_id: UUID | None = Field(
        description="The version that runs: this one's id unless a later version replaced it"
    )
    nodes: list[Any]
    edges: list[Any]
    variables: dict[str, Any]
    trigger: Any


class StrategyDetailResponse(BaseModel):
    success: bool = True
    data: StrategyDetailModel


class StrategyListResponse(BaseModel):
    success: bool = True
    data: list[StrategyRowModel]
    metadata: Page


class CreateRequest(StrategyDocument):
    model_config = ConfigDict(extra="forbid")

    start: bool = Field(
        default=False, description="Start it on its schedule now; otherwise it is a draft"
    )


class UpdateRequest(BaseModel):
    """Only the fields given change. `graph` makes a new version (answered, with its
    new id); the rest change the strategy in place."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000, description="null clears it")
    graph: Graph | None = None
    interval_minutes: int | None = Field(default=None, ge=1, le=MAX_INTERVAL_MINUTES)
    cron: str | None = Field(
        default=None, min_length=1, max_length=200, description="null: an interval schedule"
    )
    timezone: str | None = Field(default=None, min_length=1, max_length=64)

    def changes(self) -> StrategyChanges:
        given = self.model_fields_set
        return StrategyChanges(
            name=self.name,
            description=self.description,
            clear_description="description" in given and self.description is None,
            graph=self.graph.to_graph() if self.graph is not None else None,
            interval_minutes=self.interval_minutes,
            cron=self.cron,
            clear_cron="cron" in given and self.cron is None,
            timezone=self.timezone,
        )


class ProblemModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    node_id: str | None = Field(description="The node at fault; null: the graph as a whole")
    node_type: str | None
    field: str | None = Field(description="e.g. data.config.threshold, type or edges")
    message: str


class ValidationModel(BaseModel):
    valid: bool
    problems: list[ProblemModel]


class ValidationResponse(BaseModel):
    success: bool = True
    data: ValidationModel


class IntentModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    node_id: str | None
    action: str = Field(description="add-to-watchlist, notify, paper-order or http")
    detail: dict[str, Any] = Field(description="What it would have written or sent")


class DryRunNodeModel(NodeLogModel):
    would: list[IntentModel] = Field(description="The writes this node did not make")


class DryRunModel(BaseModel):
    success: bool
    recorded: bool = Field(default=False, description="Always false: a dry run is not recorded")
    duration_ms: int
    nodes_executed: int
    error: str | None
    outputs: dict[str, Any]
    nodes: list[DryRunNodeModel]
    intents: list[IntentModel] = Field(description="Every write the run did not make, in order")


class DryRunResponse(BaseModel):
    success: bool = True
    data: DryRunModel


class DryRunRequest(Graph):
    model_config = ConfigDict(extra="forbid")

    user_id: UUID | None = Field(default=None, description="The owner notify nodes would tell")


class NodeTypeModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str = Field(description="The `type` a node of this kind has")
    description: str
    config_schema: dict[str, Any] = Field(description="JSON Schema of its `data.config`")


class NodeTypesResponse(BaseModel):
    success: bool = True
    data: list[NodeTypeModel]


class ExportResponse(BaseModel):
    success: bool = True
    data: StrategyDocument


def _row(s: StrategyRow) -> dict[str, Any]:
    return StrategyRowModel.model_validate(s, from_attributes=True).model_dump()


def _detail(s: StrategyDetail) -> StrategyDetailResponse:
    g = s.graph
    return StrategyDetailResponse(
        data=StrategyDetailModel(
            **_row(s),
            current_version_id=s.current_version_id,
            nodes=g.nodes,
            edges=g.edges,
            variables=g.variables,
            trigger=g.trigger,
        )
    )


def _dry_run(run: DryRun) -> DryRunResponse:
    r = run.result
    nodes = [
        DryRunNodeModel(
            node_id=n.node_id,
            node_type=n.node_type,
            status=n.status,
            started_at=n.started_at,
            completed_at=n.completed_at,
            duration_ms=n.duration_ms,
            error=n.error,
            output=r.outputs.get(n.node_id),
            would=[IntentModel.model_validate(i) for i in run.intents if i.node_id == n.node_id],
        )
        for n in r.node_runs
    ]
    return DryRunResponse(
        data=DryRunModel(
            success=r.success,
            duration_ms=r.duration_ms,
            nodes_executed=r.nodes_executed,
            error=r.error_message,
            outputs=r.outputs,
            nodes=nodes,
            intents=[IntentModel.model_validate(i) for i in run.intents],
        )
    )


@router.get(
    "/strategies",
    response_model=StrategyListResponse,
    responses=error_responses(401, 422, 503),
    tags=TAGS,
    summary="List strategies (current versions), filtered, sorted and paged",
)
async def list_strategies(
    strategies: Strategies,
    actor: Acting,
    status: Annotated[
        Status | None, Query(description="Only this status; archived ones only when asked")
    ] = None,
    user_id: Annotated[
        UUID | None, Query(description="Only this owner's (a user's token: always their own)")
    ] = None,
    auto_run: Annotated[bool | None, Query(description="Only scheduled (or unscheduled)")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Name contains (any case)")
    ] = None,
    sort: Annotated[
        Literal["name", "next_run", "last_run", "error_streak"], Query(description="Order by")
    ] = "name",
    descending: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> StrategyListResponse:
    """Each row has its schedule, next and last run, counters, success rate and last
    error. Never-run or unscheduled strategies sort last by next or last run."""
    query = StrategyQuery(status, user_id, auto_run, q, sort, descending, limit, offset)
    page = await strategies.list(query, actor)
    return StrategyListResponse(
        data=[StrategyRowModel.model_validate(_row(s)) for s in page.items],
        metadata=Page(total=page.total, limit=limit, offset=offset),
    )


@router.post(
    "/strategies",
    status_code=201,
    response_model=StrategyDetailResponse,
    responses=error_responses(401, 422, 503),
    tags=TAGS,
    summary="Create a strategy (a draft unless `start`)",
)
async def create(body: CreateRequest, triggers: Triggers, actor: Acting) -> StrategyDetailResponse:
    """The graph is checked whole first: one that cannot run gets 422 with every
    problem (`details`: node_id, node_type, field, msg), and nothing is saved; so are
    its `triggers` (checked against Polymarket). This body is what
    `GET /api/strategies/{id}/export` answers, so an export imports unchanged. Created
    with a user's token, the strategy is theirs whatever `user_id` says, and 429 when
    they already have CASCADIAN_USER_MAX_STRATEGIES."""
    draft = body.to_draft()
    return _detail(await triggers.create_strategy(draft, body.triggers, actor, body.start))


@router.post(
    "/strategies/validate",
    response_model=ValidationResponse,
    responses=error_responses(401, 422),
    tags=TAGS,
    summary="Check a graph without saving it",
)
async def validate(body: Graph, strategies: Strategies) -> ValidationResponse:
    """`valid`, and every problem, each naming its node and field. 422 only for a body
    that is not a graph at all."""
    found = strategies.problems(body.to_graph())
    problems = [ProblemModel.model_validate(p) for p in found]
    return ValidationResponse(data=ValidationModel(valid=not found, problems=problems))


@router.post(
    "/strategies/dry-run",
    response_model=DryRunResponse,
    responses=error_responses(401, 422, 503),
    tags=TAGS,
    summary="Run a posted graph now, writing nothing",
)
async def dry_run_graph(
    body: DryRunRequest,
    strategies: Strategies,
    actor: Acting,
    quotas: Quotas,
    allow_llm: AllowLlm = False,
) -> DryRunResponse:
    """As `POST /api/strategies/{id}/dry-run`, for a graph that is not saved. With a
    user's token, `user_id` is that user, and they may have
    CASCADIAN_USER_MAX_DRY_RUNS in flight at once (429 past it)."""
    async with quotas.dry_run(actor.user_id):
        owner = actor.user_id or body.user_id
        return _dry_run(await strategies.dry_run_graph(body.to_graph(), owner, allow_llm))


@router.get(
    "/node-types",
    response_model=NodeTypesResponse,
    responses=error_responses(401),
    tags=TAGS,
    summary="The node types a graph may use, each with its config's JSON Schema",
)
async def node_types(strategies: Strategies) -> NodeTypesResponse:
    """cascadian's vocabulary and the original builder's (`original-*`, which a saved
    graph names by the builder's own type names). A config without templates is
    checked against its schema; one with `${...}` templates once they are resolved."""
    found = strategies.node_types()
    return NodeTypesResponse(data=[NodeTypeModel.model_validate(t) for t in found])


@router.get(
    "/strategies/{strategy_id}",
    response_model=StrategyDetailResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=TAGS,
    summary="One strategy, with its graph",
)
async def read(
    strategy_id: StrategyId, strategies: Strategies, actor: Acting
) -> StrategyDetailResponse:
    return _detail(await strategies.read(strategy_id, actor))


@router.patch(
    "/strategies/{strategy_id}",
    response_model=StrategyDetailResponse,
    responses=error_responses(401, 404, 409, 422, 503),
    tags=TAGS,
    summary="Edit a strategy: a new graph makes a new version",
)
async def update(
    strategy_id: StrategyId, body: UpdateRequest, strategies: Strategies, actor: Acting
) -> StrategyDetailResponse:
    """A `graph` makes a new version, as the original builder does: a new row, the
    current one, with a new id (answered), `version` one more and
    `parent_workflow_id` this one; this row keeps its runs and is never run again.
    The new version keeps the status and schedule and starts fresh counters.
    A name, description or schedule alone changes the strategy in place. 409 for an
    old version or an archived strategy, and, for a graph or a schedule, while a
    run holds the lease; 422 for a graph that cannot run."""
    return _detail(await strategies.update(strategy_id, body.changes(), actor))


@router.delete(
    "/strategies/{strategy_id}",
    response_model=StrategyDetailResponse,
    responses=error_responses(401, 404, 409, 422, 503),
    tags=TAGS,
    summary="Archive a strategy: it never runs again; its history is kept",
)
async def archive(
    strategy_id: StrategyId, strategies: Strategies, actor: Acting
) -> StrategyDetailResponse:
    """Status `archived`, `auto_run` off: never claimed, started, resumed or run now
    again. Its runs stay. 409 if already archived, or for an old version."""
    return _detail(await strategies.archive(strategy_id, actor))


@router.post(
    "/strategies/{strategy_id}/dry-run",
    response_model=DryRunResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=TAGS,
    summary="Run a strategy now, writing nothing",
)
async def dry_run(
    strategy_id: StrategyId,
    strategies: Strategies,
    actor: Acting,
    quotas: Quotas,
    allow_llm: AllowLlm = False,
) -> DryRunResponse:
    """Runs the saved graph now through the executor, with every side effect
    switched to a report: watchlist entries, notifications and paper orders are not
    written, and outgoing HTTP other than GET and HEAD is not sent, to the LLM
    provider neither, unless `allow_llm=true`: then its chat-completions call (and
    only that) is sent. Each node's output and the writes it did not make (`would`)
    are answered. Nothing is recorded and nothing counts: no run row, no counters,
    no lease, the schedule untouched. 422 for a graph that cannot run. A user may
    have CASCADIAN_USER_MAX_DRY_RUNS in flight at once (429 past it)."""
    async with quotas.dry_run(actor.user_id):
        return _dry_run(await strategies.dry_run(strategy_id, allow_llm, actor))


@router.get(
    "/strategies/{strategy_id}/export",
    response_model=ExportResponse,
    # A node or edge field the builder did not save stays out of the export.
    response_model_exclude_unset=True,
    responses=error_responses(401, 404, 422, 503),
    tags=TAGS,
    summary="The strategy as a document that `POST /api/strategies` imports",
)
async def export(
    strategy_id: StrategyId, strategies: Strategies, triggers: Triggers, actor: Acting
) -> ExportResponse:
    """Name, description, owner, schedule, triggers and the graph exactly as saved; no
    id, runs or state. 422 if the saved graph is not in the builder's shape."""
    doc = document(await strategies.export(strategy_id, actor))
    if defined := await triggers.definitions(strategy_id):
        doc["triggers"] = defined
    try:
        return ExportResponse(success=True, data=StrategyDocument.model_validate(doc))
    except ValidationError as exc:
        problems = [
            GraphProblem(None, None, ".".join(str(p) for p in e["loc"]), e["msg"])
            for e in exc.errors(include_url=False)
        ]
        raise GraphInvalid(problems) from None
