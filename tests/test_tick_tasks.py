"""How the tick starts its tasks: at once, until they first wait (an executor's run
that never waits is done when its task is made)."""

from __future__ import annotations

import asyncio
import contextvars
import sys

import pytest

from cascadian.tick import _started


async def test_a_coroutine_that_never_waits_is_done_when_its_task_is_made() -> None:
    async def no_op() -> str:
        return "done"

    task = _started(no_op())
    if sys.version_info < (3, 12):  # no eager tasks: a plain task, run by the loop
        assert not task.done()
    else:
        assert task.done()
    assert await task == "done"


async def test_a_started_task_runs_until_it_waits_and_then_like_any_task() -> None:
    steps: list[str] = []
    release = asyncio.Event()

    async def waits() -> str:
        steps.append("before")
        await release.wait()
        steps.append("after")
        return "done"

    task = _started(waits())
    assert steps == (["before"] if sys.version_info >= (3, 12) else [])
    assert not task.done()
    release.set()
    assert await task == "done"
    assert steps == ["before", "after"]


async def test_a_started_task_keeps_its_own_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="outer")

    async def sets() -> str:
        var.set("inner")
        return var.get()

    assert await _started(sets()) == "inner"
    assert var.get() == "outer"


async def test_cancelling_a_started_task_that_waits_cancels_it() -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    task = _started(forever())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
