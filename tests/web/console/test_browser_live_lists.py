"""The runs list, the audit log and the overview's runs in flight update live in a
real browser (headless Chromium, as test_browser.py drives it): a run that starts
appears, its end changes its row, a pause appears in the audit log, each without a
reload (a flag set on the page survives), by a short poll of a small endpoint that
answers 204 while nothing changed. Screenshotted at a laptop's (1366x768) and a
phone's (390x844) width; the phone's pages fit its width.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api_client import KEY
from tests.factories import add_run, add_strategy, set_lease
from tests.web.console.test_browser import (  # noqa: F401  (fixtures)
    PHONE,
    browser,
    page,
    pytestmark,
    server,
    shot,
    sign_in,
    sync_api,
)
from tests.web.console.test_browser_operators import LAPTOP, phone_fits

LIVE = 20_000  # ms: a few of the console's 5 s polls


def test_runs_the_audit_log_and_the_runs_in_flight_update_live_without_a_reload(
    page: Any,  # noqa: F811 (the fixtures imported above)
    browser: Any,  # noqa: F811
    server: str,  # noqa: F811
    db: Any,
) -> None:
    now = datetime.now(UTC)
    sid = add_strategy(db, next_execution_at=None, name="Momentum scout")
    page.set_viewport_size(LAPTOP)
    sign_in(page)

    # The overview: nothing in flight, then a run starts and ends.
    running = page.locator("#running-rows")
    assert running.inner_text().strip() == "Nothing is running now."
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads
    run = add_run(db, sid, started_at=now, status="running", trigger_kind="scheduled")
    set_lease(db, sid, run, now + timedelta(minutes=1))  # as its claim holds it (052)
    sync_api.expect(running.locator(f"tr[data-run='{run}']")).to_contain_text(
        "Momentum scout", timeout=LIVE
    )
    assert "running" in running.locator(".badge").inner_text()
    shot(page, "overview-running-live")
    phone_fits(browser, server, page.url, "overview-running-live", page.context.cookies())
    db.execute(
        "update workflow_executions set status = 'completed', "
        "execution_completed_at = %s, duration_ms = 1234 where id = %s",
        (now + timedelta(seconds=1), run),
    )
    set_lease(db, sid, None, None)  # as its finish frees it
    sync_api.expect(running).to_have_text("Nothing is running now.", timeout=LIVE)
    assert page.evaluate("window.loadedOnce") is True

    # The runs list's first page: a new failed run appears at the top.
    page.goto("/console/runs?window=1h")
    page.evaluate("window.loadedOnce = true")
    rows = page.locator("#runs-list tbody tr")
    assert rows.count() == 1
    failed = add_run(
        db,
        sid,
        started_at=now + timedelta(seconds=5),
        status="failed",
        error_message="node 'fetch': the market API answered 503",
        duration_ms=800,
    )
    sync_api.expect(rows.first).to_have_attribute("data-run", str(failed), timeout=LIVE)
    assert "the market API answered 503" in rows.first.inner_text()
    assert rows.count() == 2 and page.evaluate("window.loadedOnce") is True
    shot(page, "runs-live")
    phone_fits(browser, server, page.url, "runs-live", page.context.cookies())

    # The audit log: a pause through the API appears, from the API.
    page.goto("/console/audit")
    page.evaluate("window.loadedOnce = true")
    assert "No changes recorded" in page.locator("#audit-rows").inner_text()
    reply = httpx.post(
        f"{server}/api/strategies/{sid}/pause",
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    entry = page.locator("#audit-rows tbody tr")
    sync_api.expect(entry).to_have_count(1, timeout=LIVE)
    assert "pause" in entry.inner_text() and "Momentum scout" in entry.inner_text()
    assert page.evaluate("window.loadedOnce") is True
    shot(page, "audit-live")
    phone_fits(browser, server, page.url, "audit-live", page.context.cookies())
