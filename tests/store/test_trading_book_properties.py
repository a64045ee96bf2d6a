"""No sequence of orders, prices and limits makes the trading book break a limit,
spend cash it does not have or sell shares it does not hold: hypothesis drives the
real SQL function (migrations/023) on a real PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import add_strategy, rows
from tests.store.test_trading_book_sql import limits, place, portfolio

PRICES = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.99"), places=2)
SHARES = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)
ORDER = st.tuples(
    st.sampled_from(["buy", "sell"]),
    st.sampled_from(["m1", "m2", "m3"]),
    st.lists(st.tuples(PRICES, SHARES), min_size=1, max_size=3),
    # The fee, as a share of the order's value (a taker fee is at most a quarter).
    st.decimals(min_value=Decimal("0"), max_value=Decimal("0.25"), places=3),
)
LIMITS = st.fixed_dictionaries(
    {},
    optional={
        "initial_bankroll": st.integers(min_value=1, max_value=20_000),
        "max_order_usd": st.integers(min_value=1, max_value=5_000),
        "max_position_usd": st.integers(min_value=1, max_value=5_000),
        "max_open_positions": st.integers(min_value=0, max_value=3),
        "daily_loss_usd": st.integers(min_value=1, max_value=2_000),
        "min_cash_reserve_usd": st.integers(min_value=0, max_value=15_000),
    },
)


def positions(db: psycopg.Connection[Any], sid: Any) -> dict[str, dict[str, Any]]:
    latest = rows(
        db,
        "select distinct on (market_id) * from cascadian_paper_orders "
        "where workflow_id = %s order by market_id, id desc",
        sid,
    )
    return {r["market_id"]: r for r in latest}


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(settings_=LIMITS, orders=st.lists(ORDER, min_size=1, max_size=12))
def test_no_sequence_of_orders_breaks_a_limit_overdraws_cash_or_sells_what_is_not_held(
    db: psycopg.Connection[Any], settings_: dict[str, Any], orders: list[Any]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    limits(db, sid, **settings_)
    for n, (side, market, levels, fee_share) in enumerate(orders):
        fee = (sum(p * s for p, s in levels) * fee_share).quantize(Decimal("0.00000001"))
        held_before = positions(db, sid).get(market, {}).get("position_shares", Decimal(0))
        answer = place(
            db,
            sid,
            side,
            [(str(p), str(s)) for p, s in levels],
            node=f"n{n}",
            market=market,
            fee=str(fee),
        )
        book = portfolio(db, sid)
        cash = Decimal(str(book["available_cash"]))
        held = positions(db, sid)
        assert cash >= 0
        assert all(p["position_shares"] >= 0 for p in held.values())
        assert book["open_positions"] == sum(1 for p in held.values() if p["position_shares"] > 0)
        equity = cash + Decimal(str(book["deployed_capital"]))
        assert equity == Decimal(str(book["initial_bankroll"])) + Decimal(str(book["realized_pnl"]))
        if answer["result"] == "refused":
            continue
        notional = Decimal(str(answer["notional_usd"]))
        if "max_order_usd" in settings_:
            assert notional <= settings_["max_order_usd"]
        if side == "sell":
            assert Decimal(str(answer["shares"])) <= held_before
            continue
        if "min_cash_reserve_usd" in settings_:
            assert cash >= settings_["min_cash_reserve_usd"]
        if "max_position_usd" in settings_:
            assert held[market]["position_cost"] <= settings_["max_position_usd"]
        if "max_open_positions" in settings_:
            assert book["open_positions"] <= settings_["max_open_positions"]


# An attempt: an order key (a small set, so keys repeat), the side, and whether the
# strategy's kill switch is on when it is placed.
ATTEMPT = st.tuples(
    st.sampled_from(["k1", "k2", "k3"]), st.sampled_from(["buy", "sell"]), st.booleans()
)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(attempts=st.lists(ATTEMPT, min_size=1, max_size=12))
def test_a_key_fills_at_most_once_however_often_it_is_refused_and_tried_again(
    db: psycopg.Connection[Any], attempts: list[tuple[str, str, bool]]
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    filled: dict[str, Any] = {}
    for key, side, switched in attempts:
        if switched:
            db.execute(
                "insert into cascadian_kill_switches (scope, workflow_id, set_by, reason, "
                "set_at) values (%s, %s, 'ops', 'a test', now()) on conflict do nothing",
                (str(sid), sid),
            )
        else:
            db.execute("delete from cascadian_kill_switches where workflow_id = %s", (sid,))
        answer = place(db, sid, side, [("0.5", "10")], key=key, node=key)
        if key in filled:  # (054) a fill is answered again, whatever happens since
            assert (answer["replayed"], answer["order_id"]) == (True, filled[key])
        elif answer["result"] != "refused":
            assert answer["replayed"] is False
            filled[key] = answer["order_id"]
        else:  # a refusal takes nothing: the next attempt under the key is tried afresh
            assert answer["replayed"] is False
    placed = rows(
        db,
        "select order_key, count(*) as n from cascadian_trading_orders "
        "where workflow_id = %s and result <> 'refused' group by order_key",
        sid,
    )
    assert {r["order_key"]: r["n"] for r in placed} == dict.fromkeys(filled, 1)
