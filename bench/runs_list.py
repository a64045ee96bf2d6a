"""The runs list at 1M runs, on both schemas, and what its indexes cost a run's writes.

Reads. One database migrated from empty and one built from
tests/fixtures/existing_deployment.sql (the app's own indexes on workflow_executions)
and migrated, each loaded with the same runs (default 1,000,000) of 1,000 strategies of
50 owners over 30 days: 3% failed, 0.5% cancelled, 10 running (each held by its
strategy's lease, as a claim leaves it), the rest completed;
97% scheduled, 2.5% manual, 0.5% re-runs. Then each filter of the runs list
(`cascadian_runs_v2`, a page of 50, as `GET /api/runs` calls it) is timed `--reps`
times (client's time around the call: the server's work plus a local round trip),
p50 and p99, and the query it runs is EXPLAINed: the indexes its plan reads, and
whether it reads the whole table.

Writes. Each index on workflow_executions costs every run's insert (the claim), and
an index on a column the finish changes would cost every finish too. Two more
databases per schema, one migrated up to but without 026 and one with it, take
batches of claims (cascadian_claim_due_v3) and no-op finishes (cascadian_finish_runs_v3)
in turn, batch by batch, the order reversed every other batch, so a busy machine
slows all alike; µs per run, median of the batches, and how many of the runs' updates
were HOT.

    .venv/bin/python bench/runs_list.py [--quick] [--runs N] [--reps N] [--batches N]
                                        [--reads-only | --writes-only]
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from schemas import FIXTURE

from cascadian.store.migrate import migrate, migrations_dir

MIGRATION = "026_runs_list_reruns_bulk.sql"
READ_DBS = {"fresh": "cascadian_bench_runs_fresh", "the app's": "cascadian_bench_runs_app"}
OWNERS = [uuid.uuid5(uuid.NAMESPACE_DNS, f"owner-{i}.bench") for i in range(50)]
STRATEGIES = 1000


def database(admin: str, name: str, app: bool, directory: Path | None = None) -> str:
    """A database migrated from empty, or from the app's fixture (`app`), with the
    migrations in `directory` (all of them when None); its URL."""
    with psycopg.connect(admin, autocommit=True) as conn:
        if app:
            for role in ("anon", "authenticated", "service_role"):
                attributes = " nologin bypassrls" if role == "service_role" else " nologin"
                with contextlib.suppress(psycopg.errors.DuplicateObject):
                    conn.execute(
                        sql.SQL("create role {}" + attributes).format(sql.Identifier(role))
                    )
        common.drop_database(admin, name)
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(admin, dbname=name)
    if app:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(FIXTURE.read_text())
            for user in [common.BENCH_USER, *OWNERS]:
                conn.execute("insert into auth.users (id) values (%s)", (user,))
    migrate(url, directory)
    return url


def load(url: str, runs: int) -> None:
    """STRATEGIES strategies of 50 owners, and `runs` runs of them over 30 days."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            insert into workflow_sessions (
                user_id, name, nodes, edges, status, auto_run,
                execution_interval_minutes, next_execution_at
            )
            select (%(owners)s::uuid[])[1 + g %% 50], 'bench ' || g, '[]', '[]', 'paused',
                   false, 5, null
            from generate_series(1, %(n)s) as g
            """,
            {"owners": OWNERS, "n": STRATEGIES},
        )
        conn.execute(
            """
            with s as (
                select array_agg(id order by name) as ids,
                       array_agg(user_id order by name) as users
                from workflow_sessions
            )
            insert into workflow_executions (
                workflow_id, user_id, execution_started_at, execution_completed_at,
                duration_ms, status, trigger_kind, scheduled_for, attempt, error_message
            )
            select s.ids[1 + g %% %(n)s], s.users[1 + g %% %(n)s], at,
                   case when st = 'running' then null else at + interval '200 ms' end,
                   case when st = 'running' then null else 200 end,
                   st, tk, case when tk = 'scheduled' then at end, 1,
                   case when st = 'failed' then 'node ''f'': boom' end
            from s, generate_series(1, %(runs)s) as g
            cross join lateral (
                select now() - make_interval(secs => g * (30 * 86400.0 / %(runs)s)) as at,
                       case when g <= 10 then 'running'
                            when (g::bigint * 7919) %% 1000 < 30 then 'failed'
                            when (g::bigint * 7919) %% 1000 < 35 then 'cancelled'
                            else 'completed' end as st,
                       case when (g::bigint * 104729) %% 1000 < 25 then 'manual'
                            when (g::bigint * 104729) %% 1000 < 30 then 'rerun'
                            else 'scheduled' end as tk
            ) as r
            """,
            {"n": STRATEGIES, "runs": runs},
        )
        conn.execute(
            "insert into cascadian_leases (workflow_id, token, expires_at) "
            "select workflow_id, id, now() + interval '1 minute' from workflow_executions "
            "where status = 'running'"
        )
        conn.execute("vacuum analyze workflow_executions, cascadian_leases")


def filters(conn: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    now = datetime.now(UTC)
    strategy = conn.execute("select id from workflow_sessions order by name limit 1").fetchone()
    deep = conn.execute(
        "select execution_started_at, id from workflow_executions "
        "order by execution_started_at desc, id desc offset 10000 limit 1"
    ).fetchone()
    assert strategy is not None and deep is not None
    return {
        "none: the newest 50": {},
        "10,000 runs deep (cursor)": {
            "p_before_at": deep["execution_started_at"],
            "p_before_id": deep["id"],
        },
        "failed": {"p_status": "failed"},
        "failed, last hour": {"p_status": "failed", "p_since": now - timedelta(hours=1)},
        "failed, one day a week ago": {
            "p_status": "failed",
            "p_since": now - timedelta(days=8),
            "p_until": now - timedelta(days=7),
        },
        "one strategy": {"p_workflow_id": strategy["id"]},
        "one strategy, failed": {"p_workflow_id": strategy["id"], "p_status": "failed"},
        "one owner": {"p_user_id": OWNERS[3]},
        "one owner, failed, last day": {
            "p_user_id": OWNERS[3],
            "p_status": "failed",
            "p_since": now - timedelta(days=1),
        },
        "trigger manual": {"p_trigger": "manual"},
        "trigger rerun": {"p_trigger": "rerun"},
        "cancelled (0.5%)": {"p_status": "cancelled"},
        "running (10 of all)": {"p_status": "running"},
    }


ARGS = (
    "p_status",
    "p_workflow_id",
    "p_user_id",
    "p_trigger",
    "p_since",
    "p_until",
    "p_rerun_of",
    "p_before_at",
    "p_before_id",
    "p_limit",
)


def plan_indexes(conn: psycopg.Connection[Any], args: dict[str, Any]) -> tuple[str, bool]:
    """The indexes the list's query reads (EXPLAIN of the very text it runs), and
    whether it reads the whole of workflow_executions."""
    values = {k: args.get(k) for k in ARGS} | {"p_limit": 51}
    marks = ", ".join(f"{k} => %({k})s" for k in ARGS)
    row = conn.execute(f"select cascadian_runs_query_v2({marks}) as q", values).fetchone()
    assert row is not None
    plan = conn.execute("explain (format json) " + row["q"]).fetchone()
    assert plan is not None
    found: list[str] = []
    seq = False

    def walk(node: dict[str, Any]) -> None:
        nonlocal seq
        if "Index Name" in node and node["Index Name"] not in found:
            found.append(node["Index Name"])
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") == (
            "workflow_executions"
        ):
            seq = True
        for child in node.get("Plans", []):
            walk(child)

    top = plan["QUERY PLAN"]
    walk((json.loads(top) if isinstance(top, str) else top)[0]["Plan"])
    return ", ".join(found) or "-", seq


def time_reads(url: str, reps: int) -> list[tuple[Any, ...]]:
    rows = []
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        for name, args in filters(conn).items():
            values = {k: args.get(k) for k in ARGS} | {"p_limit": 51}
            marks = ", ".join(f"{k} => %({k})s" for k in ARGS)
            call = f"select * from cascadian_runs_v2({marks})"
            conn.execute(call, values).fetchall()  # warm
            times = []
            found = 0
            for _ in range(reps):
                t0 = time.perf_counter()
                found = len(conn.execute(call, values).fetchall())
                times.append((time.perf_counter() - t0) * 1000)
            ordered = sorted(times)
            p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
            indexes, seq = plan_indexes(conn, args)
            rows.append(
                (
                    name,
                    min(found, 50),
                    common.median(times),
                    p99,
                    indexes,
                    "yes" if seq else "no",
                )
            )
    return rows


def hot_share(conn: psycopg.Connection[Any]) -> str:
    time.sleep(1.5)  # the connection's counters flush once it has idled a second
    conn.execute("select pg_stat_clear_snapshot()")
    row = conn.execute(
        "select n_tup_upd, n_tup_hot_upd from pg_stat_user_tables "
        "where relname = 'workflow_executions'"
    ).fetchone()
    assert row is not None
    return f"{row['n_tup_hot_upd']:,} of {row['n_tup_upd']:,}"


def writes(admin: str, batches: int, batch: int) -> list[tuple[Any, ...]]:
    before = Path(tempfile.mkdtemp(prefix="before-026-"))
    for f in sorted(migrations_dir().glob("*.sql")):
        if f.name != MIGRATION:
            shutil.copy(f, before / f.name)
    names = {
        ("fresh", "without 026"): ("cascadian_bench_runs_w_fresh_before", False, before),
        ("fresh", "with 026"): ("cascadian_bench_runs_w_fresh", False, None),
        ("the app's", "without 026"): ("cascadian_bench_runs_w_app_before", True, before),
        ("the app's", "with 026"): ("cascadian_bench_runs_w_app", True, None),
    }
    conns: dict[str, psycopg.Connection[Any]] = {}
    try:
        for (schema, label), (name, app, directory) in names.items():
            url = database(admin, name, app, directory)
            common.seed(url, batches * batch)
            conns[f"{schema}, {label}"] = psycopg.connect(
                url, autocommit=True, row_factory=dict_row
            )
        claim_us, finish_us = common.paired_claims_and_finishes(conns, batches, batch)
        return [
            (
                label,
                len(claim_us[label]),
                common.median(claim_us[label]),
                common.median(finish_us[label]),
                hot_share(conn),
            )
            for label, conn in conns.items()
        ]
    finally:
        for conn in conns.values():
            conn.close()
        for name, _, _ in names.values():
            common.drop_database(admin, name)
        shutil.rmtree(before, ignore_errors=True)


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--runs", type=int, default=None, help="runs to load (default 1,000,000)")
    p.add_argument("--reps", type=int, default=None, help="calls per filter (default 100)")
    p.add_argument("--batches", type=int, default=None, help="write batches (default 60)")
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--reads-only", action="store_true")
    p.add_argument("--writes-only", action="store_true")
    args = p.parse_args()
    runs = args.runs or (50_000 if args.quick else 1_000_000)
    reps = args.reps or (10 if args.quick else 100)
    batches = args.batches or (6 if args.quick else 60)
    admin = common.admin_url()
    urls = {}
    try:
        for label, name in READ_DBS.items() if not args.writes_only else ():
            t0 = time.perf_counter()
            urls[label] = database(admin, name, app=label != "fresh")
            load(urls[label], runs)
            print(
                f"loaded {runs:,} runs into the {label} schema in {time.perf_counter() - t0:.0f} s"
            )
        common.print_header(f"the runs list at {runs:,} runs", admin, __doc__ or "")
        for label, url in urls.items():
            print(f"## reads, {label} schema ({reps} calls per filter, a page of 50)\n")
            common.print_table(
                ["filter", "rows", "p50 ms", "p99 ms", "indexes read", "whole table"],
                time_reads(url, reps),
            )
    finally:
        for name in READ_DBS.values():
            common.drop_database(admin, name)
    if not args.reads_only:
        print(
            f"## writes: claim and finish, without and with 026 "
            f"({batches} batches of {args.batch})\n"
        )
        common.print_table(
            [
                "schema, migrations",
                "batches",
                "claim µs/run",
                "finish µs/run",
                "executions: HOT of updates",
            ],
            writes(admin, batches, args.batch),
        )


if __name__ == "__main__":
    main()
