"""Peer comparison: the same 10,000 no-op periodic runs drained by cascadian and by
procrastinate, on the same PostgreSQL database, in the same script, one process each.

cascadian: 10,000 due no-op strategies (start -> end), drained by one process
ticking back to back (as bench/drain.py).

procrastinate: 10,000 jobs of a no-op task that takes the `timestamp` argument its
periodic tasks receive, deferred in batches first (the work procrastinate's
periodic deferrer does, timed separately), then drained by one worker
(`run_worker_async(wait=False)`), at two concurrencies.

Pairs are interleaved and repeated; each figure is the median. Needs the bench
extra: pip install -e ".[bench]".

    .venv/bin/python bench/peer_procrastinate.py [--quick] [--rounds N]
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import time
from typing import Any

import common
import drain
import psycopg

try:
    import procrastinate
except ImportError as exc:  # pragma: no cover
    raise SystemExit('procrastinate is not installed: pip install -e ".[bench]"') from exc

DB = "cascadian_bench_peer"


def procrastinate_app(url: str) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="noop", queue="bench")
    async def noop(timestamp: int) -> None:
        return None

    return app


async def procrastinate_round(url: str, jobs: int, concurrency: int) -> dict[str, Any]:
    app = procrastinate_app(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("truncate procrastinate_jobs restart identity cascade")
    async with app.open_async():
        now = int(time.time())
        t0 = time.perf_counter()
        task = app.tasks["noop"]
        for i in range(0, jobs, 1000):
            batch: list[dict[str, Any]] = [
                {"timestamp": now + j} for j in range(i, min(jobs, i + 1000))
            ]
            await task.batch_defer_async(*batch)
        deferred = time.perf_counter() - t0
        commits = common.xact_commits(url)
        t0 = time.perf_counter()
        await app.run_worker_async(
            queues=["bench"],
            concurrency=concurrency,
            wait=False,
            listen_notify=False,
            install_signal_handlers=False,
        )
        elapsed = time.perf_counter() - t0
    await asyncio.sleep(0.6)  # let exited backends flush their statistics
    commits = common.xact_commits(url) - commits - 1
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select count(*) from procrastinate_jobs where status = 'succeeded'"
        ).fetchone()
    done = int(row[0]) if row else 0
    assert done == jobs, f"procrastinate ran {done} of {jobs} jobs"
    return {
        "seconds": elapsed,
        "runs/s": jobs / elapsed,
        "commits/run": commits / jobs,
        "defer s": deferred,
    }


def cascadian_round(url: str, strategies: int, env: dict[str, Any]) -> dict[str, Any]:
    r = drain.measure(url, 1, env, strategies)
    return {"seconds": r["seconds"], "runs/s": r["runs/s"], "commits/run": r["commits/run"]}


async def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--rounds", type=int, default=None, help="rounds (default 3)")
    args = p.parse_args()
    runs = 1_000 if args.quick else 10_000
    rounds = args.rounds or (1 if args.quick else 3)
    logging.getLogger("procrastinate").setLevel(logging.ERROR)
    admin = common.admin_url()
    url = common.fresh_database(admin, DB)
    app = procrastinate_app(url)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
    common.print_header(
        "peer comparison: procrastinate",
        url,
        f"{runs:,} no-op periodic runs, one process, same database; median of {rounds} "
        "interleaved rounds. procrastinate's deferral (one job row per run) is timed "
        "separately and not counted in its drain time.\n"
        f"procrastinate {importlib.metadata.version('procrastinate')}",
    )
    pairs: list[tuple[str, dict[str, Any], int]] = [
        ("claim 25, concurrency 10", {"CASCADIAN_MAX_CONCURRENCY": 10}, 10),
        (
            "claim 200, concurrency 200",
            {"CASCADIAN_CLAIM_LIMIT": 200, "CASCADIAN_MAX_CONCURRENCY": 200},
            200,
        ),
    ]
    results: dict[str, list[dict[str, Any]]] = {}
    for _ in range(rounds):
        for name, env, concurrency in pairs:
            results.setdefault(f"cascadian, {name}", []).append(cascadian_round(url, runs, env))
            results.setdefault(f"procrastinate, concurrency {concurrency}", []).append(
                await procrastinate_round(url, runs, concurrency)
            )
    rows = []
    for name, rs in results.items():
        rows.append(
            (
                name,
                common.median([r["runs/s"] for r in rs]),
                common.median([r["commits/run"] for r in rs]),
                common.median([r["defer s"] for r in rs]) if "defer s" in rs[0] else "-",
            )
        )
    common.print_table(["drained by", "runs/s", "commits/run", "defer s (not counted)"], rows)
    for name, _, concurrency in pairs:
        ours = common.median([r["runs/s"] for r in results[f"cascadian, {name}"]])
        peer = common.median(
            [r["runs/s"] for r in results[f"procrastinate, concurrency {concurrency}"]]
        )
        print(f"ratio at concurrency {concurrency}: cascadian / procrastinate = {ours / peer:.2f}x")
    common.drop_database(admin, DB)


if __name__ == "__main__":
    common.run(main)
