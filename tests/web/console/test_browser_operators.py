"""The runs list, a re-run and a bulk change in a real browser (headless Chromium,
as test_browser.py drives it): an operator finds every failed run of the last
hour, re-runs one from its page, and resumes every strategy auto-paused in the
last hour after one confirmation that says how many and which. Each page is
screenshotted at a laptop's (1366x768) and a phone's width and must fit the phone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.factories import add_strategy, chain, node, rows, strategy
from tests.web.console.helpers import FAILING_GRAPH
from tests.web.console.test_browser import (  # noqa: F401  (fixtures)
    PHONE,
    browser,
    page,
    pytestmark,
    server,
    shot,
    sign_in,
    tick,
)

LAPTOP = {"width": 1366, "height": 768}


def phone_fits(chromium: Any, base_url: str, path: str, name: str, cookies: Any) -> None:
    context = chromium.new_context(base_url=base_url, viewport=PHONE, is_mobile=True)
    context.add_cookies(cookies)
    phone = context.new_page()
    try:
        phone.goto(path)
        shot(phone, f"phone-{name}")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width}px wide on a phone"
    finally:
        context.close()


def test_an_operator_finds_failed_runs_reruns_one_and_resumes_auto_paused_strategies(
    page: Any,  # noqa: F811 (the fixtures imported above)
    browser: Any,  # noqa: F811
    server: str,  # noqa: F811
    db: Any,
) -> None:
    now = datetime.now(UTC)
    failing = add_strategy(
        db,
        next_execution_at=now - timedelta(seconds=30),
        name="Cheap markets",
        interval=1,
        graph=FAILING_GRAPH,
    )
    add_strategy(
        db,
        next_execution_at=now - timedelta(seconds=30),
        name="Hello world",
        graph=chain(node("start", "start"), node("end", "end")),
    )
    for name, ago in (("Momentum scout", 20), ("Weather bets", 45), ("Old experiment", 60 * 30)):
        add_strategy(
            db,
            next_execution_at=None,
            name=name,
            status="error",
            auto_run=False,
            error_count=3,
            last_error="node 'fetch': the market API answered 503",
            last_executed_at=now - timedelta(minutes=ago),
        )
    tick(server)
    page.set_viewport_size(LAPTOP)
    sign_in(page)

    # Every failed run of the last hour, across strategies.
    page.click("header nav >> text=Runs")
    page.select_option("select[name=status]", "failed")  # applies at once
    page.wait_for_url("**status=failed**")
    page.select_option("select[name=window]", "1h")
    page.wait_for_url("**window=1h**")
    listed = page.locator("#runs-list tbody tr")
    assert listed.count() == 1
    assert "Cheap markets" in listed.first.inner_text()
    shot(page, "runs")
    phone_fits(browser, server, page.url, "runs", page.context.cookies())

    # Its page has the re-run button; the re-run links back to it.
    listed.first.locator("a").first.click()
    page.wait_for_url("**/console/runs/*")
    failed_url = page.url
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#rerun")
    page.wait_for_url("**?did=rerun")
    assert "failed again" in page.locator(".banner.bad").inner_text()
    assert "re-run of" in page.locator("#trigger").inner_text()
    shot(page, "run-rerun")
    phone_fits(browser, server, page.url, "run-rerun", page.context.cookies())
    page.click("#rerun-of")
    page.wait_for_url(failed_url)
    assert page.locator("#reruns a").count() == 1
    assert strategy(db, failing)["execution_count"] == 2
    kinds = rows(db, "select trigger_kind from workflow_executions order by execution_started_at")
    assert [r["trigger_kind"] for r in kinds][-1] == "rerun"

    # Resume every strategy auto-paused in the last hour: one confirmation.
    page.click("header nav >> text=Strategies")
    page.click("#bulk-link")
    page.select_option("select[name=action]", "resume")
    page.wait_for_url("**action=resume**")
    page.select_option("select[name=status]", "auto-paused")
    page.wait_for_url("**status=auto-paused**")
    page.select_option("select[name=within]", "1h")
    page.wait_for_url("**within=1h**")
    selection = page.locator("#bulk-selection")
    assert "Resume these 2 strategies?" in selection.inner_text()
    assert "Old experiment" not in selection.inner_text()
    shot(page, "bulk-selection")
    phone_fits(browser, server, page.url, "bulk-selection", page.context.cookies())
    asked: list[str] = []

    def confirm(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", confirm)
    page.click("#bulk-confirm")
    page.wait_for_selector("#bulk-results")
    assert asked == ["Resume these 2 strategies?"]
    assert page.locator("#bulk-summary").inner_text() == (
        "Resume: 2 changed, 0 already so, 0 refused."
    )
    shot(page, "bulk-results")
    statuses = rows(db, "select name, status from workflow_sessions order by name")
    assert {r["name"]: r["status"] for r in statuses} == {
        "Cheap markets": "running",
        "Hello world": "running",
        "Momentum scout": "running",
        "Old experiment": "error",
        "Weather bets": "running",
    }
