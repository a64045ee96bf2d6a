"""Orders racing one portfolio from many connections at once never overshoot its
limits or its cash, and a key raced twice records one order (migrations/023: the
function takes the portfolio row's lock before it checks anything); a refused order
is tried again, and a key raced after a refusal still fills once (054)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.factories import add_strategy, rows
from tests.store.test_trading_book_sql import limits, place, portfolio

CONNECTIONS = 10


@pytest.mark.both_schemas
def test_fifty_orders_raced_twice_from_ten_connections_never_overshoot_a_limit(
    schema: str, database_url: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    # $50 an order: at most 4 markets of $200 each, and $100 always kept.
    limits(
        db,
        sid,
        initial_bankroll=1000,
        max_position_usd=200,
        max_open_positions=4,
        min_cash_reserve_usd=100,
    )
    bystander = add_strategy(db, next_execution_at=None)
    # 10 runs (slots) of 5 order nodes, each sent twice (a re-run racing the first).
    orders = [
        (f"slot-{run}", f"node-{n}", f"m{(run + n) % 5}") for run in range(10) for n in range(5)
    ]
    calls = orders + orders
    start = threading.Barrier(CONNECTIONS)

    def worker(share: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
        with psycopg.connect(database_url, autocommit=True) as conn:
            start.wait()
            return [
                place(conn, sid, "buy", [("0.5", "100")], slot=slot, node=node, market=market)
                for slot, node, market in share
            ]

    with ThreadPoolExecutor(CONNECTIONS) as pool:
        answers = [
            a
            for done in pool.map(worker, [calls[i::CONNECTIONS] for i in range(CONNECTIONS)])
            for a in done
        ]

    recorded = rows(db, "select * from cascadian_trading_orders where workflow_id = %s", sid)
    filled = [r for r in recorded if r["result"] == "filled"]
    assert len(filled) == 16  # 4 markets x $200, no more
    assert len({(r["slot"], r["node_id"]) for r in filled}) == 16
    # A filled key's second call is its replay; a refused one is tried (and refused) again.
    assert len(answers) == 100 and len(recorded) == 16 + 34 * 2
    assert Counter(a["replayed"] for a in answers) == {True: 16, False: 84}
    book = portfolio(db, sid)
    assert Decimal(str(book["available_cash"])) == Decimal("200")
    assert book["open_positions"] == 4
    per_market = rows(
        db,
        "select market_id, sum(notional_usd) as spent from cascadian_trading_orders "
        "where workflow_id = %s group by market_id",
        sid,
    )
    assert max(r["spent"] for r in per_market) <= 200
    assert portfolio(db, bystander)["total_trades"] == 0


@pytest.mark.both_schemas
def test_one_key_raced_from_ten_connections_after_a_refusal_fills_once(
    schema: str, database_url: str, db: psycopg.Connection[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    refused = place(db, sid, "sell", [("0.5", "10")], key="exit:1", node="exit")
    assert refused["refusal"] == "insufficient_shares"
    place(db, sid, "buy", [("0.5", "10")], node="buy")
    start = threading.Barrier(CONNECTIONS)

    def worker(_: int) -> dict[str, Any]:
        with psycopg.connect(database_url, autocommit=True) as conn:
            start.wait()
            return place(conn, sid, "sell", [("0.5", "10")], key="exit:1", node="exit")

    with ThreadPoolExecutor(CONNECTIONS) as pool:
        answers = list(pool.map(worker, range(CONNECTIONS)))

    assert Counter(a["replayed"] for a in answers) == {False: 1, True: CONNECTIONS - 1}
    assert {a["order_id"] for a in answers} == {
        next(a["order_id"] for a in answers if not a["replayed"])
    }
    sells = rows(db, "select result from cascadian_trading_orders where order_key = 'exit:1'")
    assert sorted(r["result"] for r in sells) == ["filled", "refused"]
    assert portfolio(db, sid)["open_positions"] == 0
