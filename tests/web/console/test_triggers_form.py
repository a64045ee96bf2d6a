"""Triggers set from the console: the strategy page's form replaces them, as the API
does (Polymarket mocked with respx), and a trigger that cannot be used is shown on
the page with every problem while nothing is saved."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import respx

from cascadian.store.sql_store import SqlStore
from tests.factories import add_strategy, rows
from tests.web.console.helpers import console_client, sign_in
from tests.web.test_triggers_api import ENV, KNOWN, polymarket


async def test_the_console_sets_a_strategy_s_triggers_and_refuses_bad_ones(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=datetime.now(UTC) + timedelta(hours=1))
    good = [{"name": "up", "token_id": KNOWN, "level": "0.6", "direction": "above"}]
    bad = [{"name": "up", "token_id": KNOWN, "level": "1.5", "direction": "above", "band": "-1"}]
    with respx.mock(assert_all_called=False) as router:
        polymarket(router)
        async with console_client(store, **ENV) as c:
            csrf = await sign_in(c)
            before = await c.get(f"/console/strategies/{sid}")
            saved = await c.post(
                f"/console/strategies/{sid}/triggers",
                data={"csrf": csrf, "triggers": json.dumps(good)},
            )
            page = await c.get(saved.headers["location"])
            refused = await c.post(
                f"/console/strategies/{sid}/triggers",
                data={"csrf": csrf, "triggers": json.dumps(bad)},
            )
            garbled = await c.post(
                f"/console/strategies/{sid}/triggers", data={"csrf": csrf, "triggers": "[{"}
            )
            forged = await c.post(
                f"/console/strategies/{sid}/triggers", data={"triggers": json.dumps([])}
            )
    assert (
        "Edit the triggers" in before.text and "None: it runs on its schedule only" in before.text
    )
    assert saved.status_code == 303 and "did=triggers" in saved.headers["location"]
    assert "Triggers saved" in page.text and "midpoint above 0.6" in page.text
    assert refused.status_code == 422
    assert "trigger 1, level: Input should be less than 1" in refused.text
    assert "trigger 1, band" in refused.text
    assert garbled.status_code == 422 and "not JSON" in garbled.text
    assert forged.status_code == 403
    [kept] = rows(db, "select name, level from cascadian_triggers")
    assert (kept["name"], str(kept["level"])) == ("up", "0.6")
