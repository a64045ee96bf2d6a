"""Backtests in a process of their own, beside a server's live ticks.

A backtest is CPU-bound Python: thousands of slots, each a graph run over a hundred
markets. In the server's process it would share the event loop (and, in a thread,
the GIL) with the cron route's ticks, and every slot would delay them. So the
server runs each backtest in a child process (spawned: nothing of the parent's
event loop or connections is inherited) that opens its own store from the same
settings, runs the same Backtester, and sends back progress and the report over a
pipe; the parent's event loop only waits on that pipe. Measured in
bench/backtest.py (docs/performance.md).

Cancelling the waiting task, or setting `cancel`, terminates the child. A request
that cannot run comes back as the BacktestInvalid it raised, with its problems.
The CLI, a process of its own already, runs backtests in-process (runner.py).

At most CASCADIAN_BACKTEST_MAX_PROCESSES children run at once in a server process
(whoever asks: an operator's key has no user quota, and each child is a core's worth
of CPU beside the ticks); one more is refused at once, before anything is spawned,
as QuotaExceeded (429 with Retry-After) naming the setting. It is not queued: a
request waiting minutes for a turn would outlive its client's timeout.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from cascadian.backtests.runner import Backtester, BacktestRequest, Progress
from cascadian.config import Settings
from cascadian.errors import BacktestCancelled, BacktestInvalid, QuotaExceeded
from cascadian.ports import FullStore
from cascadian.workflow.sandbox.pool import JsSandbox

# Progress is sent at most this many times a run: the pipe is not a hot path.
PROGRESS_STEPS = 100
# What a refusal at the cap tells the client to wait: backtests take seconds to minutes.
BUSY_RETRY_SECONDS = 5


# Opens the configured store in the child: bootstrap.open_store, passed in (by its
# name: a spawned child imports it) so that this family does not import upward.
StoreOpener = Callable[[Settings], Awaitable[FullStore]]


class ProcessBacktester:
    """Backtester.run, in a child process per backtest."""

    def __init__(
        self,
        settings: Settings,
        open_store: StoreOpener,
        context: Any = None,
    ) -> None:
        """`context`: where children come from (multiprocessing's spawn context unless
        given; the tests give one whose children they control)."""
        self.settings, self.open_store = settings, open_store
        self.max_children = settings.backtest_max_processes
        self._context = context or multiprocessing.get_context("spawn")
        self.running = 0  # children started and not yet joined
        # The threads that wait on the children's pipes, and join them: a pool of
        # their own, so that running backtests never hold the event loop's default
        # executor, which the store's claims and finishes use.
        self._pipes = ThreadPoolExecutor(
            max_workers=2 * self.max_children, thread_name_prefix="backtest-pipe"
        )

    async def run(
        self,
        request: BacktestRequest,
        progress: Progress | None = None,
        cancel: asyncio.Event | None = None,
    ) -> dict[str, Any]:
        # No await between the check and the count: one event loop takes them at once.
        if self.running >= self.max_children:
            raise QuotaExceeded(
                f"{self.running} backtests are running in this server process, the most "
                f"at once (CASCADIAN_BACKTEST_MAX_PROCESSES={self.max_children}); "
                "try again when one has finished",
                retry_after=BUSY_RETRY_SECONDS,
            )
        self.running += 1
        try:
            return await self._run(request, progress, cancel)
        finally:
            self.running -= 1

    async def _run(
        self,
        request: BacktestRequest,
        progress: Progress | None,
        cancel: asyncio.Event | None,
    ) -> dict[str, Any]:
        ours, theirs = self._context.Pipe(duplex=False)
        child = self._context.Process(
            target=child_main,
            args=(self.settings, self.open_store, request, theirs),
            daemon=True,
        )
        child.start()
        theirs.close()
        stopper = None if cancel is None else asyncio.ensure_future(cancel.wait())
        loop = asyncio.get_running_loop()
        try:
            while True:
                receiving = loop.run_in_executor(self._pipes, _receive, ours)
                waits: set[asyncio.Future[Any]] = {receiving}
                if stopper is not None:
                    waits.add(stopper)
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if receiving not in done:
                    child.terminate()
                    raise BacktestCancelled("stopped: cancelled")
                kind, *value = receiving.result()
                if kind == "progress" and progress is not None:
                    progress(*value)
                elif kind == "report":
                    return value[0]  # type: ignore[no-any-return]
                elif kind == "invalid":
                    raise BacktestInvalid(value[0], value[1])
                elif kind == "cancelled":
                    raise BacktestCancelled(value[0])
                elif kind == "failed":
                    raise RuntimeError(f"the backtest's process failed: {value[0]}")
        finally:
            if stopper is not None:
                stopper.cancel()
            if child.is_alive():
                child.terminate()
            await loop.run_in_executor(self._pipes, child.join, 5)
            ours.close()


def _receive(conn: Connection) -> tuple[Any, ...]:
    try:
        return conn.recv()  # type: ignore[no-any-return]
    except EOFError:
        return ("failed", "it ended without an answer")


def child_main(
    settings: Settings, open_store: StoreOpener, request: BacktestRequest, conn: Connection
) -> None:
    """The child: its own event loop, store and sandbox; the answer down the pipe."""
    try:
        asyncio.run(_child(settings, open_store, request, conn))
    except BaseException as exc:  # the parent reads the pipe, not our stderr
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


async def _child(
    settings: Settings, open_store: StoreOpener, request: BacktestRequest, conn: Connection
) -> None:
    store = await open_store(settings)
    sandbox = JsSandbox.from_settings(settings)
    every = 1

    def progress(done: int, total: int) -> None:
        nonlocal every
        every = max(1, total // PROGRESS_STEPS)
        if done == total or done % every == 0:
            conn.send(("progress", done, total))

    try:
        report = await Backtester(store, settings, javascript=sandbox).run(request, progress)
        conn.send(("report", report))
    except BacktestInvalid as exc:
        conn.send(("invalid", str(exc), exc.problems))
    except BacktestCancelled as exc:
        conn.send(("cancelled", str(exc)))
    finally:
        await sandbox.close()
        await store.close()
