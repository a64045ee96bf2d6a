"""What every benchmark shares: a PostgreSQL, a fresh database, seeding, and printing.

The server is DATABASE_URL's, or an embedded one under CASCADIAN_BENCH_DIR
(default `.cascadian/bench`). Each benchmark works in a database of its own,
dropped and re-created on every run, so results never depend on leftovers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from cascadian.config import Settings
from cascadian.data import NodeRun, RunOutcome, RunResult
from cascadian.store.migrate import migrate
from cascadian.store.run_records import outcomes_json

BENCH_USER = uuid.UUID("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb")


def node(node_id: str, node_type: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "data": {"config": config}}


def chain(*nodes: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ids = [n["id"] for n in nodes]
    edges = [{"id": f"{a}-{b}", "source": a, "target": b} for a, b in itertools.pairwise(ids)]
    return list(nodes), edges


# The no-op strategy: start -> end.
NOOP = chain(node("start", "start"), node("end", "end"))


def noop_records(claims: Iterable[dict[str, Any]], now: dt.datetime) -> list[dict[str, Any]]:
    """The finish's JSON for claimed no-op runs (start -> end: two node logs, outputs
    {"end": {}}), as the store sends it; each claim a row with execution_id, workflow_id."""
    logs = [
        NodeRun("start", "start", "success", now, now, 0, None, {}),
        NodeRun("end", "end", "success", now, now, 0, None, {}),
    ]
    result = RunResult(True, {"end": {}}, [], 2, 1, logs)
    nxt = now + dt.timedelta(minutes=5)
    # As plain JSON values (the records hold orjson fragments, UUIDs and datetimes).
    return json.loads(
        outcomes_json(
            [RunOutcome(c["execution_id"], c["workflow_id"], result, nxt, now) for c in claims]
        )
    )


def paired_claims_and_finishes(
    conns: dict[str, psycopg.Connection[Any]], batches: int, batch: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Claim `batch` due strategies (cascadian_claim_due_v3) and finish them as no-op
    runs (cascadian_finish_runs_v3), `batches` times on each connection (dict rows),
    alternating between them batch by batch, the order reversed every other batch.
    The client's µs per run around each statement, per connection: (claim, finish)."""
    claim_us: dict[str, list[float]] = {label: [] for label in conns}
    finish_us: dict[str, list[float]] = {label: [] for label in conns}
    for i in range(batches):
        for label in list(conns) if i % 2 == 0 else list(reversed(conns)):
            conn = conns[label]
            now = dt.datetime.now(dt.UTC)
            t0 = time.perf_counter()
            claims = conn.execute(
                "select execution_id, workflow_id from cascadian_claim_due_v3(%s, %s, 60)",
                (now, batch),
            ).fetchall()
            claim_us[label].append((time.perf_counter() - t0) / len(claims) * 1e6)
            records = Jsonb(noop_records(claims, now))
            t0 = time.perf_counter()
            answers = conn.execute(
                "select * from cascadian_finish_runs_v3(%s, 3)", (records,)
            ).fetchall()
            finish_us[label].append((time.perf_counter() - t0) / len(claims) * 1e6)
            assert all(a["accepted"] for a in answers)
    return claim_us, finish_us


def delay_graph(seconds: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A strategy whose only work is a delay: start -> delay -> end."""
    return chain(node("start", "start"), node("wait", "delay", seconds=seconds), node("end", "end"))


def parser(doc: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=(doc or "").strip().splitlines()[0] if doc else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=doc,
    )
    p.add_argument("--quick", action="store_true", help="a small run that takes seconds")
    return p


# -- the database ---------------------------------------------------------------------


def in_tree(tree: str | Path, *path: str | Path) -> dict[str, Any]:
    """subprocess.run's cwd and env for `python -c` on `tree`'s code: `python -c` puts
    its working directory first on sys.path, ahead of PYTHONPATH, so that must be the
    tree too (or this tree's code runs instead). `path`: more import folders after it."""
    root = str(Path(tree).resolve())
    folders = [root, *(str(Path(p).resolve()) for p in path)]
    return {"cwd": root, "env": os.environ | {"PYTHONPATH": os.pathsep.join(folders)}}


def admin_url() -> str:
    """DATABASE_URL, or the embedded PostgreSQL under CASCADIAN_BENCH_DIR (started if needed)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from cascadian.store.embedded import start_server

    default = Path(__file__).resolve().parent.parent / ".cascadian" / "bench"
    server = start_server(Path(os.environ.get("CASCADIAN_BENCH_DIR", default)))
    return str(server.get_uri())


def fresh_database(admin: str, name: str, migrations: Path | None = None) -> str:
    """Drop and re-create database `name`, apply the migrations (this tree's, or those
    in the folder `migrations`), return its URL."""
    ident = sql.Identifier(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(ident))
        conn.execute(sql.SQL("create database {}").format(ident))
    url = psycopg.conninfo.make_conninfo(admin, dbname=name)
    migrate(url, migrations)
    return url


def drop_database(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


def seed(
    url: str,
    count: int,
    *,
    graph: tuple[list[dict[str, Any]], list[dict[str, Any]]] = NOOP,
    due: int | None = None,
    inactive_share: float = 0.0,
    owners: int = 1,
) -> None:
    """Insert `count` strategies with generate_series, in one statement.

    The first `due` (all, by default) are due now, each a millisecond apart so the
    claim order is well defined; the others are active but due within the next
    hour, except an `inactive_share` of them that are paused (not auto_run).
    `owners`: how many users own them, in turn (1: all BENCH_USER's).
    """
    due = count if due is None else due
    nodes, edges = graph
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            insert into workflow_sessions (
                user_id, name, nodes, edges, status, auto_run,
                execution_interval_minutes, next_execution_at
            )
            select
                case when %(owners)s = 1 then %(user)s
                     else md5('bench owner ' || (g %% %(owners)s))::uuid end,
                'bench ' || g, %(nodes)s, %(edges)s,
                case when paused then 'paused' else 'running' end,
                not paused,
                5,
                case
                    when g <= %(due)s
                        then now() - make_interval(secs => 60 + (%(due)s - g) / 1000.0)
                    -- not due: spread over the next hour
                    else now() + make_interval(secs => 60 + (g %% 3600))
                end
            from generate_series(1, %(count)s) as g
            cross join lateral (
                select g > %(due)s and (g %% 1000) < %(inactive)s * 1000 as paused
            ) as p
            """,
            {
                "user": BENCH_USER,
                "nodes": Jsonb(nodes),
                "edges": Jsonb(edges),
                "due": due,
                "count": count,
                "inactive": inactive_share,
                "owners": owners,
            },
        )
        conn.execute("analyze workflow_sessions")


def make_due(url: str) -> None:
    """Put every active strategy back at a slot a minute ago, leases dropped."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            update workflow_sessions
            set next_execution_at = now() - interval '1 minute',
                lease_token = null, lease_expires_at = null
            where auto_run
            """
        )
        # From migrations/052 the lease is a row of its own (a tree before it has none).
        conn.execute(
            """
            do $$
            begin
                if to_regclass('cascadian_leases') is not null then
                    update cascadian_leases set token = null, expires_at = null
                    where token is not null;
                end if;
            end;
            $$
            """
        )


def reset(url: str) -> None:
    """Empty every table the scheduler writes."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "truncate strategy_watchlists, strategy_execution_logs, notifications, "
            "workflow_executions, workflow_sessions, cron_ticks restart identity cascade"
        )
        # From 059 the lease table references no table, so the truncate above no
        # longer reaches it: without this each reseed left its lease rows behind, and
        # every later claim and finish read a table of stale rows (a tree before 052
        # has no such table).
        conn.execute(
            "do $$ begin if to_regclass('cascadian_leases') is not null then "
            "truncate cascadian_leases; end if; end $$"
        )


def xact_commits(url: str) -> int:
    """Transactions committed in this database so far (pg_stat_database)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_stat_clear_snapshot()")
        row = conn.execute(
            "select xact_commit from pg_stat_database where datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def server_cpu_seconds(url: str) -> float | None:
    """CPU time the local PostgreSQL server has used so far, exited backends included
    (the postmaster reaps them); None when the server is not on this machine."""
    try:
        import psutil

        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("select pg_backend_pid()").fetchone()
            assert row is not None
            postmaster = psutil.Process(int(row[0])).parent()  # while the backend lives
        if postmaster is None:
            return None
        t = postmaster.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in postmaster.children():
            try:
                c = child.cpu_times()
                total += c.user + c.system
            except psutil.Error:
                pass
        return float(total)
    except Exception:
        return None


def cpu_per_run(url: str, before: float | None, runs: int) -> float | None:
    """Server CPU µs per run since `before` (a server_cpu_seconds reading)."""
    after = server_cpu_seconds(url)
    if before is None or after is None or not runs:
        return None
    return (after - before) / runs * 1e6


def tick_service(store: Any, executor: Any, settings: Settings) -> Any:
    """A TickService watched by this process's metrics, as bootstrap wires it (a tree
    from before the observers built its own metrics inside the tick)."""
    from cascadian.tick import TickService

    try:
        from cascadian.observers.metrics import WorkerMetrics
    except ImportError:
        return TickService(store, executor, settings)
    try:  # the bookkeeping step, as bootstrap wires it (a tree from before it has none)
        from cascadian.trading.marking import Marking
        from cascadian.workflow.market import MarketData
        from cascadian.workflow.market.positions import PositionMarkets
    except ImportError:
        return TickService(store, executor, settings, observers=[WorkerMetrics()])
    markets = PositionMarkets.of(MarketData.create(settings, _bookkeeping_http()))
    return TickService(
        store,
        executor,
        settings,
        observers=[WorkerMetrics()],
        bookkeeper=Marking(store, markets, settings),
    )


def _bookkeeping_http() -> Any:
    """The bookkeeping step's HTTP client: never used by a benchmark without paper
    positions (its step is then one SQL read), so one client serves every tick."""
    import httpx

    global _HTTP
    if _HTTP is None:
        _HTTP = httpx.AsyncClient()
    return _HTTP


_HTTP: Any = None


def bench_settings(url: str, **env: Any) -> Settings:
    base: dict[str, Any] = {"DATABASE_URL": url, "CRON_SECRET": "bench-secret-not-used"}
    return Settings(**(base | env))


# -- the machine ----------------------------------------------------------------------


def machine(url: str) -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("show server_version").fetchone()
        version = str(row[0]) if row else "unknown"
        settings: dict[str, str] = dict(
            conn.execute(
                "select name, setting from pg_settings where name in "
                "('shared_buffers', 'synchronous_commit', 'fsync', 'max_connections')"
            ).fetchall()
        )
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu} x {os.cpu_count()}",
        "memory": mem,
        "python": platform.python_version(),
        "postgres": version + (" (DATABASE_URL)" if os.environ.get("DATABASE_URL") else ""),
        "pg settings": ", ".join(f"{k}={v}" for k, v in sorted(settings.items())),
    }


def print_header(title: str, url: str, method: str) -> None:
    print(f"# {title}")
    for key, value in machine(url).items():
        print(f"{key:>12}: {value}")
    print()
    print(method.strip())
    print()


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers], *[[_fmt(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for i, row in enumerate(cells):
        pairs = enumerate(zip(row, widths, strict=True))
        padded = [c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in pairs]
        print("| " + " | ".join(padded) + " |")
        if i == 0:
            rules = [
                ":" + "-" * (w + 1) if j == 0 else "-" * (w + 1) + ":" for j, w in enumerate(widths)
            ]
            print("|" + "|".join(rules) + "|")
    print()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """asyncio.run with psycopg's need for a selector loop honoured everywhere."""
    if sys.platform == "win32":  # pragma: no cover
        asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())  # type: ignore[attr-defined]
    asyncio.run(main())


def node_workers(argv: Sequence[str], cwd: str | Path, procs: int, what: str) -> dict[str, Any]:
    """Run `procs` Node worker processes of a peer benchmark, started together: each
    prints `ready` once connected, then works on a `go` line and prints one JSON line
    {runs, start, end}. Answers their runs, the wall time from the first start to the
    last end, and the CPU seconds they used (their whole lives, start-up included)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers = [
        subprocess.Popen(
            list(argv), cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(procs)
    ]
    for w in workers:
        assert w.stdout is not None
        if w.stdout.readline().strip() != "ready":
            raise RuntimeError(f"a {what} process did not start")
    for w in workers:
        assert w.stdin is not None
        w.stdin.write("go\n")
        w.stdin.flush()
    outcomes = []
    for w in workers:
        out, _ = w.communicate(timeout=600)
        if w.returncode != 0:
            raise RuntimeError(f"a {what} process failed ({w.returncode})")
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "runs": sum(o["runs"] for o in outcomes),
        "seconds": max(o["end"] for o in outcomes) - min(o["start"] for o in outcomes),
        "cpu": after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime,
    }
