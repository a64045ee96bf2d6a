"""The graph format and the strategy document, as pydantic models: the request
bodies of the strategies API, so OpenAPI publishes them as JSON Schema (a front end
validates against `Graph` as the user builds), and what `cascadian strategies`
reads and writes (`export` writes a StrategyDocument, `import` reads one back).

The schema checks shapes only: a node is an object with an `id`, edges are
objects. Whether the graph can run (node types, configs, cycles, templates) is
the validator's to say (workflow/validation.py), with every problem named by node
and field. Nodes and edges keep every other field they were saved with (the
builder's `position`, `data.label`, the original's `data.nodeType`, edges'
`from`/`to`), so a saved strategy exports and imports unchanged.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cascadian.data import GraphProblem, Schedule, StrategyDraft, StrategyGraph
from cascadian.errors import ScheduleError
from cascadian.schedule import MAX_INTERVAL_MINUTES, check_cron, zone

MAX_NODES = 1_000
MAX_EDGES = 5_000


class GraphNode(BaseModel):
    """A node in the builder's saved shape: `{id, type, data: {config}}` in
    cascadian's vocabulary (docs/nodes.md); the original builder's shapes (config at
    `data.config`, at `data.*`, or a flat `config`; `data.nodeType`) are accepted."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=200, description="Unique within the graph")
    type: str | None = Field(
        default=None,
        max_length=100,
        description="The node type, e.g. 'polymarket-markets', 'filter', 'notify'",
    )
    data: dict[str, Any] | None = Field(
        default=None, description="`data.config` holds the node's config"
    )


class GraphEdge(BaseModel):
    """An edge from `source` to `target` (the original's `from`/`to` too); a routing
    node's edges name the branch they follow in `sourceHandle`."""

    model_config = ConfigDict(extra="allow")

    id: str | None = Field(default=None, max_length=400)
    source: str | None = Field(default=None, max_length=200)
    target: str | None = Field(default=None, max_length=200)
    sourceHandle: str | None = Field(default=None, max_length=200)


class Graph(BaseModel):
    """A strategy's graph as the builder saves it."""

    model_config = ConfigDict(extra="forbid")

    nodes: list[GraphNode] = Field(max_length=MAX_NODES)
    edges: list[GraphEdge] = Field(default_factory=list, max_length=MAX_EDGES)
    variables: dict[str, Any] = Field(
        default_factory=dict, description="Values templates read as ${variables.name}"
    )
    trigger: dict[str, Any] | None = Field(default=None, description="Kept as saved")

    def to_graph(self) -> StrategyGraph:
        return StrategyGraph(
            nodes=[n.model_dump(exclude_unset=True) for n in self.nodes],
            edges=[e.model_dump(exclude_unset=True) for e in self.edges],
            variables=self.variables,
            trigger=self.trigger,
        )


class StrategySchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval_minutes: int = Field(
        default=5, ge=1, le=MAX_INTERVAL_MINUTES, description="Run every N minutes"
    )
    cron: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="A 5-field cron expression, e.g. '*/15 * * * *'; wins over the interval",
    )
    timezone: str = Field(
        default="UTC", min_length=1, max_length=64, description="IANA time zone for `cron`"
    )

    # A schedule that would only fail when saved is a problem of the document, listed
    # with its others (`strategies validate`), not a later refusal.
    @field_validator("cron")
    @classmethod
    def _cron_matches(cls, value: str | None) -> str | None:
        try:
            check_cron(value)
        except ScheduleError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        try:
            zone(value)
        except ScheduleError as exc:
            raise ValueError(str(exc)) from None
        return value

    def to_schedule(self) -> Schedule:
        return Schedule(self.interval_minutes, self.cron, self.timezone)


class StrategyDocument(Graph):
    """A strategy without its identity, history or state: what `export` writes and
    `import` (or a create) reads."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)
    user_id: UUID = Field(description="The owner (a Supabase auth user's id)")
    schedule: StrategySchedule = Field(default_factory=StrategySchedule)
    triggers: list[dict[str, Any]] | None = Field(
        default=None,
        max_length=100,
        description="Market triggers that also run it (docs/triggers.md): kind price "
        "(token_id, or market_id and outcome; level; direction; band; price_kind) or "
        "kind resolved (market_id); checked against Polymarket when imported",
    )

    @field_validator("schedule", mode="before")
    @classmethod
    def _schedule_is_an_object(cls, value: Any) -> Any:
        if isinstance(value, dict | StrategySchedule):
            return value
        raise ValueError(
            f'must be an object such as {{"interval_minutes": 5}} or '
            f'{{"cron": "*/5 * * * *", "timezone": "UTC"}}, not {value!r:.60}'
        )

    def to_draft(self) -> StrategyDraft:
        return StrategyDraft(
            user_id=self.user_id,
            name=self.name,
            description=self.description,
            graph=self.to_graph(),
            schedule=self.schedule.to_schedule(),
        )


def document(draft: StrategyDraft) -> dict[str, Any]:
    """A strategy document as JSON, the graph exactly as it was saved."""
    s = draft.schedule
    return {
        "name": draft.name,
        "description": draft.description,
        "user_id": str(draft.user_id),
        "schedule": {
            "interval_minutes": s.interval_minutes,
            "cron": s.cron,
            "timezone": s.timezone,
        },
        "nodes": draft.graph.nodes,
        "edges": draft.graph.edges,
        "variables": draft.graph.variables,
        "trigger": draft.graph.trigger,
    }


def shape_problems(exc: ValidationError) -> list[GraphProblem]:
    """A document's shape errors as problems, each naming its field (`schedule.cron`)."""
    return [
        GraphProblem(
            None,
            None,
            ".".join(str(p) for p in e["loc"]) or None,
            e["msg"].removeprefix("Value error, "),
        )
        for e in exc.errors(include_url=False)
    ]
