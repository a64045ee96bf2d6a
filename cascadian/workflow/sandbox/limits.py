"""The sandbox's limits, shared by the parent (pool.py, quota.py) and the child
(child.py, engine.py). Standard library only: the child imports this at start-up,
and nothing heavier than QuickJS belongs there."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class JsLimits:
    """What one evaluation may use. CPU and memory are enforced twice: by QuickJS (an
    interrupt and an exact allocator limit, for a clean message) and by the kernel on
    the sandbox process (RLIMIT_CPU, RLIMIT_AS), behind which the parent's wall-clock
    kill is the last word."""

    cpu_seconds: float = 1.0
    memory_bytes: int = 32 * MIB
    # Below the child's main-thread stack (8 MiB), so deep recursion fails cleanly.
    stack_bytes: int = 1 * MIB
    output_bytes: int = 1_000_000
    wall_seconds: float = 5.0

    def cpu_message(self) -> str:
        return f"the script used up its CPU time (limit {self.cpu_seconds:g}s)"

    def memory_message(self) -> str:
        return f"the script ran out of memory (limit {self.memory_bytes // MIB} MiB)"

    def wall_message(self) -> str:
        return f"the script was stopped after {self.wall_seconds:g}s of wall-clock time"

    def output_message(self) -> str:
        return f"the return value is not JSON of at most {self.output_bytes} bytes"


@dataclass(frozen=True)
class SandboxCaps:
    """How much of the sandbox one process and one run may take (fan-out)."""

    processes: int = 2
    # Evaluations that may wait for a free process; past it, an evaluation fails.
    max_waiting: int = 100
    # Evaluations of one run in flight at once; a run's others wait their turn.
    run_concurrency: int = 4
    # JSON bytes one run's evaluations may return in all.
    run_output_bytes: int = 8_000_000
    # JSON bytes the evaluations of all runs in flight may hold at once.
    process_output_bytes: int = 64_000_000
