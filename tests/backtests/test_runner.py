"""The runner: a graph run at every slot over recorded history, golden results
computed by hand, a market resolving mid-window settling, no look-ahead (the same
decisions on history truncated at t), sweeps whose rows match separate runs, and
every bad input refused before anything runs."""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any, overload

import psycopg
import pytest

from cascadian.backtests.runner import Backtester, BacktestRequest
from cascadian.errors import BacktestCancelled, BacktestInvalid
from cascadian.ports import FullStore
from tests.backtests.history_fixture import HOUR, HOURLY, T0, edge, graph, node, write_history
from tests.polymarket_fixtures import settings

D = Decimal
CONFIG = settings(CASCADIAN_HISTORY_EVERY_SECONDS=3600, CASCADIAN_DEFAULT_FEE_RATE="0.02")


def request(**kw: Any) -> BacktestRequest:
    fields: dict[str, Any] = {
        "workflow": graph(),
        "schedule": HOURLY,
        "start": T0,
        "end": T0 + 3 * HOUR,
    } | kw
    return BacktestRequest(**fields)


@pytest.mark.both_schemas
async def test_a_small_strategy_gives_the_results_worked_out_by_hand(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    await write_history(any_store)
    report = await Backtester(any_store, CONFIG).run(request())
    [run] = report["runs"]
    assert (report["slots"], run["errors"]) == (4, [])
    # T0: m1 Yes at 0.30, under 0.35: buy $93 at the spread model's ask 0.31 (half-spread
    # 0.01): 300 shares, fee 300 x 0.02 x 0.31 x 0.69 = 1.2834.
    # T0+1h: m1 at 0.40 is not cheap; m2 at 0.15 is: 93 / 0.16 = 581.25 shares, fee
    # 581.25 x 0.02 x 0.16 x 0.84 = 1.5624.
    # T0+2h: m1 resolved Yes: its 300 shares pay 300 (P&L 300 - 94.2834); m2 at 0.40.
    orders = [
        (o["at"], o["market_id"], o["result"], o["shares"], o["fee_usd"]) for o in run["orders"]
    ]
    assert orders == [
        (T0.isoformat(), "m1", "filled", "300.000000", "1.28340000"),
        ((T0 + HOUR).isoformat(), "m2", "filled", "581.250000", "1.56240000"),
    ]
    assert run["orders"][0]["based_on"]["book"] == "spread model"
    cash1 = D(10_000) - D(93) - D("1.2834")
    cash2 = cash1 - D(93) - D("1.5624")
    equity = [
        cash1 + 300 * D("0.30"),
        cash2 + 300 * D("0.40") + D("581.25") * D("0.15"),
        cash2 + 300 + D("581.25") * D("0.40"),
        cash2 + 300 + D("581.25") * D("0.40"),
    ]
    assert [D(p["equity"]) for p in run["equity_curve"]] == equity
    m = run["metrics"]
    assert D(m["final_equity"]) == equity[-1] == D("10343.6542")
    assert D(m["total_pnl"]) == D("343.6542")
    assert m["roi"] == pytest.approx(0.03436542)
    assert D(m["realized_pnl"]) == 300 - D(93) - D("1.2834")
    assert (m["orders"], m["closed_positions"], m["win_rate"], m["profit_factor"]) == (
        2,
        1,
        1.0,
        None,
    )
    assert D(m["max_drawdown_usd"]) == D(10_000) - equity[0]
    returns = [float(b / a - 1) for a, b in itertools.pairwise(equity)]
    slots_per_year = 365 * 24
    expected = statistics.fmean(returns) / statistics.pstdev(returns) * math.sqrt(slots_per_year)
    assert m["sharpe"] == pytest.approx(expected, rel=1e-3)
    assert run["positions"] == [
        {"market_id": "m2", "outcome": "Yes", "shares": "581.250000", "cost": "94.56240000"}
    ]


async def test_decisions_up_to_t_are_the_same_on_history_truncated_at_t(
    pg_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    t = T0 + HOUR
    await write_history(pg_store, hours=2)  # recorded up to t only
    truncated = await Backtester(pg_store, CONFIG).run(request(end=t))
    db.execute("truncate cascadian_market_history, cascadian_history_markets")
    await write_history(pg_store)  # the whole window
    full = await Backtester(pg_store, CONFIG).run(request())

    def upto(run: dict[str, Any]) -> tuple[list[Any], list[Any]]:
        orders = [o for o in run["orders"] if o["at"] <= t.isoformat()]
        curve = [p for p in run["equity_curve"] if p["at"] <= t.isoformat()]
        return orders, curve

    assert upto(truncated["runs"][0]) == upto(full["runs"][0])
    assert len(upto(full["runs"][0])[0]) == 2


async def test_a_sweep_gives_one_row_per_value_each_as_its_own_run_gives(
    pg_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    await write_history(pg_store)
    tester = Backtester(pg_store, CONFIG)
    values = [0.2, 0.35, 0.5]
    swept = await tester.run(request(variables={"threshold": values}))
    assert [r["variables"] for r in swept["rows"]] == [{"threshold": v} for v in values]
    for row, value in zip(swept["rows"], values, strict=True):
        alone = await tester.run(request(variables={"threshold": [value]}))
        assert row == alone["rows"][0]
    assert swept["rows"][0]["orders"] == 1  # 0.2: only m2 at 0.15
    assert swept["rows"][2]["orders"] == 4  # 0.5: m1 at 0.30 and 0.40, then m2 at 0.40 twice


async def test_progress_is_reported_and_a_cancel_stops_between_slots(
    pg_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    await write_history(pg_store)
    seen: list[tuple[int, int]] = []
    cancel = asyncio.Event()

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 2:
            cancel.set()

    with pytest.raises(BacktestCancelled, match="stopped at"):
        await Backtester(pg_store, CONFIG).run(request(), progress, cancel)
    assert seen == [(1, 4), (2, 4)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"end": T0 - HOUR}, "must be after --from"),
        ({"end": T0 + timedelta(days=91)}, "CASCADIAN_BACKTEST_MAX_DAYS"),
        (
            {"variables": {"treshold": [0.5]}},
            "unknown variable(s) treshold: the graph declares threshold",
        ),
        (
            {"start": T0 + timedelta(days=10), "end": T0 + timedelta(days=11)},
            "no recorded history between",
        ),
    ],
)
async def test_bad_input_is_refused_before_anything_runs(
    pg_store: FullStore, db: psycopg.Connection[Any], change: dict[str, Any], message: str
) -> None:
    await write_history(pg_store)
    ran: list[int] = []
    with pytest.raises(BacktestInvalid) as refused:
        await Backtester(pg_store, CONFIG).run(request(**change), lambda d, t: ran.append(d))
    assert message in str(refused.value)
    assert ran == []


class Unread(Sequence[Any]):
    """A variable's values that fail the test if anything reads them: only their
    count may be asked."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, i: int) -> Any: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Any]: ...
    def __getitem__(self, i: int | slice) -> Any:
        raise AssertionError("the sweep's values were read before its size was checked")


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        # 60^4 = 12,960,000 combinations: building them took minutes and gigabytes.
        ({f"v{i}": Unread(60) for i in range(4)}, "the sweep has 12960000 combinations"),
        ({"v0": Unread(10**9)}, "variable v0 has 1000000000 values; at most 64"),
        ({f"v{i}": Unread(1) for i in range(65)}, "65 variables; at most 64"),
    ],
)
async def test_a_huge_sweep_is_refused_from_its_size_without_building_it(
    variables: dict[str, Any], message: str
) -> None:
    workflow = replace(graph(), variables={name: 1 for name in variables})
    with pytest.raises(BacktestInvalid) as refused:
        await Backtester(NoHistory(), CONFIG).run(request(workflow=workflow, variables=variables))
    assert message in str(refused.value)


class NoHistory:
    """A store the refusal must not reach."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the store was asked {name} before the sweep was refused")


async def test_nodes_that_would_look_ahead_are_refused_naming_node_and_field(
    pg_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    await write_history(pg_store)
    web = node(
        "fetch", "original-http-request", {"url": "https://example.com/odds", "method": "GET"}
    )
    workflow = graph(0.35, web)
    workflow = replace(workflow, edges=[*workflow.edges, edge("buy", "fetch")])
    with pytest.raises(BacktestInvalid) as refused:
        # From before recording began: the listing has no history there either.
        await Backtester(pg_store, CONFIG).run(request(workflow=workflow, start=T0 - HOUR))
    found = {(p.node_id, p.field) for p in refused.value.problems}
    assert ("fetch", "data.config.url") in found
    assert ("stream", "markets") in found and ("buy", "markets") in found
    assert any("recorded from" in p.message for p in refused.value.problems)
