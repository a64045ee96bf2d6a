"""An approval's cap check holds even against a strategy's first order (059): the
approval makes the strategy's portfolio row before it locks it, so it waits for a
buy being filled and then counts it. With decide_v2 the row did not exist yet, the
lock took nothing, and the approval filled past the cap it was sized under.

Two connections: A's buy (which makes the portfolio row) is left uncommitted until
the approval is seen waiting (pg_blocking_pids), then committed.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import psycopg
import pytest

from cascadian.data import DecisionDraft
from cascadian.store.decisions import DECIDE
from cascadian.store.trading import PLACE_PAPER_ORDER
from tests.factories import rows
from tests.store.test_event_claim_race import wait_until_blocked
from tests.store.test_orchestrator_decisions import NOW, draft, pending

pytestmark = pytest.mark.both_schemas

OPERATOR = '{"kind": "operator", "source": "cli"}'


def sized_under_a_60_dollar_cap() -> DecisionDraft:
    d = draft("m1", "50")
    caps = {"max_position_usd": "60", "max_deployed_usd": None}
    return DecisionDraft(**{**d.__dict__, "portfolio_snapshot": {"caps": caps}})


async def test_an_approval_racing_the_first_buy_counts_it_against_the_cap(
    store: Any, db: Any, database_url: str
) -> None:
    sid, [made] = await pending(store, db, sized_under_a_60_dollar_cap())
    assert rows(db, "select 1 from cascadian_paper_portfolios where workflow_id = %s", sid) == []
    buy = {
        "workflow_id": str(sid), "slot": "s", "node_id": "n", "market_id": "m1",
        "outcome": "Yes", "side": "buy", "fills": [{"price": "0.5", "shares": "80"}],
    }  # fmt: skip
    fill = {"result": "filled", "fills": [{"price": "0.5", "shares": "100"}]}
    answer: dict[str, Any] = {}
    with (
        psycopg.connect(database_url) as a,
        psycopg.connect(database_url, autocommit=True) as b,
    ):
        a.execute(f"select {PLACE_PAPER_ORDER}(%s::jsonb, %s, 'trade-1')", (json.dumps(buy), NOW))

        def approve() -> None:
            row = b.execute(
                f"select {DECIDE}(%s, true, %s::jsonb, null, %s, %s::jsonb)",
                (made.id, json.dumps(fill), NOW, OPERATOR),
            ).fetchone()
            answer["order"] = row[0]["order"] if row else None

        approval = threading.Thread(target=approve)
        approval.start()
        wait_until_blocked(db, b.info.backend_pid)
        a.commit()
        approval.join(30)
        assert not approval.is_alive()
    # $40 bought first: the decision's $50 would make $90 against its $60 cap.
    assert answer["order"]["result"] == "refused", answer["order"]
    assert answer["order"]["refusal"] == "max_per_position"
    [position] = rows(db, "select cost from cascadian_positions where workflow_id = %s", sid)
    assert position["cost"] == 40
