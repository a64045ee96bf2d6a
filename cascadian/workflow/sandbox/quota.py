"""A run's share of the sandbox, and the nodes' way in: `JsRun.run(body, bindings)`.

Fan-out is bounded here. One run has at most `run_concurrency` evaluations in flight
(its others wait their turn, so one wide graph cannot take every process); what its
evaluations return is counted against `run_output_bytes`, and, with every other run
in flight in this process, against `process_output_bytes`. Past either an evaluation
fails its node, saying which setting it hit; a run's bytes are released when it ends
(the graph executor closes its JsRun).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cascadian.errors import NodeError
from cascadian.workflow.sandbox.pool import JsSandbox, SandboxError
from cascadian.workflow.sandbox.protocol import UNDEFINED, request


class JavaScriptError(NodeError):
    """The script threw, ran out of its limits, or was refused; the message says which."""


class JsRun:
    def __init__(self, sandbox: JsSandbox) -> None:
        self.sandbox = sandbox
        self._slots = asyncio.Semaphore(sandbox.caps.run_concurrency)
        self.returned = 0

    async def run(self, body: str, bindings: dict[str, Any], *, what: str = "JavaScript") -> Any:
        """Run `body` as a function body with `bindings` as its parameters; its return
        value as JSON data. JavaScriptError("<what> error: ...") when it fails."""
        try:
            message = self._request(body, bindings)
            async with self._slots:
                reply = await self.sandbox.evaluate(message)
            self._charge(len(reply) - 1)
            return _decode(reply)
        except SandboxError as exc:
            raise JavaScriptError(f"{what} error: {exc}") from None

    def _request(self, body: str, bindings: dict[str, Any]) -> bytes:
        try:
            arguments = json.dumps(list(bindings.values()), allow_nan=False, default=str)
        except ValueError as exc:  # NaN or Infinity, which JSON cannot carry
            raise SandboxError(f"an input cannot be given to the script: {exc}") from None
        limits = self.sandbox.limits
        if len(arguments) > limits.memory_bytes:
            raise SandboxError(
                f"the inputs are {len(arguments)} bytes of JSON, more than the script's "
                f"memory (limit {limits.memory_bytes // (1024 * 1024)} MiB)"
            )
        return request(body, list(bindings), arguments)

    def _charge(self, size: int) -> None:
        caps, sandbox = self.sandbox.caps, self.sandbox
        if self.returned + size > caps.run_output_bytes:
            raise SandboxError(
                f"this run's JavaScript would have returned {self.returned + size} bytes in "
                f"all, more than CASCADIAN_JS_RUN_OUTPUT_BYTES ({caps.run_output_bytes})"
            )
        if sandbox.returned + size > caps.process_output_bytes:
            raise SandboxError(
                "the JavaScript of the runs in flight in this process has returned "
                f"{sandbox.returned} bytes, and {size} more would pass "
                f"CASCADIAN_JS_PROCESS_OUTPUT_BYTES ({caps.process_output_bytes})"
            )
        self.returned += size
        sandbox.returned += size

    def close(self) -> None:
        """The run is over: its bytes no longer count against the process."""
        self.sandbox.returned -= self.returned
        self.returned = 0


def _decode(reply: bytes) -> Any:
    if reply == UNDEFINED:
        return None
    try:
        return json.loads(reply[1:])
    except RecursionError:
        raise SandboxError("the return value is nested too deeply to read") from None
    except ValueError:
        raise SandboxError("the return value is not JSON") from None
