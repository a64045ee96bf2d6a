"""HOT updates: the claim and the finish on tables packed full, and as migrated (020).

Two databases on the one server, each with the same due no-op strategies: in one the
two tables a run updates are put back to PostgreSQL's default fillfactor (100, as
before migrations/020), the other is as `cascadian migrate` leaves it (50). Batches
of claims (cascadian_claim_due_v3) and their outcomes (cascadian_finish_runs_v3,
start -> end: two node logs) alternate between the two, batch by batch, the order
reversed every other batch, so a busy machine slows both alike. The time is the
client's around each statement (the server's work plus a local round trip), per
run; median of the batches. Then how many of each table's updates were HOT
(pg_stat_user_tables, read once the server has flushed its counters).

    .venv/bin/python bench/hot_updates.py [--quick] [--batches N] [--batch 200]
"""

from __future__ import annotations

import time
from typing import Any

import common
import psycopg
from psycopg.rows import dict_row

FULL = "fillfactor 100 (before 020)"
DBS = {FULL: "cascadian_bench_hot_full", "as migrated": "cascadian_bench_hot"}
TABLES = ("workflow_sessions", "workflow_executions")


def hot_shares(conn: psycopg.Connection[Any]) -> dict[str, str]:
    # This connection made the updates: its first statement after going idle for a
    # second flushes its counters, and the next reads them.
    time.sleep(1.5)
    conn.execute("select pg_stat_clear_snapshot()")
    rows = conn.execute(
        "select relname, n_tup_upd, n_tup_hot_upd from pg_stat_user_tables where relname = any(%s)",
        (list(TABLES),),
    ).fetchall()
    return {r["relname"]: f"{r['n_tup_hot_upd']:,} of {r['n_tup_upd']:,}" for r in rows}


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--batches", type=int, default=None, help="batches per database (default 150)")
    p.add_argument("--batch", type=int, default=200)
    args = p.parse_args()
    batches = args.batches or (10 if args.quick else 150)
    admin = common.admin_url()
    conns: dict[str, psycopg.Connection[Any]] = {}
    for label, name in DBS.items():
        url = common.fresh_database(admin, name)
        if label == FULL:
            with psycopg.connect(url, autocommit=True) as c:
                for table in TABLES:
                    c.execute(f"alter table {table} reset (fillfactor)")
        common.seed(url, batches * args.batch)
        conns[label] = psycopg.connect(url, autocommit=True, row_factory=dict_row)
    common.print_header("HOT updates: the claim and the finish", url, __doc__ or "")
    try:
        claim_us, finish_us = common.paired_claims_and_finishes(conns, batches, args.batch)
        rows = []
        for label, conn in conns.items():
            hot = hot_shares(conn)
            rows.append(
                (
                    label,
                    len(claim_us[label]),
                    common.median(claim_us[label]),
                    common.median(finish_us[label]),
                    hot.get("workflow_sessions", "?"),
                    hot.get("workflow_executions", "?"),
                )
            )
        common.print_table(
            [
                "tables",
                "batches",
                "claim µs/run",
                "finish µs/run",
                "sessions: HOT of updates",
                "executions: HOT of updates",
            ],
            rows,
        )
    finally:
        for conn in conns.values():
            conn.close()
        for name in DBS.values():
            common.drop_database(admin, name)


if __name__ == "__main__":
    main()
