"""A daily-loss halt over the API (migrations/064), on both schemas and both transports:
its owner's resume schedules the strategy and says its orders stay refused
(`trading_halt`), and cannot lift the halt (403); an operator's resume lifts it, and
so does an operator's DELETE /api/strategies/{id}/halt alone."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cascadian.ports import FullStore
from tests.api_client import bearer
from tests.factories import USER, add_strategy, rows, strategy
from tests.store.test_trading_book_sql import limits, place
from tests.web.test_users import as_user, open_client

pytestmark = pytest.mark.both_schemas


def halted(db: Any) -> uuid.UUID:
    """A strategy of USER's whose loss of $20 halted and auto-paused it."""
    sid = add_strategy(db, next_execution_at=None, user_id=USER)
    limits(db, sid, daily_loss_usd=20)
    place(db, sid, "buy", [("0.5", "200")], node="buy")
    sold = place(db, sid, "sell", [("0.3", "100")], node="sell")
    assert sold["halted"]["auto_paused"] is True
    return sid


def halt_of(db: Any, sid: uuid.UUID) -> Any:
    [row] = rows(
        db, "select halt_reason from cascadian_paper_portfolios where workflow_id = %s", sid
    )
    return row["halt_reason"]


async def test_the_owners_resume_runs_it_with_its_orders_still_refused_and_says_so(
    any_store: FullStore, db: Any
) -> None:
    sid = halted(db)
    async for api in open_client(any_store):
        resumed = await api.post(f"/api/strategies/{sid}/resume", headers=as_user(USER))
        assert resumed.status_code == 200, resumed.text
        body = resumed.json()
        assert body["data"]["status"] == "running" and body["data"]["auto_run"] is True
        halt = body["trading_halt"]
        assert halt["reason"] == "daily_loss_usd" and "the limit is $20" in halt["detail"]
        assert "orders are refused until an operator lifts the halt" in halt["note"]
        lifted = await api.delete(f"/api/strategies/{sid}/halt", headers=as_user(USER))
        assert lifted.status_code == 403
        assert "lifted by an operator" in lifted.json()["message"]
    assert halt_of(db, sid) == "daily_loss_usd"
    assert strategy(db, sid)["auto_run"] is True
    refused = place(db, sid, "sell", [("0.5", "1")], node="after")
    assert refused["refusal"] == "halted"


async def test_an_operators_resume_lifts_the_halt(any_store: FullStore, db: Any) -> None:
    sid = halted(db)
    async for api in open_client(any_store):
        resumed = await api.post(f"/api/strategies/{sid}/resume", headers=bearer())
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["trading_halt"] is None
    assert halt_of(db, sid) is None
    assert place(db, sid, "sell", [("0.5", "1")], node="after")["result"] == "filled"


async def test_an_operator_lifts_the_halt_alone_once_and_a_missing_strategy_is_404(
    any_store: FullStore, db: Any
) -> None:
    sid = halted(db)
    async for api in open_client(any_store):
        first = await api.delete(f"/api/strategies/{sid}/halt", headers=bearer())
        again = await api.delete(f"/api/strategies/{sid}/halt", headers=bearer())
        missing = await api.delete(f"/api/strategies/{uuid.uuid4()}/halt", headers=bearer())
    assert (first.status_code, first.json()["lifted"]) == (200, True)
    assert (again.status_code, again.json()["lifted"]) == (200, False)
    assert missing.status_code == 404
    assert halt_of(db, sid) is None
    assert strategy(db, sid)["auto_run"] is False  # its schedule is left as it is


async def test_the_portfolios_halt_is_described_as_an_operators_to_lift(
    any_store: FullStore, db: Any
) -> None:
    async for api in open_client(any_store):
        spec = (await api.get("/openapi.json")).json()
    halt = spec["components"]["schemas"]["PortfolioModel"]["properties"]["halt"]
    assert "until an operator lifts the halt" in halt["description"]
