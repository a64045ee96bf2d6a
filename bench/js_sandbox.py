"""The cost of running user JavaScript out of process: before (QuickJS on a thread of
the scheduler's own process) and after (a warm pool of sandbox processes).

Two scripts, as the original builder's graphs use them: a small `javascript` node
(`return input1 * 2`) and a typical `conditional` condition over a market record
(`input1.active && input1.volume > 10000 && input1.outcomePrices[0] > 0.5`, wrapped
as the node wraps it). For each, and each side:

- latency: N evaluations one after another, each timed from the call to its value
  (p50 and p99 in ms); the difference of the p50s is the added latency;
- throughput: evaluations per second with C callers at once for a few seconds, and
  the CPU time each evaluation cost (this process's, plus the sandbox processes'
  from /proc/<pid>/stat): on a shared machine the rate follows how much of the CPU
  the side's threads win, the CPU per evaluation much less so.

"Before" is the module as it was (cascadian/workflow/javascript.py at --before-rev,
loaded from git), called exactly as the nodes called it. "After" is JsSandbox with
CASCADIAN_JS_PROCESSES (default 2) warm processes, called through a run's JsRun as
the nodes call it; the first (cold) evaluation, which starts a process, is timed
on its own.

    .venv/bin/python bench/js_sandbox.py [--quick] [--n 500] [--callers 8] [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from cascadian.config import Settings
from cascadian.workflow.sandbox.pool import JsSandbox

ROOT = Path(__file__).resolve().parent.parent
MARKET = {
    "id": "512345",
    "question": "Will it rain in Paris on 1 June?",
    "slug": "will-it-rain-in-paris-on-1-june",
    "active": True,
    "closed": False,
    "volume": 48210.5,
    "liquidity": 9120.25,
    "outcomes": ["Yes", "No"],
    "outcomePrices": [0.62, 0.38],
    "endDate": "2026-06-01T00:00:00Z",
    "category": "weather",
    "tags": ["weather", "europe"],
}
SCRIPTS = {
    "small script": ("return input1 * 2", 21),
    "condition": (
        "return (\ninput1.active && input1.volume > 10000 && input1.outcomePrices[0] > 0.5\n);",
        MARKET,
    ),
}
Evaluate = Callable[[str, Any], Awaitable[Any]]
CpuClock = Callable[[], float]


def own_cpu() -> float:
    return time.process_time()


def children_cpu(sandbox: JsSandbox) -> CpuClock:
    """This process's CPU time plus its sandbox processes': those alive now (from
    /proc) and those already replaced and reaped (RUSAGE_CHILDREN)."""
    tick = os.sysconf("SC_CLK_TCK")

    def clock() -> float:
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        total = time.process_time() + reaped.ru_utime + reaped.ru_stime
        for pid in sandbox.pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total

    return clock


def before(rev: str) -> Evaluate:
    """The thread-per-evaluation module as it was at `rev`."""
    text = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:cascadian/workflow/javascript.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "javascript_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("javascript_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    limits = module.JsLimits()

    async def evaluate(body: str, value: Any) -> Any:
        bindings = {"inputs": [value], "input1": value}
        return await module.run_javascript(body, bindings, limits)

    return evaluate


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def latency(evaluate: Evaluate, body: str, value: Any, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        await evaluate(body, value)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


async def throughput(
    evaluate: Evaluate, body: str, value: Any, callers: int, seconds: float, cpu: CpuClock
) -> tuple[float, float]:
    """Evaluations per second, and CPU microseconds per evaluation."""
    done = 0
    end = time.perf_counter() + seconds

    async def caller() -> None:
        nonlocal done
        while time.perf_counter() < end:
            await evaluate(body, value)
            done += 1

    t0, c0 = time.perf_counter(), cpu()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return done / (time.perf_counter() - t0), (cpu() - c0) * 1e6 / max(done, 1)


async def measure(
    name: str, evaluate: Evaluate, cpu: CpuClock, args: argparse.Namespace
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for label, (body, value) in SCRIPTS.items():
        await latency(evaluate, body, value, 20)  # warm
        samples = await latency(evaluate, body, value, args.n)
        rate, cost = await throughput(evaluate, body, value, args.callers, args.seconds, cpu)
        figures[label] = (statistics.median(samples), percentile(samples, 0.99), rate, cost)
        print(
            f"{name:7} {label:13} p50 {figures[label][0]:6.2f} ms  p99 {figures[label][1]:6.2f} ms"
            f"  {rate:6.0f} evaluations/s ({args.callers} callers)  {cost:5.0f} µs CPU each",
            flush=True,
        )
    return figures


async def main(args: argparse.Namespace) -> None:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    old = await measure("before", before(args.before_rev), own_cpu, args)
    settings = Settings(CASCADIAN_JS_PROCESSES=args.processes, CASCADIAN_JS_RUN_CONCURRENCY=64)
    sandbox = JsSandbox.from_settings(settings)
    run = sandbox.run()
    try:

        async def evaluate(body: str, value: Any) -> Any:
            result = await run.run(body, {"inputs": [value], "input1": value})
            run.close()  # a benchmark's run never ends: keep its output count at zero
            return result

        t0 = time.perf_counter()
        await evaluate("return 1", None)
        cold = 1000 * (time.perf_counter() - t0)
        print(f"after   cold start (one process started) {cold:.0f} ms")
        new = await measure("after", evaluate, children_cpu(sandbox), args)
    finally:
        await sandbox.close()
    for label in SCRIPTS:
        added = new[label][0] - old[label][0]
        ratio = new[label][2] / old[label][2]
        cpu = new[label][3] - old[label][3]
        print(
            f"{label}: added p50 latency {added:+.2f} ms; throughput after/before {ratio:.2f}x;"
            f" added CPU per evaluation {cpu:+.0f} µs"
        )
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="sequential evaluations per script")
    parser.add_argument("--callers", type=int, default=8, help="concurrent callers")
    parser.add_argument("--seconds", type=float, default=3.0, help="throughput window")
    parser.add_argument("--processes", type=int, default=2, help="CASCADIAN_JS_PROCESSES")
    parser.add_argument("--before-rev", default="7ca035d", help="git revision of 'before'")
    parser.add_argument("--quick", action="store_true", help="n=100, 1 s windows")
    parsed = parser.parse_args()
    if parsed.quick:
        parsed.n, parsed.seconds = 100, 1.0
    sys.exit(asyncio.run(main(parsed)))
