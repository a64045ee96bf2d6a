"""Listing at scale: one page of `GET /api/strategies` (SqlStore.strategies, that is
cascadian_list_strategies_v1, one round trip: the page and the total) when the table
holds 100k strategies (seeded with generate_series: 1,000 owners, 70% running, 20%
paused, 10% drafts; one row in ten an old version; names of two words).

Each row of the table is one query shape: a filter, a sort, a page. Each sample is
one call timed by the client. The last rows repeat the default page and one owner's page
with the two list indexes of migration 010 dropped.

    .venv/bin/python bench/list_strategies.py [--quick] [--samples N] [--size N]
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime

import common
import psycopg

from cascadian.data import StrategyQuery
from cascadian.store.sql_store import SqlStore

DB = "cascadian_bench_list"
OWNER = uuid.UUID("00000000-0000-4000-8000-000000000007")  # owner number 7
LIST_INDEXES = ("workflow_sessions_list_name_idx", "workflow_sessions_list_owner_idx")
QUERIES: list[tuple[str, StrategyQuery]] = [
    ("by name, first page of 50", StrategyQuery()),
    ("by name, page at offset 5,000", StrategyQuery(offset=5_000)),
    ("one owner's (100), by name", StrategyQuery(user_id=OWNER)),
    ("status running, by next run", StrategyQuery(status="running", sort="next_run")),
    (
        "auto_run, by last run, newest first",
        StrategyQuery(auto_run=True, sort="last_run", descending=True),
    ),
    ("by error streak, worst first", StrategyQuery(sort="error_streak", descending=True)),
    ("name contains 'kiwi'", StrategyQuery(q="kiwi")),
    ("name contains a word no name has", StrategyQuery(q="zzz-none")),
]


def seed(url: str, size: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            insert into workflow_sessions (
                user_id, name, nodes, edges, status, auto_run, execution_interval_minutes,
                next_execution_at, last_executed_at, execution_count, success_count,
                error_count, is_current_version
            )
            select
                ('00000000-0000-4000-8000-' || lpad(to_hex(g %% 1000), 12, '0'))::uuid,
                (array['apple', 'kiwi', 'mango', 'plum', 'pear', 'fig', 'lime', 'date'])
                    [1 + g %% 8]
                    || ' ' || (array['arb', 'whale', 'news', 'momentum', 'spread'])[1 + g %% 5]
                    || ' ' || g,
                '[{"id": "start", "type": "start"}]', '[]',
                case when g %% 10 < 7 then 'running'
                     when g %% 10 < 9 then 'paused'
                     else 'draft' end,
                g %% 10 < 7,
                5,
                case when g %% 10 < 7 then now() + make_interval(secs => g %% 3600) end,
                case when g %% 3 > 0 then now() - make_interval(secs => g %% 86400) end,
                g %% 50, g %% 40, g %% 4,
                g %% 10 <> 3
            from generate_series(1, %s) as g
            """,
            (size,),
        )
        conn.execute("vacuum analyze workflow_sessions")


async def sample(store: SqlStore, query: StrategyQuery, samples: int) -> tuple[list[float], int]:
    times = []
    total = 0
    for _ in range(samples + 2):
        t0 = time.perf_counter()
        page = await store.strategies(query, datetime.now(UTC))
        times.append(time.perf_counter() - t0)
        total = page.total
    return times[2:], total


async def measure(url: str, samples: int, names: list[str]) -> list[tuple[str, float, float, int]]:
    store = SqlStore.postgres(url, pool_size=2)
    await store.open()
    try:
        await store.ping()
        rows = []
        for label, query in QUERIES:
            if label not in names:
                continue
            times, total = await sample(store, query, samples)
            rows.append((label, common.median(times) * 1000, common.p95(times) * 1000, total))
        return rows
    finally:
        await store.close()


async def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--samples", type=int, default=None, help="calls per query (default 30)")
    p.add_argument("--size", type=int, default=None, help="strategies (default 100,000)")
    args = p.parse_args()
    size = args.size or (20_000 if args.quick else 100_000)
    samples = args.samples or (5 if args.quick else 30)
    admin = common.admin_url()
    url = common.fresh_database(admin, DB)
    common.print_header(
        "list strategies at scale",
        url,
        f"one page (limit 50) and its total from cascadian_list_strategies_v1 via "
        f"SqlStore.strategies, one round trip; median and p95 of {samples} calls per "
        f"query, {size:,} strategies.",
    )
    t0 = time.perf_counter()
    seed(url, size)
    print(f"  {size:,} strategies seeded in {time.perf_counter() - t0:.1f}s")
    everything = [label for label, _ in QUERIES]
    rows = await measure(url, samples, everything)
    with psycopg.connect(url, autocommit=True) as conn:
        for index in LIST_INDEXES:
            conn.execute(f"drop index {index}")
    again = ["by name, first page of 50", "one owner's (100), by name"]
    for label, median, p95, total in await measure(url, samples, again):
        rows.append((f"{label}, list indexes dropped", median, p95, total))
    common.print_table(["query", "median ms", "p95 ms", "total"], rows)
    worst = max(r[1] for r in rows[: len(everything)])
    print(f"slowest query shape with the indexes: {worst:.1f} ms median")
    print(f"load average while it ran: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    common.drop_database(admin, DB)


if __name__ == "__main__":
    common.run(main)
