"""What the audit log's retention adds to a tick's prune.

A tick's prune (retention.Pruner.in_tick) now also calls cascadian_prune_audit_v1
when CASCADIAN_RETENTION_AUDIT_DAYS is above 0. Here the same Pruner runs with
that window off (0: no extra call) and on (365 days), interleaved round by round,
over an audit log of 100,000 entries none of which is due (the common case: the
log is small and young), and over one where 1,000 are due at each prune.

    .venv/bin/python bench/audit_prune.py [--rounds N]
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import common
import psycopg

from cascadian.clock import FakeClock
from cascadian.retention import Pruner
from cascadian.store.sql_store import SqlStore

ENTRIES = 100_000
NOW = datetime(2026, 6, 1, tzinfo=UTC)
FILL = (
    "insert into cascadian_audit_log (at, actor_kind, source, action, workflow_id, before, after)"
    " select %s::timestamptz - make_interval(secs => g), 'operator', 'api', 'pause',"
    ' gen_random_uuid(), \'{"status": "running"}\', \'{"status": "paused"}\''
    " from generate_series(1, %s) g"
)


async def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--rounds", type=int, default=50, help="prunes per variant (default 50)")
    args = p.parse_args()
    rounds = 5 if args.quick else args.rounds
    admin = common.admin_url()
    url = common.fresh_database(admin, "cascadian_bench_audit_prune")
    common.print_header("audit prune in a tick", url, "Pruner.in_tick, interleaved")

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(FILL, (NOW, ENTRIES))
        conn.execute("analyze cascadian_audit_log")
    store = SqlStore.postgres(url)
    await store.open()
    try:
        off = Pruner(store, common.bench_settings(url, CASCADIAN_RETENTION_AUDIT_DAYS=0))
        on = Pruner(store, common.bench_settings(url, CASCADIAN_RETENTION_AUDIT_DAYS=365))
        off.clock = on.clock = FakeClock(NOW)
        times: dict[str, list[float]] = {"off": [], "on, none due": []}
        for _ in range(rounds):
            for name, pruner in (("off", off), ("on, none due", on)):
                t0 = time.perf_counter()
                await pruner.in_tick(250)
                times[name].append((time.perf_counter() - t0) * 1000)
        # 1,000 entries past the window at each prune.
        due: list[float] = []
        with psycopg.connect(url, autocommit=True) as conn:
            for _ in range(min(rounds, 20)):
                old = FILL.replace("make_interval(secs => g)", "interval '400 days'")
                conn.execute(old, (NOW, 1000))
                t0 = time.perf_counter()
                result = await on.in_tick(250)
                due.append((time.perf_counter() - t0) * 1000)
                assert result.audit_entries == 1000, result
        times["on, 1,000 due"] = due
        common.print_table(
            ["audit retention", "prunes", "median ms", "p95 ms"],
            [(k, len(v), common.median(v), common.p95(v)) for k, v in times.items()],
        )
    finally:
        await store.close()
        common.drop_database(admin, "cascadian_bench_audit_prune")


if __name__ == "__main__":
    common.run(main)
