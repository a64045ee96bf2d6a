"""Peer comparison: pg-boss 10.4 (Node), cascadian's drain and the floor of our own
writes, on the same PostgreSQL server, interleaved rounds.

pg-boss is installed from npm into a temporary folder at run time (`npm install
pg-boss@10.4.2`; Node >= 20 and npm on PATH), and driven by a small Node script
written there: each process fetches a batch (`boss.fetch(queue, {batchSize})`) and
completes it (`boss.complete(queue, ids)`) until the queue is empty, without
workers, schedules or supervision. Its 10,000 no-op jobs are inserted first (not
counted). cascadian drains 10,000 due no-op strategies as bench/drain.py does
(TickService with the real executor and store; batch 25 = the defaults, claim 25
and concurrency 25; batch 200 = claim 200 and concurrency 200; the per-owner cap off,
as one owner holds every strategy), and the floor is
bench/floor.py. Each in a database of its own on the same server; throughput =
jobs / (last process done - first started), after every process has connected.

`--tree PATH` adds a cascadian measured from another source tree (e.g. a worktree
of main: the before), in the same rounds.

    .venv/bin/python bench/peer_pgboss.py [--quick] [--rounds 3] [--tree /tmp/ab-base]
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import common
import drain
import floor
import psycopg

PG_BOSS = "pg-boss@10.4.2"
QUEUE = "noop"

NODE_SCRIPT = r"""
const PgBoss = require('pg-boss');
const [mode, url, arg] = process.argv.slice(2);

async function main() {
  const boss = new PgBoss({
    connectionString: url, max: 4, supervise: false, schedule: false,
    migrate: mode === 'setup',
  });
  boss.on('error', (e) => { console.error(e); process.exit(2); });
  await boss.start();
  if (mode === 'setup') {
    await boss.createQueue(QUEUE).catch(() => {});
    const n = Number(arg);
    for (let i = 0; i < n; i += 1000) {
      const jobs = [];
      for (let j = i; j < Math.min(n, i + 1000); j++) jobs.push({ name: QUEUE, data: { i: j } });
      await boss.insert(jobs);
    }
    await boss.stop({ graceful: false, wait: true });
    return;
  }
  const batchSize = Number(arg);
  // Connected: wait for the go, so every process starts together.
  process.stdout.write('ready\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  const start = Date.now() / 1000;
  let runs = 0;
  for (;;) {
    const jobs = await boss.fetch(QUEUE, { batchSize });
    if (!jobs || jobs.length === 0) break;
    await boss.complete(QUEUE, jobs.map((j) => j.id));
    runs += jobs.length;
  }
  const end = Date.now() / 1000;
  process.stdout.write(JSON.stringify({ runs, start, end }) + '\n');
  await boss.stop({ graceful: false, wait: true });
}
main().catch((e) => { console.error(e); process.exit(1); });
""".replace("QUEUE", json.dumps(QUEUE))


def install_pg_boss() -> Path:
    """pg-boss in a fresh temporary folder, with the driver script beside it."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise SystemExit("peer_pgboss needs node and npm on PATH")
    folder = Path(tempfile.mkdtemp(prefix="cascadian-pgboss-"))
    (folder / "package.json").write_text('{"name": "pgboss-bench", "private": true}\n')
    subprocess.run(
        ["npm", "install", "--silent", "--no-audit", "--no-fund", PG_BOSS],
        cwd=folder,
        check=True,
    )
    (folder / "drain.js").write_text(NODE_SCRIPT)
    return folder


def node_url(conninfo: str) -> str:
    """The connection as a URL node-postgres reads (a unix socket as ?host=/path)."""
    d = psycopg.conninfo.conninfo_to_dict(conninfo)
    user, password = quote(str(d.get("user", ""))), quote(str(d.get("password", "")))
    auth = f"{user}:{password}@" if password else f"{user}@"
    host = str(d.get("host", "localhost"))
    port = d.get("port")
    name = quote(str(d.get("dbname", "postgres")))
    if host.startswith("/"):
        return f"postgresql://{auth}/{name}?host={quote(host)}" + (f"&port={port}" if port else "")
    return f"postgresql://{auth}{host}{f':{port}' if port else ''}/{name}"


def fresh_plain_database(admin: str, name: str) -> str:
    common.drop_database(admin, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return psycopg.conninfo.make_conninfo(admin, dbname=name)


def pgboss_measure(folder: Path, url: str, procs: int, batch: int, jobs: int) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema if exists pgboss cascade")
    plain, script, url = url, str(folder / "drain.js"), node_url(url)
    subprocess.run(["node", script, "setup", url, str(jobs)], cwd=folder, check=True)
    db_cpu = common.server_cpu_seconds(plain)
    done = common.node_workers(["node", script, "work", url, str(batch)], folder, procs, "pg-boss")
    runs, elapsed, client = done["runs"], done["seconds"], done["cpu"]
    assert runs == jobs, f"{runs} jobs completed of {jobs}"
    return {
        "runs": runs,
        "seconds": elapsed,
        "runs/s": runs / elapsed,
        # the node processes' whole life (start-up and connecting included)
        "client us/run": client / runs * 1e6,
        "db us/run": common.cpu_per_run(plain, db_cpu, runs),
    }


def cascadian_measure(
    url: str, procs: int, batch: int, strategies: int, tree: str | None
) -> dict[str, Any]:
    """bench/drain.py's measure, here or (tree) in a process that imports that tree."""
    # One owner holds every strategy here, so the per-owner cap (039; default 10) would
    # make every claim 10 wide: off, as docs/users.md advises a single-owner deployment.
    env = {
        "CASCADIAN_CLAIM_LIMIT": batch,
        "CASCADIAN_MAX_CONCURRENCY": batch,
        "CASCADIAN_OWNER_MAX_RUNS": 0,
    }
    if tree is None:
        return drain.measure(url, procs, env, strategies)
    args = json.dumps([url, procs, env, strategies])
    code = (
        "import json; import drain; "
        f"r = drain.measure(*json.loads({args!r})); "
        "print(json.dumps({k: r[k] for k in ('runs', 'seconds', 'runs/s', "
        "'client us/run', 'db us/run')}))"
    )
    here = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code],
        **common.in_tree(tree, here / "bench"),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, nargs="+", default=[25, 200])
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--tree", help="also measure cascadian from this source tree (the before)")
    args = p.parse_args()
    jobs = args.jobs or (1_000 if args.quick else 10_000)
    admin = common.admin_url()
    ours = common.fresh_database(admin, drain.DB)
    theirs = fresh_plain_database(admin, "cascadian_bench_pgboss")
    if args.tree:
        before = "cascadian_bench_drain_before"
        common.drop_database(admin, before)
        # The before's own migrations, applied by the before's code.
        code = (
            "import sys; from cascadian.store.migrate import migrate; "
            "import psycopg; migrate(sys.argv[1])"
        )
        before_url = fresh_plain_database(admin, before)
        subprocess.run(
            [sys.executable, "-c", code, before_url],
            **common.in_tree(args.tree),
            check=True,
        )
    flr = common.fresh_database(admin, floor.DB)
    folder = install_pg_boss()
    common.print_header(
        "peer: pg-boss 10.4, cascadian and the floor",
        ours,
        (__doc__ or "").split("\n\n")[1]
        + f"\n\n{jobs:,} jobs each, {args.rounds} interleaved rounds (order reversed "
        "every other round); median (min-max) runs/s.",
    )
    sides: dict[str, Any] = {
        "cascadian": lambda procs, batch: cascadian_measure(ours, procs, batch, jobs, None),
        "pg-boss": lambda procs, batch: pgboss_measure(folder, theirs, procs, batch, jobs),
        "floor": lambda procs, batch: floor.measure(flr, procs, batch, jobs),
    }
    if args.tree:
        sides["cascadian before"] = lambda procs, batch: cascadian_measure(
            before_url, procs, batch, jobs, args.tree
        )
    results: dict[tuple[str, int, int], list[float]] = {}
    cpu: dict[tuple[str, int, int], list[tuple[float, float]]] = {}
    try:
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            for batch in args.batch:
                for procs in args.procs:
                    for side in order:
                        m = sides[side](procs, batch)
                        results.setdefault((side, batch, procs), []).append(m["runs/s"])
                        if m.get("db us/run") is not None:
                            cpu.setdefault((side, batch, procs), []).append(
                                (m["client us/run"], m["db us/run"])
                            )
                        print(
                            f"  round {r + 1}: {side}, batch {batch}, {procs} proc(s): "
                            f"{m['runs/s']:,.0f} runs/s",
                            flush=True,
                        )
                        time.sleep(0.5)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print()
    rows = []
    for batch in args.batch:
        for procs in args.procs:
            ours_m = common.median(results[("cascadian", batch, procs)])
            row: list[Any] = [batch, procs]
            for side in sides:
                v = results[(side, batch, procs)]
                row.append(f"{common.median(v):,.0f} ({min(v):,.0f}-{max(v):,.0f})")
            row.append(f"{ours_m / common.median(results[('pg-boss', batch, procs)]):.2f}x")
            row.append(f"{ours_m / common.median(results[('floor', batch, procs)]):.2f}")
            rows.append(row)
    common.print_table(["batch", "procs", *sides, "cascadian / pg-boss", "cascadian / floor"], rows)
    print(
        "CPU per run, median µs (client processes + database server; robust to a busy "
        "machine, unlike runs/s):\n"
    )
    rows = []
    for batch in args.batch:
        for procs in args.procs:
            row = [batch, procs]
            totals = {}
            for side in sides:
                v = cpu.get((side, batch, procs), [])
                if not v:
                    row.append("n/a")
                    continue
                c, d = common.median([x[0] for x in v]), common.median([x[1] for x in v])
                totals[side] = c + d
                row.append(f"{c:,.0f} + {d:,.0f} = {c + d:,.0f}")
            for peer, unit in (("pg-boss", "x"), ("floor", "")):
                ok = "cascadian" in totals and peer in totals
                row.append(f"{totals[peer] / totals['cascadian']:.2f}{unit}" if ok else "n/a")
            rows.append(row)
    common.print_table(
        ["batch", "procs", *sides, "pg-boss / cascadian CPU", "floor / cascadian CPU"], rows
    )
    for name in ("cascadian_bench_pgboss", drain.DB, floor.DB):
        common.drop_database(admin, name)
    if args.tree:
        common.drop_database(admin, before)


if __name__ == "__main__":
    main()
