"""Retention over a simulated week: 1,000 strategies running once a minute, every
minute's tick pruning within its caps, and the tables' sizes day by day.

Nothing runs for a week. The history a week of ticks would write is inserted with
generate_series, one simulated hour at a time: per strategy and minute one
completed run (its graph snapshot and outputs, started 1 s after its slot) with
2 node logs, and one ledger row per minute. Then, for each minute of that hour,
the tick's prune is called exactly as a tick calls it (SqlStore.prune, the
default caps: 5,000 rows, 250 ms), with a fake clock: `p_now` is the simulated
minute. The window is scaled down so that a week holds several of them: runs and
ticks are kept --window-hours (24), and the newest 50 runs of each strategy. A
prune's cost follows the rows it deletes per tick (the inflow: 1,000 runs and
2,000 logs a minute here), not the window's length, so a 30-day window costs the
same per tick over a table 30 times larger.

Autovacuum is emulated by its own rule, run promptly: after each simulated hour, a
table with more dead rows than 50 + 20% of its rows is VACUUMed (real autovacuum
checks every minute of real time, while a simulated hour here takes seconds).

    .venv/bin/python bench/retention.py [--quick] [--strategies N] [--days D] [--window-hours H]
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import common
import psycopg

from cascadian.data import RetentionPolicy
from cascadian.store.sql_store import SqlStore

DB = "cascadian_bench_retention"
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, 00:00
TABLES = ("workflow_executions", "strategy_execution_logs", "cron_ticks")


def insert_hour(conn: psycopg.Connection[Any], hour_start: datetime) -> None:
    """One simulated hour of history: a run a minute per strategy, 2 logs each, a tick."""
    conn.execute(
        """
        insert into workflow_executions (
            workflow_id, user_id, execution_started_at, execution_completed_at, duration_ms,
            status, nodes_executed, outputs, workflow_snapshot, trigger_kind, scheduled_for,
            attempt
        )
        select s.id, s.user_id, slot + interval '1 second',
               slot + interval '1 second 10 milliseconds', 10, 'completed', 2,
               '{"end": {"ok": true}}'::jsonb,
               jsonb_build_object('name', s.name, 'nodes', s.nodes, 'edges', s.edges,
                                  'variables', '{}'::jsonb, 'version', 1),
               'scheduled', slot, 1
        from workflow_sessions s
        cross join generate_series(%(start)s::timestamptz,
                                   %(start)s::timestamptz + interval '59 minutes',
                                   interval '1 minute') as slot
        """,
        {"start": hour_start},
    )
    conn.execute(
        """
        insert into strategy_execution_logs (
            execution_id, workflow_id, node_id, node_type, status, started_at, completed_at,
            duration_ms, output, node_index
        )
        select e.id, e.workflow_id, n.node_id, n.node_id, 'success', e.execution_started_at,
               e.execution_completed_at, 5, '{"summary": "ok"}'::jsonb, n.ord
        from workflow_executions e
        cross join (values ('start', 1), ('end', 2)) as n (node_id, ord)
        where e.execution_started_at >= %(start)s
          and e.execution_started_at < %(start)s::timestamptz + interval '1 hour'
        """,
        {"start": hour_start},
    )
    conn.execute(
        """
        insert into cron_ticks (trigger, started_at, finished_at, success, strategies_checked,
                                strategies_executed, succeeded, execution_time_ms)
        select 'cron', m, m + interval '200 milliseconds', true, n, n, n, 200
        from generate_series(%(start)s::timestamptz,
                             %(start)s::timestamptz + interval '59 minutes',
                             interval '1 minute') as m
        cross join (select count(*)::integer as n from workflow_sessions) c
        """,
        {"start": hour_start},
    )


def autovacuum_like(conn: psycopg.Connection[Any]) -> None:
    """VACUUM each table past autovacuum's default trigger (50 + 20% of its rows dead)."""
    conn.execute("select pg_stat_force_next_flush()")
    conn.execute("select pg_stat_clear_snapshot()")
    for table in TABLES:
        row = conn.execute(
            "select n_dead_tup, greatest(c.reltuples, 0) from pg_stat_user_tables s "
            "join pg_class c on c.oid = s.relid where s.relname = %s",
            (table,),
        ).fetchone()
        assert row is not None
        dead, rows = row
        if dead > 50 + 0.2 * rows:
            conn.execute(f"vacuum (analyze) {table}")


def sizes(conn: psycopg.Connection[Any]) -> dict[str, tuple[int, int]]:
    """Each table's rows and total size on disk (indexes and TOAST included), in bytes."""
    out = {}
    for table in TABLES:
        row = conn.execute(
            f"select count(*), pg_total_relation_size('{table}') from {table}"
        ).fetchone()
        assert row is not None
        out[table] = (int(row[0]), int(row[1]))
    return out


async def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--strategies", type=int, default=1000)
    p.add_argument("--days", type=float, default=7)
    p.add_argument("--window-hours", type=float, default=24)
    args = p.parse_args()
    if args.quick:
        args.strategies, args.days, args.window_hours = 100, 1, 6

    admin = common.admin_url()
    url = common.fresh_database(admin, DB)
    common.print_header(
        f"Retention: {args.strategies:,} strategies, a run a minute, {args.days:g} simulated "
        f"days, a {args.window_hours:g} h window",
        url,
        __doc__ or "",
    )
    common.seed(url, args.strategies, due=0)
    window = args.window_hours * 3600
    policy = RetentionPolicy(
        run_retention_seconds=window,
        keep_runs=50,
        tick_retention_seconds=window,
        notification_retention_seconds=90 * 86_400,
        max_rows=5000,
        max_ms=250,
    )
    store = SqlStore.postgres(url, pool_size=2)
    await store.open()
    hours = round(args.days * 24)
    day_rows: list[list[Any]] = []
    day_prunes: list[tuple[float, float]] = []  # (client ms, rows) per tick of the day
    all_prunes: list[tuple[float, float]] = []
    capped = 0
    after = None
    wall = time.perf_counter()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            for hour in range(hours):
                hour_start = START + timedelta(hours=hour)
                insert_hour(conn, hour_start)
                for minute in range(60):
                    now = hour_start + timedelta(minutes=minute, seconds=1)
                    t0 = time.perf_counter()
                    result = await store.prune(now, policy, False, after)
                    ms = (time.perf_counter() - t0) * 1000
                    after = result.resume_after
                    capped += not result.complete
                    day_prunes.append((ms, result.rows))
                autovacuum_like(conn)
                if (hour + 1) % 24 == 0 or hour + 1 == hours:
                    s = sizes(conn)
                    ms_values = [m for m, _ in day_prunes]
                    rows_values = [r for _, r in day_prunes]
                    day_rows.append(
                        [
                            f"{(hour + 1) / 24:g}",
                            s["workflow_executions"][0],
                            s["strategy_execution_logs"][0],
                            s["cron_ticks"][0],
                            sum(v[1] for v in s.values()) / 2**20,
                            common.median(ms_values),
                            common.p95(ms_values),
                            max(ms_values),
                            common.median(rows_values),
                            max(rows_values),
                        ]
                    )
                    all_prunes += day_prunes
                    day_prunes = []
                    print(f"day {(hour + 1) / 24:g} done ({time.perf_counter() - wall:.0f} s)")
    finally:
        await store.close()
    print()
    common.print_table(
        [
            "day",
            "runs",
            "node logs",
            "ticks",
            "MiB (3 tables)",
            "prune ms p50",
            "p95",
            "max",
            "rows/tick p50",
            "max",
        ],
        day_rows,
    )
    ms_all = [m for m, _ in all_prunes]
    print(
        f"{len(all_prunes):,} prunes (one per simulated minute): "
        f"p50 {common.median(ms_all):.1f} ms, "
        f"p95 {common.p95(ms_all):.1f} ms, max {max(ms_all):.1f} ms; "
        f"{capped} stopped by a cap; {time.perf_counter() - wall:.0f} s in all"
    )
    common.drop_database(admin, DB)


if __name__ == "__main__":
    common.run(main)
