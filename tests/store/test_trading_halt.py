"""The daily loss limit as a circuit breaker, and order keys (migrations/024), on both
schemas: a breach halts the strategy's trading and auto-pauses it with a
high-priority notification in the order's own transaction; the day starts at
midnight in the strategy's time zone; scheduling it again (resume, start, the app's
builder) leaves the halt, which only an operator lifts (migrations/064); an order with
a key is recorded once per (strategy, key)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from cascadian.store.control import HALT, LIFT_TRADING_HALT, RESUME, START
from tests.factories import USER, add_strategy, rows, strategy
from tests.store.test_trading_book_sql import NOW, limits, place

LOSS_20 = [("0.3", "100")]  # sold from 200 shares bought at 0.5: realises -20


def losing_sell(db: psycopg.Connection[Any], sid: uuid.UUID, node: str, **kw: Any) -> Any:
    return place(db, sid, "sell", LOSS_20, node=node, **kw)


def notes(db: psycopg.Connection[Any], sid: uuid.UUID) -> list[dict[str, Any]]:
    return rows(
        db,
        "select type, priority, title, message, link from notifications "
        "where workflow_id = %s order by id",
        sid,
    )


@pytest.mark.both_schemas
def test_a_sell_that_takes_the_days_loss_to_the_limit_stands_and_halts_and_auto_pauses(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="Momentum")
    limits(db, sid, daily_loss_usd=30)
    place(db, sid, "buy", [("0.5", "400")], node="buy")
    first = losing_sell(db, sid, "sell-1")
    assert (first["result"], "halted" in first) == ("filled", False)
    assert strategy(db, sid)["status"] == "running"

    second = losing_sell(db, sid, "sell-2")  # the day's loss: 40, over 30

    assert second["result"] == "filled"
    assert second["halted"] == {
        "reason": "daily_loss_usd",
        "detail": "today's loss is $40.00 (realised $40.00, unrealised since the day's "
        "start $0.00); the limit is $30",
        "strategy_name": "Momentum",
        "auto_paused": True,
    }
    after = strategy(db, sid)
    assert (after["status"], after["auto_run"]) == ("error", False)
    assert after["last_error"] == f"trading halted: {second['halted']['detail']}"
    [note] = notes(db, sid)
    assert (note["type"], note["priority"], note["title"], note["link"]) == (
        "strategy_error",
        "high",
        "Strategy paused: Momentum",
        f"/strategies/{sid}",
    )
    assert "daily loss limit" in note["message"]
    assert "refused until an operator resumes it" in note["message"]
    for node, side in [("buy-2", "buy"), ("sell-3", "sell")]:
        refused = place(db, sid, side, [("0.5", "1")], node=node)
        assert (refused["result"], refused["refusal"]) == ("refused", "halted")
        assert "until an operator resumes" in refused["detail"]
    assert len(notes(db, sid)) == 1


@pytest.mark.both_schemas
def test_a_buy_once_the_days_loss_is_at_the_limit_is_refused_and_halts(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    place(db, sid, "buy", [("0.5", "200")], node="buy")
    losing_sell(db, sid, "sell")  # -20, no limit yet
    limits(db, sid, daily_loss_usd=20)

    refused = place(db, sid, "buy", [("0.5", "10")], node="buy-2")

    assert (refused["result"], refused["refusal"]) == ("refused", "daily_loss_usd")
    assert refused["halted"]["auto_paused"] is True
    assert strategy(db, sid)["status"] == "error"
    assert [n["priority"] for n in notes(db, sid)] == ["high"]


@pytest.mark.both_schemas
def test_a_replay_of_the_halting_order_answers_it_again_and_halts_nothing_more(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    limits(db, sid, daily_loss_usd=20)
    place(db, sid, "buy", [("0.5", "200")], node="buy")
    first = losing_sell(db, sid, "sell")
    again = losing_sell(db, sid, "sell")
    assert (again["replayed"], again["order_id"], again["halted"]) == (
        True,
        first["order_id"],
        first["halted"],
    )
    assert len(notes(db, sid)) == 1


def actor(kind: str) -> Jsonb:
    """A change function's `p_actor`: the operator, or the strategy's owner."""
    user = None if kind == "operator" else str(USER)
    return Jsonb({"kind": kind, "user_id": user, "source": "api", "address": None})


def lift(db: psycopg.Connection[Any], sid: uuid.UUID, kind: str) -> Any:
    row = db.execute(f"select {LIFT_TRADING_HALT}(%s, %s, %s)", (sid, NOW, actor(kind))).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.both_schemas
@pytest.mark.parametrize("control", ["resume", "start", "builder"])
def test_scheduling_the_strategy_again_leaves_the_halt_and_only_an_operator_lifts_it(
    schema: str, db: psycopg.Connection[Any], control: str
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    limits(db, sid, daily_loss_usd=20, max_order_usd=1000)
    place(db, sid, "buy", [("0.5", "400")], node="buy")
    losing_sell(db, sid, "sell")
    # Other changes leave it halted: a limit changed, the strategy paused.
    limits(db, sid, daily_loss_usd=500)
    db.execute(f"select {HALT}(%s, 'paused', %s, %s)", (sid, NOW, actor("user")))
    assert place(db, sid, "sell", [("0.5", "1")], node="x")["refusal"] == "halted"

    # Its owner schedules it again: through cascadian's resume or start, or as the
    # app's builder does, turning auto_run on in the row.
    later = NOW + timedelta(minutes=5)
    if control == "resume":
        answer = db.execute(
            f"select {RESUME}(%s, %s, %s, %s)", (sid, later, later, actor("user"))
        ).fetchone()
    elif control == "start":
        answer = db.execute(
            f"select {START}(%s, %s, %s, %s, %s, %s, %s)",
            (sid, later, 5, None, "UTC", later, actor("user")),
        ).fetchone()
    else:
        db.execute("update workflow_sessions set auto_run = true where id = %s", (sid,))
        answer = ("ok",)
    assert answer is not None and answer[0] == "ok"
    refused = place(db, sid, "sell", [("0.5", "10")], node="y")
    assert (refused["result"], refused["refusal"]) == ("refused", "halted")
    assert "until an operator resumes" in refused["detail"]

    assert lift(db, sid, "user") == "forbidden"
    assert rows(db, "select halted_at is not null as on from cascadian_paper_portfolios") == [
        {"on": True}
    ]
    assert lift(db, sid, "operator") == "ok"
    assert lift(db, sid, "operator") == "not_halted"
    assert lift(db, uuid.uuid4(), "operator") == "not_found"
    assert place(db, sid, "sell", [("0.5", "10")], node="z")["result"] == "filled"
    [portfolio] = rows(db, "select halted_at, halt_reason from cascadian_paper_portfolios")
    assert portfolio == {"halted_at": None, "halt_reason": None}
    [audit] = rows(
        db, "select actor_kind, before, after from cascadian_audit_log where action = 'lift_halt'"
    )
    assert audit["actor_kind"] == "operator"
    assert (
        audit["before"]["halt_reason"] == "daily_loss_usd" and audit["after"]["halted_at"] is None
    )


# A loss of 20 and then one of 10 (limit 25), an hour and a half apart across a
# midnight: in New York (UTC-4 in June) or in UTC.
BEFORE_UTC_MIDNIGHT = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)  # 19:30 in New York
AFTER_UTC_MIDNIGHT = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)  # 21:00 in New York
BEFORE_NY_MIDNIGHT = datetime(2026, 6, 2, 3, 30, tzinfo=UTC)  # 23:30 in New York
AFTER_NY_MIDNIGHT = datetime(2026, 6, 2, 5, 0, tzinfo=UTC)  # 01:00 in New York


@pytest.mark.both_schemas
@pytest.mark.parametrize(
    ("zone", "first", "second", "halts"),
    [
        ("America/New_York", BEFORE_UTC_MIDNIGHT, AFTER_UTC_MIDNIGHT, True),
        ("UTC", BEFORE_UTC_MIDNIGHT, AFTER_UTC_MIDNIGHT, False),
        ("America/New_York", BEFORE_NY_MIDNIGHT, AFTER_NY_MIDNIGHT, False),
        ("UTC", BEFORE_NY_MIDNIGHT, AFTER_NY_MIDNIGHT, True),
        # A zone PostgreSQL does not know counts days in UTC rather than fail.
        ("Mars/Olympus_Mons", BEFORE_NY_MIDNIGHT, AFTER_NY_MIDNIGHT, True),
    ],
)
def test_the_day_of_the_daily_loss_starts_at_midnight_in_the_strategys_time_zone(
    schema: str,
    db: psycopg.Connection[Any],
    zone: str,
    first: datetime,
    second: datetime,
    halts: bool,
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, timezone=zone)
    limits(db, sid, daily_loss_usd=25)
    place(db, sid, "buy", [("0.5", "400")], node="buy", now=NOW)
    assert "halted" not in losing_sell(db, sid, "sell-1", now=first)

    answer = place(db, sid, "sell", [("0.25", "40")], node="sell-2", now=second)  # -10

    assert answer["result"] == "filled"
    assert ("halted" in answer, strategy(db, sid)["status"] == "error") == (halts, halts)


@pytest.mark.both_schemas
def test_a_node_may_place_several_keyed_orders_in_a_run_each_exactly_once(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    one = place(db, sid, "buy", [("0.5", "10")], key="trade:0xaa")
    two = place(db, sid, "buy", [("0.5", "20")], key="trade:0xbb")
    unkeyed = place(db, sid, "buy", [("0.5", "30")])
    assert [a["replayed"] for a in (one, two, unkeyed)] == [False, False, False]

    # A re-run of the slot, with the same keys; a key is the strategy's, not the slot's.
    again = place(db, sid, "buy", [("0.5", "99")], key="trade:0xaa", slot="slot-2")
    unkeyed_again = place(db, sid, "buy", [("0.5", "99")])

    assert (again["replayed"], again["order_id"], again["shares"]) == (True, one["order_id"], "10")
    assert (unkeyed_again["replayed"], unkeyed_again["order_id"]) == (True, unkeyed["order_id"])
    recorded = rows(db, "select order_key, shares from cascadian_trading_orders order by id")
    assert [(r["order_key"], str(r["shares"])) for r in recorded] == [
        ("trade:0xaa", "10"),
        ("trade:0xbb", "20"),
        (None, "30"),
    ]
    other = add_strategy(db, next_execution_at=None)
    assert place(db, other, "buy", [("0.5", "10")], key="trade:0xaa")["replayed"] is False


def test_an_empty_order_key_is_an_error_and_records_nothing(
    db: psycopg.Connection[Any],
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="order key"):
        place(db, sid, "buy", [("0.5", "10")], key="  ")
    assert rows(db, "select * from cascadian_trading_orders") == []
