"""What an approval re-checks and what a signed-in owner may write (migrations/055),
on both schemas and both transports: pending decisions on one outcome do not stack
past the cap they were sized under, a token the marks know elsewhere is refused, and
through Supabase's Data API the owner may approve, reject or delete their decision
but never rewrite what it buys, where, how much or until when."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from cascadian.data import DecisionDraft
from cascadian.ports import FullStore
from tests.conftest import create_supabase_roles
from tests.factories import USER, rows
from tests.store.test_orchestrator_decisions import NOW, OWNER, draft, pending, placement

pytestmark = pytest.mark.both_schemas


def capped(market: str = "m1", size: str = "40", cap: str = "100") -> DecisionDraft:
    d = draft(market, size)
    caps = {"max_position_usd": cap, "max_deployed_usd": None}
    return DecisionDraft(**{**d.__dict__, "portfolio_snapshot": {"caps": caps}})


async def test_approving_stacked_decisions_stops_at_the_position_cap_they_were_sized_under(
    any_store: FullStore, db: Any
) -> None:
    sid, made = await pending(any_store, db, capped(), capped(), capped())
    # One run wrote one decision per outcome: these three come from three runs.
    assert len({d.id for d in made}) == 1
    for run in range(2):
        more = await any_store.create_decisions(
            sid, made[0].execution_id, "sizing", f"slot:{run}", [capped()], NOW
        )
        made += more
    answers = [
        await any_store.decide(d.id, True, placement(sid), None, NOW, OWNER)  # $40 each
        for d in (made[0], made[3], made[4])
    ]
    results = [(a.order.result, a.order.refusal) for a in answers if a and a.order]
    assert results == [
        ("filled", None),
        ("filled", None),
        ("refused", "max_per_position"),
    ]
    assert "cap of $100.00" in str(answers[2].order.detail)  # type: ignore[union-attr]
    [position] = rows(db, "select cost from cascadian_positions where workflow_id = %s", sid)
    assert position["cost"] == Decimal("80")


async def test_an_approval_under_the_heat_cap_counts_every_open_position(
    any_store: FullStore, db: Any
) -> None:
    caps = {"max_position_usd": "1000", "max_deployed_usd": "60"}
    a, b = (
        DecisionDraft(**{**draft(m).__dict__, "portfolio_snapshot": {"caps": caps}})
        for m in ("a", "b")
    )
    sid, [first, second] = await pending(any_store, db, a, b)
    ok = await any_store.decide(first.id, True, placement(sid), None, NOW, OWNER)
    hot = await any_store.decide(second.id, True, placement(sid), None, NOW, OWNER)
    assert ok is not None and ok.order is not None and ok.order.result == "filled"
    assert hot is not None and hot.order is not None
    assert hot.order.refusal == "portfolio_heat_limit"


async def test_a_token_the_marks_know_under_another_market_is_refused(
    any_store: FullStore, db: Any
) -> None:
    db.execute(
        "insert into cascadian_marks (market_id, outcome, token_id, price, marked_at) "
        "values ('fed', 'Yes', 'tok-m1', 0.4, %s)",
        (NOW,),
    )
    sid, [made] = await pending(any_store, db)
    answer = await any_store.decide(made.id, True, placement(sid), None, NOW, OWNER)
    assert answer is not None and answer.order is not None
    assert answer.order.refusal == "token_mismatch"
    assert rows(db, "select id from cascadian_paper_orders") == []


def as_owner(db: psycopg.Connection[Any]) -> None:
    """What PostgREST does for the owner's request: the role, and the JWT's claims."""
    claims = json.dumps({"sub": str(USER), "role": "authenticated"})
    db.execute("select set_config('request.jwt.claims', %s, false)", (claims,))
    db.execute("set role authenticated")


REWRITES = {
    "recommended_size": "recommended_size = 5000",
    "market_id": "market_id = 'some-other-market'",
    "token_id": "token_id = 'tok-fed'",
    "expires_at": "expires_at = now() + interval '10 years'",
    "portfolio_snapshot": "portfolio_snapshot = '{}'",
}


@pytest.mark.parametrize("column", list(REWRITES))
async def test_the_owner_cannot_rewrite_a_pending_decision_through_the_data_api(
    schema: str, store: FullStore, db: psycopg.Connection[Any], column: str
) -> None:
    create_supabase_roles(db)
    _, [made] = await pending(store, db)
    before = rows(db, "select * from orchestrator_decisions")
    as_owner(db)
    try:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            db.execute(
                f"update orchestrator_decisions set {REWRITES[column]} where id = %s", (made.id,)
            )
    finally:
        db.execute("reset role")
    if schema == "existing":  # the app's policy lets the owner update: the trigger refuses
        assert f"{column} cannot be written through the Data API" in str(refused.value)
    assert rows(db, "select * from orchestrator_decisions") == before


async def test_the_owner_may_still_reject_and_delete_but_not_forge_or_reopen(
    schema: str, store: FullStore, db: psycopg.Connection[Any]
) -> None:
    if schema != "existing":
        pytest.skip("on a fresh database the Data API's roles cannot write decisions at all")
    create_supabase_roles(db)
    sid, [a, b] = await pending(store, db, draft("a"), draft("b"))
    run = a.execution_id
    as_owner(db)
    try:
        db.execute("update orchestrator_decisions set status = 'rejected' where id = %s", (a.id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="status"):
            db.execute(
                "update orchestrator_decisions set status = 'pending' where id = %s", (a.id,)
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="decision_key"):
            db.execute(
                "insert into orchestrator_decisions (execution_id, workflow_id, node_id, "
                "market_id, decision, direction, recommended_size, risk_score, ai_reasoning, "
                "ai_confidence, portfolio_snapshot, decision_key, expires_at) values "
                "(%s, %s, 'n', 'm9', 'GO', 'YES', 5000, 3, 'forged', 0.9, '{}', 'k', "
                "now() + interval '1 day')",
                (run, sid),
            )
        db.execute("delete from orchestrator_decisions where id = %s", (b.id,))
    finally:
        db.execute("reset role")
    left = rows(db, "select id, status from orchestrator_decisions")
    assert left == [{"id": a.id, "status": "rejected"}]


async def test_a_row_the_app_wrote_is_not_a_decision_cascadian_approves(
    any_store: FullStore, db: Any
) -> None:
    sid, [made] = await pending(any_store, db)
    db.execute("update orchestrator_decisions set decision_key = null where id = %s", (made.id,))
    assert await any_store.decide(made.id, True, placement(sid), None, NOW, OWNER) is None
    assert rows(db, "select id from cascadian_trading_orders") == []
