"""Triggers in the store (migrations/028), on both schemas and both transports: the
state of each trigger kept in SQL, each crossing written once with its event key,
and an event's run claimed with the same lease and fence as a scheduled one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from cascadian.data import Actor, NodeRun, Observation, RunOutcome, RunResult
from cascadian.ports import FullStore
from cascadian.trading.executor import PaperExecutor
from tests.factories import add_strategy, rows, strategy
from tests.store.test_settlement_and_marks import buy
from tests.store.test_trading_book_sql import portfolio
from tests.trading.test_paper_executor import MARKET, intent

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OPERATOR = Actor.operator("api")
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"


def price_trigger(
    name: str = "up", level: str = "0.60", band: str = "0.05", **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "price",
        "token_id": TOKEN,
        "level": level,
        "direction": "above",
        "band": band,
        "price_kind": "midpoint",
        "asset_ids": [TOKEN],
    } | extra


def seen(price: str, at: float, token: str = TOKEN, kind: str = "midpoint") -> Observation:
    return Observation(
        "price",
        NOW + timedelta(seconds=at),
        "websocket",
        token,
        kind,
        Decimal(price),  # type: ignore[arg-type]
    )


async def armed_strategy(store: FullStore, db: Any, **triggers: Any) -> UUID:
    sid = add_strategy(db, next_execution_at=NOW + timedelta(hours=1))
    await store.set_triggers(sid, [price_trigger(**triggers)], NOW, OPERATOR)
    return sid


async def test_triggers_are_set_and_read_back_waiting_for_a_first_price(
    any_store: FullStore, db: Any
) -> None:
    sid = await armed_strategy(any_store, db)
    [t] = await any_store.triggers(sid) or []
    assert (t["name"], t["level"], t["band"], t["state"], t["crossings"]) == (
        "up",
        "0.60",
        "0.05",
        "waiting",
        0,
    )
    assert await any_store.triggers(UUID(int=1)) is None


async def test_a_crossing_fires_once_and_again_only_after_the_price_leaves_the_band(
    any_store: FullStore, db: Any
) -> None:
    sid = await armed_strategy(any_store, db)
    # A baseline, across the level, back inside the band, across again: one crossing.
    first = await any_store.observe(
        [seen("0.50", 0), seen("0.61", 1), seen("0.57", 2), seen("0.62", 3)], NOW
    )
    assert [e.crossing for e in first] == [1]
    # Out past the band (below 0.55), then across again: a second crossing.
    second = await any_store.observe([seen("0.54", 4), seen("0.63", 5)], NOW)
    assert [e.crossing for e in second] == [2]
    [t] = await any_store.triggers(sid) or []
    assert (t["crossings"], t["state"], t["last_price"]) == (2, "disarmed", "0.63")
    events = rows(
        db,
        "select crossing, price_before, price_after"
        " from cascadian_trigger_events order by crossing",
    )
    assert [(e["crossing"], str(e["price_before"]), str(e["price_after"])) for e in events] == [
        (1, "0.50", "0.61"),
        (2, "0.54", "0.63"),
    ]


async def test_a_first_price_already_past_the_level_is_a_baseline_not_a_crossing(
    any_store: FullStore, db: Any
) -> None:
    await armed_strategy(any_store, db)
    assert await any_store.observe([seen("0.70", 0), seen("0.80", 1)], NOW) == []


async def test_the_same_prices_seen_by_two_listeners_write_one_event(
    any_store: FullStore, db: Any
) -> None:
    await armed_strategy(any_store, db)
    await any_store.observe([seen("0.50", 0)], NOW)
    prices = [seen("0.61", 1)]
    written = await asyncio.gather(*(any_store.observe(prices, NOW) for _ in range(4)))
    assert sorted(len(w) for w in written) == [0, 0, 0, 1]
    # A slower listener's older price changes nothing.
    assert await any_store.observe([seen("0.40", 0.5)], NOW) == []
    assert rows(db, "select count(*) as n from cascadian_trigger_events")[0]["n"] == 1


async def test_a_paused_strategy_s_triggers_do_not_fire(any_store: FullStore, db: Any) -> None:
    sid = await armed_strategy(any_store, db)
    db.execute(
        "update workflow_sessions set auto_run = false, status = 'paused' where id = %s", (sid,)
    )
    assert await any_store.armed_triggers() == []
    assert await any_store.observe([seen("0.50", 0), seen("0.70", 1)], NOW) == []


async def test_an_event_run_is_claimed_once_under_a_lease_and_done_once_recorded(
    any_store: FullStore, db: Any
) -> None:
    sid = await armed_strategy(any_store, db)
    await any_store.observe([seen("0.50", 0), seen("0.61", 1)], NOW)
    [claim] = await any_store.claim_events(NOW, 10, 60)
    assert claim.event is not None and claim.event["crossing"] == 1
    assert claim.event["price_after"] == "0.61" and claim.event["source"] == "websocket"
    assert claim.workflow.variables["trigger_event"]["price_before"] == "0.50"
    assert claim.scheduled_for is None and claim.attempt == 1
    # Held by its lease: not claimed again, by an event claim or a scheduled one.
    assert await any_store.claim_events(NOW, 10, 60) == []
    [run] = rows(db, "select trigger_kind, status, workflow_snapshot from workflow_executions")
    assert (run["trigger_kind"], run["status"]) == ("event", "running")
    assert run["workflow_snapshot"]["event"]["crossing"] == 1
    ok = RunResult(True, {}, [], 1, 5, [NodeRun("start", "start", "success")])
    [recorded] = await any_store.finish_runs(
        [RunOutcome(claim.execution_id, sid, ok, claim.next_execution_at, NOW)], 3
    )
    assert recorded.accepted
    assert strategy(db, sid)["next_execution_at"] == NOW + timedelta(hours=1)  # schedule kept
    assert await any_store.claim_events(NOW + timedelta(seconds=1), 10, 60) == []
    [event] = rows(db, "select outcome, attempt, execution_id from cascadian_trigger_events")
    assert (event["outcome"], event["attempt"], event["execution_id"]) == (
        "ran",
        1,
        claim.execution_id,
    )


async def test_an_event_whose_run_died_is_claimed_again_after_its_lease(
    any_store: FullStore, db: Any
) -> None:
    await armed_strategy(any_store, db)
    await any_store.observe([seen("0.50", 0), seen("0.61", 1)], NOW)
    [first] = await any_store.claim_events(NOW, 10, 60)
    [again] = await any_store.claim_events(NOW + timedelta(seconds=61), 10, 60)
    assert again.attempt == 2 and again.event is not None and again.event["crossing"] == 1
    statuses = rows(db, "select id, status from workflow_executions order by execution_started_at")
    assert [(r["id"], r["status"]) for r in statuses] == [
        (first.execution_id, "cancelled"),
        (again.execution_id, "running"),
    ]


async def test_an_event_of_a_strategy_paused_before_its_run_is_skipped(
    any_store: FullStore, db: Any
) -> None:
    sid = await armed_strategy(any_store, db)
    await any_store.observe([seen("0.50", 0), seen("0.61", 1)], NOW)
    db.execute(
        "update workflow_sessions set auto_run = false, status = 'paused' where id = %s", (sid,)
    )
    assert await any_store.claim_events(NOW, 10, 60) == []
    assert rows(db, "select outcome from cascadian_trigger_events")[0]["outcome"] == "skipped"


async def test_a_new_version_of_a_strategy_keeps_its_triggers(
    any_store: FullStore, db: Any
) -> None:
    sid = await armed_strategy(any_store, db)
    new = db.execute(
        "insert into workflow_sessions (user_id, name, nodes, edges, parent_workflow_id)"
        " select user_id, name, nodes, edges, id from workflow_sessions where id = %s returning id",
        (sid,),
    ).fetchone()
    assert new is not None
    [t] = await any_store.triggers(new[0]) or []
    assert (t["name"], t["state"]) == ("up", "waiting")


async def test_a_resolved_trigger_fires_once_on_its_market_s_resolution(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW + timedelta(hours=1))
    resolved = {
        "name": "settled",
        "kind": "resolved",
        "market_id": "123",
        "condition_id": "0xc0",
        "asset_ids": [TOKEN],
    }
    await any_store.set_triggers(sid, [resolved], NOW, OPERATOR)
    resolution = Observation(
        "resolved",
        NOW,
        "websocket",
        condition_id="0xc0",
        winning_token_id=TOKEN,
        winning_outcome="Yes",
    )
    assert [e.crossing for e in await any_store.observe([resolution], NOW)] == [1]
    assert await any_store.observe([resolution], NOW) == []
    assert await any_store.armed_triggers() == []  # nothing more to wait for
    [claim] = await any_store.claim_events(NOW, 10, 60)
    assert claim.event is not None and claim.event["detail"]["winning_outcome"] == "Yes"


async def test_the_overview_counts_armed_triggers_and_pending_events(
    any_store: FullStore, db: Any
) -> None:
    await armed_strategy(any_store, db)
    await any_store.observe([seen("0.50", 0), seen("0.61", 1)], NOW)
    await any_store.record_listener(
        {
            "id": str(UUID(int=7)),
            "host": "w1",
            "started_at": NOW.isoformat(),
            "connected": True,
            "connections": 3,
            "tokens": 1,
            "reconnects": 2,
            "frames": 10,
            "frames_dropped": 3,
            "last_frame_at": None,
        },
        NOW,
    )
    overview = await any_store.trigger_overview(NOW, 60)
    assert (overview["armed_triggers"], overview["pending_events"]) == (1, 1)
    [listener] = overview["listeners"]
    assert (listener["connections"], listener["tokens"], listener["reconnects"]) == (3, 1, 2)
    assert listener["frames_dropped"] == 3


async def test_a_listener_s_counters_hold_more_than_two_to_the_31_frames(
    any_store: FullStore, db: Any
) -> None:
    """A worker listening for months counts billions of frames: an integer column
    (028) refused the state past 2,147,483,647, and the listener's report with it."""
    many = 2**31 + 5
    state = {
        "id": str(UUID(int=8)),
        "host": "w1",
        "started_at": NOW.isoformat(),
        "connected": True,
        "connections": 1,
        "tokens": 1,
        "reconnects": many,
        "frames": many,
        "frames_dropped": many,
        "last_frame_at": NOW.isoformat(),
    }
    await any_store.record_listener(state, NOW)
    [listener] = (await any_store.trigger_overview(NOW, 60))["listeners"]
    assert (listener["frames"], listener["frames_dropped"], listener["reconnects"]) == (
        many,
        many,
        many,
    )


async def test_a_resolution_settles_the_market_s_paper_positions_once(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW + timedelta(hours=1))
    buy(db, sid, market="253591", outcome="Yes", price="0.40", shares="100")  # costs 40
    resolved = {
        "name": "settled",
        "kind": "resolved",
        "market_id": "253591",
        "condition_id": "0xc0",
        "asset_ids": [TOKEN, "no-token"],
        "outcomes": ["Yes", "No"],
    }
    await any_store.set_triggers(sid, [resolved], NOW, OPERATOR)
    resolution = Observation(
        "resolved", NOW, "websocket", condition_id="0xc0", winning_token_id=TOKEN
    )
    assert len(await any_store.observe([resolution], NOW)) == 1
    assert await any_store.observe([resolution], NOW) == []
    assert Decimal(str(portfolio(db, sid)["available_cash"])) == Decimal(10060)
    [event] = rows(db, "select detail from cascadian_trigger_events")
    [settled] = event["detail"]["settlement"]["settled"]
    assert (settled["outcome"], Decimal(str(settled["payout"]))) == ("Yes", Decimal(100))


async def test_every_attempt_at_one_event_places_its_order_once(
    any_store: FullStore, db: Any
) -> None:
    # A run of an event whose first attempt recorded its order and then died is run
    # again under a new execution: keyed by the run, its buy would be placed twice.
    sid = await armed_strategy(any_store, db)
    await any_store.observe([seen("0.50", 0), seen("0.61", 1)], NOW)
    [first] = await any_store.claim_events(NOW, 10, 60)
    [again] = await any_store.claim_events(NOW + timedelta(seconds=61), 10, 60)
    assert first.execution_id != again.execution_id
    assert (
        first.workflow.order_slot
        == again.workflow.order_slot
        == (f"event:{first.event['id']}" if first.event else None)
    )
    executor = PaperExecutor(any_store)
    placed = [
        await executor.place(
            intent(sid, execution_id=c.execution_id, slot=c.workflow.order_slot), MARKET, NOW
        )
        for c in (first, again)
    ]
    assert [(p.result, p.replayed) for p in placed] == [("filled", False), ("filled", True)]
    assert placed[0].order_id == placed[1].order_id
    assert rows(db, "select count(*) as n from cascadian_paper_orders")[0]["n"] == 1


async def test_a_resumed_strategy_takes_its_next_price_as_a_baseline_not_a_stale_crossing(
    any_store: FullStore, db: Any
) -> None:
    sid = await armed_strategy(any_store, db)
    await any_store.observe([seen("0.50", 0)], NOW)  # armed below 0.60
    await any_store.pause(sid, NOW, OPERATOR)
    # While paused the price rises past the level; nobody acts on it.
    assert await any_store.observe([seen("0.70", 60)], NOW) == []
    await any_store.resume(sid, NOW + timedelta(hours=1), NOW + timedelta(minutes=2), OPERATOR)
    [t] = await any_store.triggers(sid) or []
    assert (t["state"], t["last_price"], t["crossings"]) == ("waiting", "0.50", 0)
    # The first price after the resume is already past the level: a baseline, no run.
    assert await any_store.observe([seen("0.70", 180)], NOW) == []
    assert await any_store.claim_events(NOW + timedelta(minutes=3), 10, 60) == []
    # Only a move that starts after the resume runs it: below the band, then across.
    crossed = await any_store.observe([seen("0.54", 240), seen("0.61", 300)], NOW)
    assert [e.crossing for e in crossed] == [1]


async def test_a_strategy_that_stays_armed_keeps_its_trigger_state(
    any_store: FullStore, db: Any
) -> None:
    # Only becoming armed re-baselines: a run's own updates (claims, records, an
    # error streak) leave an armed trigger armed.
    sid = await armed_strategy(any_store, db)
    await any_store.observe([seen("0.50", 0)], NOW)
    db.execute("update workflow_sessions set status = 'error' where id = %s", (sid,))
    db.execute("update workflow_sessions set status = 'running' where id = %s", (sid,))
    assert [e.crossing for e in await any_store.observe([seen("0.61", 60)], NOW)] == [1]
