"""A user's new version keeps its strategy's book (migrations/066), on both schemas and
both transports: the daily-loss halt, the operator's kill switch and the limits are
carried to the new id, so its owner's edit and resume trade past none of them. Before
066 (cascadian_new_version_v4) the new id traded a fresh, unlimited book."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cascadian.ports import FullStore
from tests.api_client import bearer
from tests.factories import USER, add_strategy, node, rows, strategy
from tests.store.test_trading_book_sql import limits, place
from tests.web.test_halt_routes import halt_of, halted
from tests.web.test_strategies import graph
from tests.web.test_users import as_user, open_client

pytestmark = pytest.mark.both_schemas

EDIT = {"graph": graph(node("start", "start"), node("end", "end"))}


async def new_version(api: Any, sid: uuid.UUID) -> uuid.UUID:
    edit = await api.patch(f"/api/strategies/{sid}", json=EDIT, headers=as_user(USER))
    assert edit.status_code == 200, edit.text
    new = uuid.UUID(edit.json()["data"]["id"])
    assert new != sid
    return new


def switch_of(db: Any, sid: uuid.UUID) -> list[dict[str, Any]]:
    return rows(
        db,
        "select set_by, reason, set_by_kind from cascadian_kill_switches where scope = %s",
        str(sid),
    )


async def test_the_halt_and_the_operators_switch_hold_on_a_users_new_version(
    any_store: FullStore, db: Any
) -> None:
    sid = halted(db)
    async for api in open_client(any_store):
        on = await api.put(
            f"/api/strategies/{sid}/kill-switch",
            json={"set_by": "ops", "reason": "runaway"},
            headers=bearer(),
        )
        assert on.status_code == 200, on.text
        new = await new_version(api, sid)
        resumed = await api.post(f"/api/strategies/{new}/resume", headers=as_user(USER))
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["trading_halt"]["reason"] == "daily_loss_usd"
        # The owner cannot lift the operator's switch on the new version either.
        await api.delete(f"/api/strategies/{new}/kill-switch", headers=as_user(USER))
        assert switch_of(db, new) == [
            {"set_by": "ops", "reason": "runaway", "set_by_kind": "operator"}
        ]
        assert strategy(db, new)["auto_run"] is True
        switched = place(db, new, "buy", [("0.5", "1000")], node="after")
        assert switched["result"] == "refused" and switched["refusal"] == "kill_switch"
        off = await api.delete(f"/api/strategies/{new}/kill-switch", headers=bearer())
        assert off.status_code == 200, off.text
        assert switch_of(db, new) == []
        assert halt_of(db, new) == "daily_loss_usd"
        halted_buy = place(db, new, "buy", [("0.5", "1000")], node="after")
        assert halted_buy["result"] == "refused" and halted_buy["refusal"] == "halted"
        lifted = await api.delete(f"/api/strategies/{new}/halt", headers=bearer())
        assert lifted.status_code == 200 and lifted.json()["lifted"] is True, lifted.text
    # The old version's book stays with it, halted and switched off.
    assert halt_of(db, sid) == "daily_loss_usd" and len(switch_of(db, sid)) == 1
    # Lifted by the operator, the new version trades its own book (limits carried).
    bought = place(db, new, "buy", [("0.5", "10")], node="lifted")
    assert bought["result"] == "filled", bought
    assert bought["available_cash"] == "9995.0"


async def test_the_limits_hold_on_a_users_new_version(any_store: FullStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, user_id=USER)
    limits(db, sid, max_order_usd=10, initial_bankroll=500, daily_loss_usd=20)
    async for api in open_client(any_store):
        new = await new_version(api, sid)
        read = await api.get(f"/api/strategies/{new}/limits", headers=as_user(USER))
        assert read.status_code == 200, read.text
        carried = read.json()["data"]
        assert carried["max_order_usd"] == "10" and carried["initial_bankroll"] == "500"
        assert carried["daily_loss_usd"] == "20"
    refused = place(db, new, "buy", [("0.5", "1000")], node="big")
    assert refused["result"] == "refused" and refused["refusal"] == "max_order_usd", refused
    assert halt_of_none(db, new)


def halt_of_none(db: Any, sid: uuid.UUID) -> bool:
    """Not halted: an unhalted strategy's new version carries no halt."""
    query = "select halted_at from cascadian_paper_portfolios where workflow_id = %s"
    return all(row["halted_at"] is None for row in rows(db, query, sid))
