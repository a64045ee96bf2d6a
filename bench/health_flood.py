"""Claims under a flood of /api/health: the rate at which a claim-and-finish loop
gets through due strategies while the unauthenticated health check is hammered.

100,000 due no-op strategies (10,000 with --quick). A loop on its own connection
claims 25 (cascadian_claim_due_v3) and finishes them (cascadian_finish_runs_v3),
over and over, for a window of --seconds; the figure is runs claimed per second.
Meanwhile a flood of --rate health checks a second (22, what cut a tick's claims
from 30,150 to 7,325) is sent, each without waiting for the last:

- none: no flood;
- per request: each check reads the database itself (ControlService.health, what
  the route did before it answered a snapshot);
- snapshot: each check is `GET /api/health` on the app as deployed
  (create_app, its own store and pool), which answers web/health_snapshot.py's
  snapshot, read once per CASCADIAN_HEALTH_CACHE_SECONDS (5).

Before each window every strategy is made due again. Each mode gets --rounds
windows (3), the modes taking turns to go first; the medians are compared. The
target: the snapshot's rate within 10% of no flood.

    .venv/bin/python bench/health_flood.py [--quick] [--seconds S] [--rate R] [--rounds N]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import common
import httpx
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from cascadian.bootstrap import services
from cascadian.web.app import create_app

DB = "cascadian_bench_health"
BATCH = 25


def claim_loop(url: str, stop: threading.Event, claimed: list[int]) -> None:
    """Claim and finish BATCH at a time until `stop`; the runs claimed, in `claimed`."""
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        while not stop.is_set():
            now = dt.datetime.now(dt.UTC)
            claims = conn.execute(
                "select execution_id, workflow_id from cascadian_claim_due_v3(%s, %s, 60)",
                (now, BATCH),
            ).fetchall()
            if not claims:
                break
            records = Jsonb(common.noop_records(claims, now))
            conn.execute("select * from cascadian_finish_runs_v3(%s, 3)", (records,)).fetchall()
            claimed[0] += len(claims)


async def window(
    url: str, seconds: float, rate: float, check: Callable[[], Awaitable[Any]] | None
) -> tuple[float, int]:
    """Runs claimed per second over `seconds`, with `rate` checks a second meanwhile
    (none when `check` is None); and how many checks were answered."""
    common.make_due(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("vacuum analyze workflow_sessions")
    stop, claimed = threading.Event(), [0]
    answered = 0

    async def one() -> None:
        nonlocal answered
        await check()  # type: ignore[misc]
        answered += 1

    loop = threading.Thread(target=claim_loop, args=(url, stop, claimed))
    flood: set[asyncio.Task[None]] = set()
    t0 = time.perf_counter()
    loop.start()
    try:
        if check is None:
            await asyncio.sleep(seconds)
        else:
            n = 0
            while (elapsed := time.perf_counter() - t0) < seconds:
                task = asyncio.create_task(one())
                flood.add(task)
                task.add_done_callback(flood.discard)
                n += 1
                await asyncio.sleep(max(0.0, n / rate - elapsed))
    finally:
        stop.set()
        await asyncio.to_thread(loop.join)
    elapsed = time.perf_counter() - t0
    if flood:
        await asyncio.gather(*flood, return_exceptions=True)
    return claimed[0] / elapsed, answered


async def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--seconds", type=float, default=None, help="each window (default 20; 5 quick)")
    p.add_argument("--rate", type=float, default=22.0, help="health checks a second (22)")
    p.add_argument("--rounds", type=int, default=3, help="windows per mode (3)")
    args = p.parse_args()
    count = 10_000 if args.quick else 100_000
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    admin = common.admin_url()
    url = common.fresh_database(admin, DB)
    common.print_header(
        "claims under a health flood",
        url,
        f"{count:,} due no-op strategies; a loop claims {BATCH} and finishes them, for "
        f"{seconds:g} s per window; {args.rate:g} health checks a second meanwhile.",
    )
    common.seed(url, count)
    settings = common.bench_settings(url, CASCADIAN_HEALTH_CACHE_SECONDS=5)
    async with services(settings) as s:
        per_request = s.control.health
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:

                async def snapshot() -> None:
                    reply = await c.get("/api/health")
                    assert reply.status_code == 200, reply.text

                modes: list[tuple[str, Callable[[], Awaitable[Any]] | None]] = [
                    ("none", None),
                    ("per request (before)", per_request),
                    ("snapshot (after)", snapshot),
                ]
                rates: dict[str, list[float]] = {label: [] for label, _ in modes}
                for r in range(args.rounds):
                    # Each round starts with another mode, so drift falls on all.
                    for label, check in modes[r % 3 :] + modes[: r % 3]:
                        rate, answered = await window(url, seconds, args.rate, check)
                        rates[label].append(rate)
                        print(f"  round {r + 1}, {label}: {rate:,.0f} runs/s, {answered} checks")
    print()
    base = common.median(rates["none"])
    common.print_table(
        ["flood", "runs claimed / s, median", "each round", "vs no flood"],
        [
            (
                label,
                common.median(v),
                " ".join(f"{x:,.0f}" for x in v),
                f"{common.median(v) / base:.0%}",
            )
            for label, v in rates.items()
        ],
    )
    after = common.median(rates["snapshot (after)"])
    print(
        f"target: the snapshot's rate within 10% of no flood: "
        f"{'met' if after >= 0.9 * base else 'NOT met'} ({after / base:.0%})"
    )
    common.drop_database(admin, DB)


if __name__ == "__main__":
    common.run(main)
