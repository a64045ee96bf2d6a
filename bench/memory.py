"""Memory: the peak RSS of the server (`cascadian serve`) through one tick of 1,000 due
strategies.

The server runs as its own process (uvicorn, one worker), exactly as deployed
outside Vercel. The strategies are start -> transform (sort and limit 50 inline
items) -> end, so every run has outputs and node logs to record. The figure is
the kernel's high-water mark for the process (VmHWM in /proc/PID/status), read
after the tick; a fresh server is started for each settings variant.

    .venv/bin/python bench/memory.py [--quick] [--strategies N]
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import common
import httpx

DB = "cascadian_bench_memory"
SECRET = "bench-memory-secret-0123456789"  # noqa: S105

ITEMS = [
    {"id": f"m{i}", "volume": (i * 7919) % 1000, "question": f"market {i}?"} for i in range(50)
]
GRAPH = common.chain(
    common.node("start", "start"),
    common.node(
        "top",
        "transform",
        items=ITEMS,
        operations=[
            {"op": "sort", "field": "volume", "descending": True},
            {"op": "limit", "count": 5},
        ],
    ),
    common.node("end", "end"),
)

VARIANTS: dict[str, dict[str, Any]] = {
    "defaults (claim 25, concurrency 25)": {},
    "claim 200, concurrency 200": {
        "CASCADIAN_CLAIM_LIMIT": "200",
        "CASCADIAN_MAX_CONCURRENCY": "200",
    },
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def serve(url: str, env: dict[str, Any]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc_env = {
        **os.environ,
        "DATABASE_URL": url,
        "CRON_SECRET": SECRET,
        "ENVIRONMENT": "production",
        **{k: str(v) for k, v in env.items()},
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from cascadian.cli.main import app; app()",
            "serve",
            "--port",
            str(port),
        ],
        env=proc_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/openapi.json", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not answer within 30 s")


def measure(url: str, strategies: int, env: dict[str, Any]) -> dict[str, Any]:
    common.reset(url)
    common.seed(url, strategies, graph=GRAPH)
    proc, base = serve(url, env)
    try:
        idle = kib(proc.pid, "VmRSS")
        t0 = time.perf_counter()
        reply = httpx.post(
            base + "/api/cron/strategy-executor",
            headers={"Authorization": f"Bearer {SECRET}"},
            timeout=120,
        )
        elapsed = time.perf_counter() - t0
        body = reply.json()
        assert reply.status_code == 200, body
        executed = body["data"]["strategies_executed"]
        assert executed == strategies, f"{executed} of {strategies} ran in one tick"
        return {
            "idle MB": idle / 1024,
            "peak MB": kib(proc.pid, "VmHWM") / 1024,
            "runs": executed,
            "tick s": elapsed,
        }
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--strategies", type=int, default=None)
    args = p.parse_args()
    strategies = args.strategies or (200 if args.quick else 1_000)
    admin = common.admin_url()
    url = common.fresh_database(admin, DB)
    common.print_header(
        "memory",
        url,
        f"peak RSS (VmHWM) of `cascadian serve` through one tick of {strategies:,} due "
        "strategies (start -> transform over 50 items -> end), a fresh server per variant.",
    )
    rows = []
    for name, env in VARIANTS.items():
        r = measure(url, strategies, env)
        rows.append((name, r["runs"], r["tick s"], r["idle MB"], r["peak MB"]))
    common.print_table(["settings", "runs", "tick s", "RSS idle MB", "peak RSS MB"], rows)
    worst = max(r[4] for r in rows)
    print(f"target < 150 MB: {'met' if worst < 150 else 'NOT met'} (worst peak {worst:.0f} MB)")
    common.drop_database(admin, DB)


if __name__ == "__main__":
    main()
