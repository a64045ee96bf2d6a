"""Claim at scale: the latency of one claim of 25 due strategies when the table holds
10k, 100k and 1M strategies (seeded with generate_series: 80% active and due
within the next hour, 20% paused, and 25 due now).

Each sample is one SqlStore.claim_due call (cascadian_claim_due_v3, limit 25,
one round trip), timed by the client; the 25 are then given back with
cascadian_release_runs_v1 so every sample claims the same rows. The plan of the
claim's due query is shown with EXPLAIN, as PostgreSQL runs it inside the
function (auto_explain, nested statements), at the largest size. A last row shows
the same claim at the largest size with the partial index dropped.

    .venv/bin/python bench/claim_scale.py [--quick] [--samples N]
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import common
import psycopg

from cascadian.store.sql_store import SqlStore

DB = "cascadian_bench_claim"
DUE = 25


async def sample(url: str, samples: int) -> list[float]:
    store = SqlStore.postgres(url, pool_size=2)
    await store.open()
    try:
        await store.ping()
        times = []
        for _ in range(samples + 3):
            t0 = time.perf_counter()
            claims = await store.claim_due(datetime.now(UTC), DUE, 60)
            times.append(time.perf_counter() - t0)
            assert len(claims) == DUE, f"claimed {len(claims)}"
            assert await store.release([c.execution_id for c in claims]) == DUE
        return times[3:]  # the first few warm the plan cache and the buffers
    finally:
        await store.close()


def add_history(url: str, per_strategy: int) -> None:
    """Past runs: `per_strategy` completed execution rows for every strategy."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            insert into workflow_executions (
                workflow_id, user_id, execution_started_at, status, trigger_kind,
                scheduled_for, attempt
            )
            select s.id, s.user_id, now() - make_interval(mins => g * 5), 'completed',
                   'scheduled', now() - make_interval(mins => g * 5), 1
            from workflow_sessions s
            cross join generate_series(1, %s) as g
            """,
            (per_strategy,),
        )
        conn.execute("vacuum analyze workflow_executions")


def nested_plan(url: str) -> str:
    """The due query's plan inside cascadian_claim_due_v3, through auto_explain."""
    notices: list[str] = []
    with psycopg.connect(url) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        conn.execute("load 'auto_explain'")
        conn.execute("set auto_explain.log_min_duration = 0")
        conn.execute("set auto_explain.log_nested_statements = on")
        conn.execute("set auto_explain.log_analyze = on")
        conn.execute("set auto_explain.log_timing = on")
        conn.execute("set auto_explain.log_level = notice")
        conn.execute("select * from cascadian_claim_due_v3(now(), %s, 60)", (DUE,))
        conn.rollback()
    for text in notices:
        if "workflow_sessions" in text and "Limit" in text:
            return text
    return "\n".join(notices) or "(auto_explain produced nothing)"


def plain_plan(url: str) -> str:
    """EXPLAIN of the due query as written in the function."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            explain (analyze, buffers, costs off)
            select s.id, s.lease_token
            from workflow_sessions s
            where s.auto_run
              and s.status in ('running', 'error')
              and s.next_execution_at <= now()
              and (s.lease_expires_at is null or s.lease_expires_at <= now())
            order by s.next_execution_at
            limit %s
            for update skip locked
            """,
            (DUE,),
        ).fetchall()
        conn.rollback()
    return "\n".join(r[0] for r in rows)


async def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--samples", type=int, default=None, help="claims per size (default 50)")
    p.add_argument("--sizes", type=int, nargs="+", help="table sizes (default 10k 100k 1M)")
    p.add_argument(
        "--history", type=int, default=0, help="past execution rows per strategy (default 0)"
    )
    args = p.parse_args()
    sizes = args.sizes or ([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])
    samples = args.samples or (10 if args.quick else 50)
    admin = common.admin_url()
    url = common.fresh_database(admin, DB)
    common.print_header(
        "claim at scale",
        url,
        f"one claim of {DUE} due strategies (cascadian_claim_due_v3 via SqlStore, one "
        f"round trip); median and p95 of {samples} claims, each released again; "
        f"{args.history} past execution row(s) per strategy.",
    )
    rows = []
    seeded = 0.0
    for size in sizes:
        common.reset(url)
        t0 = time.perf_counter()
        common.seed(url, size, due=DUE, inactive_share=0.2)
        if args.history:
            add_history(url, args.history)
        seeded = time.perf_counter() - t0
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum analyze workflow_sessions")
        times = await sample(url, samples)
        rows.append((f"{size:,}", common.median(times) * 1000, common.p95(times) * 1000))
        print(f"  {size:,} strategies seeded in {seeded:.1f}s")
    largest = sizes[-1]
    print()
    print(f"The claim's due query at {largest:,} strategies, inside the function (auto_explain):")
    print(nested_plan(url))
    print()
    print("The same query, EXPLAIN (ANALYZE, BUFFERS):")
    print(plain_plan(url))
    print()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop index workflow_sessions_due_current_idx")
    times = await sample(url, max(5, samples // 5))
    rows.append(
        (
            f"{largest:,}, partial index dropped",
            common.median(times) * 1000,
            common.p95(times) * 1000,
        )
    )
    common.print_table(["strategies", "median ms", "p95 ms"], rows)
    small, big = rows[0][1], rows[len(sizes) - 1][1]
    print(
        f"targets at {largest:,}: < 5 ms: {'met' if big < 5 else 'NOT met'} ({big:.2f} ms); "
        f"<= 2x the 10k figure: {'met' if big <= 2 * small else 'NOT met'} ({big / small:.2f}x)"
    )
    common.drop_database(admin, DB)


if __name__ == "__main__":
    common.run(main)
