"""The backtest page (/console/strategies/{id}/backtest): the figures, the equity curve
as an inline SVG, a sweep's rows and the orders, or every reason it cannot run; in a
real headless browser at a laptop's and a phone's width, screenshotted."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from psycopg.types.json import Jsonb

from cascadian.store.sql_store import SqlStore
from tests.backtests.history_fixture import HOUR, T0, graph, recording_at
from tests.factories import add_strategy
from tests.web.console import test_browser
from tests.web.console.helpers import console_client, sign_in

LAPTOP = {"width": 1366, "height": 768}
WINDOW = {"from": T0.isoformat(), "to": (T0 + 3 * HOUR).isoformat()}


def with_history(db: Any) -> UUID:
    """The golden tests' history and strategy (tests/backtests/history_fixture.py)."""
    for hour in range(4):
        r = recording_at(hour)
        payload = {"markets": r.markets, "prices": r.prices, "books": r.books}
        db.execute(
            "select cascadian_record_market_history_v1(%s, %s)", (T0 + hour * HOUR, Jsonb(payload))
        )
    g = graph()
    return add_strategy(
        db,
        next_execution_at=None,
        name="Cheap Yes",
        graph=(g.nodes, g.edges),
        interval=60,
        variables=Jsonb(g.variables),
    )


async def test_the_page_shows_the_results_and_the_curve(store: SqlStore, db: Any) -> None:
    sid = with_history(db)
    url = f"/console/strategies/{sid}/backtest"
    async with console_client(store) as c:
        await sign_in(c)
        empty = await c.get(url)
        ran = await c.get(f"{url}?{urlencode(WINDOW)}")
        swept = await c.get(f"{url}?{urlencode(WINDOW | {'vars': 'threshold=0.2,0.5'})}")
        bad = await c.get(f"{url}?{urlencode(WINDOW | {'vars': 'nope=1'})}")
    assert empty.status_code == 200 and "Run backtest" in empty.text
    assert ran.status_code == 200
    assert '<svg class="chart equity"' in ran.text and "equity-line" in ran.text
    assert "3.44%" in ran.text and "$343.65" in ran.text and "spread model" in ran.text
    assert (
        swept.status_code == 200 and "threshold=0.2" in swept.text and 'id="bt-rows"' in swept.text
    )
    assert bad.status_code == 422 and "unknown variable(s) nope" in bad.text


browser = test_browser.browser
server = test_browser.server


@test_browser.pytestmark[0]
@test_browser.pytestmark[1]
def test_an_operator_runs_a_backtest_and_reads_its_curve(
    browser: Any, server: str, db: Any
) -> None:
    sid = with_history(db)
    for name, viewport in (("backtest", LAPTOP), ("backtest-phone", test_browser.PHONE)):
        context = browser.new_context(base_url=server, viewport=viewport)
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            test_browser.sign_in(page, f"/console/strategies/{sid}/backtest")
            page.fill("#bt-from", WINDOW["from"])
            page.fill("#bt-to", WINDOW["to"])
            page.fill("#bt-vars", "threshold=0.35,0.5")
            page.click("button:has-text('Run backtest')")
            page.wait_for_selector("#bt-chart svg polyline")
            assert page.locator("#bt-roi").inner_text() == "3.44%"
            assert page.locator("#bt-rows tbody tr").count() == 2
            box = page.locator("#bt-chart svg").bounding_box()
            assert box is not None and box["width"] <= viewport["width"]
            test_browser.shot(page, name)
        finally:
            context.close()
