"""Limits and kill switches changed as an actor (migrations/040): the audit entry is
written in the change's transaction, with the settings or the switch before and
after, and never for a change refused. Over both transports, on both schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from cascadian.data import Actor
from cascadian.errors import StoreRejected
from cascadian.ports import FullStore
from tests.factories import OPERATOR, OTHER_USER, USER, add_strategy, rows

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OWNER = Actor.user(USER, "api", "203.0.113.7")
STRANGER = Actor.user(OTHER_USER, "api", "198.51.100.9")


def entries(db: Any) -> list[dict[str, Any]]:
    return rows(
        db,
        "select action, workflow_id, actor_kind, actor_user_id, source, address, before, after"
        " from cascadian_audit_log order by id",
    )


async def test_setting_limits_writes_what_changed_before_and_after_as_the_actor(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    await any_store.set_trading_limits(sid, {"max_order_usd": Decimal("50")}, NOW, OPERATOR)
    found = await any_store.set_trading_limits(
        sid, {"max_order_usd": Decimal("25.5"), "daily_loss_usd": Decimal("100")}, NOW, OWNER
    )
    assert found is not None and found.max_order_usd == Decimal("25.5")
    first, second = entries(db)
    assert first["action"] == "set_limits" and first["actor_kind"] == "operator"
    assert first["after"] == {"max_order_usd": "50"}
    assert second["workflow_id"] == sid and second["actor_user_id"] == USER
    assert (second["source"], second["address"]) == ("api", "203.0.113.7")
    assert second["before"] == {"max_order_usd": "50", "daily_loss_usd": None}
    assert second["after"] == {"max_order_usd": "25.5", "daily_loss_usd": "100"}


async def test_limits_refused_write_no_entry_and_change_nothing(
    any_store: FullStore, db: Any
) -> None:
    mine = add_strategy(db, next_execution_at=NOW)
    theirs = add_strategy(db, next_execution_at=NOW, user_id=OTHER_USER)
    # Another user's strategy is not found, exactly as a missing one.
    assert await any_store.set_trading_limits(theirs, {"max_order_usd": 5}, NOW, OWNER) is None
    with pytest.raises(StoreRejected, match="max_order_usd"):
        await any_store.set_trading_limits(mine, {"max_order_usd": Decimal("-1")}, NOW, OWNER)
    assert entries(db) == []
    assert rows(db, "select workflow_id from cascadian_trading_limits") == []


async def test_a_strategy_switch_on_and_off_is_written_with_who_and_why(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    assert await any_store.set_kill_switch(sid, True, "ana", "incident 7", NOW, OWNER)
    assert await any_store.set_kill_switch(sid, False, None, None, NOW, OPERATOR)
    # Already off: not an error, and nothing changed to write down.
    assert await any_store.set_kill_switch(sid, False, None, None, NOW, OPERATOR)
    on, off = entries(db)
    assert (on["action"], on["workflow_id"], on["actor_user_id"]) == ("kill_switch_on", sid, USER)
    assert on["before"] == {"on": False, "set_by": None, "reason": None}
    assert on["after"] == {"on": True, "set_by": "ana", "reason": "incident 7"}
    assert (off["action"], off["actor_kind"]) == ("kill_switch_off", "operator")
    assert off["after"] == {"on": False, "set_by": None, "reason": None}


async def test_the_global_switch_is_an_operators_and_a_refusal_writes_nothing(
    any_store: FullStore, db: Any
) -> None:
    theirs = add_strategy(db, next_execution_at=NOW, user_id=OTHER_USER)
    with pytest.raises(StoreRejected, match="only an operator"):
        await any_store.set_kill_switch(None, True, "ana", "why", NOW, OWNER)
    assert not await any_store.set_kill_switch(theirs, True, "ana", "why", NOW, OWNER)
    with pytest.raises(StoreRejected, match="who sets it and why"):
        await any_store.set_kill_switch(None, True, "", "why", NOW, OPERATOR)
    assert entries(db) == []
    assert rows(db, "select scope from cascadian_kill_switches") == []
    assert await any_store.set_kill_switch(None, True, "ops", "incident 8", NOW, OPERATOR)
    (entry,) = entries(db)
    assert (entry["action"], entry["workflow_id"]) == ("kill_switch_on", None)
    assert await any_store.set_kill_switch(theirs, True, "bo", "mine", NOW, STRANGER)
    assert [e["actor_user_id"] for e in entries(db)] == [None, OTHER_USER]


async def test_a_switch_from_before_057_counts_as_an_operators(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    db.execute(
        "select cascadian_set_kill_switch_v1(%s, true, 'ops', 'old incident', %s)", (sid, NOW)
    )
    assert await any_store.set_kill_switch(sid, False, None, None, NOW, OWNER) == "operator_switch"
    assert rows(db, "select set_by from cascadian_kill_switches") == [{"set_by": "ops"}]
    assert entries(db) == []
    assert await any_store.set_kill_switch(sid, False, None, None, NOW, OPERATOR) == "done"
    assert rows(db, "select set_by from cascadian_kill_switches") == []
