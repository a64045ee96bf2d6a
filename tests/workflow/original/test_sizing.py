"""The orchestrator's sizing (workflow/original/sizing.py): fractional Kelly over the
paper portfolio, its caps and drawdown protection, exact in Decimal; its invariants
checked over generated portfolios and rules."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from cascadian.workflow.original.sizing import SizingPortfolio, SizingRules, size_bet

D = Decimal


def rules(**changes: object) -> SizingRules:
    base: dict[str, object] = {
        "fractional_kelly_lambda": D("0.375"),
        "max_per_position": D("0.05"),
        "min_bet": D("5"),
        "max_bet": D("500"),
    }
    return SizingRules(**(base | changes))  # type: ignore[arg-type]


def book(equity: str = "10000", **changes: object) -> SizingPortfolio:
    base: dict[str, object] = {
        "equity": D(equity),
        "cash": D(equity),
        "deployed": D(0),
        "peak_equity": D(equity),
    }
    return SizingPortfolio(**(base | changes))  # type: ignore[arg-type]


def test_kelly_worked_by_hand() -> None:
    # p = 0.6 at 0.5: f* = (0.6 - 0.5) / 0.5 = 0.2; a quarter of it is 5% of $1,000.
    found = size_bet(
        D("0.5"),
        D("0.6"),
        rules(fractional_kelly_lambda=D("0.25"), max_per_position=D("1")),
        book("1000"),
    )
    assert found.kelly_raw == D("0.2") and found.kelly_fraction == D("0.05")
    assert found.size == D("50.00") and found.constraints == []


def test_no_edge_is_no_bet() -> None:
    found = size_bet(D("0.6"), D("0.55"), rules(), book())
    assert found.size == 0 and not found.bet and "no edge" in found.constraints[0]


def test_each_cap_that_binds_is_named() -> None:
    # f* = 0.5 at 0.2 with p = 0.6: 37.5% Kelly of $10,000 is $1,875, above every cap.
    found = size_bet(D("0.2"), D("0.6"), rules(max_bet=D("300")), book())
    assert found.size == D("300.00")
    assert [c.split(":")[0] for c in found.constraints] == ["max_bet"]
    held = size_bet(D("0.2"), D("0.6"), rules(), book(position_cost=D("450")))
    assert held.size == D("50.00") and held.constraints[-1].startswith("max_per_position")


def test_the_caps_leave_room_for_the_fee() -> None:
    # 5% of $10,000 is a $500 position; at a 2% fee rate the bet is $500 / 1.02, and
    # its fee (under 2% of it at any price) keeps the position under $500.
    found = size_bet(D("0.2"), D("0.6"), rules(max_bet=D("1000")), book(), D("0.02"))
    assert found.size == D("490.19")
    assert found.constraints[-1] == "max_per_position: capped at $490.19"
    # Cash of $100 buys $98.03 of shares and its fee of at most $1.96.
    poor = size_bet(D("0.2"), D("0.6"), rules(), book(cash=D("100")), D("0.02"))
    assert poor.size == D("98.03") and poor.constraints[-1].startswith("cash")


def test_drawdown_protection_past_its_threshold_reduces_the_bet() -> None:
    on = rules(drawdown_protection=True, max_per_position=D("1"), max_bet=D("100000"))
    calm = size_bet(D("0.5"), D("0.6"), on, book("9100", peak_equity=D("10000")))
    hurt = size_bet(D("0.5"), D("0.6"), on, book("9000", peak_equity=D("10000")))
    # 9% drawdown: below the 10% threshold; 10%: halved (size_reduction 0.5).
    assert calm.size == D("682.50") and hurt.size == D("337.50")
    assert hurt.constraints[0].startswith("drawdown_protection: 10.0% drawdown")
    stopped = size_bet(
        D("0.5"),
        D("0.6"),
        rules(drawdown_protection=True, size_reduction=D("1")),
        book("8000", peak_equity=D("10000")),
    )
    assert stopped.size == 0


def test_below_min_bet_no_bet_is_made() -> None:
    found = size_bet(D("0.5"), D("0.505"), rules(), book("1000"))  # $3.75
    assert found.size == 0 and found.constraints[-1].startswith("min_bet")


money = st.decimals(min_value=0, max_value=1_000_000, places=2)
fraction = st.decimals(min_value=D("0.01"), max_value=1, places=2)


@settings(max_examples=300, deadline=None)
@given(
    price=st.decimals(min_value=D("0.01"), max_value=D("0.99"), places=2),
    p_win=st.decimals(min_value=0, max_value=1, places=3),
    kelly=fraction,
    max_per_position=fraction,
    heat=st.none() | fraction,
    min_bet=st.decimals(min_value=0, max_value=100, places=2),
    max_bet=money,
    equity=money,
    cash=money,
    deployed=money,
    position_cost=money,
    peak_extra=money,
    protection=st.booleans(),
    threshold=fraction,
    reduction=st.decimals(min_value=0, max_value=1, places=2),
    fee_rate=st.decimals(min_value=0, max_value=D("0.10"), places=4),
    fill_price=st.decimals(min_value=D("0.001"), max_value=D("0.999"), places=3),
)
def test_the_bet_is_within_every_rule(
    price: Decimal,
    p_win: Decimal,
    kelly: Decimal,
    max_per_position: Decimal,
    heat: Decimal | None,
    min_bet: Decimal,
    max_bet: Decimal,
    equity: Decimal,
    cash: Decimal,
    deployed: Decimal,
    position_cost: Decimal,
    peak_extra: Decimal,
    protection: bool,
    threshold: Decimal,
    reduction: Decimal,
    fee_rate: Decimal,
    fill_price: Decimal,
) -> None:
    r = SizingRules(
        kelly,
        max_per_position,
        min_bet,
        max(max_bet, min_bet),
        heat,
        protection,
        threshold,
        reduction,
    )
    b = SizingPortfolio(equity, cash, deployed, equity + peak_extra, position_cost)
    found = size_bet(price, p_win, r, b, fee_rate)
    # The taker fee of buying `size` dollars of shares at any fill price.
    spent = found.size + found.size * fee_rate * (1 - fill_price)
    assert found.size >= 0
    assert found.size == found.size.quantize(D("0.01"))
    assert found.size <= r.max_bet
    assert spent <= b.cash
    if found.size > 0:
        assert found.size >= r.min_bet
        assert p_win > price
        # Never above max_per_position of equity with its fee, counting what the
        # position holds.
        assert spent + b.position_cost <= r.max_per_position * b.equity
        if heat is not None:
            assert spent + b.deployed <= heat * b.equity
    undamped = size_bet(
        price,
        p_win,
        SizingRules(kelly, max_per_position, min_bet, max(max_bet, min_bet), heat),
        b,
        fee_rate,
    )
    assert found.size <= undamped.size
    if protection and b.drawdown >= threshold:
        # Past the threshold the bet is at most (1 - size_reduction) of the Kelly bet;
        # a reduction of 100% is no bet at all.
        assert found.size <= (1 - reduction) * equity * kelly * max(found.kelly_raw, D(0))
        if reduction == 1:
            assert found.size == 0
