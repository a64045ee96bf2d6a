"""Claims under stale statistics: a backlog made due after the last ANALYZE.

50,000 strategies are seeded due within the next hour and analysed; then every one
is made due at once (what a backlog looks like after an outage: the table's
statistics still say almost nothing is due). One worker (TickService, the defaults:
claim 25, concurrency 25) drains them, *stale*: as they are, or *fresh*: after an
ANALYZE. Autovacuum is off for the table during the benchmark, so that its
autoanalyze cannot freshen the statistics halfway through a stale drain. Rounds
interleave stale and fresh; `--tree PATH` measures another source tree (the
before) in the same rounds. First, the latency of one claim by the function
itself, cascadian_claim_due_v2 (the before) and v3, on the stale and fresh table:
migrations/021 dropped v2, so the benchmark installs it from migrations/008's text,
under a name of its own.

    .venv/bin/python bench/claim_stale.py [--quick] [--rounds 2] [--tree /tmp/ab-base]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import common
import psycopg

DB = "cascadian_bench_stale"
BEFORE = "cascadian_bench_stale_before"
HERE = Path(__file__).resolve().parent.parent
# The claim as migrations/008 wrote it, installed only in the benchmark's database.
BEFORE_SOURCE = ("008_current_versions_and_side_writes.sql", "cascadian_claim_due_v2")
CLAIM_BEFORE = "bench_claim_due_008"
CLAIMS = {"v2": CLAIM_BEFORE, "v3": "cascadian_claim_due_v3"}

DRAIN = (
    "import asyncio, json, sys; import drain; "
    "r = asyncio.run(drain.drain(sys.argv[1], {})); "
    "print(json.dumps({'runs': r['runs'], 'seconds': r['end'] - r['start'], "
    "'claim_ms': r['seconds']['claim_due'] / r['calls']['claim_due'] * 1000}))"
)


def prepare(url: str, strategies: int, fresh: bool) -> None:
    common.reset(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("alter table workflow_sessions set (autovacuum_enabled = off)")
    common.seed(url, strategies, due=0)  # analysed: nothing due
    common.make_due(url)
    if fresh:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("analyze workflow_sessions")


def install_claim_before(url: str) -> None:
    """Create CLAIM_BEFORE from BEFORE_SOURCE's function, as its migration wrote it."""
    migration, name = BEFORE_SOURCE
    text = (HERE / "migrations" / migration).read_text()
    start = text.index(f"create or replace function {name}(")
    end = text.index("$$;", text.index("as $$", start)) + len("$$;")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(text[start:end].replace(name, CLAIM_BEFORE, 1).encode())


def claim_latency(url: str, strategies: int, samples: int) -> list[tuple[Any, ...]]:
    """One claim of 25 by each version of the claim function, on the stale and the
    fresh table, interleaved; each rolled back so every sample claims the same rows."""
    install_claim_before(url)
    rows = []
    for stats in ("stale", "fresh"):
        prepare(url, strategies, fresh=stats == "fresh")
        times: dict[str, list[float]] = {"v2": [], "v3": []}
        with psycopg.connect(url) as conn:
            for _ in range(samples):
                for version, ms in times.items():
                    t0 = time.perf_counter()
                    conn.execute(
                        f"select count(*) from {CLAIMS[version]}(now(), 25, 60)"
                    ).fetchone()
                    ms.append((time.perf_counter() - t0) * 1000)
                    conn.rollback()
        for version, ms in times.items():
            rows.append((stats, version, common.median(ms), common.p95(ms)))
    return rows


def drain_once(url: str, tree: str | None) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", DRAIN, url],
        **common.in_tree(tree or HERE, HERE / "bench"),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--strategies", type=int, default=None)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--tree", help="also measure this source tree (the before)")
    args = p.parse_args()
    strategies = args.strategies or (5_000 if args.quick else 50_000)
    admin = common.admin_url()
    urls = {"now": common.fresh_database(admin, DB)}
    if args.tree:
        common.drop_database(admin, BEFORE)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'create database "{BEFORE}"')
        urls["before"] = psycopg.conninfo.make_conninfo(admin, dbname=BEFORE)
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from cascadian.store.migrate import migrate; migrate(sys.argv[1])",
                urls["before"],
            ],
            **common.in_tree(args.tree),
            check=True,
        )
    common.print_header("claims under stale statistics", urls["now"], __doc__ or "")
    print("One claim of 25 by the function (client-timed, median of 30, rolled back):\n")
    latency = claim_latency(urls["now"], strategies, 30)
    common.print_table(["statistics", "function", "median ms", "p95 ms"], latency)
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in range(args.rounds):
        for code in urls:
            stats = ["stale", "fresh"] if r % 2 == 0 else ["fresh", "stale"]
            for s in stats:
                prepare(urls[code], strategies, fresh=s == "fresh")
                m = drain_once(urls[code], None if code == "now" else args.tree)
                assert m["runs"] == strategies, m
                results.setdefault((code, s), []).append(m)
                rate = m["runs"] / m["seconds"]
                print(
                    f"  round {r + 1}: {code}, {s}: {rate:,.0f} runs/s, "
                    f"claim {m['claim_ms']:.2f} ms",
                    flush=True,
                )
    print()
    rows = []
    for code in urls:
        rates = {
            s: [m["runs"] / m["seconds"] for m in results[(code, s)]] for s in ("fresh", "stale")
        }
        for s in ("fresh", "stale"):
            claims = [m["claim_ms"] for m in results[(code, s)]]
            rows.append(
                (
                    code,
                    s,
                    f"{common.median(rates[s]):,.0f} ({min(rates[s]):,.0f}-{max(rates[s]):,.0f})",
                    f"{common.median(claims):.2f}",
                    f"{common.median(rates[s]) / common.median(rates['fresh']):.2f}",
                )
            )
    common.print_table(["code", "statistics", "runs/s", "claim ms", "vs fresh"], rows)
    for name in (DB, BEFORE):
        common.drop_database(admin, name)


if __name__ == "__main__":
    main()
