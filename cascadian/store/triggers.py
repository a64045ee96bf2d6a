"""Triggers' calls (the TriggerStore port): a strategy's triggers set and read, the
armed ones, prices observed, and event runs claimed (migrations/028).

A trigger's state (last price, armed or not, crossings so far) lives in SQL and
changes only inside cascadian_observe_v1, under the trigger's lock; an event run is
claimed with the same lease and fence as a scheduled one. Prices cross as decimal
strings, so no digit is lost to a float.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from uuid import UUID

from cascadian.data import Actor, ArmedTrigger, ClaimedRun, Observation, TriggerEvent
from cascadian.store.audit import actor_arg
from cascadian.store.claims import claimed_run, with_event
from cascadian.store.readers import answer_of, as_uuid, json_value
from cascadian.store.transport import Json, Transport

# migrations/028: triggers.
SET_TRIGGERS = "cascadian_set_triggers_v1"
TRIGGERS = "cascadian_triggers_v2"  # 049: scoped to p_user
ARMED_TRIGGERS = "cascadian_armed_triggers_v1"
OBSERVE = "cascadian_observe_v1"
CLAIM_EVENTS = "cascadian_claim_events_v4"  # 062: at most p_limit leases, taken before the events
TRIGGER_EVENTS = "cascadian_trigger_events_v2"  # 049: scoped to p_user
LISTENER_STATE = "cascadian_listener_state_v3"  # 056: bigint counters
TRIGGER_OVERVIEW = "cascadian_trigger_overview_v3"  # 049: 043's v2, scoped to p_user


class SqlTriggerStore:
    transport: Transport

    async def set_triggers(
        self, workflow_id: UUID, definitions: list[dict[str, Any]], now: datetime, actor: Actor
    ) -> list[dict[str, Any]] | None:
        """Replace the strategy's triggers, audited; None for an unknown strategy (or
        one a user actor does not own)."""
        args = {"p_workflow_id": workflow_id, "p_triggers": Json(definitions), "p_now": now}
        answer = await self.transport.value(SET_TRIGGERS, args | {"p_actor": actor_arg(actor)})
        return set_triggers_answer(answer)

    async def triggers(
        self, workflow_id: UUID, user: UUID | None = None
    ) -> list[dict[str, Any]] | None:
        """The strategy's triggers with their state; None for an unknown strategy (or
        one that is not `user`'s)."""
        args = {"p_workflow_id": workflow_id, "p_user": user}
        return triggers_answer(await self.transport.value(TRIGGERS, args))

    async def armed_triggers(self) -> list[ArmedTrigger]:
        return armed_triggers(await self.transport.rows(ARMED_TRIGGERS, {}))

    async def observe(self, observations: list[Observation], now: datetime) -> list[TriggerEvent]:
        if not observations:
            return []
        rows = await self.transport.rows(
            OBSERVE,
            {"p_observations": Json([observation_record(o) for o in observations]), "p_now": now},
        )
        return trigger_events_written(rows)

    async def claim_events(
        self, now: datetime, limit: int, lease_seconds: float
    ) -> list[ClaimedRun]:
        rows = await self.transport.rows(
            CLAIM_EVENTS, {"p_now": now, "p_limit": limit, "p_lease_seconds": lease_seconds}
        )
        return event_claims(rows, now)

    async def trigger_events(
        self, workflow_id: UUID, limit: int, user: UUID | None = None
    ) -> list[dict[str, Any]] | None:
        """None for an unknown strategy (or one that is not `user`'s)."""
        answer = await self.transport.value(
            TRIGGER_EVENTS, {"p_workflow_id": workflow_id, "p_limit": limit, "p_user": user}
        )
        return trigger_event_list(answer)

    async def record_listener(self, state: dict[str, Any], now: datetime) -> None:
        await self.transport.value(LISTENER_STATE, {"p": Json(state), "p_now": now})

    async def trigger_overview(
        self, now: datetime, fresh_seconds: float, user: UUID | None = None
    ) -> dict[str, Any]:
        answer = await self.transport.value(
            TRIGGER_OVERVIEW, {"p_now": now, "p_fresh_seconds": fresh_seconds, "p_user": user}
        )
        return trigger_overview(answer)


def observation_record(o: Observation) -> dict[str, Any]:
    return {
        "kind": o.kind,
        "token_id": o.token_id,
        "price_kind": o.price_kind,
        "price": None if o.price is None else str(o.price),
        "condition_id": o.condition_id,
        "winning_token_id": o.winning_token_id,
        "winning_outcome": o.winning_outcome,
        "observed_at": o.observed_at.isoformat(),
        "source": o.source,
    }


def _list_or_none(value: Any) -> list[dict[str, Any]] | None:
    found = json_value(value)
    if found is None:
        return None
    if not isinstance(found, list):
        raise TypeError(f"expected a list of triggers, got {type(found).__name__}")
    return cast(list[dict[str, Any]], found)


@answer_of(SET_TRIGGERS)
def set_triggers_answer(value: Any) -> list[dict[str, Any]] | None:
    return _list_or_none(value)


@answer_of(TRIGGERS)
def triggers_answer(value: Any) -> list[dict[str, Any]] | None:
    return _list_or_none(value)


@answer_of(TRIGGER_EVENTS)
def trigger_event_list(value: Any) -> list[dict[str, Any]] | None:
    return _list_or_none(value)


@answer_of(TRIGGER_OVERVIEW)
def trigger_overview(value: Any) -> dict[str, Any]:
    found = json_value(value)
    if not isinstance(found, dict):
        raise TypeError("expected an object")
    return found


@answer_of(ARMED_TRIGGERS)
def armed_triggers(rows: list[dict[str, Any]]) -> list[ArmedTrigger]:
    return [
        ArmedTrigger(
            id=as_uuid(r["id"]),
            workflow_id=as_uuid(r["workflow_id"]),
            name=r["name"],
            kind=r["kind"],
            token_id=r["token_id"],
            condition_id=r["condition_id"],
            market_id=r["market_id"],
            price_kind=r["price_kind"],
            asset_ids=tuple(json_value(r["asset_ids"]) or ()),
        )
        for r in rows
    ]


@answer_of(OBSERVE)
def trigger_events_written(rows: list[dict[str, Any]]) -> list[TriggerEvent]:
    return [
        TriggerEvent(
            as_uuid(r["event_id"]),
            as_uuid(r["workflow_id"]),
            as_uuid(r["trigger_id"]),
            int(r["crossing"]),
        )
        for r in rows
    ]


@answer_of(CLAIM_EVENTS)
def event_claims(rows: list[dict[str, Any]], now: datetime) -> list[ClaimedRun]:
    return [event_claim(r, now) for r in rows]


def event_claim(row: dict[str, Any], now: datetime) -> ClaimedRun:
    """The claim with its event, which the graph reads as ${variables.trigger_event}."""
    claim = claimed_run(row, now)
    event = json_value(row["event"])
    if not isinstance(event, dict):
        raise TypeError("an event claim without its event")
    return with_event(claim, event)
