"""Recording the market history: what it costs a live tick.

The market sharing benchmark's setting (bench/market_sharing.py): a local fake
Gamma answers GET /markets/keyset with 100 markets in the real shape after 100 ms;
N due strategies, each start -> polymarket-markets (top 100 by 24h volume) ->
filter -> end, run through one real tick (TickService, GraphExecutor, the Postgres
store). Each round runs one tick with recording off and one with it on (a
HistoryTap under the market data, the HistoryRecorder as the tick's observer,
recording after every tick), interleaved, so the machine's other load falls on
both alike. The fake Gamma's prices move at every request, so every recording
writes 100 new market rows (the worst case; unchanged markets only extend rows).

  tick ms           the tick as the cron endpoint waits for it
  recording ms      the recording's own write, after the tick (the tick does not wait)

    .venv/bin/python bench/history_recording.py [--quick] [--rounds 7] [--strategies 100]
"""

from __future__ import annotations

import time
from typing import Any

import common
import httpx
from market_sharing import GRAPH, FakeGamma

from cascadian.backtests.recording import HistoryRecorder
from cascadian.clock import SystemClock
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.market import MarketData
from cascadian.workflow.market.tap import HistoryTap
from cascadian.workflow.node_api import NodeServices


async def one_tick(url: str, gamma: str, store: SqlStore, record: bool) -> tuple[float, float]:
    settings = common.bench_settings(
        url,
        CASCADIAN_POLYMARKET_URL=gamma,
        CASCADIAN_TICK_BUDGET_SECONDS=600,
        CASCADIAN_LEASE_SECONDS=900,
        CASCADIAN_HISTORY_EVERY_SECONDS=10,
    )
    async with httpx.AsyncClient(timeout=settings.node_http_timeout_seconds) as http:
        tap = HistoryTap() if record else None
        markets = MarketData.create(settings, http, tap=tap)
        services = NodeServices(settings, http=http, store=store, markets=markets)
        recorder = HistoryRecorder(store, tap, settings) if tap is not None else None
        observers: list[Any] = [recorder] if recorder is not None else []
        service = TickService(
            store, GraphExecutor(services=services), settings, SystemClock(), observers=observers
        )
        t0 = time.perf_counter()
        report = await service.tick(trigger="bench")
        tick = time.perf_counter() - t0
        t1 = time.perf_counter()
        if recorder is not None:
            await recorder.drain()
        recording = time.perf_counter() - t1
    assert all(e.status == "completed" for e in report.executions), report.executions[:1]
    return tick * 1000, recording * 1000


async def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--rounds", type=int, default=None, help="rounds (default 7)")
    p.add_argument("--strategies", type=int, default=100)
    args = p.parse_args()
    rounds = args.rounds or (3 if args.quick else 7)
    n = args.strategies
    admin = common.admin_url()
    url = common.fresh_database(admin, "cascadian_bench_history")
    common.print_header(
        "recording the market history",
        url,
        f"{n} due strategies reading the same 100 markets, one tick per variant per "
        f"round, {rounds} rounds, interleaved; the fake Gamma answers after 100 ms.",
    )
    store = SqlStore.postgres(url, pool_size=10)
    await store.open()
    results: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    try:
        with FakeGamma(moving=True) as gamma:
            common.seed(url, 1, graph=GRAPH)  # warm up: imports, the pool, plans
            await one_tick(url, gamma, store, True)
            for _ in range(rounds):
                for record in (False, True):
                    common.reset(url)
                    common.seed(url, n, graph=GRAPH)
                    results[record].append(await one_tick(url, gamma, store, record))
    finally:
        await store.close()
    rows = []
    for record, got in results.items():
        ticks = [t for t, _ in got]
        writes = [w for _, w in got]
        rows.append(
            (
                "on" if record else "off",
                common.median(ticks),
                min(ticks),
                max(ticks),
                common.median(writes) if record else "-",
            )
        )
    common.print_table(
        ["recording", "tick ms median", "tick ms min", "tick ms max", "recording ms median"],
        rows,
    )
    off = common.median([t for t, _ in results[False]])
    on = common.median([t for t, _ in results[True]])
    print(f"\nrecording on costs the tick {100 * (on - off) / off:+.1f}% (median against median)")
    common.drop_database(admin, "cascadian_bench_history")


if __name__ == "__main__":
    common.run(main)
