"""Strategies as a resource: create, list, read, edit, archive, validate, dry-run,
export and import.

The web routes (web/strategies.py), `cascadian strategies` and any console
call this service. A graph is checked whole (GraphRunner.problems, the one
validate path of workflow/validation.py) before anything is saved, and a bad one
raises GraphInvalid with every problem. Each change is one store call, so one SQL
function (migrations/010, 027), made by an Actor: audited in its transaction, and
NotFound for a user acting on a strategy that is not theirs. A new graph makes a
new version, as the original builder does: the answer is the new version, whose id
is new.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from cascadian.clock import Clock, SystemClock
from cascadian.data import (
    Actor,
    DryRun,
    GraphProblem,
    NodeTypeInfo,
    Page,
    Schedule,
    StrategyChanges,
    StrategyDetail,
    StrategyDraft,
    StrategyGraph,
    StrategyQuery,
    StrategyRow,
    Workflow,
    scope,
)
from cascadian.errors import GraphInvalid, NotFound, QuotaExceeded, raise_unless_ok
from cascadian.ports import GraphRunner, StrategyStore
from cascadian.schedule import first_slot, validate


def workflow_of(graph: StrategyGraph, **fields: object) -> Workflow:
    """The graph as the executor takes it (an id and name for its messages)."""
    base: dict[str, object] = {"id": uuid4(), "name": "strategy"} | fields
    return Workflow(
        nodes=graph.nodes,
        edges=graph.edges,
        variables=graph.variables,
        trigger=graph.trigger,
        **base,  # type: ignore[arg-type]
    )


def draft_of(strategy: StrategyDetail) -> StrategyDraft:
    """What `export` gives and `import` takes: a strategy without its identity,
    history or state."""
    return StrategyDraft(
        user_id=strategy.user_id,
        name=strategy.name,
        description=strategy.description,
        graph=strategy.graph,
        schedule=strategy.schedule,
    )


def _merged(keep: Schedule, changes: StrategyChanges) -> Schedule:
    """The schedule after `changes`, by the rule start uses: an interval given
    without a cron expression makes it an interval schedule."""
    cron = keep.cron
    if changes.cron is not None:
        cron = changes.cron
    elif changes.clear_cron or changes.interval_minutes is not None:
        cron = None
    return Schedule(
        interval_minutes=changes.interval_minutes or keep.interval_minutes,
        cron=cron,
        timezone=changes.timezone or keep.timezone,
    )


class StrategyService:
    """The reads take the actor too: a user's are scoped to their own strategies in
    the SQL (another's is NotFound, as a missing one). `max_user_strategies`: how
    many strategies one user may have (0: no limit), checked by the create's SQL
    under a lock on the user."""

    def __init__(
        self,
        store: StrategyStore,
        runner: GraphRunner,
        clock: Clock | None = None,
        *,
        max_user_strategies: int = 0,
    ) -> None:
        self.store = store
        self.runner = runner
        self.clock = clock or SystemClock()
        self.max_user_strategies = max_user_strategies

    def problems(self, graph: StrategyGraph) -> list[GraphProblem]:
        """Every reason the graph cannot run, one per field; empty when it can."""
        return self.runner.problems(workflow_of(graph))

    def node_types(self) -> list[NodeTypeInfo]:
        """What a graph's nodes may be, each with its config's JSON Schema."""
        return self.runner.node_types()

    def _check(self, graph: StrategyGraph) -> None:
        found = self.problems(graph)
        if found:
            raise GraphInvalid(found)

    async def get(self, strategy_id: UUID, actor: Actor | None = None) -> StrategyDetail:
        """NotFound also when `actor` is a user who does not own it."""
        found = await self.store.strategy(strategy_id, self.clock.now(), scope(actor))
        if found is None:
            raise NotFound("strategy not found")
        return found

    async def read(self, strategy_id: UUID, actor: Actor | None = None) -> StrategyDetail:
        """The strategy to serve whole. One written past the graph limits straight into
        the database (the original app's users can) is GraphInvalid naming the limit,
        rather than an answer that cannot be encoded."""
        found = await self.get(strategy_id, actor)
        over = self.runner.over_limits(workflow_of(found.graph))
        if over:
            raise GraphInvalid(over)
        return found

    async def list(self, query: StrategyQuery, actor: Actor | None = None) -> Page[StrategyRow]:
        """A user's list holds only their own strategies, whatever owner it asks for."""
        return await self.store.strategies(query, self.clock.now(), scope(actor))

    async def create(
        self, draft: StrategyDraft, actor: Actor, start: bool = False, imported: bool = False
    ) -> StrategyDetail:
        """Save a checked graph as a draft, or (`start`) running from its next slot.
        GraphInvalid or ScheduleError, and nothing saved, when it cannot run. A
        user's strategy is theirs whatever the draft's owner, and QuotaExceeded when
        they already have their share; `imported` logs it as an import."""
        validate(draft.schedule)
        self._check(draft.graph)
        now = self.clock.now()
        next_at = first_slot(draft.schedule, now) if start else None
        if actor.kind != "user":
            new_id = await self.store.create_strategy(draft, start, next_at, now, actor, imported)
            return await self.get(new_id)
        most = self.max_user_strategies
        mine = await self.store.create_user_strategy(
            draft, start, next_at, now, actor, imported, most
        )
        if mine is None:
            raise QuotaExceeded(
                f"you have {most} strategies, the most one user may have "
                "(CASCADIAN_USER_MAX_STRATEGIES): archive one first",
                retry_after=3600,
            )
        return await self.get(mine, actor)

    async def update(
        self, strategy_id: UUID, changes: StrategyChanges, actor: Actor
    ) -> StrategyDetail:
        """A new graph makes a new version (answered, with its new id); a name,
        description or schedule alone changes the strategy in place. Conflict for
        an old version or an archived strategy, and while a run holds the lease
        (for a new graph or schedule)."""
        current = await self.get(strategy_id, actor)
        schedule = _merged(current.schedule, changes) if changes.reschedules else None
        if schedule is not None:
            validate(schedule)
        if changes.graph is not None:
            self._check(changes.graph)
        now = self.clock.now()
        next_at = first_slot(schedule, now) if schedule is not None else None
        if changes.graph is None:
            raise_unless_ok(
                await self.store.update_strategy(
                    strategy_id, changes, schedule, next_at, now, actor
                )
            )
            return await self.get(strategy_id, actor)
        result, new_id = await self.store.new_version(
            strategy_id, changes, schedule, next_at, now, actor
        )
        raise_unless_ok(result)
        assert new_id is not None  # result ok
        return await self.get(new_id, actor)

    async def archive(self, strategy_id: UUID, actor: Actor) -> StrategyDetail:
        """Never runs again; its runs and counters stay."""
        raise_unless_ok(await self.store.archive_strategy(strategy_id, self.clock.now(), actor))
        return await self.get(strategy_id, actor)

    async def export(self, strategy_id: UUID, actor: Actor | None = None) -> StrategyDraft:
        return draft_of(await self.read(strategy_id, actor))

    async def dry_run(
        self, strategy_id: UUID, allow_llm: bool = False, actor: Actor | None = None
    ) -> DryRun:
        """Run the saved strategy now with every write switched off: not recorded,
        not counted, whatever its state (an old version or an archived one too).
        Only GET and HEAD go out, and the LLM provider's chat completions when
        `allow_llm`."""
        s = await self.get(strategy_id, actor)
        self._check(s.graph)
        return await self.runner.dry_run(
            workflow_of(s.graph, id=s.id, name=s.name, user_id=s.user_id), allow_llm
        )

    async def dry_run_graph(
        self, graph: StrategyGraph, user_id: UUID | None = None, allow_llm: bool = False
    ) -> DryRun:
        """Run a graph that is not saved, the same way."""
        self._check(graph)
        workflow = workflow_of(graph, name="dry run", user_id=user_id)
        return await self.runner.dry_run(workflow, allow_llm)
