"""The orchestrator's decisions (migrations/046), over both transports and on both
schemas: written once per run slot, node, market and outcome (the owner told once);
approved once (its paper order placed through the trading book, under the kill
switch, limits and cash, with its audit entry, in one transaction), rejected, or
past its expiry never placed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from cascadian.data import Actor, DecisionDraft, FilledLevel, OrderIntent, PaperPlacement
from cascadian.errors import StoreRejected
from cascadian.ports import FullStore
from tests.factories import OPERATOR, OTHER_USER, USER, add_run, add_strategy, rows

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OWNER = Actor.user(USER, "api", "203.0.113.7")
STRANGER = Actor.user(OTHER_USER, "api", "198.51.100.9")


def draft(
    market: str = "m1", size: str = "40", expires: timedelta = timedelta(hours=1)
) -> DecisionDraft:
    return DecisionDraft(
        market_id=market,
        market_question=f"Will {market} happen?",
        outcome="Yes",
        token_id=f"tok-{market}",
        direction="YES",
        recommended_size=Decimal(size),
        risk_score=4,
        ai_reasoning="edge 10%, quarter Kelly",
        ai_confidence=Decimal("0.7"),
        portfolio_snapshot={"bankroll_total_equity_usd": "10000"},
        expires_at=NOW + expires,
    )


def placement(sid: UUID, shares: str = "80", price: str = "0.5") -> PaperPlacement:
    intent = OrderIntent(
        workflow_id=sid,
        execution_id=None,
        node_id="ignored",
        market_id="ignored",
        market_question=None,
        outcome="ignored",
        side="buy",
        amount_usd=Decimal(shares) * Decimal(price),
    )
    return PaperPlacement(
        intent, "filled", levels=(FilledLevel(Decimal(price), Decimal(shares), Decimal(0)),)
    )


async def pending(store: FullStore, db: Any, *drafts: DecisionDraft) -> tuple[UUID, list[Any]]:
    sid = add_strategy(db, next_execution_at=NOW)
    run = add_run(db, sid, started_at=NOW)
    made = await store.create_decisions(sid, run, "sizing", None, list(drafts or [draft()]), NOW)
    return sid, made


async def test_a_run_writes_each_decision_once_and_tells_the_owner_once(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    run = add_run(db, sid, started_at=NOW)
    both = [draft("a"), draft("b")]
    first = await any_store.create_decisions(sid, run, "sizing", None, both, NOW)
    again = await any_store.create_decisions(sid, run, "sizing", None, both, NOW)
    assert [d.created for d in first] == [True, True]
    assert [d.created for d in again] == [False, False]
    assert [d.id for d in again] == [d.id for d in first]
    assert first[0].status == "pending" and first[0].recommended_size == Decimal("40")
    stored = rows(db, "select status, decision, outcome from orchestrator_decisions")
    assert len(stored) == 2 and {r["decision"] for r in stored} == {"GO"}
    told = rows(db, "select user_id, priority, title from notifications")
    assert len(told) == 1 and told[0]["user_id"] == USER and told[0]["priority"] == "high"
    assert "2 trade(s) await your approval" in told[0]["title"]


async def test_a_bad_decision_is_refused_and_nothing_is_written(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    run = add_run(db, sid, started_at=NOW)
    with pytest.raises(StoreRejected, match="recommended_size > 0"):
        await any_store.create_decisions(
            sid, run, "sizing", None, [draft("a"), draft("b", size="0")], NOW
        )
    assert rows(db, "select id from orchestrator_decisions") == []
    assert rows(db, "select id from notifications") == []


async def test_approving_places_the_order_once_with_its_audit_entry(
    any_store: FullStore, db: Any
) -> None:
    sid, [made] = await pending(any_store, db)
    answer = await any_store.decide(made.id, True, placement(sid), None, NOW, OWNER)
    assert answer is not None and answer.outcome == "approved"
    assert answer.order is not None and answer.order.result == "filled"
    assert answer.decision.status == "approved" and answer.decision.actual_size == Decimal("40")
    twice = await any_store.decide(made.id, True, placement(sid), None, NOW, OWNER)
    assert twice is not None and twice.outcome == "already_approved"
    assert twice.order is not None and twice.order.replayed
    assert twice.order.order_id == answer.order.order_id
    orders = rows(db, "select market_id, outcome, order_key, side from cascadian_trading_orders")
    assert orders == [
        {"market_id": "m1", "outcome": "Yes", "order_key": f"decision:{made.id}", "side": "buy"}
    ]
    [entry] = rows(db, "select action, actor_user_id, before, after from cascadian_audit_log")
    assert entry["action"] == "approve_decision" and entry["actor_user_id"] == USER
    assert entry["before"]["status"] == "pending" and entry["after"]["status"] == "approved"


async def test_concurrent_approvals_place_one_order(any_store: FullStore, db: Any) -> None:
    sid, [made] = await pending(any_store, db)
    answers = await asyncio.gather(
        *(any_store.decide(made.id, True, placement(sid), None, NOW, OPERATOR) for _ in range(5))
    )
    assert sorted(a.outcome for a in answers if a) == ["already_approved"] * 4 + ["approved"]
    assert len(rows(db, "select order_id from cascadian_trading_orders")) == 1


async def test_an_expired_decision_never_places(any_store: FullStore, db: Any) -> None:
    sid, [made] = await pending(any_store, db, draft(expires=timedelta(minutes=5)))
    later = NOW + timedelta(minutes=5)
    answer = await any_store.decide(made.id, True, placement(sid), None, later, OWNER)
    assert answer is not None and answer.outcome == "expired"
    assert rows(db, "select order_id from cascadian_trading_orders") == []
    assert rows(db, "select id from cascadian_audit_log") == []
    page = await any_store.decisions(sid, "expired", 10, 0, later)
    assert page is not None and [d.id for d in page.items] == [made.id]
    assert (await any_store.decisions(sid, "pending", 10, 0, later)).total == 0  # type: ignore[union-attr]


async def test_a_rejected_decision_never_places(any_store: FullStore, db: Any) -> None:
    sid, [made] = await pending(any_store, db)
    rejected = await any_store.decide(made.id, False, None, "too risky", NOW, OWNER)
    assert rejected is not None and rejected.outcome == "rejected"
    assert rejected.decision.override_reason == "too risky"
    after = await any_store.decide(made.id, True, placement(sid), None, NOW, OWNER)
    assert after is not None and after.outcome == "already_rejected"
    assert rows(db, "select order_id from cascadian_trading_orders") == []
    assert [e["action"] for e in rows(db, "select action from cascadian_audit_log")] == [
        "reject_decision"
    ]


async def test_approval_goes_through_the_kill_switch_and_the_limits(
    any_store: FullStore, db: Any
) -> None:
    sid, [a, b] = await pending(any_store, db, draft("a"), draft("b"))
    await any_store.set_kill_switch(sid, True, "ops", "incident", NOW, OPERATOR)
    refused = await any_store.decide(a.id, True, placement(sid), None, NOW, OWNER)
    assert refused is not None and refused.order is not None
    assert refused.order.result == "refused" and refused.order.refusal == "kill_switch"
    await any_store.set_kill_switch(sid, False, None, None, NOW, OPERATOR)
    await any_store.set_trading_limits(sid, {"max_order_usd": Decimal("30")}, NOW, OPERATOR)
    capped = await any_store.decide(b.id, True, placement(sid), None, NOW, OWNER)
    assert capped is not None and capped.order is not None
    assert capped.order.refusal == "max_order_usd"
    # A refused order is the approval's outcome: approving again answers it again.
    again = await any_store.decide(b.id, True, placement(sid), None, NOW, OWNER)
    assert again is not None and again.order is not None and again.order.replayed


async def test_a_fill_larger_than_the_decision_is_refused(any_store: FullStore, db: Any) -> None:
    sid, [made] = await pending(any_store, db)
    with pytest.raises(StoreRejected, match="more than the decision"):
        await any_store.decide(made.id, True, placement(sid, shares="100"), None, NOW, OWNER)
    assert rows(db, "select order_id from cascadian_trading_orders") == []
    assert (await any_store.decision(made.id, NOW)).status == "pending"  # type: ignore[union-attr]


async def test_a_user_finds_and_decides_only_their_own(any_store: FullStore, db: Any) -> None:
    sid, [made] = await pending(any_store, db)
    assert await any_store.decide(made.id, False, None, None, NOW, STRANGER) is None
    assert await any_store.decision(made.id, NOW, OTHER_USER) is None
    assert await any_store.decisions(sid, None, 10, 0, NOW, OTHER_USER) is None
    everyone = await any_store.decisions(None, None, 10, 0, NOW, OTHER_USER)
    assert everyone is not None and everyone.total == 0
    assert await any_store.decide(uuid4(), False, None, None, NOW, OPERATOR) is None
    assert (await any_store.decision(made.id, NOW)).status == "pending"  # type: ignore[union-attr]
