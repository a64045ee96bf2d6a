"""The outcome write alone: cascadian_finish_runs_v2 (a PL/pgSQL loop, a subtransaction
per outcome) against v3 (set-based, falling back to v2 when refused), same batches.

Strategies are claimed 200 at a time (cascadian_claim_due_v3); each batch's no-op
outcomes (start -> end: two node logs, outputs {"end": {}}) are built once by
store/run_records.py, as the store sends them, and written by v2 or v3 in turn, so
the two versions alternate batch by batch and a busy machine slows both alike.
The time is the client's, around the one statement: the server's work plus a
local round trip. Median and p95 per outcome.

    .venv/bin/python bench/finish_sql.py [--quick] [--batches N] [--batch 200]
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import common
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

DB = "cascadian_bench_finish"


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--batches", type=int, default=None, help="batches per version (default 20)")
    p.add_argument("--batch", type=int, default=200)
    p.add_argument(
        "--stale", action="store_true", help="on a backlog made due after the last ANALYZE"
    )
    args = p.parse_args()
    batches = args.batches or (4 if args.quick else 20)
    admin = common.admin_url()
    url = common.fresh_database(admin, DB)
    common.print_header("the outcome write, v2 against v3", url, __doc__ or "")
    if args.stale:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("alter table workflow_sessions set (autovacuum_enabled = off)")
        common.seed(url, max(50_000, 2 * batches * args.batch), due=0)
        common.make_due(url)
    else:
        common.seed(url, 2 * batches * args.batch)
    times: dict[str, list[float]] = {"v2": [], "v3": []}
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        for i in range(2 * batches):
            version = ("v2", "v3")[i % 2] if (i // 2) % 2 == 0 else ("v3", "v2")[i % 2]
            now = datetime.now(UTC)
            claims = conn.execute(
                "select execution_id, workflow_id from cascadian_claim_due_v3(%s, %s, 60)",
                (now, args.batch),
            ).fetchall()
            records = common.noop_records(claims, now)
            t0 = time.perf_counter()
            answers = conn.execute(
                f"select * from cascadian_finish_runs_{version}(%s, 3)", (Jsonb(records),)
            ).fetchall()
            times[version].append((time.perf_counter() - t0) / len(claims) * 1e6)
            assert len(answers) == len(claims) and all(a["accepted"] for a in answers)
    rows = [(version, len(us), common.median(us), common.p95(us)) for version, us in times.items()]
    common.print_table(["function", "batches", "µs per outcome (median)", "p95"], rows)
    ratio = common.median(times["v3"]) / common.median(times["v2"])
    print(f"v3 / v2: {ratio:.2f}")
    common.drop_database(admin, DB)


if __name__ == "__main__":
    main()
