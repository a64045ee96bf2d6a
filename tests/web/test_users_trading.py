"""Signed-in users on the trading limits, kill switches, triggers, re-run, bulk and
audit routes, on both transports and both schemas: each acts on and reads only
their own strategies (another's answers exactly as a missing one does, and is left
unchanged), bulk selects only their own, the audit log shows only what they did or
what was done to their strategies, and the global kill switch stays the operator's.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cascadian.ports import FullStore
from tests.api_client import KEY, bearer
from tests.factories import add_run, add_strategy, chain, node, rows
from tests.web.test_users import ALICE, BOB, as_user, open_client

pytestmark = pytest.mark.both_schemas

SWITCH = {"set_by": "alice", "reason": "stop it"}
SNAPSHOT = {
    "nodes": chain(node("start", "start"), node("end", "end"))[0],
    "edges": chain(node("start", "start"), node("end", "end"))[1],
    "variables": {},
    "trigger": None,
}

# Every route a user may now call on one strategy, with a body where it takes one.
ON_A_STRATEGY: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/strategies/{}/limits", None),
    ("PUT", "/api/strategies/{}/limits", {"max_order_usd": "5"}),
    ("PUT", "/api/strategies/{}/kill-switch", SWITCH),
    ("DELETE", "/api/strategies/{}/kill-switch", None),
    ("GET", "/api/strategies/{}/triggers", None),
    ("PUT", "/api/strategies/{}/triggers", {"triggers": []}),
    ("GET", "/api/strategies/{}/trigger-events", None),
]


@pytest.fixture
async def api(any_store: FullStore) -> AsyncIterator[httpx.AsyncClient]:
    async for c in open_client(any_store):
        yield c


def arrange(db: Any) -> tuple[uuid.UUID, uuid.UUID]:
    """Alice's strategy and Bob's; Bob's with a trigger, an event waiting for its run,
    and its kill switch on."""
    mine = add_strategy(db, next_execution_at=None, user_id=ALICE, name="alice's", status="paused")
    theirs = add_strategy(db, next_execution_at=None, user_id=BOB, name="bob's", status="paused")
    [trigger] = rows(
        db,
        "insert into cascadian_triggers (workflow_id, name, kind, token_id, level, direction, "
        "price_kind) values (%s, 'bob-breakout', 'price', '123', 0.5, 'above', 'midpoint') "
        "returning id",
        theirs,
    )
    rows(
        db,
        "insert into cascadian_trigger_events (trigger_id, workflow_id, crossing, trigger_name, "
        "kind, observed_at, source, created_at) values (%s, %s, 1, 'bob-breakout', 'price', "
        "now(), 'rest', now()) returning id",
        trigger["id"],
        theirs,
    )
    rows(
        db,
        "insert into cascadian_kill_switches (scope, workflow_id, set_by, reason, set_at) "
        "values (%s, %s, 'bob', 'bob stops his own', now()) returning scope",
        str(theirs),
        theirs,
    )
    return mine, theirs


def bobs_state(db: Any, sid: uuid.UUID) -> Any:
    return rows(
        db,
        "select (select count(*) from cascadian_trading_limits where workflow_id = %s) as limits, "
        "(select count(*) from cascadian_kill_switches where workflow_id = %s) as switches, "
        "(select count(*) from cascadian_triggers where workflow_id = %s) as triggers, "
        "(select count(*) from cascadian_audit_log) as audited",
        sid,
        sid,
        sid,
    )


def without_time(answer: httpx.Response) -> dict[str, Any]:
    return {k: v for k, v in answer.json().items() if k != "timestamp"}


@pytest.mark.parametrize(("method", "path", "body"), ON_A_STRATEGY)
async def test_another_users_strategy_answers_as_a_missing_one_and_is_left_unchanged(
    api: httpx.AsyncClient, db: Any, method: str, path: str, body: dict[str, Any] | None
) -> None:
    _, theirs = arrange(db)
    before = bobs_state(db, theirs)
    answers = [
        await api.request(method, path.format(sid), json=body, headers=as_user(ALICE))
        for sid in (theirs, uuid.uuid4())
    ]
    assert [a.status_code for a in answers] == [404, 404], answers[0].text
    assert without_time(answers[0]) == without_time(answers[1])
    assert bobs_state(db, theirs) == before


async def test_a_user_sets_their_own_limits_and_kill_switch_audited_as_them(
    api: httpx.AsyncClient, db: Any
) -> None:
    mine, theirs = arrange(db)
    me = as_user(ALICE)
    limits = await api.put(f"/api/strategies/{mine}/limits", json={"max_order_usd": 5}, headers=me)
    assert limits.status_code == 200, limits.text
    assert limits.json()["data"]["max_order_usd"] == "5"
    read = await api.get(f"/api/strategies/{mine}/limits", headers=me)
    assert read.json()["data"]["max_order_usd"] == "5"
    on = await api.put(f"/api/strategies/{mine}/kill-switch", json=SWITCH, headers=me)
    assert on.status_code == 200, on.text
    # The answer lists her switch, never Bob's (it would name his strategy).
    assert [s["workflow_id"] for s in on.json()["data"]] == [str(mine)]
    off = await api.delete(f"/api/strategies/{mine}/kill-switch", headers=me)
    assert off.json()["data"] == []
    audited = rows(
        db,
        "select action, actor_kind, actor_user_id from cascadian_audit_log order by id",
    )
    assert audited == [
        {"action": a, "actor_kind": "user", "actor_user_id": ALICE}
        for a in ("set_limits", "kill_switch_on", "kill_switch_off")
    ]
    everyone = (await api.get("/api/kill-switch", headers=bearer(KEY))).json()["data"]
    assert [s["workflow_id"] for s in everyone] == [str(theirs)]


async def test_a_user_sees_the_global_switch_and_their_own_but_may_not_turn_the_global_one(
    api: httpx.AsyncClient, db: Any
) -> None:
    mine, _ = arrange(db)
    on = await api.put("/api/kill-switch", json=SWITCH, headers=as_user(ALICE))
    assert on.status_code == 403
    assert on.json()["error"] == "Forbidden"
    assert "only an operator" in on.json()["message"]
    assert rows(db, "select count(*) as n from cascadian_kill_switches where scope = 'global'") == [
        {"n": 0}
    ]
    by_operator = await api.put(
        "/api/kill-switch", json={"set_by": "ops", "reason": "incident"}, headers=bearer(KEY)
    )
    assert by_operator.status_code == 200
    off = await api.delete("/api/kill-switch", headers=as_user(ALICE))
    assert off.status_code == 403
    await api.put(f"/api/strategies/{mine}/kill-switch", json=SWITCH, headers=as_user(ALICE))
    shown = (await api.get("/api/kill-switch", headers=as_user(ALICE))).json()["data"]
    assert [s["scope"] for s in shown] == ["global", str(mine)]
    assert rows(db, "select count(*) as n from cascadian_audit_log where actor_kind = 'user'") == [
        {"n": 1}  # her own switch only: the refused global ones wrote nothing
    ]


async def test_a_user_reads_and_sets_their_own_triggers_and_sees_only_their_events(
    api: httpx.AsyncClient, db: Any
) -> None:
    mine, theirs = arrange(db)
    me = as_user(ALICE)
    assert (await api.get(f"/api/strategies/{mine}/triggers", headers=me)).json()["data"] == []
    saved = await api.put(f"/api/strategies/{mine}/triggers", json={"triggers": []}, headers=me)
    assert saved.status_code == 200, saved.text
    events = await api.get(f"/api/strategies/{mine}/trigger-events", headers=me)
    assert events.json()["data"] == []
    bobs = await api.get(f"/api/strategies/{theirs}/trigger-events", headers=as_user(BOB))
    assert [e["trigger"] for e in bobs.json()["data"]] == ["bob-breakout"]
    overview = {
        who: (await api.get("/api/triggers", headers=h)).json()["data"]
        for who, h in (("alice", me), ("bob", as_user(BOB)), ("operator", bearer(KEY)))
    }
    assert [overview[w]["pending_events"] for w in ("alice", "bob", "operator")] == [0, 1, 1]
    assert [overview[w]["events_last_hour"] for w in ("alice", "bob", "operator")] == [0, 1, 1]
    audited = rows(db, "select action, actor_user_id from cascadian_audit_log")
    assert audited == [{"action": "set_triggers", "actor_user_id": ALICE}]


async def test_a_user_reruns_only_their_own_failed_run(api: httpx.AsyncClient, db: Any) -> None:
    mine, theirs = arrange(db)
    start = datetime.now(UTC) - timedelta(minutes=5)
    bobs = add_run(db, theirs, started_at=start, status="failed", snapshot=SNAPSHOT, user_id=BOB)
    hers = add_run(db, mine, started_at=start, status="failed", snapshot=SNAPSHOT, user_id=ALICE)
    answers = [
        await api.post(f"/api/executions/{run}/rerun", headers=as_user(ALICE))
        for run in (bobs, uuid.uuid4())
    ]
    assert [a.status_code for a in answers] == [404, 404]
    assert without_time(answers[0]) == without_time(answers[1])
    assert rows(db, "select count(*) as n from workflow_executions where rerun_of = %s", bobs) == [
        {"n": 0}
    ]
    again = await api.post(f"/api/executions/{hers}/rerun", headers=as_user(ALICE))
    assert again.status_code == 200, again.text
    assert again.json()["data"]["rerun_of"] == str(hers)
    [claim] = rows(
        db, "select actor_kind, actor_user_id from cascadian_audit_log where workflow_id = %s", mine
    )
    assert claim == {"actor_kind": "user", "actor_user_id": ALICE}


async def test_bulk_selects_and_changes_only_the_users_own_strategies(
    api: httpx.AsyncClient, db: Any
) -> None:
    mine, theirs = arrange(db)
    body: dict[str, Any] = {"action": "resume", "filter": {"user_id": str(BOB)}, "preview": True}
    preview = await api.post("/api/strategies/bulk", json=body, headers=as_user(ALICE))
    assert preview.status_code == 200, preview.text
    assert [s["id"] for s in preview.json()["data"]["strategies"]] == [str(mine)]
    body = {"action": "resume", "filter": {}, "expect": preview.json()["data"]["selection"]}
    applied = await api.post("/api/strategies/bulk", json=body, headers=as_user(ALICE))
    assert applied.json()["data"]["changed"] == 1, applied.text
    statuses = rows(db, "select id, status from workflow_sessions order by name")
    assert statuses == [{"id": mine, "status": "running"}, {"id": theirs, "status": "paused"}]


async def test_the_audit_log_shows_a_user_what_they_did_and_what_was_done_to_theirs(
    api: httpx.AsyncClient, db: Any
) -> None:
    mine, theirs = arrange(db)
    await api.put(
        f"/api/strategies/{theirs}/limits", json={"max_order_usd": 7}, headers=as_user(BOB)
    )
    await api.put(f"/api/strategies/{mine}/limits", json={"max_order_usd": 5}, headers=bearer(KEY))
    await api.put(
        f"/api/strategies/{mine}/limits", json={"max_order_usd": 6}, headers=as_user(ALICE)
    )
    seen = (await api.get("/api/audit", headers=as_user(ALICE))).json()["data"]
    assert [(e["strategy_id"], e["actor"]["kind"]) for e in seen] == [
        (str(mine), "user"),
        (str(mine), "operator"),
    ]
    # The operator's address is not hers to see; her own is.
    assert seen[1]["actor"]["address"] is None
    assert seen[0]["actor"]["address"] is not None
    for query in (f"?strategy_id={theirs}", f"?user_id={BOB}"):
        assert (await api.get(f"/api/audit{query}", headers=as_user(ALICE))).json()["data"] == []
    everything = (await api.get("/api/audit", headers=bearer(KEY))).json()["data"]
    assert len(everything) == 3
    assert all(e["actor"]["address"] is not None for e in everything)


async def test_the_stores_reads_scope_to_the_user_in_their_own_sql(
    any_store: FullStore, db: Any
) -> None:
    """The reads that once trusted a check made before them (the portfolio, the orders,
    the equity curve) now answer nothing for another user's strategy themselves."""
    mine, theirs = arrange(db)
    now = datetime.now(UTC)
    for sid, user, found in ((theirs, ALICE, False), (theirs, BOB, True), (theirs, None, True)):
        assert (await any_store.paper_portfolio(sid, now, user) is not None) is found
        assert (await any_store.trading_orders(sid, None, 10, 0, user) is not None) is found
        assert (await any_store.equity_curve(sid, None, 10, user) is not None) is found
        assert (await any_store.triggers(sid, user) is not None) is found
        assert (await any_store.trigger_events(sid, 10, user) is not None) is found
    assert await any_store.paper_portfolio(mine, now, ALICE) is not None


async def test_a_user_may_not_lift_the_kill_switch_an_operator_put_on_their_strategy(
    api: httpx.AsyncClient, db: Any
) -> None:
    mine, _ = arrange(db)
    me = as_user(ALICE)
    by_operator = await api.put(
        f"/api/strategies/{mine}/kill-switch",
        json={"set_by": "risk desk", "reason": "incident 9"},
        headers=bearer(KEY),
    )
    assert by_operator.status_code == 200, by_operator.text
    off = await api.delete(f"/api/strategies/{mine}/kill-switch", headers=me)
    assert off.status_code == 403, off.text
    assert "only an operator" in off.json()["message"]
    # Turning it on again keeps the operator's switch as it is (not hers to clear later).
    again = await api.put(f"/api/strategies/{mine}/kill-switch", json=SWITCH, headers=me)
    assert again.status_code == 200, again.text
    assert [(s["set_by"], s["reason"]) for s in again.json()["data"]] == [
        ("risk desk", "incident 9")
    ]
    assert (await api.delete(f"/api/strategies/{mine}/kill-switch", headers=me)).status_code == 403
    assert rows(db, "select count(*) as n from cascadian_audit_log where actor_kind = 'user'") == [
        {"n": 0}
    ]
    cleared = await api.delete(f"/api/strategies/{mine}/kill-switch", headers=bearer(KEY))
    assert cleared.status_code == 200 and cleared.json()["data"] == [
        s for s in cleared.json()["data"] if s["workflow_id"] != str(mine)
    ]
    # Her own switch stays hers to clear.
    await api.put(f"/api/strategies/{mine}/kill-switch", json=SWITCH, headers=me)
    assert (await api.delete(f"/api/strategies/{mine}/kill-switch", headers=me)).status_code == 200
