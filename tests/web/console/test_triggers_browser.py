"""Triggers in the console, in the real browser: the overview shows the market
listeners (connected, tokens, reconnects, frames dropped) and the lag from event to
run; a strategy's page shows each trigger's last price, state and last crossing with
its run. Screenshotted at a laptop's and a phone's width, and nothing is wider than
the phone."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.factories import add_strategy
from tests.web.console.test_browser import (  # noqa: F401 (fixtures)
    PHONE,
    browser,
    page,
    pytestmark,
    server,
    shot,
    sign_in,
)

TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
OPERATOR = json.dumps({"kind": "operator", "source": "cli"})
# Where else to copy the screenshots, for a reviewer to look at (unset: nowhere).
SHOTS = os.environ.get("CASCADIAN_SHOTS_DIR")


def arrange(db: Any) -> Any:
    """A strategy with two triggers, one crossed (its run recorded), and a listener."""
    now = datetime.now(UTC)
    sid = add_strategy(db, next_execution_at=now + timedelta(hours=1), name="Breakout")
    triggers = [
        {
            "name": "breakout",
            "kind": "price",
            "token_id": TOKEN,
            "level": "0.60",
            "direction": "above",
            "band": "0.05",
            "price_kind": "midpoint",
            "asset_ids": [TOKEN],
        },
        {
            "name": "dip",
            "kind": "price",
            "token_id": TOKEN,
            "level": "0.30",
            "direction": "below",
            "band": "0",
            "price_kind": "best_bid",
            "asset_ids": [TOKEN],
        },
    ]
    db.execute(
        "select cascadian_set_triggers_v1(%s, %s::jsonb, now(), %s::jsonb)",
        (sid, json.dumps(triggers), OPERATOR),
    )
    prices = [
        {
            "token_id": TOKEN,
            "price_kind": "midpoint",
            "price": p,
            "source": "websocket",
            "observed_at": (now - timedelta(seconds=60 - i)).isoformat(),
        }
        for i, p in enumerate(["0.50", "0.61"])
    ]
    db.execute("select * from cascadian_observe_v1(%s::jsonb, now())", (json.dumps(prices),))
    db.execute("select * from cascadian_claim_events_v1(now(), 10, 60)")
    db.execute(
        "select cascadian_listener_state_v1(%s::jsonb, now())",
        (
            json.dumps(
                {
                    "id": "00000000-0000-4000-8000-000000000001",
                    "host": "worker-1",
                    "started_at": now.isoformat(),
                    "connected": True,
                    "tokens": 1,
                    "reconnects": 2,
                    "frames": 1234,
                    "frames_dropped": 5,
                    "last_frame_at": now.isoformat(),
                }
            ),
        ),
    )
    return sid


def keep(path: Path) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SHOTS) / path.name)


def test_the_console_shows_the_listeners_and_each_trigger_s_state(
    page: Any,  # noqa: F811
    browser: Any,  # noqa: F811
    server: str,  # noqa: F811
    db: Any,
) -> None:
    sid = arrange(db)
    sign_in(page)
    listeners = page.locator("#market-listeners")
    assert "worker-1" in listeners.inner_text()
    assert "connected" in listeners.inner_text() and "1234" in listeners.inner_text()
    assert "2 armed, 1 waiting for a run" in listeners.inner_text()
    keep(shot(page, "triggers-overview"))
    page.goto(f"/console/strategies/{sid}")
    rows = page.locator("#triggers tbody tr")
    assert rows.count() == 2
    breakout = rows.nth(0).inner_text()
    assert "breakout" in breakout and "midpoint above 0.60" in breakout
    assert "disarmed" in breakout and "0.50 → 0.61" in breakout
    assert "waiting" in rows.nth(1).inner_text()
    assert page.locator("table.runs").inner_text().count("event") == 1
    keep(shot(page, "triggers-strategy"))
    context = browser.new_context(base_url=server, viewport=PHONE, is_mobile=True)
    phone = context.new_page()
    try:
        sign_in(phone)
        for name, path in (
            ("phone-triggers-overview", "/console"),
            ("phone-triggers-strategy", f"/console/strategies/{sid}"),
        ):
            phone.goto(path)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width}px wide"
            keep(shot(phone, name))
    finally:
        context.close()
