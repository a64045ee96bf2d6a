"""The decisions page in a real browser (the same headless Chromium and server as
test_browser.py): an operator finds a pending decision, declines the confirmation
(nothing changes), then rejects it with a reason; screenshots at a laptop's and a
phone's width."""

from __future__ import annotations

from typing import Any

from tests.cli.test_decisions import pending
from tests.factories import rows
from tests.web.console import test_browser
from tests.web.console.test_browser import PHONE, shot, sign_in

browser = test_browser.browser
server = test_browser.server
pytestmark = test_browser.pytestmark

LAPTOP = {"width": 1366, "height": 768}


def test_an_operator_rejects_a_pending_decision_after_the_confirmation(
    browser: Any, server: str, db: Any
) -> None:
    did = pending(db)
    for viewport, name in ((LAPTOP, "decisions"), (PHONE, "decisions-phone")):
        context = browser.new_context(base_url=server, viewport=viewport)
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            sign_in(page, "/console/decisions")
            row = page.locator(f"tr[data-decision='{did}']")
            assert "Will the Fed cut interest rates" in row.inner_text()
            assert "$20.00" in row.inner_text()
            shot(page, name)
        finally:
            context.close()
    context = browser.new_context(base_url=server, viewport=LAPTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, "/console/decisions")
        page.fill(f"tr[data-decision='{did}'] input[name=reason]", "spread too wide")
        page.once("dialog", lambda dialog: dialog.dismiss())  # asked, and declined
        page.click(f"tr[data-decision='{did}'] button:has-text('Reject')")
        assert rows(db, "select status from orchestrator_decisions") == [{"status": "pending"}]
        page.once("dialog", lambda dialog: dialog.accept())
        page.click(f"tr[data-decision='{did}'] button:has-text('Reject')")
        page.wait_for_url("**did=rejected")
        assert "Rejected: nothing will be placed." in page.locator(".banner.ok").inner_text()
        stored = rows(db, "select status, override_reason from orchestrator_decisions")
        assert stored == [{"status": "rejected", "override_reason": "spread too wide"}]
        assert rows(db, "select order_id from cascadian_trading_orders") == []
    finally:
        context.close()
