"""The pool of sandbox processes: started lazily, reused while warm, killed at the
wall-clock deadline and replaced on demand; one per scheduler process, built and
closed by the composition root (bootstrap.services).

Why `asyncio.create_subprocess_exec` of `python -m cascadian.workflow.sandbox.child`
and not `multiprocessing`: the pipes are the event loop's own (no thread waits on a
`Connection`), a child is a fresh interpreter (no fork of a threaded, asyncio
process), it needs no semaphores or /dev/shm (which serverless hosts lack), and
killing it is one signal whose exit status says what happened. It is started with
nothing of the parent's environment but its import path, so no secret is in it.

Each evaluation takes a free process, or starts one while fewer than
`SandboxCaps.processes` exist, or waits for one; past `max_waiting` waiting
evaluations it fails at once, saying the sandbox is busy. A process is used for at
most EVALUATIONS_PER_PROCESS evaluations, and is replaced after any failure at a
limit, a kill, or anything it says out of protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING

from cascadian.workflow.sandbox.limits import MIB, JsLimits, SandboxCaps
from cascadian.workflow.sandbox.protocol import FAILED, HEADER, LIMITED, READY

if TYPE_CHECKING:
    from cascadian.config import Settings
    from cascadian.workflow.sandbox.quota import JsRun

# Starting a process costs about 0.1 s of CPU (Python and QuickJS); this many
# evaluations make that a few microseconds each, and still bound any slow leak.
EVALUATIONS_PER_PROCESS = 10_000
# A process that has not said READY within this long is not coming (a machine that
# busy fails the evaluation; the run's own deadline usually comes first anyway).
START_SECONDS = 30.0
# A killed process is reaped within milliseconds; past this long it is logged and left
# to the event loop's child watcher, so no stop (nor close at shutdown) waits forever.
STOP_SECONDS = 5.0
CHILD = "cascadian.workflow.sandbox.child"
CLOSED = "the JavaScript sandbox is closed (the process is stopping)"

log = logging.getLogger(__name__)


class SandboxError(Exception):
    """Why an evaluation failed, before the node that asked names itself."""


def child_environment() -> dict[str, str]:
    """The child's whole environment: where to import from, nothing else."""
    return {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


class _Process:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.served = 0
        self.killed = False

    @property
    def pid(self) -> int:
        return self.process.pid

    async def exchange(self, request: bytes, reply_cap: int) -> bytes:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None  # both are pipes
        stdin.write(request)
        await stdin.drain()
        (size,) = HEADER.unpack(await stdout.readexactly(HEADER.size))
        if size > reply_cap:
            raise _TooLarge
        return await stdout.readexactly(size)

    def kill(self) -> None:
        # Once only: Popen.send_signal polls first, and a poll that reaps the dead
        # child leaves the event loop's watcher "exit status already read".
        if self.process.returncode is None and not self.killed:
            self.killed = True
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    def close_pipes(self) -> None:
        """Close its pipes. Process.wait() returns only once the process has exited
        AND its pipes are closed (Python 3.12), and a stdout whose reader stopped
        reading (cancelled with its buffer full) is paused: it never reads its EOF."""
        transport = self.process._transport  # type: ignore[attr-defined]  # the only way to its pipes
        for fd in (0, 1, 2):
            pipe = transport.get_pipe_transport(fd)
            if pipe is not None:
                pipe.close()


class _TooLarge(Exception):
    pass


class JsSandbox:
    """The process's JavaScript sandboxes. `run()` gives a run its share (quota.py)."""

    def __init__(
        self, limits: JsLimits, caps: SandboxCaps, *, python: str = sys.executable
    ) -> None:
        self.limits, self.caps, self.python = limits, caps, python
        self._slots = asyncio.Semaphore(caps.processes)
        self._idle: list[_Process] = []
        self._busy: set[_Process] = set()
        self._waiting = 0
        self._closed = False
        # JSON bytes held by the runs in flight (quota.py charges and releases them).
        self.returned = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> JsSandbox:
        limits = JsLimits(
            cpu_seconds=settings.js_cpu_seconds,
            memory_bytes=settings.js_memory_mb * MIB,
            output_bytes=settings.http_max_response_bytes,
            wall_seconds=settings.js_wall_seconds,
        )
        caps = SandboxCaps(
            processes=settings.js_processes,
            max_waiting=settings.js_max_waiting,
            run_concurrency=settings.js_run_concurrency,
            run_output_bytes=settings.js_run_output_bytes,
            process_output_bytes=settings.js_process_output_bytes,
        )
        return cls(limits, caps)

    @property
    def pids(self) -> set[int]:
        """The sandbox processes alive now, idle or busy."""
        return {p.pid for p in (*self._idle, *self._busy)}

    @property
    def busy(self) -> int:
        return len(self._busy)

    def run(self) -> JsRun:
        """A run's share of the sandbox; close it when the run ends."""
        from cascadian.workflow.sandbox.quota import JsRun

        return JsRun(self)

    async def evaluate(self, request: bytes) -> bytes:
        """The reply (protocol.OK or UNDEFINED and its text) to a request; SandboxError
        when the script failed, was stopped, or could not get a process."""
        if self._closed:
            raise SandboxError(CLOSED)
        if self._slots.locked() and self._waiting >= self.caps.max_waiting:
            raise SandboxError(
                f"the JavaScript sandbox is busy: {self._waiting} evaluations are already "
                "waiting for a process (CASCADIAN_JS_MAX_WAITING)"
            )
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            process = self._idle.pop() if self._idle else await self._start()
            if self._closed:  # closed while this evaluation waited, or its process started
                await _stop(process)
                raise SandboxError(CLOSED)
            self._busy.add(process)
            keep = False
            try:
                reply = await self._exchange(process, request)
                keep = not reply.startswith(LIMITED) and not self._closed
                process.served += 1
            finally:
                self._busy.discard(process)
                if keep and process.served < EVALUATIONS_PER_PROCESS:
                    self._idle.append(process)
                else:
                    await _stop(process)
        finally:
            self._slots.release()
        if reply.startswith((FAILED, LIMITED)):
            raise SandboxError(reply[1:].decode(errors="replace"))
        return reply

    async def _exchange(self, process: _Process, request: bytes) -> bytes:
        # A reply is a status byte and at most output_bytes of JSON (engine.py).
        cap = self.limits.output_bytes + 1
        try:
            async with asyncio.timeout(self.limits.wall_seconds):
                return await process.exchange(request, cap)
        except TimeoutError:
            process.kill()
            raise SandboxError(self.limits.wall_message()) from None
        except _TooLarge:
            process.kill()
            raise SandboxError(self.limits.output_message()) from None
        except (asyncio.IncompleteReadError, ConnectionError):
            raise SandboxError(await self._death(process)) from None
        except BaseException:  # cancelled: the script must not run on for no one
            process.kill()
            raise

    async def _death(self, process: _Process) -> str:
        """What a process that stopped mid-evaluation died of."""
        if self._closed:
            return CLOSED
        try:
            async with asyncio.timeout(self.limits.wall_seconds):
                status = await process.process.wait()
        except TimeoutError:
            process.kill()
            return "the sandbox process stopped answering"
        if status == -signal.SIGXCPU:
            return self.limits.cpu_message()
        if status < 0:
            return f"the sandbox process was stopped by signal {signal.Signals(-status).name}"
        return f"the sandbox process exited with status {status}"

    async def _start(self) -> _Process:
        config = json.dumps({"parent": os.getpid(), "limits": asdict(self.limits)})
        created = await asyncio.create_subprocess_exec(
            self.python,
            "-m",
            CHILD,
            config,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=child_environment(),
        )
        process = _Process(created)
        try:
            async with asyncio.timeout(START_SECONDS):
                assert created.stdout is not None  # a pipe
                (size,) = HEADER.unpack(await created.stdout.readexactly(HEADER.size))
                ready = await created.stdout.readexactly(min(size, len(READY)))
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            ready = b""
        except BaseException:
            await _stop(process)
            raise
        if ready != READY:
            await _stop(process)
            raise SandboxError("the JavaScript sandbox process did not start")
        return process

    async def close(self) -> None:
        """Stop every process; evaluations in flight fail, later ones are refused."""
        self._closed = True
        processes = [*self._idle, *self._busy]
        self._idle.clear()
        await asyncio.gather(*(_stop(p) for p in processes))


async def _stop(process: _Process) -> None:
    """Kill and reap: once this returns the process is gone, not a zombie, and its
    pipes are closed. The wait is shielded, so a cancelled caller still leaves no
    process running, and bounded: a process not reaped by STOP_SECONDS is logged
    (the child watcher still reaps it) instead of holding its run or close."""
    process.kill()
    process.close_pipes()
    try:
        async with asyncio.timeout(STOP_SECONDS):
            await asyncio.shield(process.process.wait())
    except TimeoutError:
        log.warning(
            "sandbox process %d was not reaped %.0fs after it was killed",
            process.pid,
            STOP_SECONDS,
        )
