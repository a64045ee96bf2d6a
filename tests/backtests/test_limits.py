"""A backtest trades under the strategy's own rules: its trading limits, its bankroll
as the starting cash, the daily loss halt (which stops the strategy's later slots and
is reported), and a fee rate, each overridable and each bad value refused before
anything runs; a saved strategy's limits are read from its portfolio, through the
API and the CLI. The history is tests/backtests/history_fixture.py's: m1 Yes at
0.30 at T0 is bought for $93 at the spread model's ask 0.31 (300 shares, fee
1.2834), and marked at its midpoint 0.30."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest

from cascadian.backtests.runner import Backtester
from cascadian.data import TradingLimits
from cascadian.errors import BacktestInvalid
from cascadian.ports import FullStore
from cascadian.store.sql_store import SqlStore
from tests.api_client import client
from tests.backtests.history_fixture import HOUR, T0, graph, write_history
from tests.backtests.test_interfaces import ENV, WINDOW, cli, env, record, saved
from tests.backtests.test_runner import CONFIG, request
from tests.store.test_trading_book_sql import limits

D = Decimal
__all__ = ["env"]  # the CLI's environment, a fixture


async def test_an_order_over_the_strategys_max_order_is_refused_naming_the_limit(
    pg_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    await write_history(pg_store)
    report = await Backtester(pg_store, CONFIG).run(
        request(limits=TradingLimits(max_order_usd=D(50)))
    )
    [run] = report["runs"]
    assert [(o["result"], o["refusal"]) for o in run["orders"]] == [
        ("refused", "max_order_usd"),
        ("refused", "max_order_usd"),
    ]
    assert run["metrics"]["total_pnl"] == "0"
    assert report["limits"]["max_order_usd"] == "50"


@pytest.mark.both_schemas
async def test_the_daily_loss_halts_the_backtest_and_its_later_slots_do_not_run(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    await write_history(any_store)
    # At T0's marking the day's loss is the fee and the half-spread:
    # 94.2834 - 300 x 0.30 = 4.2834.
    halted = await Backtester(any_store, CONFIG).run(
        request(limits=TradingLimits(daily_loss_usd=D(4)))
    )
    kept = await Backtester(any_store, CONFIG).run(
        request(limits=TradingLimits(daily_loss_usd=D(5)))
    )
    [run] = halted["runs"]
    assert run["halt"] == {
        "at": T0.isoformat(),
        "reason": "daily_loss_usd",
        "detail": "today's loss is $4.28 (realised $0.00, unrealised since the day's start "
        "$4.28); the limit is $4",
    }
    assert [o["market_id"] for o in run["orders"]] == ["m1"]  # m2 at T0+1h: never run
    assert len(run["equity_curve"]) == 4  # still marked, and m1 settles at T0+2h
    assert D(run["metrics"]["realized_pnl"]) == 300 - D("94.2834")
    assert kept["runs"][0]["halt"] is None and len(kept["runs"][0]["orders"]) == 2


async def test_the_starting_cash_and_the_fee_rate_are_the_requests_when_given(
    pg_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    await write_history(pg_store)
    report = await Backtester(pg_store, CONFIG).run(
        request(limits=TradingLimits(initial_bankroll=D(5000)), bankroll=D(100), fee_rate=D(0))
    )
    [run] = report["runs"]
    # $100: the first buy ($93, no fee) fits, the second does not.
    assert [(o["result"], o["refusal"], o["fee_usd"]) for o in run["orders"]] == [
        ("filled", None, "0E-8"),
        ("refused", "insufficient_cash", "0"),
    ]
    assert (report["bankroll"], report["fee_rate"]) == ("100", "0")
    assert D(run["equity_curve"][0]["cash"]) == D(7)
    default = await Backtester(pg_store, CONFIG).run(
        request(limits=TradingLimits(initial_bankroll=D(5000)))
    )
    assert (default["bankroll"], default["fee_rate"]) == ("5000", "0.02")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bankroll": D(0)}, "the starting cash (bankroll) must be above 0; it is 0"),
        ({"fee_rate": D("1.5")}, "the fee rate is a fraction from 0 to 1"),
        ({"fee_rate": D("-0.01")}, "the fee rate is a fraction from 0 to 1"),
    ],
)
async def test_a_bad_bankroll_or_fee_rate_is_refused_before_anything_runs(
    pg_store: FullStore, db: psycopg.Connection[Any], change: dict[str, Any], message: str
) -> None:
    await write_history(pg_store)
    ran: list[int] = []
    with pytest.raises(BacktestInvalid) as refused:
        await Backtester(pg_store, CONFIG).run(request(**change), lambda d, t: ran.append(d))
    assert message in str(refused.value)
    assert ran == []


async def test_the_api_backtests_a_saved_strategy_under_its_limits_and_checks_overrides(
    pg_store: SqlStore, db: psycopg.Connection[Any]
) -> None:
    await write_history(pg_store)
    sid = saved(db)
    limits(db, sid, initial_bankroll=150, max_position_usd=90)
    async with client(pg_store, **ENV) as http:
        capped = await http.post(f"/api/strategies/{sid}/backtest", json=WINDOW)
        richer = await http.post(
            f"/api/strategies/{sid}/backtest", json={**WINDOW, "bankroll": "1000.50"}
        )
        broke = await http.post(f"/api/strategies/{sid}/backtest", json={**WINDOW, "bankroll": 0})
        fee = await http.post(f"/api/strategies/{sid}/backtest", json={**WINDOW, "fee_rate": 2})
        graph_limits = await http.post(
            "/api/strategies/backtest",
            json={"nodes": [], "edges": [], **WINDOW, "limits": {"max_order_usd": -1}},
        )
    assert capped.status_code == 200, capped.text
    data = capped.json()["data"]
    assert data["bankroll"] == "150"
    refusals = [o["refusal"] for o in data["runs"][0]["orders"]]
    assert refusals == ["max_position_usd", "max_position_usd"]  # $94.28 with its fee
    assert richer.json()["data"]["bankroll"] == "1000.50"
    for bad, field in ((broke, "bankroll"), (fee, "fee_rate")):
        assert bad.status_code == 422 and field in bad.text
    assert graph_limits.status_code == 422 and "max_order_usd is more than 0" in graph_limits.text


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"bankroll": "9e999999"}, "less than or equal to 1E+15"),  # was a P&L of 0E+999972
        ({"bankroll": 1e308}, "less than or equal to 1E+15"),
        ({"bankroll": "1e-999999"}, "no more than 6 decimal places"),
        ({"bankroll": "NaN"}, "finite number"),
        ({"fee_rate": "1e-999999"}, "no more than 6 decimal places"),
    ],
)
async def test_the_api_refuses_a_bankroll_or_fee_rate_out_of_bounds_on_both_routes(
    pg_store: SqlStore, db: psycopg.Connection[Any], change: dict[str, Any], words: str
) -> None:
    await write_history(pg_store)
    sid = saved(db)
    g = graph()
    posted = {"nodes": g.nodes, "edges": g.edges, "variables": g.variables, **WINDOW}
    async with client(pg_store, **ENV) as http:
        answers = [
            await http.post(f"/api/strategies/{sid}/backtest", json={**WINDOW, **change}),
            await http.post("/api/strategies/backtest", json={**posted, **change}),
        ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        [field] = change
        assert field in answer.text and words in answer.text


async def test_the_runner_refuses_a_bankroll_over_ten_to_the_fifteen(
    pg_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    await write_history(pg_store)
    with pytest.raises(BacktestInvalid) as refused:
        await Backtester(pg_store, CONFIG).run(request(bankroll=D("9e999999")))
    assert "the starting cash (bankroll) cannot be used" in str(refused.value)


def test_the_cli_takes_a_bankroll_and_a_fee_rate_and_refuses_bad_ones(
    env: None, database_url: str, db: psycopg.Connection[Any]
) -> None:
    record(database_url)
    sid = saved(db)
    window = ["--from", WINDOW["from"], "--to", WINDOW["to"]]
    ok = cli(sid, *window, "--bankroll", "100", "--fee-rate", "0", "--json")
    assert ok.exit_code == 0, ok.output
    assert '"bankroll": "100"' in ok.stdout
    words = cli(sid, *window, "--bankroll", "lots")
    assert words.exit_code != 0 and "--bankroll 'lots' is not a number" in words.output
    negative = cli(sid, *window, "--fee-rate", "-1")
    assert negative.exit_code == 2 and "greater than or equal to 0" in negative.output
    for huge in ("9e999999", "1e-999999"):
        refused = cli(sid, *window, "--bankroll", huge)
        assert refused.exit_code == 2 and f"--bankroll '{huge}'" in refused.output


def test_the_halt_is_told_on_stderr_by_the_cli(
    env: None, database_url: str, db: psycopg.Connection[Any]
) -> None:
    record(database_url)
    sid = saved(db)
    limits(db, sid, daily_loss_usd=4)
    shown = cli(sid, "--from", WINDOW["from"], "--to", (T0 + 3 * HOUR).isoformat())
    assert shown.exit_code == 0, shown.output
    assert "halted at 2026-11-02T09:00:00+00:00: today's loss is $4.28" in shown.output
