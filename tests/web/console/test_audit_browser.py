"""The audit log in a real browser (headless Chromium, as test_browser.py drives it):
an operator pauses a strategy from the console, sees the change at the top of the
strategy's page and on the audit page, filters it, and both pages fit a laptop and
a phone. Screenshots go where test_browser.py puts them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb

from cascadian.data import Actor
from tests.factories import OTHER_USER, add_strategy
from tests.web.console.test_browser import (  # noqa: F401  (fixtures)
    PHONE,
    browser,
    page,
    server,
    shot,
    sign_in,
)
from tests.web.console.test_browser import pytestmark as browser_marks

pytestmark = browser_marks
LAPTOP = {"width": 1366, "height": 768}


def changes(db: Any) -> tuple[Any, Any]:
    """A strategy the operator will pause, and a history from the API and the CLI."""
    sid = add_strategy(db, next_execution_at=datetime.now(UTC), name="Momentum on elections")
    other = add_strategy(db, next_execution_at=None, name="Arb", status="draft", auto_run=False)
    user = Actor.user(OTHER_USER, "api", "203.0.113.7")
    db.execute(
        'select cascadian_update_strategy_v2(%s, \'{"name": "Arbitrage, long-dated '
        "markets only\"}', now(), %s)",
        (other, _actor(Actor.operator("api", "198.51.100.23"))),
    )
    db.execute(
        "select cascadian_start_v4(%s, now(), 15, null, 'UTC', now(), %s)",
        (other, _actor(Actor.operator("cli"))),
    )
    db.execute("update workflow_sessions set user_id = %s where id = %s", (OTHER_USER, other))
    db.execute("select cascadian_halt_v4(%s, 'stopped', now(), %s)", (other, _actor(user)))
    return sid, other


def _actor(a: Actor) -> Any:
    return Jsonb(
        {
            "kind": a.kind,
            "user_id": a.user_id and str(a.user_id),
            "source": a.source,
            "address": a.address,
        }
    )


def test_a_console_change_shows_on_the_strategy_and_the_audit_page(
    browser: Any,  # noqa: F811
    server: str,  # noqa: F811
    db: Any,
) -> None:
    sid, _ = changes(db)
    context = browser.new_context(base_url=server, viewport=LAPTOP)
    tab = context.new_page()
    try:
        sign_in(tab, f"/console/strategies/{sid}")
        assert "No changes recorded yet" in tab.locator("body").inner_text()
        tab.once("dialog", lambda dialog: dialog.accept())
        tab.click("button:has-text('Pause')")
        tab.wait_for_url("**?did=pause")
        first = tab.locator("table.audit tbody tr").first
        assert "pause" in first.inner_text() and "console" in first.inner_text()
        assert "127.0.0.1" in first.inner_text()
        assert "running" in first.inner_text() and "paused" in first.inner_text()
        shot(tab, "audit-strategy-laptop")

        tab.click("header nav >> text=Audit")
        tab.wait_for_url("**/console/audit")
        rows = tab.locator("table.audit tbody tr")
        assert rows.count() == 4
        assert [rows.nth(i).locator("td").nth(3).inner_text() for i in range(4)] == [
            "pause",
            "stop",
            "start",
            "update",
        ]
        assert "user" in rows.nth(1).inner_text() and "203.0.113.7" in rows.nth(1).inner_text()
        shot(tab, "audit-laptop")
        tab.select_option("select[name=source]", "cli")
        tab.click("button:has-text('Apply')")
        tab.wait_for_url("**source=cli**")
        assert rows.count() == 1 and "start" in rows.first.inner_text()
        shot(tab, "audit-filtered-laptop")
    finally:
        context.close()


def test_the_audit_pages_fit_a_phone(
    browser: Any,  # noqa: F811
    server: str,  # noqa: F811
    db: Any,
) -> None:
    _, other = changes(db)
    context = browser.new_context(base_url=server, viewport=PHONE, is_mobile=True)
    phone = context.new_page()
    try:
        sign_in(phone)
        for name, path in (
            ("audit-phone", "/console/audit"),
            ("audit-strategy-phone", f"/console/strategies/{other}"),
        ):
            phone.goto(path)
            assert phone.locator("table.audit tbody tr").count() >= 3
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width}px wide"
            shot(phone, name)
    finally:
        context.close()
