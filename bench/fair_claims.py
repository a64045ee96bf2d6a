"""Fair claims across owners: one owner with 10,000 due strategies and 100 owners
with 10 each, all due at once (the big owner's slots the earliest), claimed tick
after tick on real PostgreSQL.

Each simulated tick is one claim of `--limit` (25, the default claim) with the
per-owner cap (CASCADIAN_OWNER_MAX_RUNS, 10); its runs then "finish": their leases
are dropped and their next slot set an hour ahead, in one statement, so the next
tick sees what a worker would. Per tick: how many of the claim went to the big
owner, how many other owners got one, and the claim's time (client-timed, one
round trip). The same ticks with cascadian_claim_due_v3 (before: no owners) show
what the fairness changes. Then the cost of one claim when nothing is backlogged:
25 due of 25 owners among the 11,000.

    .venv/bin/python bench/fair_claims.py [--quick] [--limit 25] [--cap 10] [--ticks 12]
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import common
import psycopg

DB = "cascadian_bench_fair"
BIG = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"


def seed(url: str, big: int, small_owners: int, each: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("truncate workflow_executions, workflow_sessions cascade")
        conn.execute(
            """
            insert into workflow_sessions (
                user_id, name, nodes, edges, status, auto_run,
                execution_interval_minutes, next_execution_at
            )
            select %(big_user)s::uuid, 'big ' || g, '[]'::jsonb, '[]'::jsonb, 'running', true, 5,
                   now() - interval '2 hours' + make_interval(secs => g / 100.0)
            from generate_series(1, %(big)s) as g
            union all
            select md5('small owner ' || (g %% %(owners)s))::uuid, 'small ' || g,
                   '[]'::jsonb, '[]'::jsonb, 'running', true, 5,
                   now() - interval '1 minute' + make_interval(secs => g / 1000.0)
            from generate_series(1, %(small)s) as g
            """,
            {
                "big_user": BIG,
                "big": big,
                "owners": small_owners,
                "small": small_owners * each,
            },
        )
        conn.execute("analyze workflow_sessions")


def claim(conn: psycopg.Connection[Any], v4: bool, limit: int, cap: int) -> tuple[list, float]:
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    if v4:
        rows = conn.execute(
            "select workflow_id, user_id from cascadian_claim_due_v4(%s, %s, 60, %s)",
            (now, limit, cap),
        ).fetchall()
    else:
        rows = conn.execute(
            "select workflow_id, user_id from cascadian_claim_due_v3(%s, %s, 60)", (now, limit)
        ).fetchall()
    return rows, (time.perf_counter() - t0) * 1000


def finish(conn: psycopg.Connection[Any], ids: list[Any]) -> None:
    conn.execute(
        "update workflow_sessions set lease_token = null, lease_expires_at = null, "
        "next_execution_at = %s where id = any(%s)",
        (datetime.now(UTC) + timedelta(hours=1), ids),
    )


def ticks(url: str, v4: bool, n: int, limit: int, cap: int) -> list[tuple[Any, ...]]:
    out = []
    served: set[Any] = set()
    with psycopg.connect(url, autocommit=True) as conn:
        for tick in range(1, n + 1):
            rows, ms = claim(conn, v4, limit, cap)
            owners = Counter(str(u) for _, u in rows)
            big = owners.pop(BIG, 0)
            served |= set(owners)
            out.append((tick, len(rows), big, len(owners), len(served), f"{ms:.2f}"))
            finish(conn, [w for w, _ in rows])
    return out


def quiet_claim(url: str, samples: int, limit: int, cap: int) -> tuple[float, float]:
    """One due strategy of each of 25 owners (fewer with --quick), among the others
    whose slots are an hour ahead."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "update workflow_sessions set next_execution_at = now() + interval '1 hour', "
            "lease_token = null, lease_expires_at = null"
        )
        made_due = conn.execute(
            "update workflow_sessions set next_execution_at = now() - interval '1 minute' "
            "where id in (select distinct on (user_id) id from workflow_sessions "
            "order by user_id, id limit 25)"
        ).rowcount
        times = {True: [], False: []}
        for _ in range(samples + 3):
            for v4 in (True, False):
                rows, ms = claim(conn, v4, limit, cap)
                assert len(rows) == made_due, len(rows)
                conn.execute(
                    "update workflow_sessions set lease_token = null, lease_expires_at = null "
                    "where id = any(%s)",
                    ([r[0] for r in rows],),
                )
                times[v4].append(ms)
        return common.median(times[True][3:]), common.median(times[False][3:])


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--limit", type=int, default=25)
    p.add_argument("--cap", type=int, default=10)
    p.add_argument("--ticks", type=int, default=12)
    args = p.parse_args()
    big, owners, each = (1_000, 20, 10) if args.quick else (10_000, 100, 10)
    admin = common.admin_url()
    url = common.fresh_database(admin, DB)
    common.print_header(
        "fair claims",
        url,
        f"1 owner x {big:,} due (the earliest) and {owners} owners x {each} due; each tick "
        f"one claim of {args.limit}, per-owner cap {args.cap}; its runs then finish. "
        "big: claims of the big owner; others: other owners served this tick; served: "
        "other owners served so far.",
    )
    headers = ["tick", "claimed", "big", "others", "served", "claim ms"]
    for label, v4 in (("cascadian_claim_due_v4 (fair)", True), ("cascadian_claim_due_v3", False)):
        seed(url, big, owners, each)
        print(f"\n{label}")
        common.print_table(headers, ticks(url, v4, args.ticks, args.limit, args.cap))
    seed(url, big, owners, each)
    fair, before = quiet_claim(url, 10 if args.quick else 30, args.limit, args.cap)
    print(
        f"\nno backlog (one due of each of up to 25 owners among {big + owners * each:,}): "
        f"one claim of "
        f"{args.limit}, median ms: v4 {fair:.2f}, v3 {before:.2f}"
    )
    common.drop_database(admin, DB)


if __name__ == "__main__":
    main()
