"""One daily loss rule everywhere (migrations/041), on both schemas and through both
transports: the day's loss is realised + the change in unrealised since the day's
start (cascadian_day_loss_v1), for the order (cascadian_place_paper_order_v4) and
the marking step (cascadian_mark_portfolios_v3) alike. A realised loss that
unrealised gains offset halts nothing; marks alone taking the loss to the limit
halt and auto-pause the strategy at the marking step, with the owner's
notification, once."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from cascadian.data import PositionMark
from cascadian.ports import FullStore
from tests.factories import add_strategy, rows, strategy
from tests.store.test_trading_book_sql import NOW, limits, place

pytestmark = pytest.mark.both_schemas


async def mark(store: FullStore, price: str) -> Any:
    """Mark m1's Yes at its best bid as the marking step does."""
    return await store.mark_portfolios(
        [PositionMark("m1", "Yes", Decimal(price), token_id="tok-m1-yes")],
        NOW,
        min_gap=timedelta(minutes=5),
        keep_after=None,
        prune_limit=0,
    )


def held(db: psycopg.Connection[Any], sid: uuid.UUID) -> None:
    """200 shares of m1 Yes bought at 0.5 ($100), with a daily loss limit of $20."""
    place(db, sid, "buy", [("0.5", "200")], node="buy")
    limits(db, sid, daily_loss_usd=20)


def halt_of(db: psycopg.Connection[Any], sid: uuid.UUID) -> Any:
    [row] = rows(
        db, "select halt_reason from cascadian_paper_portfolios where workflow_id = %s", sid
    )
    return row["halt_reason"]


def notes(db: psycopg.Connection[Any], sid: uuid.UUID) -> list[dict[str, Any]]:
    return rows(
        db,
        "select type, priority, message from notifications where workflow_id = %s order by id",
        sid,
    )


async def test_a_realised_loss_offset_by_unrealised_gains_neither_halts_nor_refuses(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    held(db, sid)
    await mark(any_store, "0.7")  # +$40 unrealised

    # Realises -$20 (the limit); the 100 shares left are +$20 at the mark: the day's
    # loss is $0.
    sold = place(db, sid, "sell", [("0.3", "100")], node="sell")
    bought = place(db, sid, "buy", [("0.7", "1")], node="buy-2")

    assert (sold["result"], "halted" in sold) == ("filled", False)
    assert (bought["result"], "halted" in bought) == ("filled", False)
    assert strategy(db, sid)["status"] == "running"
    assert halt_of(db, sid) is None
    assert notes(db, sid) == []


async def test_a_sell_that_with_the_marks_takes_the_days_loss_to_the_limit_halts(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="Momentum")
    held(db, sid)
    await mark(any_store, "0.41")  # -$18 unrealised, under the limit: no halt

    # Realises -$12 (under the limit alone); the 100 shares left are -$9 at the mark.
    sold = place(db, sid, "sell", [("0.38", "100")], node="sell")

    assert sold["result"] == "filled"
    assert sold["halted"]["reason"] == "daily_loss_usd" and sold["halted"]["auto_paused"]
    assert sold["halted"]["detail"] == (
        "today's loss is $21.00 (realised $12.00, unrealised since the day's start $9.00); "
        "the limit is $20"
    )
    assert strategy(db, sid)["status"] == "error"


async def test_marks_alone_reaching_the_limit_halt_the_strategy_at_the_marking_step(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="Momentum")
    held(db, sid)

    under = await mark(any_store, "0.41")  # -$18
    assert under.halts == () and strategy(db, sid)["status"] == "running"

    done = await mark(any_store, "0.4")  # -$20: the limit

    [halt] = done.halts
    assert halt.workflow_id == sid
    assert (halt.halt.reason, halt.halt.strategy_name, halt.halt.auto_paused) == (
        "daily_loss_usd",
        "Momentum",
        True,
    )
    assert halt.halt.detail == (
        "today's loss is $20.00 (realised $0.00, unrealised since the day's start $20.00); "
        "the limit is $20"
    )
    session = strategy(db, sid)
    assert (session["status"], session["auto_run"]) == ("error", False)
    assert halt_of(db, sid) == "daily_loss_usd"
    [note] = notes(db, sid)
    assert (note["type"], note["priority"]) == ("strategy_error", "high")
    assert "daily loss limit was reached" in note["message"]
    # The next buy is refused as halted.
    refused = place(db, sid, "buy", [("0.4", "1")], node="buy-2")
    assert (refused["result"], refused["refusal"]) == ("refused", "halted")


async def test_marking_again_answers_no_new_halt_and_notifies_nobody_again(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="Momentum")
    held(db, sid)
    first = await mark(any_store, "0.3")

    again = await mark(any_store, "0.3")
    lower = await mark(any_store, "0.2")

    assert len(first.halts) == 1
    assert (again.halts, lower.halts) == ((), ())
    assert len(notes(db, sid)) == 1


async def test_a_strategy_without_a_daily_loss_limit_is_never_halted_by_its_marks(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    place(db, sid, "buy", [("0.5", "200")], node="buy")

    done = await mark(any_store, "0.01")

    assert done.halts == () and strategy(db, sid)["status"] == "running"
