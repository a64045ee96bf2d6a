"""The floor of our own writes: the rows a cascadian drain writes, by minimal set-based SQL.

10,000 due no-op strategies, drained in batches by N processes, each batch two
statements and no Python per run:

    claim:  lock the next due rows in the due index's order, take their lease, and
            insert their execution rows (status running, the graph snapshot);
    finish: update the sessions (counters, next slot, lease cleared), update the
            execution rows (completed), and insert two node log rows per run.

That is what a cascadian run wrote before migrations/051 and 052 (a session update at
claim and at finish, an execution row insert and update, a log row per node of
start -> end; since 052 the claim updates a lease row of cascadian_leases instead of
the session, and since 051 the logs ride on the run's row), without
cascadian's checks: no attempt numbers, no lease fencing beyond the claim, no
auto-pause, no outputs. What cascadian's drain achieves against it is how much our
own code (Python and SQL functions) costs above the rows themselves.

    .venv/bin/python bench/floor.py [--quick] [--batch 25 200] [--procs 1 2]
"""

from __future__ import annotations

import multiprocessing as mp
import time
from typing import Any

import common
import psycopg

DB = "cascadian_bench_floor"

CLAIM = """
with due as (
    select s.id
    from workflow_sessions s
    where s.auto_run and s.status in ('running', 'error') and s.is_current_version
      and s.next_execution_at <= (select now())
      and s.lease_expires_at is null
    order by s.next_execution_at
    limit %(batch)s
    for update skip locked
),
claimed as (
    update workflow_sessions s
    set lease_token = gen_random_uuid(), lease_expires_at = now() + interval '2 minutes'
    from due where s.id = due.id
    returning s.*
),
runs as (
    insert into workflow_executions (
        id, workflow_id, user_id, execution_started_at, status, trigger_kind,
        scheduled_for, attempt, workflow_snapshot
    )
    select c.lease_token, c.id, c.user_id, now(), 'running', 'scheduled',
           c.next_execution_at, 1,
           jsonb_build_object('name', c.name, 'nodes', c.nodes, 'edges', c.edges)
    from claimed c
    returning id, workflow_id
)
select array_agg(id) as ids, array_agg(workflow_id) as sids from runs
"""

FINISH = """
with ids as (
    select * from unnest(%(ids)s::uuid[], %(sids)s::uuid[]) as t (eid, sid)
),
sessions as (
    update workflow_sessions s
    set last_executed_at = now(), execution_count = coalesce(s.execution_count, 0) + 1,
        success_count = coalesce(s.success_count, 0) + 1, error_count = 0,
        next_execution_at = s.next_execution_at + interval '5 minutes',
        lease_token = null, lease_expires_at = null, updated_at = now()
    from ids where s.id = ids.sid
    returning 1
),
runs as (
    update workflow_executions e
    set status = 'completed', execution_completed_at = now(), duration_ms = 1,
        nodes_executed = 2, outputs = '{"end": {}}', errors = '[]'
    from ids where e.id = ids.eid
    returning 1
)
insert into strategy_execution_logs (
    execution_id, workflow_id, node_id, node_type, status, started_at, completed_at,
    duration_ms, output, node_index
)
select ids.eid, ids.sid, n.node_id, n.node_id, 'success', now(), now(), 0, '{}', n.ord
from ids cross join (values ('start', 1), ('end', 2)) as n (node_id, ord)
"""


def drain(url: str, batch: int) -> dict[str, Any]:
    runs = 0
    with psycopg.connect(url, autocommit=True) as conn:
        start, cpu = time.time(), time.process_time()
        while True:
            row = conn.execute(CLAIM, {"batch": batch}).fetchone()
            assert row is not None
            ids, sids = row
            if not ids:
                break
            conn.execute(FINISH, {"ids": ids, "sids": sids})
            runs += len(ids)
        end, cpu = time.time(), time.process_time() - cpu
    return {"runs": runs, "start": start, "end": end, "cpu": cpu}


def _process(url: str, batch: int, barrier: Any, results: Any) -> None:
    barrier.wait()
    results.put(drain(url, batch))


def measure(url: str, procs: int, batch: int, strategies: int) -> dict[str, Any]:
    """Seed `strategies` due no-op strategies and drain them; runs/s over all processes."""
    common.reset(url)
    common.seed(url, strategies)
    db_cpu = common.server_cpu_seconds(url)
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(procs), ctx.Queue()
    workers = [
        ctx.Process(target=_process, args=(url, batch, barrier, results)) for _ in range(procs)
    ]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=600) for _ in workers]
    for w in workers:
        w.join()
    runs = sum(o["runs"] for o in outcomes)
    elapsed = max(o["end"] for o in outcomes) - min(o["start"] for o in outcomes)
    assert runs == strategies, f"{runs} runs for {strategies} strategies"
    return {
        "runs": runs,
        "seconds": elapsed,
        "runs/s": runs / elapsed,
        "client us/run": sum(o["cpu"] for o in outcomes) / runs * 1e6,
        "db us/run": common.cpu_per_run(url, db_cpu, runs),
    }


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--strategies", type=int, default=None)
    p.add_argument("--batch", type=int, nargs="+", default=[25, 200])
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()
    strategies = args.strategies or (1_000 if args.quick else 10_000)
    admin = common.admin_url()
    url = common.fresh_database(admin, DB)
    common.print_header("the floor of our own writes", url, __doc__ or "")
    rows = []
    for batch in args.batch:
        for procs in args.procs:
            r = measure(url, procs, batch, strategies)
            rows.append(
                (
                    batch,
                    procs,
                    r["runs"],
                    r["seconds"],
                    r["runs/s"],
                    r["client us/run"],
                    r["db us/run"],
                )
            )
    common.print_table(
        ["batch", "procs", "runs", "s", "runs/s", "client CPU µs/run", "db CPU µs/run"], rows
    )
    common.drop_database(admin, DB)


if __name__ == "__main__":
    main()
