"""Backtest speed: 30 days of a 5-minute strategy (8,640 slots) over 100 markets, from
recorded history in the database.

History: 100 markets recorded for 30 days, each market's state changing every 30
minutes (1,440 states per market, 144,000 rows; unchanged recordings in between
only extend a row, as the recorder writes them), prices moving on a sine; ten
markets resolve Yes on day 15. Written straight into the history tables with one
INSERT ... SELECT (the recorder's shape), not timed.

Strategy (the original builder's nodes, in the engine's vocabulary): Market Data
(top 100 by 24h volume) -> Filter (currentPrice < 0.1) -> Buy $10 of Yes, every
5 minutes. Timed: `Backtester.run` from the first read of history to the report;
peak memory is the process's peak RSS (ru_maxrss), measured after the run. The
target: under 60 s and under 300 MB. Beside it, on the same event loop, a probe
sleeps 10 ms over and over and records how late it wakes: what a live tick in the
same process would wait for; and the same probe alone, with no backtest, for the
floor. The runs alternate, `--rounds` times each, interleaved so that the machine's
load falls on both alike, between "before": the backtest on the probe's event loop,
as the server ran it, and "after": as the server runs it now, in a child process
(backtests/process.py). Peak RSS is this process's: the in-loop runs give the
backtest's own peak (the child's is not measured here).

    .venv/bin/python bench/backtest.py [--quick] [--days 30] [--rounds 2]
"""

from __future__ import annotations

import asyncio
import resource
import time
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import common
import psycopg

from cascadian.backtests.process import ProcessBacktester
from cascadian.backtests.runner import Backtester, BacktestRequest
from cascadian.bootstrap import open_store
from cascadian.data import Schedule, Workflow
from cascadian.store.sql_store import SqlStore

VARIANTS = ("before: in the event loop", "after: in a child process")

T0 = datetime(2026, 10, 1, tzinfo=UTC)
MARKETS = 100

HISTORY = """
insert into cascadian_history_markets (market_id, static, updated_at)
select 'm' || i, jsonb_build_object(
    'id', 'm' || i, 'question', 'Will market ' || i || ' happen?', 'slug', 'm' || i,
    'outcomes', jsonb_build_array('Yes', 'No'),
    'clob_token_ids', jsonb_build_array('t' || i || 'y', 't' || i || 'n'),
    'condition_id', null, 'end_date', null, 'category', 'Politics', 'neg_risk', false,
    'tick_size', 0.01, 'min_order_size', 5), %(t0)s
from generate_series(0, %(markets)s - 1) i;

insert into cascadian_market_history (market_id, seen_at, last_seen_at, state)
select 'm' || i,
       %(t0)s + make_interval(mins => k * 30),
       %(t0)s + make_interval(mins => k * 30 + 25),
       jsonb_build_object(
           'outcome_prices', case when resolved then jsonb_build_array(1.0, 0.0)
                                  else jsonb_build_array(p, round(1 - p, 4)) end,
           'volume', 100000 + k * 10, 'volume_24h', 1000 + (i * 37 %% 100) * 50,
           'liquidity', 5000, 'active', true, 'closed', resolved,
           'best_bid', null, 'best_ask', null, 'spread', null, 'last_trade_price', null,
           'accepting_orders', not resolved, 'enable_order_book', true)
from generate_series(0, %(markets)s - 1) i,
     generate_series(0, %(states)s - 1) k,
     lateral (select round((0.5 + 0.48 * sin(k / 40.0 + i))::numeric, 4) as p,
                     i < 10 and k >= %(states)s / 2 as resolved) v;
"""


def node(node_id: str, kind: str, config: dict[str, object]) -> dict[str, object]:
    return {"id": node_id, "type": kind, "data": {"config": config}}


def workflow() -> Workflow:
    return Workflow(
        id=uuid.uuid4(),
        name="cheap yes",
        nodes=[
            node("markets", "original-polymarket-stream", {"maxResults": 100}),
            node(
                "cheap",
                "original-filter",
                {"conditions": [{"field": "currentPrice", "operator": "lt", "value": 0.1}]},
            ),
            node("buy", "original-polymarket-buy", {"outcome": "Yes", "amount": 10}),
        ],
        edges=[
            {"id": "a", "source": "markets", "target": "cheap"},
            {"id": "b", "source": "cheap", "target": "buy"},
        ],
    )


async def probed(
    work: Coroutine[Any, Any, dict[str, Any]] | None, alone_seconds: float = 5.0
) -> tuple[float, list[float], dict[str, Any]]:
    """`work` (or, None, `alone_seconds` of nothing) with the probe beside it on this
    event loop: (seconds, the probe's lags in ms, the work's answer)."""
    lags: list[float] = []
    running = True

    async def probe() -> None:
        """What a live tick in this process would wait for: how late a 10 ms sleep
        wakes while the backtest runs beside it on the same event loop."""
        while running:
            asked = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append((time.perf_counter() - asked - 0.01) * 1000)

    prober = asyncio.ensure_future(probe())
    started = time.perf_counter()
    answer: dict[str, Any] = {}
    if work is None:
        await asyncio.sleep(alone_seconds)
    else:
        answer = await work
    elapsed = time.perf_counter() - started
    running = False
    await prober
    return elapsed, lags, answer


async def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--days", type=float, default=None, help="window in days (default 30)")
    p.add_argument("--rounds", type=int, default=2, help="runs of each page size (default 2)")
    args = p.parse_args()
    days = args.days or (3 if args.quick else 30)
    admin = common.admin_url()
    url = common.fresh_database(admin, "cascadian_bench_backtest")
    states = int(days * 48)
    common.print_header(
        "backtest speed",
        url,
        f"{days:g} days of a 5-minute strategy ({int(days * 288)} slots), Market Data -> "
        f"Filter -> Buy over {MARKETS} markets, {MARKETS * states:,} recorded states.",
    )
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in HISTORY.split(";")[:-1]:
            conn.execute(statement, {"t0": T0, "markets": MARKETS, "states": states})
        conn.execute("analyze")
    store = SqlStore.postgres(url, pool_size=2)
    await store.open()
    settings = common.bench_settings(url, CASCADIAN_HISTORY_EVERY_SECONDS=1800)
    request = BacktestRequest(
        workflow(),
        Schedule(interval_minutes=5),
        T0,
        T0 + timedelta(days=days) - timedelta(minutes=5),
    )
    results: dict[str, list[tuple[float, list[float], dict[str, object]]]] = {
        label: [] for label in VARIANTS
    }
    try:
        alone = await probed(None)
        for r in range(args.rounds):
            order = VARIANTS if r % 2 == 0 else tuple(reversed(VARIANTS))
            for label in order:
                if label == VARIANTS[0]:
                    work = Backtester(store, settings).run(request)
                else:
                    work = ProcessBacktester(settings, open_store).run(request)
                results[label].append(await probed(work))
        alone += await probed(None)
    finally:
        await store.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = []
    for label, runs in results.items():
        for elapsed, lags, report in runs:
            [run] = report["runs"]  # type: ignore[index]
            m = run["metrics"]
            lags.sort()
            rows.append(
                (
                    label,
                    round(elapsed, 1),
                    round(elapsed * 1000 / report["slots"], 2),  # type: ignore[operator]
                    m["orders"],
                    m["failed_slots"],
                    f"{common.median(lags):.1f}",
                    f"{lags[int(len(lags) * 0.99)]:.1f}",
                    f"{lags[-1]:.1f}",
                )
            )
    common.print_table(
        [
            "backtest",
            "seconds",
            "ms per slot",
            "orders",
            "failed",
            "lag median ms",
            "lag p99 ms",
            "lag max ms",
        ],
        rows,
    )
    alone_lags = sorted(alone[1])
    print(
        f"\nthe probe alone (no backtest): {len(alone_lags)} probes, lag median "
        f"{common.median(alone_lags):.1f} ms, p99 "
        f"{alone_lags[int(len(alone_lags) * 0.99)]:.1f} ms, max {alone_lags[-1]:.1f} ms"
    )
    print(f"peak RSS of this process (the in-loop runs): {round(peak_mb)} MB")
    slowest = max(e for runs in results.values() for e, _, _ in runs)
    print(
        f"\ntargets: under 60 s: {'met' if slowest < 60 else 'NOT met'} (slowest run "
        f"{slowest:.1f} s); under 300 MB: {'met' if peak_mb < 300 else 'NOT met'}"
    )
    common.drop_database(admin, "cascadian_bench_backtest")


if __name__ == "__main__":
    common.run(main)
