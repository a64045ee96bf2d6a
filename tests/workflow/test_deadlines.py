"""Shared deadlines (workflow/deadlines.py): the runs given one deadline share one
timer, and each behaves as under its own asyncio.timeout_at."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from cascadian.data import Workflow
from cascadian.workflow.deadlines import Deadlines
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeConfig, NodeContext, NodeType
from cascadian.workflow.registry import default_registry


async def _wait_inside(deadlines: Deadlines, deadline: float, entered: asyncio.Event) -> str:
    async with deadlines.at(deadline):
        entered.set()
        await asyncio.Event().wait()  # never set: only the deadline ends it
    return "ended"


async def test_runs_given_one_deadline_share_one_timer_and_each_times_out() -> None:
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 0.05
    entered = [asyncio.Event() for _ in range(3)]
    runs = [asyncio.create_task(_wait_inside(deadlines, deadline, e)) for e in entered]
    for e in entered:
        await e.wait()
    assert deadlines.pending() == 1  # one timer for the three
    for run in runs:
        with pytest.raises(TimeoutError):
            await run
    assert deadlines.pending() == 0  # fired and gone


async def test_a_run_that_ends_in_time_is_not_cancelled_when_the_deadline_passes() -> None:
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 0.05
    async with deadlines.at(deadline):
        pass
    entered = asyncio.Event()
    late = asyncio.create_task(_wait_inside(deadlines, deadline, entered))
    with pytest.raises(TimeoutError):
        await late
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
    await asyncio.sleep(0)  # a step in which a stray cancellation would land


async def test_a_deadline_that_has_passed_times_out_at_the_first_wait() -> None:
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 0.01
    with pytest.raises(TimeoutError):
        await _wait_inside(deadlines, deadline, asyncio.Event())
    # The timer has fired: a run entering now is cancelled at once.
    with pytest.raises(TimeoutError):
        await _wait_inside(deadlines, deadline, asyncio.Event())


async def test_a_cancellation_from_elsewhere_propagates_as_itself() -> None:
    deadlines = Deadlines()
    entered = asyncio.Event()
    deadline = asyncio.get_running_loop().time() + 60
    run = asyncio.create_task(_wait_inside(deadlines, deadline, entered))
    await entered.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert deadlines.pending() == 1  # the timer stays for the claim's other runs


def test_a_new_event_loop_starts_with_timers_of_its_own() -> None:
    deadlines = Deadlines()

    async def one() -> None:
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            await _wait_inside(deadlines, loop.time() + 0.01, asyncio.Event())

    asyncio.run(one())
    asyncio.run(one())


async def test_the_executors_runs_of_one_deadline_each_report_their_timeout() -> None:
    async def _hang(config: NodeConfig, ctx: NodeContext) -> Any:
        await asyncio.Event().wait()

    registry = default_registry()
    registry.register(NodeType("hang", NodeConfig, _hang))
    executor = GraphExecutor(registry)
    nodes = [
        {"id": "a", "type": "start", "data": {"config": {}}},
        {"id": "b", "type": "hang", "data": {"config": {}}},
    ]
    edges = [{"id": "a->b", "source": "a", "target": "b"}]
    flows = [Workflow(uuid.uuid4(), f"run {i}", nodes, edges) for i in range(3)]
    deadline = asyncio.get_running_loop().time() + 0.05
    results = await asyncio.gather(*(executor.execute(f, deadline) for f in flows))
    for result in results:
        assert not result.success
        assert [(n.node_id, n.status) for n in result.node_runs] == [
            ("a", "success"),
            ("b", "error"),
        ]
        assert result.node_runs[1].error is not None
        assert result.node_runs[1].error.startswith("timed out after")
    assert executor.deadlines.pending() == 0


async def test_a_run_that_enters_a_passed_deadline_and_never_waits_ends_as_it_would() -> None:
    deadlines = Deadlines()
    deadline = asyncio.get_running_loop().time() + 0.01
    with pytest.raises(TimeoutError):
        await _wait_inside(deadlines, deadline, asyncio.Event())

    async def no_wait() -> str:
        async with deadlines.at(deadline):
            return "done"

    # As under asyncio.timeout_at: the cancellation would land at its next wait, and
    # there is none, so the run ends as it would have (its task is not cancelled).
    assert await asyncio.create_task(no_wait()) == "done"
