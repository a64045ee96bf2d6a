"""Peer comparison: BullMQ + Redis writing a cascadian run's rows per job, bare pg-boss
10.4 and cascadian's drain, on a fresh schema and on the app's, interleaved rounds.

BullMQ is the seed app's own plan for scale ("migrate to BullMQ + Redis"). Redis is
Debian's (`redis-server` on PATH, or `apt-get download redis-tools` with its two
libraries, unpacked into a temporary folder: nothing is installed system-wide),
started on 127.0.0.1 only, without persistence (no RDB snapshots, no AOF), and
stopped at the end. bullmq 6.7, ioredis and pg (node-postgres) are installed from
npm into a temporary folder, with bench/bullmq_peer.js beside them: each Node
process runs a BullMQ Worker with concurrency = the batch, and each job writes what
a cascadian run writes (its session's counters and next slot, updated once; its
execution row, inserted once, completed, with the graph's snapshot and the node logs
as one jsonb value), by one statement per job ("bullmq per job") or by group commit,
the jobs that finish while a statement is in flight written by the next one together
("bullmq grouped"). Jobs are removed from Redis once complete. pg-boss is
bench/peer_pgboss.py's (its fetch/complete loop, one row per job and nothing else);
cascadian is bench/drain.py's drain (TickService, real executor and store; claim and
concurrency = the batch, the per-owner cap off: one owner holds every strategy).
Each side in a database of its own on the one PostgreSQL server, the same N due
no-op strategies (N jobs); throughput = jobs / (last process done - first started),
after every process has connected. CPU per job: the client processes (Node's whole
lives, start-up included; cascadian's drain alone), the PostgreSQL server
(postmaster and all under it) and Redis, each per job.

    .venv/bin/python bench/peer_bullmq.py [--quick] [--rounds 3] [--batch 25 200]

Needs node and npm on PATH, and apt-get (or redis-server) for Redis.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import common
import peer_pgboss
import schemas

BULLMQ = ("bullmq@6.7.6", "ioredis@5.9.2", "pg@8.16.3")
SCRIPT = Path(__file__).resolve().parent / "bullmq_peer.js"
SCHEMAS = ("fresh", "app's")


class Redis:
    """A redis-server of Debian's on 127.0.0.1 and a free port, in `folder`."""

    def __init__(self, folder: Path) -> None:
        binary, env = _redis_binary(folder)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.process = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
                "--protected-mode",
                "yes",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def cpu(self) -> float:
        import psutil

        t = psutil.Process(self.process.pid).cpu_times()
        return float(t.user + t.system)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _redis_binary(folder: Path) -> tuple[str, dict[str, str]]:
    """redis-server from PATH, else Debian's unpacked into `folder` (redis-server is
    redis-check-rdb by another name, as the redis-server package links it)."""
    found = shutil.which("redis-server")
    if found:
        return found, dict(os.environ)
    debs = folder / "debs"
    debs.mkdir()
    subprocess.run(
        ["apt-get", "download", "-q", "redis-tools", "libjemalloc2", "liblzf1"],
        cwd=debs,
        check=True,
        capture_output=True,
    )
    root = folder / "root"
    for deb in debs.glob("*.deb"):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    binary = root / "usr" / "bin" / "redis-server"
    binary.symlink_to("redis-check-rdb")
    libs = root / "usr" / "lib" / "x86_64-linux-gnu"
    return str(binary), os.environ | {"LD_LIBRARY_PATH": str(libs)}


def install_bullmq(folder: Path) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise SystemExit("peer_bullmq needs node and npm on PATH")
    (folder / "package.json").write_text('{"name": "bullmq-bench", "private": true}\n')
    subprocess.run(
        ["npm", "install", "--silent", "--no-audit", "--no-fund", *BULLMQ],
        cwd=folder,
        check=True,
    )
    shutil.copy(SCRIPT, folder / SCRIPT.name)
    return folder / SCRIPT.name


def bullmq_measure(
    script: Path, redis: Redis, url: str, procs: int, batch: int, jobs: int, mode: str
) -> dict[str, Any]:
    common.reset(url)
    common.seed(url, jobs)
    node = ["node", str(script)]
    port, pg = str(redis.port), peer_pgboss.node_url(url)
    queued = subprocess.run(
        [*node, "setup", port, pg], cwd=script.parent, check=True, capture_output=True, text=True
    )
    assert json.loads(queued.stdout.strip().splitlines()[-1])["jobs"] == jobs
    db_cpu, redis_cpu = common.server_cpu_seconds(url), redis.cpu()
    done = common.node_workers(
        [*node, "work", port, pg, str(batch), mode], script.parent, procs, "BullMQ"
    )
    runs, elapsed, client = done["runs"], done["seconds"], done["cpu"]
    assert runs == jobs, f"{runs} jobs written of {jobs}"
    assert written(url) == jobs, "an execution row per job"
    return {
        "runs/s": runs / elapsed,
        "client us/run": client / runs * 1e6,
        "db us/run": common.cpu_per_run(url, db_cpu, runs),
        "redis us/run": (redis.cpu() - redis_cpu) / runs * 1e6,
    }


def written(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select count(*) from workflow_executions e join workflow_sessions s "
            "on s.id = e.workflow_id and s.execution_count = 1 and e.node_logs is not null"
        ).fetchone()
    assert row is not None
    return int(row[0])


def database(admin: str, schema: str, name: str) -> str:
    if schema == "fresh":
        return common.fresh_database(admin, name)
    return schemas.app_database(admin, name)


def cell(values: list[float]) -> str:
    return f"{common.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, nargs="+", default=[25, 200])
    p.add_argument("--procs", type=int, default=1)
    p.add_argument("--schemas", nargs="+", choices=SCHEMAS, default=list(SCHEMAS))
    args = p.parse_args()
    jobs = args.jobs or (1_000 if args.quick else 10_000)
    admin = common.admin_url()
    names = {
        (side, schema): f"cascadian_bench_peer_{side}_{'app' if schema != 'fresh' else schema}"
        for side in ("ours", "bullmq")
        for schema in args.schemas
    }
    urls = {key: database(admin, key[1], name) for key, name in names.items()}
    pgboss_url = peer_pgboss.fresh_plain_database(admin, "cascadian_bench_peer_pgboss")
    folder = Path(tempfile.mkdtemp(prefix="cascadian-bullmq-"))
    pgboss_folder: Path | None = None
    redis: Redis | None = None
    results: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    try:
        script = install_bullmq(folder)
        redis = Redis(folder)
        pgboss_folder = peer_pgboss.install_pg_boss()
        common.print_header(
            "peer: BullMQ + Redis writing a run's rows, bare pg-boss and cascadian",
            urls[("ours", args.schemas[0])],
            (__doc__ or "").split("\n\n")[1]
            + f"\n\n{jobs:,} jobs each, {args.procs} process(es) a side, {args.rounds} "
            f"interleaved rounds (order reversed every other round). Load: {_load()}.",
        )
        sides: dict[tuple[str, str], Any] = {}
        for schema in args.schemas:
            sides[("cascadian", schema)] = lambda b, s=schema: peer_pgboss.cascadian_measure(
                urls[("ours", s)], args.procs, b, jobs, None
            )
            for mode, label in (("job", "bullmq per job"), ("batch", "bullmq grouped")):
                sides[(label, schema)] = lambda b, s=schema, m=mode: bullmq_measure(
                    script, redis, urls[("bullmq", s)], args.procs, b, jobs, m
                )
        sides[("pg-boss", "-")] = lambda b: peer_pgboss.pgboss_measure(
            pgboss_folder, pgboss_url, args.procs, b, jobs
        )
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            for batch in args.batch:
                for side, schema in order:
                    m = sides[(side, schema)](batch)
                    results.setdefault((side, schema, batch), []).append(m)
                    print(
                        f"  round {r + 1}: {side}, {schema}, batch {batch}: "
                        f"{m['runs/s']:,.0f} jobs/s (load {_load()})",
                        flush=True,
                    )
        report(results, args.batch, args.schemas)
    finally:
        if redis is not None:
            redis.stop()
        shutil.rmtree(folder, ignore_errors=True)
        if pgboss_folder is not None:
            shutil.rmtree(pgboss_folder, ignore_errors=True)
        for name in [*names.values(), "cascadian_bench_peer_pgboss"]:
            common.drop_database(admin, name)


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def report(
    results: dict[tuple[str, str, int], list[dict[str, Any]]],
    batches: list[int],
    schemas_: list[str],
) -> None:
    def rate(side: str, schema: str, batch: int) -> float:
        return common.median([m["runs/s"] for m in results[(side, schema, batch)]])

    print("\nThroughput, jobs/s, median (min-max):\n")
    rows = []
    for batch in batches:
        for schema in schemas_:
            ours = rate("cascadian", schema, batch)
            bull = max(rate("bullmq per job", schema, batch), rate("bullmq grouped", schema, batch))
            boss = rate("pg-boss", "-", batch)
            rows.append(
                [batch, schema]
                + [
                    cell([m["runs/s"] for m in results[(side, schema, batch)]])
                    for side in ("cascadian", "bullmq per job", "bullmq grouped")
                ]
                + [cell([m["runs/s"] for m in results[("pg-boss", "-", batch)]])]
                + [f"{ours / bull:.2f}x", f"{ours / boss:.2f}x"]
            )
    common.print_table(
        [
            "batch",
            "schema",
            "cascadian",
            "bullmq per job",
            "bullmq grouped",
            "pg-boss",
            "cascadian / best bullmq",
            "cascadian / pg-boss",
        ],
        rows,
    )
    print("CPU per job, median µs: client + PostgreSQL (+ Redis):\n")
    rows = []
    for batch in batches:
        for schema in schemas_:
            row: list[Any] = [batch, schema]
            for side, s in (
                ("cascadian", schema),
                ("bullmq per job", schema),
                ("bullmq grouped", schema),
                ("pg-boss", "-"),
            ):
                ms = results[(side, s, batch)]
                parts = [common.median([m[k] for m in ms]) for k in ("client us/run", "db us/run")]
                if "redis us/run" in ms[0]:
                    parts.append(common.median([m["redis us/run"] for m in ms]))
                row.append(" + ".join(f"{v:,.0f}" for v in parts) + f" = {sum(parts):,.0f}")
            rows.append(row)
    common.print_table(
        ["batch", "schema", "cascadian", "bullmq per job", "bullmq grouped", "pg-boss"], rows
    )


if __name__ == "__main__":
    main()
