"""The floor of our own writes: the rows a cascadian drain writes, by minimal set-based SQL.

10,000 due no-op strategies, drained in batches by N processes, each batch two
statements and no Python per run. The rows are today's (since migrations/051 and 052;
`--rows now`, the default):

    claim:  pick the next due rows in the due index's order, take their lease (a row
            of cascadian_leases, made at a strategy's first claim) and insert their
            execution rows (status running, the graph snapshot);
    finish: update the sessions once (counters, next slot), free the leases, and
            update the execution rows (completed, the node logs as one jsonb value).

`--rows before-051` writes what a run wrote before 051 and 052: the lease on the
session (so a session update at claim and at finish) and a log row per node.
Either way without cascadian's checks: no attempt numbers, no lease fencing beyond
the claim, no auto-pause, no fair shares, no outputs. What cascadian's drain achieves
against it is how much our own code (Python and SQL functions) costs above the rows
themselves.

    .venv/bin/python bench/floor.py [--quick] [--batch 25 200] [--procs 1 2] [--rows now|before-051]
"""

from __future__ import annotations

import multiprocessing as mp
import time
from typing import Any

import common
import psycopg

DB = "cascadian_bench_floor"

CLAIM_BEFORE_051 = """
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

FINISH_BEFORE_051 = """
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


CLAIM = """
with due as (
    select s.id
    from workflow_sessions s
    where s.auto_run and s.status in ('running', 'error') and s.is_current_version
      and s.next_execution_at <= (select now())
      and not exists (
          select 1 from cascadian_leases l where l.workflow_id = s.id and l.expires_at > now()
      )
    order by s.next_execution_at
    limit %(batch)s
),
leased as (
    -- Two processes may pick the same row: the second waits, sees the lease taken
    -- and passes it over.
    insert into cascadian_leases as l (workflow_id, token, expires_at)
    select due.id, gen_random_uuid(), now() + interval '2 minutes' from due
    on conflict (workflow_id) do update
    set token = excluded.token, expires_at = excluded.expires_at
    where l.expires_at is null or l.expires_at <= now()
    returning l.workflow_id, l.token
),
runs as (
    insert into workflow_executions (
        id, workflow_id, user_id, execution_started_at, status, trigger_kind,
        scheduled_for, attempt, workflow_snapshot
    )
    select le.token, s.id, s.user_id, now(), 'running', 'scheduled',
           s.next_execution_at, 1,
           jsonb_build_object('name', s.name, 'nodes', s.nodes, 'edges', s.edges)
    from leased le join workflow_sessions s on s.id = le.workflow_id
    returning id, workflow_id
)
select array_agg(id) as ids, array_agg(workflow_id) as sids from runs
"""

FINISH = """
with ids as (
    select * from unnest(%(ids)s::uuid[], %(sids)s::uuid[]) as t (eid, sid)
),
leases as (
    update cascadian_leases l set token = null, expires_at = null
    from ids where l.workflow_id = ids.sid
    returning 1
),
sessions as (
    update workflow_sessions s
    set last_executed_at = now(), execution_count = coalesce(s.execution_count, 0) + 1,
        success_count = coalesce(s.success_count, 0) + 1, error_count = 0,
        next_execution_at = s.next_execution_at + interval '5 minutes', updated_at = now()
    from ids where s.id = ids.sid
    returning 1
)
update workflow_executions e
set status = 'completed', execution_completed_at = now(), duration_ms = 1,
    nodes_executed = 2, outputs = '{"end": {}}', errors = '[]',
    node_logs = '[{"node_id": "start", "node_type": "start", "status": "success", "output": {}},
                  {"node_id": "end", "node_type": "end", "status": "success", "output": {}}]'
from ids where e.id = ids.eid
"""

ROWS = {"now": (CLAIM, FINISH), "before-051": (CLAIM_BEFORE_051, FINISH_BEFORE_051)}


def drain(url: str, batch: int, rows: str = "now") -> dict[str, Any]:
    claim, finish = ROWS[rows]
    runs = 0
    with psycopg.connect(url, autocommit=True) as conn:
        start, cpu = time.time(), time.process_time()
        while True:
            row = conn.execute(claim, {"batch": batch}).fetchone()
            assert row is not None
            ids, sids = row
            if not ids:
                break
            conn.execute(finish, {"ids": ids, "sids": sids})
            runs += len(ids)
        end, cpu = time.time(), time.process_time() - cpu
    return {"runs": runs, "start": start, "end": end, "cpu": cpu}


def _process(url: str, batch: int, rows: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    results.put(drain(url, batch, rows))


def measure(url: str, procs: int, batch: int, strategies: int, rows: str = "now") -> dict[str, Any]:
    """Seed `strategies` due no-op strategies and drain them; runs/s over all processes."""
    common.reset(url)
    common.seed(url, strategies)
    db_cpu = common.server_cpu_seconds(url)
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(procs), ctx.Queue()
    workers = [
        ctx.Process(target=_process, args=(url, batch, rows, barrier, results))
        for _ in range(procs)
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
    p.add_argument("--rows", choices=list(ROWS), default="now", help="today's rows, or before 051")
    args = p.parse_args()
    strategies = args.strategies or (1_000 if args.quick else 10_000)
    admin = common.admin_url()
    url = common.fresh_database(admin, DB)
    common.print_header("the floor of our own writes", url, __doc__ or "")
    rows = []
    for batch in args.batch:
        for procs in args.procs:
            r = measure(url, procs, batch, strategies, args.rows)
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
