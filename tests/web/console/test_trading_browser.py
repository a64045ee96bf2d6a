"""The portfolio page in a real browser (the same headless Chromium and server as
test_browser.py): an operator reads a halted strategy's portfolio, saves a limit and
turns its kill switch on, each after the confirmation; screenshots at a laptop's
(1366x768) and a phone's (390x844) width."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb

from tests.factories import add_strategy, rows
from tests.store.test_trading_book_sql import place
from tests.web.console import test_browser
from tests.web.console.test_browser import PHONE, shot, sign_in

# The same Chromium and server fixtures, and the same marks (slow; skipped without
# a Chromium).
browser = test_browser.browser
server = test_browser.server
pytestmark = test_browser.pytestmark

LAPTOP = {"width": 1366, "height": 768}


def halted_strategy(db: Any) -> Any:
    sid = add_strategy(db, next_execution_at=None, name="Momentum")
    now = datetime.now(UTC)
    db.execute(
        "select cascadian_set_trading_limits_v2(%s, %s, %s)",
        (sid, Jsonb({"daily_loss_usd": "10", "max_order_usd": "500"}), now),
    )
    place(db, sid, "buy", [("0.5", "300")], now=now, node="buy", market_question="Rain in Paris?")
    place(db, sid, "buy", [("0.5", "2000")], now=now, node="too-big")
    place(db, sid, "sell", [("0.4", "100")], now=now, node="sell")  # -10: halts
    return sid


def test_an_operator_reads_the_portfolio_saves_a_limit_and_turns_the_switch_on(
    browser: Any, server: str, db: Any
) -> None:
    sid = halted_strategy(db)
    context = browser.new_context(base_url=server, viewport=LAPTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, f"/console/strategies/{sid}")
        page.click("text=Paper portfolio and limits")
        page.wait_for_url(f"**/console/strategies/{sid}/portfolio")
        assert "until an operator lifts the halt" in page.locator("#halt-banner").inner_text()
        assert page.locator("#day-pnl").inner_text() == "-$10.00"
        assert page.locator("#exposure").inner_text() == "$100.00"
        shot(page, "portfolio")

        page.fill("#limit-max_position_usd", "150")
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("button:has-text('Save limits')")
        page.wait_for_url("**?did=limits")
        assert "Limits saved" in page.locator(".banner.ok").inner_text()
        [limits] = rows(db, "select max_position_usd, max_order_usd from cascadian_trading_limits")
        assert (limits["max_position_usd"], limits["max_order_usd"]) == (Decimal(150), Decimal(500))

        page.fill("form.switch input[name=set_by]", "ana")
        page.fill("form.switch input[name=reason]", "odd fills")
        page.once("dialog", lambda dialog: dialog.dismiss())  # asked, and declined
        page.click("form.switch button:has-text('Turn on')")
        assert rows(db, "select * from cascadian_kill_switches") == []
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("form.switch button:has-text('Turn on')")
        page.wait_for_url("**?did=switch-on")
        assert "odd fills" in page.locator("#switch-banner").inner_text()
        [switch] = rows(db, "select set_by, reason from cascadian_kill_switches")
        assert (switch["set_by"], switch["reason"]) == ("ana", "odd fills")
        shot(page, "portfolio-switched")
    finally:
        context.close()


def test_the_portfolio_and_the_global_switch_fit_a_phone(
    browser: Any, server: str, db: Any
) -> None:
    sid = halted_strategy(db)
    context = browser.new_context(base_url=server, viewport=PHONE, is_mobile=True)
    phone = context.new_page()
    try:
        sign_in(phone)
        for name, path in (
            ("phone-portfolio", f"/console/strategies/{sid}/portfolio"),
            ("phone-paper-switch", "/console/paper"),
        ):
            phone.goto(path)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width}px wide"
            shot(phone, name)
    finally:
        context.close()
