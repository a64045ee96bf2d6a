"""The paper portfolio page (/console/strategies/{id}/equity): the equity curve as
an inline SVG against the bankroll, the marked figures and positions; in a real
headless browser at a laptop's and a phone's width, screenshotted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from cascadian.data import EquityPoint
from cascadian.store.sql_store import SqlStore
from cascadian.web.console.equity_chart import equity_chart
from tests.factories import add_strategy
from tests.store.test_trading_book_sql import place
from tests.web.console.helpers import console_client, sign_in

NOW = datetime.now(UTC).replace(microsecond=0)
D = Decimal


def trading_strategy(db: Any) -> UUID:
    """A strategy holding two positions, one marked, with a day of equity points."""
    sid = add_strategy(db, next_execution_at=None, name="Fed cut momentum")
    place(db, sid, "buy", [("0.40", "500")], market="253591", node="buy-1", now=NOW)
    place(db, sid, "buy", [("0.62", "100")], market="501122", node="buy-2", now=NOW)
    db.execute(
        "insert into cascadian_equity_points "
        "(workflow_id, at, equity, cash, positions_value, realized_pnl, unrealized_pnl) "
        "select %s, %s - make_interval(mins => 5 * (288 - i)), e, 9738, e - 9738, 0, e - 10000 "
        "from generate_series(0, 288) as i, "
        "lateral (select 10000 + 40 * sin(i / 20.0) - i * 0.15) as v(e)",
        (sid, NOW),
    )
    db.execute(
        "select cascadian_mark_portfolios_v2(%s::jsonb, %s, '5 minutes', null, 0)",
        ('[{"market_id": "253591", "outcome": "Yes", "price": "0.43"}]', NOW),
    )
    return sid


async def test_the_page_draws_the_curve_and_lists_positions_at_their_marks(
    store: SqlStore, db: Any
) -> None:
    sid = trading_strategy(db)
    async with console_client(store) as c:
        await sign_in(c)
        reply = await c.get(f"/console/strategies/{sid}/equity")
        strategy_page = await c.get(f"/console/strategies/{sid}")
    assert reply.status_code == 200
    html = reply.text
    assert '<svg class="chart equity"' in html and "equity-line" in html and "bankroll" in html
    assert "$215.00" in html  # 500 shares at the bid 0.43
    assert "not yet" in html  # 501122 has no mark
    assert "never places a real order" in html
    assert f"/console/strategies/{sid}/equity" in strategy_page.text


async def test_the_portfolio_page_draws_the_curve_and_values_at_the_stored_marks(
    store: SqlStore, db: Any
) -> None:
    sid = trading_strategy(db)
    async with console_client(store) as c:
        await sign_in(c)
        reply = await c.get(f"/console/strategies/{sid}/portfolio")
    assert reply.status_code == 200
    html = reply.text
    assert 'id="equity-curve"' in html and '<svg class="chart equity"' in html
    # 500 shares at the stored bid 0.43 (215) and 100 not marked at their order's 0.62.
    assert "$277.00" in html


async def test_a_strategy_without_points_says_how_the_curve_comes(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None)
    async with console_client(store) as c:
        await sign_in(c)
        empty = await c.get(f"/console/strategies/{sid}/equity")
        missing = await c.get("/console/strategies/6a5b0000-0000-4000-8000-000000000000/equity")
    assert empty.status_code == 200 and "No curve yet" in empty.text
    assert missing.status_code == 404


def point(minutes: int, equity: str) -> EquityPoint:
    e = D(equity)
    return EquityPoint(NOW + timedelta(minutes=minutes), e, e, D(0), D(0), D(0))


def test_the_drawing_scales_time_and_value_and_needs_two_points() -> None:
    assert equity_chart([point(0, "10000")], D(10000)) is None
    chart = equity_chart([point(0, "10000"), point(30, "10100"), point(60, "9900")], D(10000))
    assert chart is not None
    assert chart.low < D(9900) and chart.high > D(10100)
    line = str(chart.svg).split('class="equity-line" points="')[1].split('"')[0]
    xs = [float(p.split(",")[0]) for p in line.split()]
    assert xs == [0.0, 480.0, 960.0]


@pytest.mark.slow
def test_the_curve_fits_a_laptop_and_a_phone(request: pytest.FixtureRequest, db: Any) -> None:
    """In headless Chromium at a laptop's (1366x768) and a phone's width (390x844),
    screenshotted into test-artifacts/console/."""
    from tests.web.console import test_browser

    chromium, served = request.getfixturevalue("browser"), request.getfixturevalue("server")
    sid = trading_strategy(db)
    for name, viewport in (
        ("laptop", {"width": 1366, "height": 768}),
        ("phone", {"width": 390, "height": 844}),
    ):
        context = chromium.new_context(base_url=served, viewport=viewport)
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        test_browser.sign_in(tab, f"/console/strategies/{sid}/equity")
        chart = tab.locator("svg.chart.equity")
        assert chart.count() == 1
        box = chart.bounding_box()
        assert box is not None and box["width"] <= viewport["width"] and box["height"] >= 100
        width = tab.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"the page scrolls sideways on a {name}"
        assert "Fed cut momentum" in tab.locator(".crumbs").inner_text()
        assert "0.430" in tab.locator("table").inner_text()
        test_browser.shot(tab, f"equity-{name}")
        tab.goto(f"/console/strategies/{sid}/portfolio")
        curve = tab.locator("#equity-curve svg.chart.equity")
        assert curve.count() == 1
        box = curve.bounding_box()
        assert box is not None and box["width"] <= viewport["width"] and box["height"] >= 100
        assert tab.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        test_browser.shot(tab, f"portfolio-equity-{name}")
        context.close()


# The browser test's fixtures: a served app and one Chromium.
from tests.web.console.test_browser import browser, server  # noqa: E402, F401
