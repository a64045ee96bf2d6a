"""What an approval checks since migrations/065, on both schemas and both transports:
the caps a decision was sized under count the fill's fee (a position's cost does), so
an approval never takes a position past its cap or the cash below zero; and a decision
of an archived or stopped strategy is refused, recorded as the approval's refused
order like any other refusal. A hypothesis property runs approvals of random sizes,
fills and fees against the real function."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascadian.data import DecisionDraft, FilledLevel, OrderIntent, PaperPlacement
from cascadian.ports import FullStore
from tests.factories import rows
from tests.store.test_orchestrator_decisions import NOW, OWNER, draft, pending

pytestmark = pytest.mark.both_schemas

D = Decimal


def capped(
    market: str = "m1", size: str = "100", cap: str = "100", heat: str | None = None
) -> DecisionDraft:
    caps = {"max_position_usd": cap, "max_deployed_usd": heat}
    return DecisionDraft(**{**draft(market, size).__dict__, "portfolio_snapshot": {"caps": caps}})


def filled(sid: UUID, shares: str, price: str, fee: str) -> PaperPlacement:
    intent = OrderIntent(
        workflow_id=sid,
        execution_id=None,
        node_id="ignored",
        market_id="ignored",
        market_question=None,
        outcome="ignored",
        side="buy",
        amount_usd=D(shares) * D(price),
    )
    level = FilledLevel(D(price), D(shares), D(fee))
    return PaperPlacement(intent, "filled", levels=(level,))


async def test_a_fill_at_the_position_cap_whose_fee_takes_it_past_is_refused(
    any_store: FullStore, db: Any
) -> None:
    sid, [made] = await pending(any_store, db, capped())
    # $100 of shares (the cap) and a $0.50 fee: the position would cost $100.50.
    answer = await any_store.decide(
        made.id, True, filled(sid, "200", "0.5", "0.5"), None, NOW, OWNER
    )
    assert answer is not None and answer.order is not None
    assert (answer.order.result, answer.order.refusal) == ("refused", "max_per_position")
    assert "would cost $100.50, the fee included" in str(answer.order.detail)
    assert rows(db, "select id from cascadian_paper_orders") == []


async def test_a_fill_whose_fee_fits_under_the_cap_is_placed(any_store: FullStore, db: Any) -> None:
    sid, [made] = await pending(any_store, db, capped(size="99.50"))
    answer = await any_store.decide(
        made.id, True, filled(sid, "199", "0.5", "0.5"), None, NOW, OWNER
    )
    assert answer is not None and answer.order is not None and answer.order.result == "filled"
    [position] = rows(db, "select cost from cascadian_positions where workflow_id = %s", sid)
    assert position["cost"] == D("100.00")


async def test_the_heat_cap_counts_the_fee_too(any_store: FullStore, db: Any) -> None:
    sid, [made] = await pending(any_store, db, capped(cap="1000", heat="100"))
    answer = await any_store.decide(
        made.id, True, filled(sid, "200", "0.5", "0.01"), None, NOW, OWNER
    )
    assert answer is not None and answer.order is not None
    assert answer.order.refusal == "portfolio_heat_limit"
    assert "would cost $100.01, the fee included" in str(answer.order.detail)


@pytest.mark.parametrize("status", ["archived", "stopped"])
async def test_a_decision_of_an_archived_or_stopped_strategy_is_refused(
    any_store: FullStore, db: Any, status: str
) -> None:
    sid, [made] = await pending(any_store, db, capped(size="40"))
    db.execute(
        "update workflow_sessions set status = %s, auto_run = false where id = %s", (status, sid)
    )
    answer = await any_store.decide(made.id, True, filled(sid, "80", "0.5", "0"), None, NOW, OWNER)
    assert answer is not None and answer.order is not None
    assert (answer.order.result, answer.order.refusal) == ("refused", f"strategy_{status}")
    assert answer.order.detail == f"the strategy is {status}: its decisions are not placed"
    assert rows(db, "select id from cascadian_paper_orders") == []
    [decided] = rows(db, "select status, actual_size from orchestrator_decisions")
    assert decided == {"status": "approved", "actual_size": D(0)}  # as a cap's refusal is


async def test_a_paused_strategys_decision_is_still_placed(any_store: FullStore, db: Any) -> None:
    sid, [made] = await pending(any_store, db, capped(size="40"))
    db.execute(
        "update workflow_sessions set status = 'paused', auto_run = false where id = %s", (sid,)
    )
    answer = await any_store.decide(made.id, True, filled(sid, "80", "0.5", "0"), None, NOW, OWNER)
    assert answer is not None and answer.order is not None and answer.order.result == "filled"


money = st.decimals(min_value=D("1"), max_value=D("400"), places=2)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    bankroll=st.decimals(min_value=D("50"), max_value=D("500"), places=2),
    cap=money,
    heat=money,
    bets=st.lists(
        st.tuples(
            money,  # the fill's notional
            st.sampled_from([D("0.2"), D("0.5"), D("0.9")]),  # its price
            st.decimals(min_value=D("0"), max_value=D("0.05"), places=4),  # its fee rate
        ),
        min_size=1,
        max_size=5,
    ),
)
async def test_approved_decisions_never_pass_their_caps_or_take_cash_below_zero(
    store: FullStore, db: Any, bankroll: Decimal, cap: Decimal, heat: Decimal, bets: list[Any]
) -> None:
    sid, [first] = await pending(store, db, capped("m9", "1", str(cap), str(heat)))
    db.execute(
        "insert into cascadian_trading_limits (workflow_id, initial_bankroll) values (%s, %s)",
        (sid, bankroll),
    )
    for i, (notional, price, rate) in enumerate(bets):
        d = capped(f"m{i % 2}", str(notional), str(cap), str(heat))
        [made] = await store.create_decisions(
            sid, first.execution_id, "sizing", f"slot:{i}", [d], NOW
        )
        shares = (notional / price).quantize(D("0.000001"), rounding="ROUND_DOWN")
        fee = shares * rate * price * (1 - price)
        fee = fee.quantize(D("0.00000001"), rounding="ROUND_DOWN")
        await store.decide(
            made.id, True, filled(sid, str(shares), str(price), str(fee)), None, NOW, OWNER
        )
    [book] = rows(
        db,
        "select available_cash, deployed_capital from cascadian_paper_portfolios "
        "where workflow_id = %s",
        sid,
    )
    assert book["available_cash"] >= 0
    assert book["deployed_capital"] <= heat
    for position in rows(db, "select cost from cascadian_positions where workflow_id = %s", sid):
        assert position["cost"] <= cap
