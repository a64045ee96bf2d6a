"""Schedule lag: how long after its slot a run starts, with `cascadian worker`.

3,000 no-op strategies on a one-minute interval, their first slots spread evenly
over a minute (one every 20 ms) starting a few seconds after the workers start;
two `cascadian worker` processes with the default settings (or the arguments
given) run for a minute and a bit, then get SIGTERM. The lag of a run is its
execution row's `execution_started_at` (the claim time) minus its
`scheduled_for` (the slot), over every scheduled run in that time. Duplicates:
runs of the same slot counted twice (expected 0).

`--tree PATH` runs the workers from another source tree (the before), `--args`
passes worker arguments, e.g. `--args=--interval=1`.

    .venv/bin/python bench/schedule_lag.py [--quick] [--tree /tmp/ab-base] [--args=...]
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import common
import psycopg

DB = "cascadian_bench_lag"
HERE = Path(__file__).resolve().parent.parent


def seed(url: str, count: int, spread: float, lead: float) -> None:
    common.reset(url)
    common.seed(url, count)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "update workflow_sessions set execution_interval_minutes = 1, "
            "next_execution_at = now() + make_interval(secs => %s + "
            "(row_number - 1) * %s / %s) "
            "from (select id, row_number() over (order by id) from workflow_sessions) n "
            "where n.id = workflow_sessions.id",
            (lead, spread, count),
        )
        conn.execute("analyze workflow_sessions")


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--strategies", type=int, default=None)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seconds", type=float, default=None, help="how long the workers run")
    p.add_argument("--tree", help="run the workers from this source tree")
    p.add_argument("--args", default="", help="worker arguments")
    args = p.parse_args()
    count = args.strategies or (500 if args.quick else 3_000)
    spread = 10.0 if args.quick else 60.0
    seconds = args.seconds or spread + 15
    lead = 5.0
    admin = common.admin_url()
    url = common.fresh_database(admin, DB)
    common.print_header(
        "schedule lag",
        url,
        f"{count:,} strategies (interval 1 minute), first slots over {spread:g} s from "
        f"{lead:g} s after start; {args.workers} worker(s) "
        f"{'from ' + args.tree if args.tree else '(this tree)'} "
        f"`cascadian worker {args.args}`, run for {seconds:g} s.",
    )
    seed(url, count, spread, lead)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPABASE")}
    env |= {"DATABASE_URL": url, "CASCADIAN_DB_POOL_SIZE": "4"}
    if args.tree:
        env["PYTHONPATH"] = args.tree
    command = [sys.executable, "-c", "from cascadian.cli.main import app; app()", "worker"]
    command += shlex.split(args.args)
    with ExitStack() as stack:
        logs = [
            stack.enter_context((Path("/tmp") / f"cascadian-lag-worker{i}.log").open("wb"))
            for i in range(args.workers)
        ]
        procs = [
            subprocess.Popen(command, env=env, cwd="/tmp", stdout=log, stderr=subprocess.STDOUT)
            for log in logs
        ]
        try:
            time.sleep(seconds)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=60)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            """
            select count(*),
                   count(*) - count(distinct (workflow_id, scheduled_for)),
                   percentile_cont(array[0.5, 0.95, 0.99]) within group (order by lag),
                   max(lag)
            from (
                select workflow_id, scheduled_for,
                       extract(epoch from execution_started_at - scheduled_for) * 1000 as lag
                from workflow_executions where trigger_kind = 'scheduled'
            ) runs
            """
        ).fetchone()
        ticks = conn.execute("select count(*) from cron_ticks").fetchone()
    assert row is not None and ticks is not None
    runs, duplicates, (p50, p95, p99), worst = row
    common.print_table(
        ["runs", "duplicates", "p50 ms", "p95 ms", "p99 ms", "max ms", "ledger rows"],
        [(runs, duplicates, float(p50), float(p95), float(p99), float(worst), ticks[0])],
    )
    verdict = "met" if p99 <= 100 else "NOT met"
    print(f"target p99 <= 100 ms: {verdict} (p99 {p99:.0f} ms)")
    common.drop_database(admin, DB)


if __name__ == "__main__":
    main()
