"""Workflow executors for tick tests: they implement the port and do what each test scripts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from cascadian.data import RunResult, Workflow

Behaviour = Callable[[Workflow], Awaitable[RunResult]]


def ok(duration_ms: int = 10) -> RunResult:
    return RunResult(True, {"end": {}}, [], 2, duration_ms)


def failed(error: str = "boom") -> RunResult:
    return RunResult(False, {}, [{"node_id": "n", "node_type": "filter", "error": error}], 1, 5)


class ScriptedExecutor:
    """Runs each workflow by the behaviour registered for its name (default: success)."""

    def __init__(self, **by_name: Behaviour) -> None:
        self.by_name = by_name
        self.calls: list[str] = []
        self.running = 0
        self.max_running = 0

    async def execute(self, workflow: Workflow, deadline: float | None = None) -> RunResult:
        self.calls.append(workflow.name)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            behaviour = self.by_name.get(workflow.name)
            if behaviour is None:
                await asyncio.sleep(0)
                return ok()
            return await behaviour(workflow)
        finally:
            self.running -= 1


def returns(res: RunResult) -> Behaviour:
    async def run(_: Workflow) -> RunResult:
        return res

    return run


def raises(exc: Exception) -> Behaviour:
    async def run(_: Workflow) -> RunResult:
        raise exc

    return run


def hangs() -> Behaviour:
    async def run(_: Workflow) -> RunResult:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return run


def then(action: Callable[[], Any], res: RunResult | None = None) -> Behaviour:
    async def run(_: Workflow) -> RunResult:
        action()
        return res or ok()

    return run
