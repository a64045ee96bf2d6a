"""The console in a real browser: headless Chromium (Debian's `chromium` package)
driven by Playwright, against the app served by uvicorn on the test database.

An operator signs in, finds the failing strategy, opens its run and reads the
node's error, pauses it and sees the state change; a browser without the cookie
is refused, a forged form too, and signing out ends the session. Each page is
screenshotted into test-artifacts/console/ (at a laptop's and a phone's width).

Playwright's own browser downloads are never used (`playwright install` needs
the internet): where Debian's chromium is missing these tests are skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from cascadian.web.app import create_app
from tests.api_client import CRON, KEY
from tests.factories import add_strategy, chain, node, strategy
from tests.web.console.helpers import FAILING_GRAPH, settings

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")

CHROMIUM = os.environ.get("CASCADIAN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = (
    Path(
        os.environ.get("CASCADIAN_TEST_ARTIFACTS")
        or Path(__file__).resolve().parents[3] / "test-artifacts"
    )
    / "console"
)
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="no Chromium to drive: `apt-get install chromium` (Debian's package), "
        "or point CASCADIAN_CHROMIUM at one",
    ),
]


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    """The app under uvicorn on a free port of 127.0.0.1, on the test database. The
    socket is listening before the thread starts, so the first request waits in its
    backlog until the app is up: no polling."""
    app = create_app(settings(DATABASE_URL=database_url))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    context = browser.new_context(base_url=server, viewport=LAPTOP)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def tick(server: str) -> None:
    reply = httpx.get(
        f"{server}/api/cron/strategy-executor",
        headers={"Authorization": f"Bearer {CRON}"},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text


def sign_in(page: Any, path: str = "/console") -> None:
    page.goto(path)
    assert "/console/sign-in" in page.url
    page.fill("#key", KEY)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/sign-in" not in url)


def history(db: Any) -> None:
    """Three hours of the ledger before now: a tick a minute, a run or two in each,
    a failure every 17 minutes, and 12 minutes that the scheduler missed."""
    db.execute(
        "insert into cron_ticks (trigger, started_at, finished_at, success, "
        "strategies_checked, strategies_executed, succeeded, failed, execution_time_ms) "
        "select 'cron', t, t + interval '1 second', true, 2, 1 + (m % 3 = 0)::int, "
        "1 + (m % 3 = 0)::int - (m % 17 = 0)::int, (m % 17 = 0)::int, 80 + (m * 37) % 140 "
        "from generate_series(1, 180) as m, "
        "lateral (select now() - make_interval(mins => m)) as s(t) "
        "where m not between 95 and 106"
    )


def arrange(db: Any, server: str) -> Any:
    """A failing strategy and a healthy one, both run once by a real tick through
    the cron endpoint; a notification and a paper order for their pages."""
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
        interval=5,
        graph=chain(node("start", "start"), node("end", "end")),
    )
    add_strategy(db, next_execution_at=None, name="Draft idea", status="draft", auto_run=False)
    history(db)
    tick(server)
    db.execute(
        "insert into notifications (user_id, workflow_id, type, title, message, priority) "
        "select user_id, id, 'strategy_update', 'Markets found', '3 new markets', 'normal' "
        "from workflow_sessions where name = 'Hello world'"
    )
    db.execute(
        "insert into cascadian_paper_orders (workflow_id, node_id, market_id, market_question, "
        "outcome, side, order_type, amount_usd, price, shares, price_source, position_shares, "
        "position_cost, realized_pnl) select id, 'buy', 'm1', 'Will it rain in Paris?', 'Yes', "
        "'buy', 'market', 10, 0.4, 25, 'gamma', 25, 10, 0 from workflow_sessions "
        "where name = 'Hello world'"
    )
    return failing


def test_an_operator_finds_the_failing_strategy_reads_its_error_and_pauses_it(
    page: Any, server: str, db: Any
) -> None:
    failing = arrange(db, server)
    sign_in(page)
    shot(page, "overview")
    assert page.locator("#failing strong").inner_text() == "1"
    assert "12 missed minutes" in page.locator("#tick-facts").inner_text()
    assert page.locator(".chart-box.runs rect.gap").count() == 1

    page.click("header nav >> text=Strategies")
    page.select_option("select[name=filter]", "failing")  # applies at once
    page.wait_for_url("**/console/strategies?filter=failing**")
    rows = page.locator("table.strategies tbody tr")
    assert rows.count() == 1
    assert "node 'cheap'" in rows.first.inner_text()
    shot(page, "strategies")

    rows.first.locator("a").first.click()
    page.wait_for_url(f"**/console/strategies/{failing}")
    assert page.locator('g.node-error[data-node-id="cheap"]').count() == 1
    shot(page, "strategy")

    page.locator("table.runs tbody tr a").first.click()
    page.wait_for_url("**/console/runs/**")
    error = page.locator('li[data-node-id="cheap"] .node-error').inner_text()
    assert "${start.missing}" in error
    shot(page, "run")

    page.click("text=Cheap markets")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Pause')")
    page.wait_for_url("**?did=pause")
    assert page.locator("#status-value").inner_text().startswith("paused")
    assert "Paused" in page.locator(".banner.ok").inner_text()
    assert strategy(db, failing)["status"] == "paused"
    shot(page, "strategy-paused")

    page.click("header nav >> text=Notifications")
    assert "Markets found" in page.locator("main").inner_text()
    shot(page, "notifications")
    page.click("header nav >> text=Paper")
    assert "Will it rain in Paris?" in page.locator("main").inner_text()
    shot(page, "paper")


def test_dismissing_the_confirmation_changes_nothing(page: Any, server: str, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=datetime.now(UTC) + timedelta(hours=1), name="Keep")
    sign_in(page, f"/console/strategies/{sid}")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("button:has-text('Stop')")
    assert page.locator("#status-value").inner_text().startswith("running")
    assert strategy(db, sid)["status"] == "running"


def test_without_the_cookie_the_console_is_refused_and_signing_out_ends_it(
    page: Any, server: str, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=datetime.now(UTC) + timedelta(hours=1), name="Safe")
    page.goto(f"/console/strategies/{sid}")
    assert "/console/sign-in" in page.url and page.locator("#key").count() == 1
    shot(page, "sign-in")
    refused = page.request.post(f"/console/strategies/{sid}/pause", form={"csrf": "0" * 64})
    assert refused.status == 401

    sign_in(page, f"/console/strategies/{sid}")
    forged = page.request.post(f"/console/strategies/{sid}/pause", form={"csrf": "0" * 64})
    assert forged.status == 403
    assert strategy(db, sid)["status"] == "running"
    cookie = next(c for c in page.context.cookies() if c["name"] == "cascadian_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and KEY not in cookie["value"]
    assert KEY not in page.content()

    page.click("text=Sign out")
    page.wait_for_url("**/console/sign-in")
    page.goto("/console")
    assert "/console/sign-in" in page.url


def test_the_pages_fit_a_phone(browser: Any, server: str, db: Any) -> None:
    failing = arrange(db, server)
    context = browser.new_context(base_url=server, viewport=PHONE, is_mobile=True)
    phone = context.new_page()
    try:
        sign_in(phone)
        for name, path in (
            ("phone-overview", "/console"),
            ("phone-strategies", "/console/strategies"),
            ("phone-strategy", f"/console/strategies/{failing}"),
            ("phone-notifications", "/console/notifications"),
            ("phone-paper", "/console/paper"),
        ):
            phone.goto(path)
            # Nothing wider than the screen but what scrolls inside its own box.
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width}px wide"
            # Every page's link is on the screen, none behind a scroll nobody sees.
            cut = phone.evaluate(
                "[...document.querySelectorAll('header nav a')]"
                ".filter(a => a.getBoundingClientRect().right > window.innerWidth)"
                ".map(a => a.textContent)"
            )
            assert cut == [], f"{path}: the menu cuts off {cut}"
            shot(phone, name)
        phone.goto(f"/console/strategies/{failing}")
        phone.locator("table.runs a").first.click()
        phone.wait_for_url("**/console/runs/**")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shot(phone, "phone-run")
    finally:
        context.close()


LONG_ERROR = "node 'cheap': " + "a-very-long-unbroken-upstream-error-text-" * 6


def test_a_wide_graph_a_long_error_and_a_failed_run_now_read_right(
    browser: Any, page: Any, server: str, db: Any
) -> None:
    six = chain(
        node("start", "start"),
        *(node(f"step{i}", "transform", operations=[]) for i in range(4)),
        node("cheap", "filter", items="${start.missing}", conditions=[]),
    )
    sid = add_strategy(
        db,
        next_execution_at=datetime.now(UTC) + timedelta(hours=1),
        name="Six nodes",
        graph=six,
        error_count=1,
        last_error=LONG_ERROR,
    )
    sign_in(page, f"/console/strategies/{sid}")
    box = page.locator(".diagram-box")
    # At a laptop's width the whole graph is drawn, scaled to the card.
    assert box.evaluate("b => b.scrollWidth <= b.clientWidth")
    assert page.locator("g[data-node-id=cheap]").bounding_box()["x"] < LAPTOP["width"]
    shot(page, "six-nodes")

    context = browser.new_context(base_url=server, viewport=PHONE, is_mobile=True)
    phone = context.new_page()
    try:
        sign_in(phone)
        error = phone.locator("td.error-text").first
        assert error.evaluate("td => td.scrollWidth <= td.clientWidth")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert "upstream-error-text" in error.inner_text()
        shot(phone, "phone-overview-long-error")
        phone.goto(f"/console/strategies/{sid}")
        hint = phone.evaluate(
            "getComputedStyle(document.querySelector('.diagram-box'), '::before').content"
        )
        assert "Swipe sideways" in hint
        shot(phone, "phone-six-nodes")
    finally:
        context.close()

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Run now')")
    page.wait_for_url("**/console/runs/**")
    assert page.locator(".banner.ok").count() == 0
    assert "the run failed" in page.locator(".banner.bad").inner_text()
    shot(page, "run-now-failed")
    config = page.locator("li[data-node-id=step0] details.node-config")
    config.locator("summary").click()
    assert '"operations": []' in config.locator("pre").inner_text()
    shot(page, "run-node-config")


def test_the_overview_and_a_strategys_page_update_live_without_a_reload(
    browser: Any, page: Any, server: str, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None, name="Live one", auto_run=False)
    sign_in(page)
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads
    assert page.locator("#backlog strong").inner_text() == "0"
    add_strategy(db, next_execution_at=datetime.now(UTC) - timedelta(minutes=3), name="Late")
    sync_api.expect(page.locator("#backlog strong")).to_have_text("1", timeout=20_000)
    assert page.evaluate("window.loadedOnce") is True
    assert page.locator("#backlog strong.live-changed").count() == 1
    assert "late" in page.locator("#live-backlog-note").inner_text()
    shot(page, "overview-live")

    page.goto(f"/console/strategies/{sid}")
    page.evaluate("window.loadedOnce = true")
    assert page.locator("#newest-run").inner_text() == "none yet"
    reply = httpx.post(
        f"{server}/api/strategies/{sid}/execute-now",
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    page.locator("#newest-run a").wait_for()
    assert page.locator("#newest-run a").inner_text().startswith("completed, started")
    assert page.locator("#runs-value").inner_text().startswith("1 · 100")
    assert page.evaluate("window.loadedOnce") is True
    shot(page, "strategy-live")
    phone = browser.new_context(base_url=server, viewport=PHONE, is_mobile=True).new_page()
    try:
        sign_in(phone, f"/console/strategies/{sid}")
        assert phone.locator("#newest-run a").inner_text().startswith("completed, started")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shot(phone, "phone-strategy-live")
    finally:
        phone.context.close()
