"""Server CPU per run of the claim and the finish, by where the lease lives and how
the finish writes a run's node logs, on a fresh schema and on the app's, interleaved
(issue 34).

Two databases on the one server, one migrated from empty, one built from
tests/fixtures/existing_deployment.sql and then migrated (bench/schemas.py). In
each, N due no-op strategies (start -> end: two node logs) are drained by one
connection in batches: a claim, then the batch's outcomes (built in Python
beforehand, as the store sends them; not counted) through one finish:

    v3 (rows):   cascadian_claim_due_v4 and cascadian_finish_runs_v3, the lease on the
                 session row, a strategy_execution_logs row per node (before 051);
    v4 (jsonb):  cascadian_claim_due_v4 and cascadian_finish_runs_v4(..., false), the
                 lease on the session row, the logs as one jsonb value of the
                 execution row (051, before 052);
    v6 (jsonb):  cascadian_claim_due_v5 and cascadian_finish_runs_v6(..., false), the
                 lease in cascadian_leases, the session row written once (052);
    v6 (rows):   v6 with p_log_rows => true (CASCADIAN_NODE_LOG_ROWS);
    060:         cascadian_claim_due_v6 (a lease row made only at a strategy's first
                 claim, each session read once) and cascadian_finish_runs_v6.

The old functions stay beside the new (for rolling back), so one migrated database
measures before and after. A change that is not a function (an index dropped, say)
needs a database migrated without it: `--tree PATH` adds, on each schema, a database
migrated with PATH's migrations (a worktree of main from before the change), drained
by the claim and finish named by `--tree-claim` and `--tree-finish` there (the
variant "tree"), in the same rounds. Each drain is measured after a first, unmeasured drain of
the same strategies (then all made due again and vacuumed), so every lease row
exists, as it does for any strategy claimed before.

Server CPU = the local PostgreSQL's CPU (postmaster and every backend, the
background processes included) over the drain, per run; backend CPU = the drain's
own backend's alone (no WAL writer, checkpointer or autovacuum: steadier); WAL
bytes per run = the WAL the drain inserted (pg_current_wal_insert_lsn), which load
does not move. Rounds interleave every
(schema, variant) and reverse their order every other round; median (min-max).

    .venv/bin/python bench/rows_once.py [--quick] [--rounds 3] [--batch 200 25]
        [--variant NAME ...] [--tree /tmp/ab-base] [--alternate PASSES]

`--alternate N` measures the chosen variants on the same rows instead: in each of N
drains (after one unmeasured) their claims and finishes take turns batch by batch on
one connection, and the drain backend's CPU is summed per variant. Load then falls
on every variant alike, which rounds of whole drains cannot promise on a busy machine.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from pathlib import Path
from typing import Any

import common
import psutil
import psycopg
import schemas
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

OLD_CLAIM = "select execution_id, workflow_id from cascadian_claim_due_v4(%s, %s, 120, 0)"
CLAIM = "select execution_id, workflow_id from cascadian_claim_due_v5(%s, %s, 120, 0)"
CLAIM_060 = "select execution_id, workflow_id from cascadian_claim_due_v6(%s, %s, 120, 0)"
FINISHES = {
    "v3 (rows)": (
        OLD_CLAIM,
        "select count(*) from cascadian_finish_runs_v3(%s, 3) where accepted",
    ),
    "v4 (jsonb)": (
        OLD_CLAIM,
        "select count(*) from cascadian_finish_runs_v4(%s, 3, false) where accepted",
    ),
    "v6 (jsonb)": (
        CLAIM,
        "select count(*) from cascadian_finish_runs_v6(%s, 3, false) where accepted",
    ),
    "v6 (rows)": (
        CLAIM,
        "select count(*) from cascadian_finish_runs_v6(%s, 3, true) where accepted",
    ),
    "060": (
        CLAIM_060,
        "select count(*) from cascadian_finish_runs_v6(%s, 3, false) where accepted",
    ),
}


TREE_DBS = {"fresh": "cascadian_bench_rows_tree_fresh", "app": "cascadian_bench_rows_tree_app"}


def backend_cpu(pid: int) -> float:
    """The backend's CPU seconds: from /proc/PID/schedstat (nanoseconds) where there is
    one, as a batch's claim takes a few milliseconds and psutil's ticks are 10."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except OSError:
        t = psutil.Process(pid).cpu_times()
        return float(t.user + t.system)


def wal(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("select pg_current_wal_insert_lsn() - '0/0'::pg_lsn as at").fetchone()
    assert row is not None
    return int(row["at"])


def drain(
    url: str, batch: int, claim: str, finish: str
) -> tuple[int, float | None, float, float, float]:
    """Claim and finish every due strategy; (runs, server CPU µs per run, the drain's
    own backend's CPU µs per run, WAL bytes per run, the claims' share of the backend's
    CPU µs per run)."""
    runs, claiming = 0, 0.0
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        row = conn.execute("select pg_backend_pid() as pid").fetchone()
        assert row is not None
        pid = row["pid"]
        cpu = common.server_cpu_seconds(url)
        own = backend_cpu(pid)
        wal_at = wal(conn)
        while True:
            now = dt.datetime.now(dt.UTC)
            t0 = backend_cpu(pid)
            claims = conn.execute(claim, (now, batch)).fetchall()
            claiming += backend_cpu(pid) - t0
            if not claims:
                break
            records = Jsonb(common.noop_records(claims, now))
            row = conn.execute(finish, (records,)).fetchone()
            assert row is not None and row["count"] == len(claims)
            runs += len(claims)
        own = (backend_cpu(pid) - own) / runs * 1e6
        wal_bytes = (wal(conn) - wal_at) / runs
        return runs, common.cpu_per_run(url, cpu, runs), own, wal_bytes, claiming / runs * 1e6


def alternate(
    url: str, batch: int, variants: list[str], passes: int, strategies: int
) -> dict[str, tuple[float, float]]:
    """One database, one connection: each pass makes every strategy due and drains it
    with the variants' claims and finishes taking turns batch by batch (the first
    turn rotating each pass), so load and the tables' state fall on every variant
    alike; the drain backend's CPU is summed per variant. (backend µs/run, of it the
    claim's) per variant, over the passes after an unmeasured first."""
    common.reset(url)
    common.seed(url, strategies)
    cpu = dict.fromkeys(variants, 0.0)
    claiming = dict.fromkeys(variants, 0.0)
    runs = dict.fromkeys(variants, 0)
    for n in range(passes + 1):
        common.make_due(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum workflow_sessions, workflow_executions")
            conn.execute("vacuum cascadian_leases")
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            row = conn.execute("select pg_backend_pid() as pid").fetchone()
            assert row is not None
            pid = row["pid"]
            for turn in itertools.count(n):
                variant = variants[turn % len(variants)]
                claim, finish = FINISHES[variant]
                now = dt.datetime.now(dt.UTC)
                t0 = backend_cpu(pid)
                claims = conn.execute(claim, (now, batch)).fetchall()
                t1 = backend_cpu(pid)
                if not claims:
                    break
                done = conn.execute(finish, (Jsonb(common.noop_records(claims, now)),)).fetchone()
                assert done is not None and done["count"] == len(claims)
                if n:  # the first pass makes every lease row; not counted
                    cpu[variant] += backend_cpu(pid) - t0
                    claiming[variant] += t1 - t0
                    runs[variant] += len(claims)
    return {v: (cpu[v] / runs[v] * 1e6, claiming[v] / runs[v] * 1e6) for v in variants}


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--strategies", type=int, default=None)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, nargs="+", default=[200, 25])
    p.add_argument("--variant", choices=list(FINISHES), action="append", help="only these")
    p.add_argument("--tree", help="also databases migrated with this tree's migrations")
    p.add_argument("--tree-claim", default="cascadian_claim_due_v5")
    p.add_argument("--tree-finish", default="cascadian_finish_runs_v6")
    p.add_argument(
        "--alternate",
        type=int,
        metavar="PASSES",
        help="the variants take turns batch by batch in each drain (no --tree)",
    )
    args = p.parse_args()
    strategies = args.strategies or (1_000 if args.quick else 5_000)
    variants = args.variant or list(FINISHES)
    admin = common.admin_url()
    urls = {
        "fresh": common.fresh_database(admin, schemas.DBS["fresh"]),
        "app": schemas.app_database(admin, schemas.DBS["the app's"]),
    }
    cells = [(s, v) for s in urls for v in variants]
    if args.tree:
        before = Path(args.tree) / "migrations"
        FINISHES["tree"] = (
            f"select execution_id, workflow_id from {args.tree_claim}(%s, %s, 120, 0)",
            f"select count(*) from {args.tree_finish}(%s, 3, false) where accepted",
        )
        urls["fresh (tree)"] = common.fresh_database(admin, TREE_DBS["fresh"], before)
        urls["app (tree)"] = schemas.app_database(admin, TREE_DBS["app"], before)
        cells += [("fresh (tree)", "tree"), ("app (tree)", "tree")]
    common.print_header("each row written once: the finish's node logs", urls["fresh"], __doc__)
    if args.alternate:
        table = []
        try:
            for batch in args.batch:
                for schema in ("fresh", "app"):
                    got = alternate(urls[schema], batch, variants, args.alternate, strategies)
                    for variant, (us, claim_us) in got.items():
                        print(f"  batch {batch}, {schema}, {variant}: backend {us:,.1f} µs/run")
                        table.append((batch, schema, variant, f"{us:,.1f}", f"{claim_us:,.1f}"))
        finally:
            for name in schemas.DBS.values():
                common.drop_database(admin, name)
        common.print_table(
            ["batch", "schema", "claim + finish", "backend CPU µs/run", "of it the claim's"],
            table,
        )
        return
    found: dict[tuple[int, str, str], list[float]] = {}
    backend: dict[tuple[int, str, str], list[float]] = {}
    wals: dict[tuple[int, str, str], list[float]] = {}
    claimed: dict[tuple[int, str, str], list[float]] = {}
    try:
        for r in range(args.rounds):
            for batch in args.batch:
                for schema, variant in cells if r % 2 == 0 else list(reversed(cells)):
                    url = urls[schema]
                    common.reset(url)
                    common.seed(url, strategies)
                    drain(url, batch, *FINISHES[variant])  # every lease row made
                    common.make_due(url)
                    with psycopg.connect(url, autocommit=True) as conn:
                        conn.execute("vacuum workflow_sessions, workflow_executions")
                        conn.execute("vacuum cascadian_leases")
                    runs, us, own, wal_bytes, claim = drain(url, batch, *FINISHES[variant])
                    assert runs == strategies and us is not None
                    found.setdefault((batch, schema, variant), []).append(us)
                    backend.setdefault((batch, schema, variant), []).append(own)
                    wals.setdefault((batch, schema, variant), []).append(wal_bytes)
                    claimed.setdefault((batch, schema, variant), []).append(claim)
                    print(
                        f"  round {r + 1}: batch {batch}, {schema}, {variant}: "
                        f"server {us:,.0f}, backend {own:,.0f} µs/run, "
                        f"WAL {wal_bytes:,.0f} B/run",
                        flush=True,
                    )
                    time.sleep(0.2)
    finally:
        for name in [*schemas.DBS.values(), *TREE_DBS.values()]:
            common.drop_database(admin, name)
    rows: list[Any] = []
    for batch in args.batch:
        for schema, variant in sorted(cells):
            v, b = found[(batch, schema, variant)], backend[(batch, schema, variant)]
            rows.append(
                (
                    batch,
                    schema,
                    variant,
                    f"{common.median(v):,.0f} ({min(v):,.0f}-{max(v):,.0f})",
                    f"{common.median(b):,.0f} ({min(b):,.0f}-{max(b):,.0f})",
                    f"{common.median(claimed[(batch, schema, variant)]):,.0f}",
                    f"{common.median(wals[(batch, schema, variant)]):,.0f}",
                )
            )
    common.print_table(
        [
            "batch",
            "schema",
            "finish",
            "server CPU µs/run",
            "drain backend CPU µs/run",
            "of it the claim's",
            "WAL bytes/run",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
