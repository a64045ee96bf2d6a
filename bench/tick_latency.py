"""Tick latency: 25 due strategies whose only work is a 200 ms delay.

Our tick (claim -> run concurrently -> record each outcome) against a faithful
seed-style baseline on the same database, in the same process:

  baseline: select the due rows (limit 25), run each workflow with the same
            GraphExecutor one after the other, then one UPDATE per strategy.

The physical limit is one workflow's delay (200 ms): the runs are independent,
so a tick can take no less. Each figure is the median of several rounds; the
strategies are made due again between rounds.

    .venv/bin/python bench/tick_latency.py [--quick] [--rounds N]
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import common
import httpx
import psycopg
from psycopg.rows import dict_row

from cascadian.config import Settings
from cascadian.data import Schedule, Workflow
from cascadian.schedule import next_slot
from cascadian.store.sql_store import SqlStore
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeServices

STRATEGIES = 25
DELAY = 0.2


async def our_tick(url: str, store: SqlStore, http: httpx.AsyncClient, **env: Any) -> float:
    settings = common.bench_settings(url, CASCADIAN_CLAIM_LIMIT=STRATEGIES, **env)
    executor = GraphExecutor(services=NodeServices(settings, http=http, store=store))
    service = common.tick_service(store, executor, settings)
    t0 = time.perf_counter()
    report = await service.tick(trigger="bench")
    elapsed = time.perf_counter() - t0
    ok = sum(1 for e in report.executions if e.status == "completed" and e.recorded)
    assert ok == STRATEGIES, f"{ok} of {STRATEGIES} runs recorded: {report.summary()}"
    return elapsed


async def seed_style_tick(url: str, http: httpx.AsyncClient) -> float:
    """The seed's design: select due (limit 25), run sequentially, UPDATE each afterwards."""
    executor = GraphExecutor(services=NodeServices(Settings(), http=http))
    t0 = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, row_factory=dict_row
    ) as conn:
        cur = await conn.execute(
            """
            select * from workflow_sessions
            where auto_run and status = 'running' and next_execution_at <= now()
            order by next_execution_at
            limit 25
            """
        )
        due = await cur.fetchall()
        results = []
        for row in due:
            workflow = Workflow(row["id"], row["name"], row["nodes"], row["edges"])
            results.append((row, await executor.execute(workflow)))
        for row, result in results:
            now = datetime.now(UTC)
            schedule = Schedule(
                row["execution_interval_minutes"], row["cron_expression"], row["timezone"]
            )
            await conn.execute(
                """
                update workflow_sessions
                set last_executed_at = %s, next_execution_at = %s,
                    execution_count = execution_count + 1,
                    success_count = success_count + %s,
                    error_count = case when %s then 0 else error_count + 1 end,
                    updated_at = now()
                where id = %s
                """,
                (
                    now,
                    next_slot(schedule, row["next_execution_at"], now),
                    int(result.success),
                    result.success,
                    row["id"],
                ),
            )
    elapsed = time.perf_counter() - t0
    assert len(due) == STRATEGIES and all(r.success for _, r in results)
    return elapsed


async def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--rounds", type=int, default=None, help="rounds per variant (default 7)")
    args = p.parse_args()
    rounds = args.rounds or (2 if args.quick else 7)
    admin = common.admin_url()
    url = common.fresh_database(admin, "cascadian_bench_tick")
    common.seed(url, STRATEGIES, graph=common.delay_graph(DELAY))
    common.print_header(
        "tick latency",
        url,
        f"{STRATEGIES} due strategies, each start -> delay {DELAY * 1000:g} ms -> end; "
        f"median of {rounds} rounds per variant, variants interleaved round by round.",
    )
    variants: dict[str, list[float]] = {
        "ours, CASCADIAN_MAX_CONCURRENCY=10 (the old default)": [],
        "ours, default settings (max concurrency 25)": [],
        "seed-style baseline (sequential)": [],
    }
    store = SqlStore.postgres(url, pool_size=10)
    await store.open()
    try:
        async with httpx.AsyncClient() as http:
            # Warm up: imports, the pool, the node registry, plans.
            common.make_due(url)
            await our_tick(url, store, http)
            for _ in range(rounds):
                for name, times in variants.items():
                    common.make_due(url)
                    if name.startswith("seed"):
                        times.append(await seed_style_tick(url, http))
                    elif "=10" in name:
                        times.append(await our_tick(url, store, http, CASCADIAN_MAX_CONCURRENCY=10))
                    else:
                        times.append(await our_tick(url, store, http))
    finally:
        await store.close()
    baseline = common.median(variants["seed-style baseline (sequential)"])
    rows = []
    for name, times in variants.items():
        m = common.median(times)
        rows.append(
            (name, m * 1000, max(times) * 1000, f"{m / DELAY:.2f}x", f"{baseline / m:.1f}x")
        )
    common.print_table(
        ["variant", "median ms", "max ms", "vs limit (200 ms)", "faster than baseline"], rows
    )
    best = common.median(variants["ours, default settings (max concurrency 25)"])
    print(
        f"targets: within 1.5x of the limit: {'met' if best / DELAY <= 1.5 else 'NOT met'} "
        f"({best / DELAY:.2f}x); at least 15x faster than the baseline: "
        f"{'met' if baseline / best >= 15 else 'NOT met'} ({baseline / best:.1f}x)"
    )
    common.drop_database(admin, "cascadian_bench_tick")


if __name__ == "__main__":
    common.run(main)
