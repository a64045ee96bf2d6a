"""The console's decisions page: every strategy's orchestrator decisions, the pending
ones with approve and reject forms (the session's CSRF token; the same service as the
API); an approval places the paper buy once (the CLOB's book by respx), a rejected or
expired decision never places."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import respx

from cascadian.store.sql_store import SqlStore
from tests.factories import rows
from tests.polymarket_fixtures import CLOB, GAMMA
from tests.web.console.helpers import console_client, sign_in
from tests.web.test_decisions_api import decide_later
from tests.workflow.original.helpers import polymarket

ENV = {"CASCADIAN_POLYMARKET_URL": GAMMA, "CASCADIAN_CLOB_URL": CLOB}


@respx.mock
async def test_the_page_lists_pending_decisions_and_approving_places_once(
    store: SqlStore, db: Any
) -> None:
    polymarket(respx.mock)
    _, did = await decide_later(store, db)
    async with console_client(store, **ENV) as c:
        csrf = await sign_in(c)
        listed = await c.get("/console/decisions")
        first = await c.post(f"/console/decisions/{did}/approve", data={"csrf": csrf})
        shown = await c.get(first.headers["location"])
        again = await c.post(f"/console/decisions/{did}/approve", data={"csrf": csrf})
        approved = await c.get("/console/decisions?status=approved")
    assert listed.status_code == 200
    assert f'action="/console/decisions/{did}/approve"' in listed.text
    assert "Will the Fed cut interest rates" in listed.text and "$50.00" in listed.text
    assert first.status_code == 303 and "Approved: its paper buy was placed" in shown.text
    assert again.headers["location"].endswith("did=already_approved")
    assert f'data-decision="{did}"' in approved.text and "/approve" not in approved.text
    assert len(rows(db, "select order_id from cascadian_trading_orders")) == 1
    [entry] = rows(db, "select action, source from cascadian_audit_log")
    assert entry == {"action": "approve_decision", "source": "console"}


async def test_rejecting_keeps_the_reason_and_an_expired_one_never_places(
    store: SqlStore, db: Any
) -> None:
    _, did = await decide_later(store, db)
    _, old = await decide_later(store, db, made=datetime.now(UTC) - timedelta(hours=2))
    async with console_client(store) as c:
        csrf = await sign_in(c)
        rejected = await c.post(
            f"/console/decisions/{did}/reject", data={"csrf": csrf, "reason": "too thin"}
        )
        expired = await c.post(f"/console/decisions/{old}/approve", data={"csrf": csrf})
        shown = await c.get(expired.headers["location"])
        forged = await c.post(f"/console/decisions/{did}/approve", data={"csrf": "0" * 32})
        missing = await c.post("/console/decisions/not-an-id/approve", data={"csrf": csrf})
    assert rejected.headers["location"].endswith("did=rejected")
    assert "It expired before it was approved" in shown.text
    assert forged.status_code == 403
    assert missing.status_code == 404
    stored = rows(db, "select status, override_reason from orchestrator_decisions order by status")
    assert stored == [
        {"status": "pending", "override_reason": None},
        {"status": "rejected", "override_reason": "too thin"},
    ]
    assert rows(db, "select order_id from cascadian_trading_orders") == []
