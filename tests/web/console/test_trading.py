"""The console's portfolio page and its forms: a strategy's limits, its kill switch and
the global one, each checked by the trading service (a refusal is shown with 422 and
changes nothing), each form with the session's CSRF token."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb

from cascadian.store.sql_store import SqlStore
from tests.factories import add_strategy, rows
from tests.store.test_trading_book_sql import place
from tests.web.console.helpers import console_client, sign_in

LIMITS = {
    "initial_bankroll": "",
    "max_order_usd": "",
    "max_position_usd": "",
    "max_open_positions": "",
    "daily_loss_usd": "",
    "min_cash_reserve_usd": "",
}


async def test_the_portfolio_page_shows_cash_exposure_the_day_limits_a_halt_and_orders(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None, name="Momentum")
    now = datetime.now(UTC)
    db.execute(
        "select cascadian_set_trading_limits_v2(%s, %s, %s)",
        (sid, Jsonb({"daily_loss_usd": "10", "max_order_usd": "500"}), now),
    )
    place(db, sid, "buy", [("0.5", "300")], now=now, node="buy")
    place(db, sid, "buy", [("0.5", "2000")], now=now, node="too-big")  # refused
    place(db, sid, "sell", [("0.4", "100")], now=now, node="sell")  # -10: halts
    async with console_client(store) as c:
        await sign_in(c)
        reply = await c.get(f"/console/strategies/{sid}/portfolio")
        refused = await c.get(f"/console/strategies/{sid}/portfolio?result=refused")
    assert reply.status_code == 200
    html = reply.text
    assert "$100.00" in html  # exposure at cost: 200 shares at 0.5
    assert "-$10.00" in html  # the day's realised P&L
    assert 'id="halt-banner"' in html and "until an operator lifts the halt" in html
    assert 'value="500"' in html and 'value="10"' in html  # the limits' fields
    assert html.count("<tr") == 1 + 1 + 1 + 3  # positions head + 1, orders head + 3
    assert "max_order_usd" in refused.text and "the limit is $500" in refused.text


async def test_saving_limits_sets_every_field_and_a_blank_one_removes_it(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    async with console_client(store) as c:
        csrf = await sign_in(c)
        url = f"/console/trading/{sid}/limits"
        first = await c.post(url, data={**LIMITS, "csrf": csrf, "max_order_usd": "25"})
        page = await c.get(first.headers["location"])
        second = await c.post(url, data={**LIMITS, "csrf": csrf, "daily_loss_usd": "40"})
    assert first.status_code == 303 and "Limits saved" in page.text
    assert second.status_code == 303
    [limits] = rows(db, "select * from cascadian_trading_limits")
    assert (limits["max_order_usd"], limits["daily_loss_usd"]) == (None, Decimal(40))
    assert limits["initial_bankroll"] == Decimal(10000)


async def test_a_bad_limit_is_shown_with_422_and_changes_nothing(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None)
    async with console_client(store) as c:
        csrf = await sign_in(c)
        reply = await c.post(
            f"/console/trading/{sid}/limits",
            data={**LIMITS, "csrf": csrf, "max_order_usd": "-3", "daily_loss_usd": "9"},
        )
    assert reply.status_code == 422
    assert "Refused: max_order_usd is more than 0." in reply.text
    assert 'value="-3"' in reply.text  # what was typed stays in the form
    assert rows(db, "select * from cascadian_trading_limits") == []


async def test_the_switches_go_on_with_who_and_why_and_off_and_need_both(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None, name="Runaway")
    async with console_client(store) as c:
        csrf = await sign_in(c)
        own = f"/console/trading/{sid}/kill-switch"
        blank = await c.post(own, data={"csrf": csrf, "on": "yes", "set_by": "ana", "reason": ""})
        on = await c.post(own, data={"csrf": csrf, "on": "yes", "set_by": "ana", "reason": "loop"})
        shown = await c.get(on.headers["location"])
        global_on = await c.post(
            "/console/trading/kill-switch",
            data={"csrf": csrf, "on": "yes", "set_by": "bo", "reason": "incident"},
        )
        paper = await c.get(global_on.headers["location"])
        refused = place(db, sid, "buy", [("0.5", "1")], node="a")
        await c.post(own, data={"csrf": csrf, "on": "no"})
        await c.post("/console/trading/kill-switch", data={"csrf": csrf, "on": "no"})
        forged = await c.post(
            own, data={"csrf": "0" * 32, "on": "yes", "set_by": "x", "reason": "y"}
        )
    assert blank.status_code == 422 and "a kill switch needs reason" in blank.text
    assert on.status_code == 303 and "Kill switch on" in shown.text and "loop" in shown.text
    assert global_on.headers["location"].endswith("/console/paper?did=global-on")
    assert "Set by bo" in paper.text and "incident" in paper.text
    assert refused["refusal"] == "kill_switch"
    assert forged.status_code == 403
    assert rows(db, "select * from cascadian_kill_switches") == []
    # Each flip is in the audit log as the console's operator; the refused ones are not.
    logged = rows(db, "select action, workflow_id, source from cascadian_audit_log order by id")
    assert [(e["action"], e["workflow_id"]) for e in logged] == [
        ("kill_switch_on", sid),
        ("kill_switch_on", None),
        ("kill_switch_off", sid),
        ("kill_switch_off", None),
    ]
    assert {e["source"] for e in logged} == {"console"}
