"""CPU isolation: how long light strategies' runs take beside one CPU-heavy strategy.

One tick runs 10 light strategies (start -> delay 100 ms -> end) together with one
heavy strategy (start -> transform: sort N items held in its variables), N set by
--items (default 200,000; CASCADIAN_NODE_MAX_ITEMS and the variables' size limit are
raised to let it through).
Each round is one real tick (TickService, GraphExecutor, the Postgres store on the
embedded PostgreSQL); the figures are the light runs' durations as the executor
measured them (median and max over all light runs of all rounds) and the heavy
run's, and the whole tick's. Alone, a light run takes about 100 ms.

    .venv/bin/python bench/cpu_isolation.py [--quick] [--items N] [--rounds R]
"""

from __future__ import annotations

import time
from typing import Any

import common
import psycopg
from psycopg.types.json import Jsonb

from cascadian.config import Settings
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeServices

LIGHT = 10


def heavy_graph() -> Any:
    return common.chain(
        common.node("start", "start"),
        common.node(
            "rank", "transform", items="${start.rows}", operations=[{"op": "sort", "field": "v"}]
        ),
    )


def arrange(url: str, items: int) -> None:
    common.seed(url, LIGHT, graph=common.delay_graph(0.1))
    nodes, edges = heavy_graph()
    rows = [{"v": (i * 7919) % items} for i in range(items)]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into workflow_sessions (user_id, name, nodes, edges, variables, status, "
            "auto_run, execution_interval_minutes, next_execution_at) "
            "values (%s, 'heavy', %s, %s, %s, 'running', true, 5, now())",
            (common.BENCH_USER, Jsonb(nodes), Jsonb(edges), Jsonb({"rows": rows})),
        )


async def one_tick(store: SqlStore, settings: Settings) -> tuple[list[int], int, float]:
    service = TickService(store, GraphExecutor(services=NodeServices(settings)), settings)
    t0 = time.perf_counter()
    report = await service.tick(trigger="bench")
    elapsed = time.perf_counter() - t0
    light = [r.duration_ms for r in report.executions if r.workflow_name != "heavy"]
    [heavy] = [r for r in report.executions if r.workflow_name == "heavy"]
    assert len(light) == LIGHT, report.summary()
    assert heavy.status == "completed", heavy.error
    return light, heavy.duration_ms, elapsed


async def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--items", type=int, default=200_000)
    p.add_argument("--rounds", type=int, default=None, help="ticks (default 5)")
    args = p.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)
    admin = common.admin_url()
    url = common.fresh_database(admin, "cascadian_bench_cpu")
    arrange(url, args.items)
    common.print_header(
        "cpu isolation",
        url,
        f"{LIGHT} light strategies (delay 100 ms) beside one sorting {args.items:,} items; "
        f"{rounds} ticks.",
    )
    settings = common.bench_settings(
        url,
        CASCADIAN_NODE_MAX_ITEMS=10 * args.items,
        CASCADIAN_STRATEGY_TIMEOUT_SECONDS=30,
        # The items are stored in the heavy strategy's variables: room for them.
        CASCADIAN_VARIABLES_MAX_BYTES=100 * args.items,
        CASCADIAN_GRAPH_MAX_BYTES=100 * args.items,
    )
    store = SqlStore.postgres(url, pool_size=10)
    await store.open()
    light: list[int] = []
    heavy: list[int] = []
    ticks: list[float] = []
    try:
        for _ in range(rounds):
            common.make_due(url)
            lights, h, elapsed = await one_tick(store, settings)
            light += lights
            heavy.append(h)
            ticks.append(elapsed)
    finally:
        await store.close()
        common.drop_database(admin, "cascadian_bench_cpu")
    common.print_table(
        [
            "light run ms (median)",
            "light run ms (max)",
            "heavy run ms (median)",
            "tick ms (median)",
        ],
        [[common.median(light), max(light), common.median(heavy), common.median(ticks) * 1000]],
    )


if __name__ == "__main__":
    common.run(main)
