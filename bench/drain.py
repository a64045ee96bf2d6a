"""Drain throughput: 10,000 due no-op strategies (start -> end), drained by 1, 2 and 4
worker processes.

Each process runs ticks back to back (TickService with the real GraphExecutor and
SqlStore) until a tick finds nothing due. Throughput is runs / (last process
done - first process started). Round trips are counted two ways: the store calls
each process makes (one statement each), and the transactions the database
committed (pg_stat_database.xact_commit, read after every connection is closed).

    .venv/bin/python bench/drain.py [--quick] [--strategies N] [--procs 1 2 4]
    .venv/bin/python bench/drain.py --profile     # one process under cProfile
    .venv/bin/python bench/drain.py --claim-without-lock   # what the claims' turns cost

`--claim-without-lock` is a measurement only: it redefines, in the bench's own
database, the claim function without the advisory lock that makes claims take turns
(migrations/039), so a drain with and one without it can be compared.
"""

from __future__ import annotations

import asyncio
import cProfile
import multiprocessing as mp
import pstats
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import common
import httpx
import psycopg

from cascadian.store.sql_store import SqlStore
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeServices

DB = "cascadian_bench_drain"

# Settings variants: the defaults, and wide batches (claim 200 at a time).
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults (claim 25, concurrency 25)": {},
    "claim 200, concurrency 200": {
        "CASCADIAN_CLAIM_LIMIT": 200,
        "CASCADIAN_MAX_CONCURRENCY": 200,
    },
}


class CountingStore:
    """The real store; counts each call (each is one statement, one round trip)."""

    def __init__(self, inner: SqlStore) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.seconds: dict[str, float] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr) or name in ("open", "close"):
            return attr

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            t0 = time.perf_counter()
            try:
                return await attr(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

        return counted


async def drain(url: str, env: dict[str, Any]) -> dict[str, Any]:
    """Tick until nothing is due; return runs, ticks, start/end times, CPU, store calls."""
    settings = common.bench_settings(url, **env)
    if hasattr(settings, "gc_threshold"):  # as bootstrap.services does; a --tree may predate it
        try:
            from cascadian.bootstrap import tune_gc
        except ImportError:  # a --tree from before it moved there
            from cascadian.gc_tuning import tune_gc  # type: ignore[no-redef]

        tune_gc(settings)
    inner = SqlStore.postgres(url, pool_size=settings.db_pool_size)
    store = CountingStore(inner)
    await inner.open()
    runs = ticks = 0
    try:
        async with httpx.AsyncClient() as http:
            executor = GraphExecutor(services=NodeServices(settings, http=http, store=store))
            service = common.tick_service(store, executor, settings)
            await inner.ping()
            start, cpu = time.time(), _cpu()
            while True:
                report = await service.tick(trigger="bench")
                ticks += 1
                runs += sum(1 for e in report.executions if e.recorded)
                if report.error:
                    raise RuntimeError(report.error)
                if report.claimed == 0:
                    break
            end, cpu = time.time(), _cpu() - cpu
    finally:
        await inner.close()
    return {
        "runs": runs,
        "ticks": ticks,
        "start": start,
        "end": end,
        "cpu": cpu,
        "calls": store.calls,
        "seconds": store.seconds,
    }


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _process(url: str, env: dict[str, Any], barrier: Any, results: Any) -> None:
    barrier.wait()
    results.put(asyncio.run(drain(url, env)))


def measure(
    url: str, procs: int, env: dict[str, Any], strategies: int, owners: int = 1
) -> dict[str, Any]:
    common.reset(url)
    common.seed(url, strategies, owners=owners)
    commits_before = common.xact_commits(url)
    db_cpu_before = common.server_cpu_seconds(url)
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(procs), ctx.Queue()
    workers = [
        ctx.Process(target=_process, args=(url, env, barrier, results)) for _ in range(procs)
    ]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=600) for _ in workers]
    for w in workers:
        w.join()
    # A little slack for the server's statistics to be flushed by exited backends.
    time.sleep(0.6)
    commits = common.xact_commits(url) - commits_before - 1  # -1: the reading itself
    db_cpu_after = common.server_cpu_seconds(url)
    runs = sum(o["runs"] for o in outcomes)
    elapsed = max(o["end"] for o in outcomes) - min(o["start"] for o in outcomes)
    calls: Counter[str] = sum((o["calls"] for o in outcomes), Counter())
    seconds: dict[str, float] = {}
    for o in outcomes:
        for name, s in o["seconds"].items():
            seconds[name] = seconds.get(name, 0.0) + s
    assert runs == strategies, f"{runs} runs recorded for {strategies} strategies"
    return {
        "runs": runs,
        "ticks": sum(o["ticks"] for o in outcomes),
        "worker cpu": sum(o["cpu"] for o in outcomes) / elapsed,
        "db cpu": (
            (db_cpu_after - db_cpu_before) / elapsed
            if db_cpu_after is not None and db_cpu_before is not None
            else None
        ),
        "seconds": elapsed,
        "runs/s": runs / elapsed,
        "client us/run": sum(o["cpu"] for o in outcomes) / runs * 1e6,
        "db us/run": (
            (db_cpu_after - db_cpu_before) / runs * 1e6
            if db_cpu_after is not None and db_cpu_before is not None
            else None
        ),
        "calls/run": sum(calls.values()) / runs,
        "commits/run": commits / runs,
        "calls": {k: f"{n} calls, {seconds[k] / n * 1000:.1f} ms each" for k, n in calls.items()},
    }


def drop_claim_lock(url: str) -> str:
    """Redefine the newest claim function without its advisory lock; its name."""
    with psycopg.connect(url, autocommit=True) as conn:
        name, body = conn.execute(
            "select p.proname, pg_get_functiondef(p.oid) from pg_proc p "
            "where p.proname like 'cascadian_claim_due_v%' order by p.proname desc limit 1"
        ).fetchone()  # type: ignore[misc]
        lines = [ln for ln in body.splitlines() if "pg_advisory_xact_lock" not in ln]
        if len(lines) == len(body.splitlines()):
            raise SystemExit(f"{name} takes no advisory lock: nothing to drop")
        conn.execute("\n".join(lines))  # type: ignore[arg-type]
    return str(name)


def profile(url: str, strategies: int, env: dict[str, Any]) -> None:
    common.reset(url)
    common.seed(url, strategies)
    profiler = cProfile.Profile()
    profiler.enable()
    runs = asyncio.run(drain(url, env))["runs"]
    profiler.disable()
    out = Path(tempfile.gettempdir()) / "cascadian-drain.prof"
    profiler.dump_stats(out)
    print(f"profiled a drain of {runs} runs; stats in {out} (snakeviz/pstats can read it)\n")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--strategies", type=int, default=None)
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--profile", action="store_true", help="profile one process and exit")
    p.add_argument("--variant", choices=list(VARIANTS), action="append", help="only these")
    p.add_argument(
        "--claim-without-lock",
        action="store_true",
        help="measurement only: the claim without its advisory lock (claims no longer take turns)",
    )
    p.add_argument("--env", nargs="+", metavar="NAME=VALUE", help="one variant: these settings")
    p.add_argument(
        "--owners",
        type=int,
        default=1,
        help="users owning the strategies in turn (the claim caps each at "
        "CASCADIAN_OWNER_MAX_RUNS in flight: give the one-owner default 0)",
    )
    args = p.parse_args()
    strategies = args.strategies or (1_000 if args.quick else 10_000)
    admin = common.admin_url()
    url = common.fresh_database(admin, DB)
    if args.claim_without_lock:
        print(f"measurement only: {drop_claim_lock(url)} without its advisory lock")
    variants = {k: VARIANTS[k] for k in args.variant} if args.variant else VARIANTS
    if args.env:
        env = dict(kv.split("=", 1) for kv in args.env)
        variants = {", ".join(args.env): env}
    if args.profile:
        profile(url, strategies, next(iter(variants.values())))
        return
    common.print_header(
        "drain throughput",
        url,
        f"{strategies:,} due no-op strategies (start -> end), drained by N processes, "
        "each ticking back to back until nothing is due.\n"
        "calls/run: store calls per run (each one statement); commits/run: "
        "transactions the database committed per run. worker/db cores: CPU seconds used "
        "per wall second by the worker processes and by the PostgreSQL server.",
    )
    rows = []
    for name, env in variants.items():
        for procs in args.procs:
            r = measure(url, procs, env, strategies, args.owners)
            rows.append(
                (
                    name,
                    procs,
                    r["runs"],
                    r["ticks"],
                    r["seconds"],
                    r["runs/s"],
                    r["calls/run"],
                    r["commits/run"],
                    r["worker cpu"],
                    "n/a" if r["db cpu"] is None else r["db cpu"],
                )
            )
            print(f"  {name}, {procs} process(es): {r['runs/s']:,.0f} runs/s, calls {r['calls']}")
    print()
    common.print_table(
        [
            "settings",
            "procs",
            "runs",
            "ticks",
            "s",
            "runs/s",
            "calls/run",
            "commits/run",
            "worker cores",
            "db cores",
        ],
        rows,
    )
    one = max(r[5] for r in rows if r[1] == 1)
    print(
        f"target >= 2,500 runs/s with one process: {'met' if one >= 2500 else 'NOT met'} "
        f"(best one-process figure {one:,.0f} runs/s)"
    )
    common.drop_database(admin, DB)


if __name__ == "__main__":
    main()
