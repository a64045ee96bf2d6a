"""The orchestrator's decisions over the API, on both schemas and through both
transports: listed; approved once (the paper buy filled against the CLOB's book,
respx, and placed through the trading book, audited as the API's actor); rejected or
expired, never placed; bad input a 4xx naming it, changing nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import respx

from cascadian.clock import SystemClock
from cascadian.data import Actor, DecisionDraft
from cascadian.errors import NotFound
from cascadian.ports import FullStore
from cascadian.trading.decisions import DecisionService
from tests.api_client import client
from tests.factories import OTHER_USER, add_run, add_strategy, rows
from tests.polymarket_fixtures import CLOB, GAMMA
from tests.workflow.original.helpers import polymarket

pytestmark = pytest.mark.both_schemas

YES_TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
ENV = {"CASCADIAN_POLYMARKET_URL": GAMMA, "CASCADIAN_CLOB_URL": CLOB}


async def decide_later(
    store: FullStore,
    db: Any,
    *,
    made: datetime | None = None,
    size: str = "50",
    user_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, uuid.UUID]:
    """A strategy with one pending decision: $`size` of the Fed market's Yes, an hour to
    approve it from `made` (now)."""
    made = made or datetime.now(UTC)
    sid = add_strategy(db, next_execution_at=None, **({"user_id": user_id} if user_id else {}))
    run = add_run(db, sid, started_at=made, **({"user_id": user_id} if user_id else {}))
    [decision] = await store.create_decisions(
        sid,
        run,
        "orchestrator_1",
        None,
        [
            DecisionDraft(
                market_id="253591",
                market_question="Will the Fed cut interest rates at the December 2025 meeting?",
                outcome="Yes",
                token_id=YES_TOKEN,
                direction="YES",
                recommended_size=Decimal(size),
                risk_score=5,
                ai_reasoning="edge",
                ai_confidence=Decimal("0.5"),
                portfolio_snapshot={},
                expires_at=made + timedelta(hours=1),
            )
        ],
        made,
    )
    return sid, decision.id


@respx.mock
async def test_approving_places_the_paper_buy_once_and_audits_it(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    polymarket(respx.mock, fee_bps=200)
    sid, did = await decide_later(any_store, db)
    async with client(any_store, **ENV) as api:
        listed = (await api.get(f"/api/strategies/{sid}/decisions?status=pending")).json()
        first = await api.post(f"/api/strategies/{sid}/decisions/{did}/approve")
        again = await api.post(f"/api/strategies/{sid}/decisions/{did}/approve")
        everyone = (await api.get("/api/decisions?status=approved")).json()
        metrics = (await api.get("/api/metrics")).text
    assert [d["id"] for d in listed["data"]] == [str(did)] and listed["metadata"]["total"] == 1
    assert first.status_code == 200, first.text
    body = first.json()["data"]
    assert body["outcome"] == "approved" and body["decision"]["status"] == "approved"
    # $50 at the best ask, 0.39: 128.205128 shares (fill-and-kill, within the size).
    assert body["order"]["result"] == "filled" and Decimal(body["order"]["notional_usd"]) <= 50
    assert again.json()["data"]["outcome"] == "already_approved"
    assert again.json()["data"]["order"]["replayed"] is True
    assert [d["id"] for d in everyone["data"]] == [str(did)]
    # The process's metrics count the approval's order once (the replay is not told).
    assert 'cascadian_orders_total{refusal="",result="filled"} 1.0' in metrics
    orders = rows(db, "select order_key, side, result from cascadian_trading_orders")
    assert orders == [{"order_key": f"decision:{did}", "side": "buy", "result": "filled"}]
    [entry] = rows(db, "select action, actor_kind, source from cascadian_audit_log")
    assert entry == {"action": "approve_decision", "actor_kind": "operator", "source": "api"}


@respx.mock
async def test_a_rejected_or_expired_decision_never_places(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    polymarket(respx.mock)
    sid, did = await decide_later(any_store, db)
    old_sid, old = await decide_later(any_store, db, made=datetime.now(UTC) - timedelta(hours=2))
    async with client(any_store, **ENV) as api:
        rejected = await api.post(
            f"/api/strategies/{sid}/decisions/{did}/reject", json={"reason": "not now"}
        )
        after = await api.post(f"/api/strategies/{sid}/decisions/{did}/approve")
        expired = await api.post(f"/api/strategies/{old_sid}/decisions/{old}/approve")
        listed = (await api.get(f"/api/strategies/{old_sid}/decisions?status=expired")).json()
    assert rejected.json()["data"]["outcome"] == "rejected"
    assert rejected.json()["data"]["decision"]["override_reason"] == "not now"
    assert after.json()["data"]["outcome"] == "already_rejected"
    assert expired.json()["data"]["outcome"] == "expired"
    assert [d["status"] for d in listed["data"]] == ["expired"]
    assert rows(db, "select order_id from cascadian_trading_orders") == []


@respx.mock
async def test_bad_input_is_a_4xx_naming_it_and_changes_nothing(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    polymarket(respx.mock)
    sid, did = await decide_later(any_store, db)
    other, _ = await decide_later(any_store, db)
    async with client(any_store, **ENV) as api:
        status = await api.get(f"/api/strategies/{sid}/decisions?status=maybe")
        wrong = await api.post(f"/api/strategies/{other}/decisions/{did}/approve")
        missing = await api.post(f"/api/strategies/{sid}/decisions/{uuid.uuid4()}/reject")
        long = await api.post(
            f"/api/strategies/{sid}/decisions/{did}/reject", json={"reason": "x" * 501}
        )
        extra = await api.post(f"/api/strategies/{sid}/decisions/{did}/reject", json={"size": 5})
        unknown = await api.get(f"/api/strategies/{uuid.uuid4()}/decisions")
        unauthenticated = await api.post(
            f"/api/strategies/{sid}/decisions/{did}/approve", headers={"Authorization": ""}
        )
    assert status.status_code == 422 and "status" in status.text
    assert wrong.status_code == 404 and "decision not found" in wrong.text
    assert missing.status_code == 404
    assert long.status_code == 422 and "reason" in long.text
    assert extra.status_code == 422 and "size" in extra.text
    assert unknown.status_code == 404 and "strategy not found" in unknown.text
    assert unauthenticated.status_code == 401
    assert rows(db, "select status from orchestrator_decisions") == [
        {"status": "pending"},
        {"status": "pending"},
    ]
    assert rows(db, "select id from cascadian_audit_log") == []


async def test_a_user_actor_decides_only_their_own(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    # The store's scope (the API gives a signed-in user's routes this actor).
    sid, did = await decide_later(any_store, db)
    stranger = Actor.user(OTHER_USER, "api", None)
    service = DecisionService(any_store, None, SystemClock())
    with pytest.raises(NotFound):
        await service.reject(did, None, stranger, sid)
    with pytest.raises(NotFound):
        await service.decisions(sid, actor=stranger)
    assert rows(db, "select status from orchestrator_decisions") == [{"status": "pending"}]
