"""Real strategies: 1,000 due strategies of the demo's graph (start -> polymarket-markets
-> filter -> add-to-watchlist -> notify -> end), drained by one worker process, all
asking one shared Gamma query that a fake Gamma on 127.0.0.1 answers after 100 ms
(bench/market_sharing.py's: 100 markets in the real shape, in a process of its own).

The worker ticks back to back (TickService, GraphExecutor, the Postgres store, the
process's shared market cache) until a tick finds nothing due. Reported: runs/s, the
worker's CPU per run (this process, every thread) and the server's (every backend,
pg_stat_activity-free: bench/common.server_cpu_seconds), and the CPU the worker spent
building and encoding the outcomes it wrote (the outcome JSON builder, timed with
thread_time in the thread it runs in) as a share of its own.

    .venv/bin/python bench/real_strategies.py [--quick] [--strategies 1000]
        [--batch 25 200] [--rounds 3] [--tree /tmp/ab-base] [--profile] [--noop]
        [--schema fresh|app]

`--tree` also measures another source tree (the before; interleaved rounds, the order
reversed every other round), as bench/peer_pgboss.py does. `--profile` drains once
under cProfile and prints where the worker's main thread went. `--noop` drains
`start -> end` strategies instead (no Gamma request): the worker's Python per no-op run.
`--schema app` builds the database (and the before's) from the app's schema,
tests/fixtures/existing_deployment.sql, then migrates it, as bench/schemas.py does.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import pstats
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import common
import httpx
import schemas
from market_sharing import FakeGamma

from cascadian.cli.demo import polymarket_watchlist_graph

DB = "cascadian_bench_real"
FIGURES = {"runs/s": ",.0f", "worker us/run": ",.0f", "db us/run": ",.0f", "encoding share": ".1%"}
BEFORE_DB = "cascadian_bench_real_before"


def graph(noop: bool = False) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if noop:
        return common.NOOP
    g = polymarket_watchlist_graph()
    return g["nodes"], g["edges"]


class EncodingClock:
    """Wraps the store's outcome JSON builder (outcomes_json, or outcome_record in a
    tree from before it) to add up the CPU time of the thread that runs it."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()
        from cascadian.store import runs

        name = "outcomes_json" if hasattr(runs, "outcomes_json") else "outcome_record"
        real = getattr(runs, name)

        def timed(*args: Any) -> Any:
            t0 = time.thread_time()
            try:
                return real(*args)
            finally:
                with self._lock:
                    self.seconds += time.thread_time() - t0

        setattr(runs, name, timed)


async def drain(url: str, gamma: str, batch: int) -> dict[str, Any]:
    from cascadian.store.sql_store import SqlStore
    from cascadian.workflow.executor import GraphExecutor
    from cascadian.workflow.market import MarketData
    from cascadian.workflow.node_api import NodeServices

    settings = common.bench_settings(
        url,
        CASCADIAN_POLYMARKET_URL=gamma,
        CASCADIAN_CLAIM_LIMIT=batch,
        CASCADIAN_MAX_CONCURRENCY=batch,
        CASCADIAN_OWNER_MAX_RUNS=0,
    )
    if hasattr(settings, "gc_threshold"):
        from cascadian.bootstrap import tune_gc

        tune_gc(settings)
    clock = EncodingClock()
    store = SqlStore.postgres(url, pool_size=settings.db_pool_size)
    await store.open()
    runs = ticks = 0
    try:
        async with httpx.AsyncClient(timeout=settings.node_http_timeout_seconds) as http:
            markets = MarketData.create(settings, http)
            services = NodeServices(settings, http=http, store=store, markets=markets)
            service = common.tick_service(store, GraphExecutor(services=services), settings)
            await store.ping()
            db_cpu = common.server_cpu_seconds(url)
            start, cpu = time.perf_counter(), _cpu()
            while True:
                report = await service.tick(trigger="bench")
                ticks += 1
                runs += sum(1 for e in report.executions if e.recorded and e.status == "completed")
                if report.error:
                    raise RuntimeError(report.error)
                if report.claimed == 0:
                    break
            elapsed, cpu = time.perf_counter() - start, _cpu() - cpu
            db_us = common.cpu_per_run(url, db_cpu, runs)
    finally:
        await store.close()
    return {
        "runs": runs,
        "ticks": ticks,
        "runs/s": runs / elapsed,
        "worker us/run": cpu / runs * 1e6,
        "db us/run": db_us,
        "encoding share": clock.seconds / cpu,
    }


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(
    url: str, gamma: str, batch: int, strategies: int, noop: bool = False
) -> dict[str, Any]:
    common.reset(url)
    common.seed(url, strategies, graph=graph(noop))
    return asyncio.run(drain(url, gamma, batch))


def measure_in(
    tree: str, url: str, gamma: str, batch: int, strategies: int, noop: bool
) -> dict[str, Any]:
    """measure() in a process that imports `tree`'s cascadian (and this bench folder)."""
    args = json.dumps([url, gamma, batch, strategies, noop])
    code = f"import json, real_strategies as r; print(json.dumps(r.measure(*json.loads({args!r}))))"
    here = Path(__file__).resolve().parent
    out = subprocess.run(
        [sys.executable, "-c", code],
        **common.in_tree(tree, here),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def profile(url: str, gamma: str, batch: int, strategies: int, noop: bool = False) -> None:
    common.reset(url)
    common.seed(url, strategies, graph=graph(noop))
    profiler = cProfile.Profile()
    profiler.enable()
    result = asyncio.run(drain(url, gamma, batch))
    profiler.disable()
    out = Path(os.environ.get("TMPDIR", "/tmp")) / "cascadian-real-strategies.prof"
    profiler.dump_stats(out)
    print(f"{result}\nstats in {out}\n")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--strategies", type=int, default=None)
    p.add_argument("--batch", type=int, nargs="+", default=[25])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--tree", help="also measure this source tree (the before)")
    p.add_argument("--profile", action="store_true", help="profile one drain and exit")
    p.add_argument("--noop", action="store_true", help="start -> end strategies instead")
    p.add_argument(
        "--schema",
        choices=["fresh", "app"],
        default="fresh",
        help="app: tests/fixtures/existing_deployment.sql, then migrated (bench/schemas.py)",
    )
    args = p.parse_args()
    strategies = args.strategies or (100 if args.quick else 1_000)
    admin = common.admin_url()
    url = (
        schemas.app_database(admin, DB)
        if args.schema == "app"
        else common.fresh_database(admin, DB)
    )
    before_url = None
    if args.tree:
        common.drop_database(admin, BEFORE_DB)
        before_url = (
            schemas.app_database(admin, BEFORE_DB)
            if args.schema == "app"
            else common.fresh_database(admin, BEFORE_DB)
        )
    fake = FakeGamma()
    with fake as gamma:
        if args.profile:
            profile(url, gamma, args.batch[0], strategies, args.noop)
            return
        common.print_header(
            "real strategies",
            url,
            f"{args.schema} schema, {strategies:,} due strategies of "
            + ("start -> end" if args.noop else "the demo's graph")
            + ", one worker process, one "
            "shared Gamma query (fake, 100 ms, 127.0.0.1); "
            f"{args.rounds} rounds, median (min-max).",
        )
        noop = args.noop
        sides: dict[str, Any] = {"cascadian": lambda b: measure(url, gamma, b, strategies, noop)}
        if args.tree and before_url is not None:
            tree = args.tree
            sides["before"] = lambda b: measure_in(tree, before_url, gamma, b, strategies, noop)
        results: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            for batch in args.batch:
                for side in order:
                    m = sides[side](batch)
                    results.setdefault((side, batch), []).append(m)
                    print(
                        f"  round {r + 1}, {side}, batch {batch}: {m['runs/s']:,.0f} runs/s, "
                        f"worker {m['worker us/run']:,.0f} us/run, db {m['db us/run']:,.0f} "
                        f"us/run, encoding {m['encoding share']:.0%} of the worker "
                        f"(load {os.getloadavg()[0]:.1f})",
                        flush=True,
                    )
        print(f"\nGamma requests in all: {fake.requests}\n")
    rows = []
    for (side, batch), ms in results.items():
        row: list[Any] = [side, batch]
        for key, form in FIGURES.items():
            values = sorted(m[key] for m in ms)
            mid, low, high = (
                format(v, form) for v in (common.median(values), values[0], values[-1])
            )
            row.append(f"{mid} ({low}-{high})")
        rows.append(row)
    common.print_table(
        ["side", "batch", "runs/s", "worker us/run", "db us/run", "encoding share"], rows
    )
    common.drop_database(admin, DB)
    if before_url is not None:
        common.drop_database(admin, BEFORE_DB)


if __name__ == "__main__":
    main()
