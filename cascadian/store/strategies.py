"""Strategies as a resource (the StrategyStore port): create, read, list, edit (a new
version, or a rename or reschedule in place) and archive, each change one SQL
function call (migrations/010) that takes its actor and writes the audit log (027).

Each SQL function is named here once, as a constant used for the call and for
reading its answer. The JSON arguments are built in strategy_records.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from cascadian.data import (
    Actor,
    ControlResult,
    Page,
    Schedule,
    StrategyChanges,
    StrategyDetail,
    StrategyDraft,
    StrategyGraph,
    StrategyQuery,
    StrategyRow,
    StrategyStatus,
)
from cascadian.store.audit import actor_arg
from cascadian.store.readers import (
    answer_of,
    control_result,
    dt_or_none,
    json_value,
    read_answer,
    uuid_or_none,
)
from cascadian.store.rows import strategy_status
from cascadian.store.strategy_records import (
    draft_record,
    query_record,
    update_record,
    version_record,
)
from cascadian.store.transport import Json, Transport

# The reads, scoped to the acting user (None: the operator): migrations/031.
# 052: the lease from its table.
STRATEGY = "cascadian_strategy_v3"
LIST_STRATEGIES = "cascadian_list_strategies_v3"
# migrations/027 (over 010): each change takes its actor and writes the audit log;
# a user finds only their own strategies, and owns what they create.
CREATE_STRATEGY = "cascadian_create_strategy_v2"
NEW_VERSION = "cascadian_new_version_v5"  # 066: the limits, kill switch and halt carried
UPDATE_STRATEGY = "cascadian_update_strategy_v4"  # 062: the owner asked first
ARCHIVE_STRATEGY = "cascadian_archive_strategy_v2"
# A user's create (027's, within their share) under a lock on the user: migrations/031.
CREATE_USER_STRATEGY = "cascadian_create_user_strategy_v1"


class SqlStrategyStore:
    transport: Transport

    async def create_strategy(
        self,
        draft: StrategyDraft,
        start: bool,
        next_execution_at: datetime | None,
        now: datetime,
        actor: Actor,
        imported: bool = False,
    ) -> UUID:
        record = draft_record(draft, start, next_execution_at) | {
            "origin": "import" if imported else "create"
        }
        new_id = await self.transport.value(
            CREATE_STRATEGY, {"p": Json(record), "p_now": now, "p_actor": actor_arg(actor)}
        )
        return created_id(new_id)

    async def create_user_strategy(
        self,
        draft: StrategyDraft,
        start: bool,
        next_execution_at: datetime | None,
        now: datetime,
        actor: Actor,
        imported: bool,
        max_strategies: int,
    ) -> UUID | None:
        """As create_strategy for a user (the actor), who owns it whatever the draft
        says; None when they already have `max_strategies` (0: no limit), and nothing
        is written."""
        record = draft_record(draft, start, next_execution_at) | {
            "origin": "import" if imported else "create"
        }
        new_id = await self.transport.value(
            CREATE_USER_STRATEGY,
            {"p": Json(record), "p_now": now, "p_actor": actor_arg(actor), "p_max": max_strategies},
        )
        return None if new_id is None else user_created_id(new_id)

    async def strategy(
        self, strategy_id: UUID, now: datetime, user: UUID | None = None
    ) -> StrategyDetail | None:
        found = await self.transport.value(
            STRATEGY, {"p_id": strategy_id, "p_now": now, "p_user": user}
        )
        return None if found is None else strategy_detail(found)

    async def strategies(
        self, query: StrategyQuery, now: datetime, user: UUID | None = None
    ) -> Page[StrategyRow]:
        page = await self.transport.value(
            LIST_STRATEGIES, {"p": Json(query_record(query)), "p_now": now, "p_user": user}
        )
        return strategy_page(page)

    async def new_version(
        self,
        strategy_id: UUID,
        changes: StrategyChanges,
        schedule: Schedule | None,
        next_execution_at: datetime | None,
        now: datetime,
        actor: Actor,
    ) -> tuple[ControlResult, UUID | None]:
        record = version_record(changes, schedule, next_execution_at)
        rows = await self.transport.rows(
            NEW_VERSION,
            {"p_id": strategy_id, "p": Json(record), "p_now": now, "p_actor": actor_arg(actor)},
        )
        return new_version(rows)

    async def update_strategy(
        self,
        strategy_id: UUID,
        changes: StrategyChanges,
        schedule: Schedule | None,
        next_execution_at: datetime | None,
        now: datetime,
        actor: Actor,
    ) -> ControlResult:
        record = update_record(changes, schedule, next_execution_at)
        answer = await self.transport.value(
            UPDATE_STRATEGY,
            {"p_id": strategy_id, "p": Json(record), "p_now": now, "p_actor": actor_arg(actor)},
        )
        return read_answer(UPDATE_STRATEGY, control_result, answer)

    async def archive_strategy(
        self, strategy_id: UUID, now: datetime, actor: Actor
    ) -> ControlResult:
        answer = await self.transport.value(
            ARCHIVE_STRATEGY, {"p_id": strategy_id, "p_now": now, "p_actor": actor_arg(actor)}
        )
        return read_answer(ARCHIVE_STRATEGY, control_result, answer)


@answer_of(CREATE_STRATEGY)
def created_id(value: Any) -> UUID:
    return UUID(str(value))


@answer_of(CREATE_USER_STRATEGY)
def user_created_id(value: Any) -> UUID:
    return UUID(str(value))


def _row_fields(d: dict[str, Any]) -> dict[str, Any]:
    status = strategy_status(d)
    return {
        **{f: getattr(status, f) for f in StrategyStatus.__dataclass_fields__},
        "description": d.get("description"),
        "version": d.get("version") or 1,
        "is_current_version": d.get("is_current_version", True),
        "parent_workflow_id": uuid_or_none(d.get("parent_workflow_id")),
        "created_at": dt_or_none(d.get("created_at")),
        "updated_at": dt_or_none(d.get("updated_at")),
    }


@answer_of(LIST_STRATEGIES)
def strategy_page(value: Any) -> Page[StrategyRow]:
    d = json_value(value)
    return Page([StrategyRow(**_row_fields(r)) for r in d["data"]], int(d["total"]))


@answer_of(STRATEGY)
def strategy_detail(value: Any) -> StrategyDetail:
    """The strategy's object (not null)."""
    d = json_value(value)
    nodes, edges, variables = (json_value(d.get(k)) for k in ("nodes", "edges", "variables"))
    return StrategyDetail(
        **_row_fields(d),
        graph=StrategyGraph(
            nodes=nodes if isinstance(nodes, list) else [],
            edges=edges if isinstance(edges, list) else [],
            variables=variables if isinstance(variables, dict) else {},
            trigger=json_value(d.get("trigger")),
        ),
        current_version_id=uuid_or_none(d.get("current_version_id")),
    )


@answer_of(NEW_VERSION)
def new_version(rows: list[dict[str, Any]]) -> tuple[ControlResult, UUID | None]:
    [row] = rows
    return control_result(row["result"]), uuid_or_none(row["id"])
