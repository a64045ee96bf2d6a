"""The orchestrator's decisions (the DecisionStore port, migrations/046): written once
per run slot, node, market and outcome; approved or rejected once, under the
decision's lock, the approval's paper order placed by the trading book's own SQL
function in the same transaction (order key 'decision:<id>'), with its audit entry.

Money crosses as decimal strings both ways.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

from cascadian.data import (
    Actor,
    Decision,
    DecisionAnswer,
    DecisionDraft,
    DecisionOutcome,
    DecisionStatus,
    Page,
    PaperPlacement,
)
from cascadian.errors import NodeError
from cascadian.store.audit import actor_arg
from cascadian.store.readers import answer_of, as_dt, as_uuid, dt_or_none, json_value, uuid_or_none
from cascadian.store.trading import order_outcome, placement_record
from cascadian.store.transport import Json, Transport

# migrations/046: the orchestrator's decisions (054: create's v2 keys a re-run's
# decisions by its failed run's slot).
CREATE_DECISIONS = "cascadian_create_decisions_v2"
DECISIONS = "cascadian_decisions_v1"
DECISION = "cascadian_decision_v1"
# How many pending decisions one read of them takes.
PENDING_PAGE = 500
# 055: an approval re-checks the caps the decision was sized under (its
# portfolio_snapshot's `caps`) and its token, under the portfolio's lock; 065: the
# caps with the fill's fee, and an archived or stopped strategy's approval refused.
DECIDE = "cascadian_decide_v4"


class SqlDecisionStore:
    transport: Transport

    async def create_decisions(
        self,
        workflow_id: UUID,
        execution_id: UUID | None,
        node_id: str,
        slot: str | None,
        drafts: Sequence[DecisionDraft],
        now: datetime,
    ) -> list[Decision]:
        if execution_id is None:
            raise NodeError("approval mode needs a recorded run to hang its decisions on")
        answer = await self.transport.value(
            CREATE_DECISIONS,
            {
                "p": Json(
                    {
                        "workflow_id": str(workflow_id),
                        "execution_id": str(execution_id),
                        "node_id": node_id,
                        "slot": slot,
                        "decisions": [_draft(d) for d in drafts],
                    }
                ),
                "p_now": now,
            },
        )
        return created(answer)

    async def pending_decisions(self, workflow_id: UUID, now: datetime) -> list[Decision]:
        found: list[Decision] = []
        while True:
            page = await self.decisions(workflow_id, "pending", PENDING_PAGE, len(found), now)
            if page is None:
                return found
            found += page.items
            if not page.items or len(found) >= page.total:
                return found

    async def decisions(
        self,
        strategy_id: UUID | None,
        status: str | None,
        limit: int,
        offset: int,
        now: datetime,
        user: UUID | None = None,
    ) -> Page[Decision] | None:
        answer = await self.transport.value(
            DECISIONS,
            {
                "p_workflow_id": strategy_id,
                "p_status": status,
                "p_limit": limit,
                "p_offset": offset,
                "p_now": now,
                "p_user": user,
            },
        )
        return None if answer is None else decision_page(answer)

    async def decision(
        self, decision_id: UUID, now: datetime, user: UUID | None = None
    ) -> Decision | None:
        answer = await self.transport.value(
            DECISION, {"p_id": decision_id, "p_now": now, "p_user": user}
        )
        return None if answer is None else one_decision(answer)

    async def decide(
        self,
        decision_id: UUID,
        approve: bool,
        placement: PaperPlacement | None,
        reason: str | None,
        now: datetime,
        actor: Actor,
    ) -> DecisionAnswer | None:
        answer = await self.transport.value(
            DECIDE,
            {
                "p_id": decision_id,
                "p_approve": approve,
                "p_placement": None if placement is None else Json(placement_record(placement)),
                "p_reason": reason,
                "p_now": now,
                "p_actor": actor_arg(actor),
            },
        )
        return None if answer is None else decided(answer)


def _draft(d: DecisionDraft) -> dict[str, Any]:
    return {
        "market_id": d.market_id,
        "market_question": d.market_question,
        "outcome": d.outcome,
        "token_id": d.token_id,
        "direction": d.direction,
        "recommended_size": str(d.recommended_size),
        "risk_score": d.risk_score,
        "ai_reasoning": d.ai_reasoning,
        "ai_confidence": str(d.ai_confidence),
        "portfolio_snapshot": d.portfolio_snapshot,
        "expires_at": d.expires_at.isoformat(),
    }


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def decision_of(d: dict[str, Any]) -> Decision:
    return Decision(
        id=as_uuid(d["id"]),
        workflow_id=as_uuid(d["workflow_id"]),
        execution_id=as_uuid(d["execution_id"]),
        node_id=str(d["node_id"]),
        market_id=str(d["market_id"]),
        market_question=d.get("market_question"),
        outcome=d.get("outcome"),
        token_id=d.get("token_id"),
        direction=str(d["direction"]),
        recommended_size=Decimal(str(d["recommended_size"])),
        actual_size=_money(d.get("actual_size")),
        risk_score=int(d["risk_score"]),
        ai_reasoning=str(d["ai_reasoning"]),
        ai_confidence=Decimal(str(d["ai_confidence"])),
        status=cast(DecisionStatus, str(d["status"])),
        created_at=as_dt(d["created_at"]),
        expires_at=dt_or_none(d.get("expires_at")),
        decided_at=dt_or_none(d.get("decided_at")),
        order_id=uuid_or_none(d.get("order_id")),
        override_reason=d.get("override_reason"),
        portfolio_snapshot=dict(d.get("portfolio_snapshot") or {}),
        created=bool(d.get("created", False)),
    )


@answer_of(CREATE_DECISIONS)
def created(value: Any) -> list[Decision]:
    return [decision_of(d) for d in json_value(value)]


@answer_of(DECISIONS)
def decision_page(value: Any) -> Page[Decision]:
    d = json_value(value)
    return Page([decision_of(x) for x in d["items"]], int(d["total"]))


@answer_of(DECISION)
def one_decision(value: Any) -> Decision:
    return decision_of(json_value(value))


@answer_of(DECIDE)
def decided(value: Any) -> DecisionAnswer:
    d = json_value(value)
    order = d.get("order")
    return DecisionAnswer(
        outcome=cast(DecisionOutcome, str(d["outcome"])),
        decision=decision_of(d["decision"]),
        order=None if order is None else order_outcome(order),
    )
