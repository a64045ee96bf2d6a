"""Run a user's JavaScript in an embedded QuickJS engine (quickjs-ng), off the event loop.

Why QuickJS: docs/nodes.md. What the code gets: the values it is given, JSON's and
JavaScript's own built-ins, and nothing else: no network, files, process, timers,
`import` or `require` (QuickJS is embedded without its std/os modules; there is no
host object to reach the Python side). Each evaluation:

- runs in a fresh engine (a QuickJS runtime of its own) on a thread of its own, so a
  busy script never holds the event loop: the engine releases the GIL while it runs;
- stops once it has used its CPU-time limit. QuickJS measures the limit on the
  process's CPU clock, which advances at least as fast as the script's own, so a
  script is stopped no later than its limit, and sooner when the process is busy;
- fails once its engine has allocated its memory limit;
- answers a JSON value (its return value, through JSON.stringify), capped in size.

A thread cannot be killed, but it cannot outlive its CPU limit either: a cancelled
run's script ends, failed, once the limit is spent.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import Any

import quickjs

from cascadian.errors import NodeError

# Plain data out of the worker thread: engine objects must die on their own thread.
_Result = tuple[bool, Any]


@dataclass(frozen=True)
class JsLimits:
    cpu_seconds: float = 1.0
    memory_bytes: int = 32 * 1024 * 1024
    # Below the worker thread's own stack (8 MiB), so deep recursion fails cleanly.
    stack_bytes: int = 1024 * 1024
    output_bytes: int = 1_000_000


class JavaScriptError(NodeError):
    """The script threw, or ran out of its limits; the message says which."""


_HARNESS = """
globalThis.__settled = false;
(function () {
  const __json = (v) => (v === undefined ? undefined : JSON.stringify(v));
  const __ok = (v) => { globalThis.__out = __json(v); globalThis.__settled = true; };
  const __fail = (e) => {
    globalThis.__error = (e && e.message !== undefined) ? String(e.name || 'Error') + ': ' +
      String(e.message) : String(e);
    globalThis.__settled = true;
  };
  const __args = JSON.parse(globalThis.__bindings);
  let __value;
  try {
    __value = (function (%(names)s) {
%(body)s
    }).apply(undefined, __args);
  } catch (e) { __fail(e); return; }
  if (__value !== null && typeof __value === 'object' && typeof __value.then === 'function') {
    __value.then(__ok, __fail);
  } else {
    try { __ok(__value); } catch (e) { __fail(e); }
  }
})();
"""


def _describe(exc: BaseException | str, limits: JsLimits) -> str:
    message = str(exc).strip()
    text = message.splitlines()[0] if message else type(exc).__name__
    if isinstance(exc, quickjs.StackOverflow):
        return "the script recursed too deeply (stack overflow)"
    if "InternalError: interrupted" in text:
        return f"the script used up its CPU time (limit {limits.cpu_seconds:g}s)"
    if "out of memory" in text or "string too long" in text or "Invalid array length" in text:
        return f"the script ran out of memory (limit {limits.memory_bytes // (1024 * 1024)} MiB)"
    return text


def _evaluate(names: list[str], values: list[Any], body: str, limits: JsLimits) -> _Result:
    """Runs on the worker thread; never raises."""
    try:
        bindings = json.dumps(values, allow_nan=False, default=str)
    except ValueError as exc:  # NaN or Infinity, which JSON cannot carry
        return False, f"an input cannot be given to the script: {exc}"
    context = quickjs.Context()
    try:
        context.set_memory_limit(limits.memory_bytes)
        context.set_time_limit(limits.cpu_seconds)
        context.set_max_stack_size(limits.stack_bytes)
        context.set("__bindings", bindings)
        context.eval(_HARNESS % {"names": ", ".join(names), "body": body})
        while not context.get("__settled") and context.execute_pending_job():
            pass
        if not context.get("__settled"):
            return False, "the script returned a promise that never settled"
        error = context.get("__error")
        if error is not None:
            return False, _describe(str(error), limits)
        out = context.get("__out")
        if out is None:
            return True, None  # undefined
        if not isinstance(out, str) or len(out) > limits.output_bytes:
            return False, f"the return value is not JSON of at most {limits.output_bytes} bytes"
        return True, json.loads(out)
    except ValueError:
        return False, "the return value is not JSON"
    except Exception as exc:
        return False, _describe(exc, limits)
    finally:
        del context


async def run_javascript(
    body: str, bindings: dict[str, Any], limits: JsLimits, *, what: str = "JavaScript"
) -> Any:
    """Run `body` as a function body with `bindings` as its parameters; its return
    value as JSON data. JavaScriptError("<what> error: ...") when it fails."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[_Result] = loop.create_future()
    names, values = list(bindings), list(bindings.values())

    def work() -> None:
        result = _evaluate(names, values, body, limits)

        def deliver() -> None:
            if not done.done():
                done.set_result(result)

        loop.call_soon_threadsafe(deliver)

    # A thread per script: a script at its limit never delays another one.
    threading.Thread(target=work, name="cascadian-js", daemon=True).start()
    ok, value = await done
    if not ok:
        raise JavaScriptError(f"{what} error: {value}")
    return value
