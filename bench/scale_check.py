"""The scale model's check: cascadian's drain on the app's schema by 1, 2 and 4 worker
processes, CPU per run (worker and server) and duplicates (issue 34).

One database built from tests/fixtures/existing_deployment.sql and migrated
(bench/schemas.py). Each measurement seeds N due no-op strategies and drains them as
bench/drain.py does (TickService with the real GraphExecutor and SqlStore, ticks
back to back in each process until one finds nothing due), at claim and concurrency
200 (or --batch), the per-owner cap off (one owner holds every strategy).
Duplicates: runs recorded beyond one per strategy and slot (and the drain asserts
that every strategy ran once). Rounds interleave the process counts, the order
reversed every other round; median (min-max).

    .venv/bin/python bench/scale_check.py [--quick] [--rounds 3] [--procs 1 2 4]
"""

from __future__ import annotations

import time
from typing import Any

import common
import drain
import psycopg
import schemas

DB = "cascadian_bench_scale_app"


def duplicates(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select count(*) - count(distinct (workflow_id, scheduled_for)) "
            "from workflow_executions where status = 'completed'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--strategies", type=int, default=None)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2, 4])
    args = p.parse_args()
    strategies = args.strategies or (1_000 if args.quick else 10_000)
    admin = common.admin_url()
    url = schemas.app_database(admin, DB)
    # One owner: the per-owner cap (default 10) would make every claim 10 wide.
    env = {
        "CASCADIAN_CLAIM_LIMIT": args.batch,
        "CASCADIAN_MAX_CONCURRENCY": args.batch,
        "CASCADIAN_OWNER_MAX_RUNS": 0,
    }
    common.print_header("scale check on the app's schema", url, __doc__ or "")
    found: dict[int, list[dict[str, Any]]] = {}
    try:
        for r in range(args.rounds):
            for procs in args.procs if r % 2 == 0 else list(reversed(args.procs)):
                m = drain.measure(url, procs, env, strategies)
                m["duplicates"] = duplicates(url)
                found.setdefault(procs, []).append(m)
                print(
                    f"  round {r + 1}: {procs} proc(s): {m['runs/s']:,.0f} runs/s, "
                    f"worker {m['client us/run']:,.0f} + server {m['db us/run']:,.0f} µs/run, "
                    f"{m['duplicates']} duplicates",
                    flush=True,
                )
                time.sleep(0.5)
    finally:
        common.drop_database(admin, DB)

    def cell(procs: int, key: str) -> str:
        v = [m[key] for m in found[procs]]
        return f"{common.median(v):,.0f} ({min(v):,.0f}-{max(v):,.0f})"

    one = {
        k: common.median([m[k] for m in found[args.procs[0]]])
        for k in ("client us/run", "db us/run")
    }
    rows = []
    for procs in args.procs:
        w = common.median([m["client us/run"] for m in found[procs]])
        d = common.median([m["db us/run"] for m in found[procs]])
        rows.append(
            (
                procs,
                cell(procs, "runs/s"),
                cell(procs, "client us/run"),
                cell(procs, "db us/run"),
                f"{(w + d) / (one['client us/run'] + one['db us/run']):.2f}",
                sum(m["duplicates"] for m in found[procs]),
            )
        )
    common.print_table(
        [
            "procs",
            "runs/s",
            "worker CPU µs/run",
            "server CPU µs/run",
            f"CPU/run vs {args.procs[0]} proc",
            "duplicates",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
