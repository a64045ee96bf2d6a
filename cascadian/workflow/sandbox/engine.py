"""One evaluation in QuickJS (quickjs-ng), as the sandbox child runs it; never raises.

Each evaluation gets a fresh engine (a QuickJS runtime of its own) with nothing but
JavaScript's built-ins: no network, files, process, timers, `import` or `require`
(QuickJS is embedded without its std/os modules, and there is no host object).

The result is read without giving the script a say. A harness, evaluated before the
user's code, keeps its state in a closure, captures `JSON.stringify`, `Function` and
the like before the script can replace them, and turns the outcome into a status and
JSON text (the value, or the error's message as a JSON string). All Python reads is
what two non-writable, non-configurable functions of the harness return: a status
literal and JSON.stringify's text. Getters, `toJSON`, Proxies and
`Symbol.toPrimitive` therefore run while the script's CPU time is counted, never
after. The user's code is compiled with `Function`, so it cannot break out of its
function body into the harness.

The CPU limit is the evaluation's, not a step's: QuickJS's time limit restarts with
each call into the engine, so before each pending job (each `await`) it is set to
what is left of the budget, measured on this process's own CPU clock.
"""

from __future__ import annotations

import json
import time

import quickjs

from cascadian.workflow.sandbox.limits import JsLimits
from cascadian.workflow.sandbox.protocol import FAILED, LIMITED, OK, UNDEFINED

_STATUS = "__cascadian_status()"
_TEXT = "__cascadian_text()"

# %(names)s and %(body)s are JSON literals (JSON is valid JavaScript); %(cap)d is the
# output limit, checked in JavaScript first so a huge string never reaches Python.
# The status is one of a few literals; the text is always JSON.stringify's own flat
# string (an error message too, as a JSON string), because the binding cannot read
# QuickJS's rope strings, which concatenation makes.
_HARNESS = """
(function (global, names, body, cap) {
  'use strict';
  const Fn = Function, stringify = JSON.stringify, parse = JSON.parse, Str = String;
  const apply = Reflect.apply, define = Object.defineProperty;
  let status = '', text = '';
  const settle = (s, t) => { if (status === '') { status = s; text = t; } };
  const describe = (e) => {
    try {
      return (e && e.message !== undefined)
        ? Str(e.name || 'Error') + ': ' + Str(e.message) : Str(e);
    } catch (_) { return 'the script threw a value that cannot be described'; }
  };
  const fail = (e) => { settle('0', stringify(describe(e))); };
  const ok = (v) => {
    let json;
    try { json = stringify(v); } catch (e) { fail(e); return; }
    if (json === undefined) settle('u', '');
    else if (json.length > cap) settle('!', '');
    else settle('1', json);
  };
  define(global, '__cascadian_status', { value: () => status });
  define(global, '__cascadian_text', { value: () => text });
  const bindings = global.__cascadian_bindings;
  delete global.__cascadian_bindings;
  let value;
  try {
    value = apply(new Fn(...names, body), undefined, parse(bindings));
  } catch (e) { fail(e); return; }
  if (value !== null && typeof value === 'object') {
    let then;
    try { then = value.then; } catch (e) { fail(e); return; }
    if (typeof then === 'function') {
      try { apply(then, value, [ok, fail]); } catch (e) { fail(e); }
      return;
    }
  }
  ok(value);
})(globalThis, %(names)s, %(body)s, %(cap)d);
"""


def evaluate(body: str, names: list[str], arguments: str, limits: JsLimits) -> bytes:
    """The reply to send: a status byte (protocol.py) and its text."""
    start = time.process_time()
    try:
        reply = _run(body, names, arguments, limits, start)
    except quickjs.StackOverflow:
        return FAILED + b"the script recursed too deeply (stack overflow)"
    except MemoryError:
        return LIMITED + limits.memory_message().encode()
    except Exception as exc:
        return _failure(_first_line(exc), limits)
    if not isinstance(reply, tuple):
        return FAILED + b"the script's result could not be read"
    status, text = reply
    if status == "":
        if time.process_time() - start >= limits.cpu_seconds:
            return LIMITED + limits.cpu_message().encode()
        return FAILED + b"the script returned a promise that never settled"
    if status == "0":
        try:
            message = json.loads(text)
        except ValueError:
            message = "the script threw a value that cannot be described"
        return _failure(_first_line(message), limits)
    if status == "u":
        return UNDEFINED
    try:
        data = text.encode()
    except UnicodeEncodeError:
        return FAILED + b"the return value is not valid text"
    if status != "1" or len(data) > limits.output_bytes:
        return FAILED + limits.output_message().encode()
    return OK + data


def _run(
    body: str, names: list[str], arguments: str, limits: JsLimits, start: float
) -> tuple[str, str] | None:
    context = quickjs.Context()
    try:
        context.set_memory_limit(limits.memory_bytes)
        context.set_time_limit(limits.cpu_seconds)
        context.set_max_stack_size(limits.stack_bytes)
        context.set("__cascadian_bindings", arguments)
        script = _HARNESS % {
            "names": json.dumps(names),
            "body": json.dumps(body),
            "cap": limits.output_bytes,
        }
        context.eval(script)
        status = context.eval(_STATUS)
        while status == "":
            left = limits.cpu_seconds - (time.process_time() - start)
            if left <= 0:
                break
            context.set_time_limit(left)
            if not context.execute_pending_job():
                break
            status = context.eval(_STATUS)
        text = context.eval(_TEXT) if status in ("0", "1") else ""
        if not isinstance(status, str) or not isinstance(text, str):
            return None
        return status, text
    finally:
        del context


def _first_line(exc: BaseException | str) -> str:
    message = str(exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


def _failure(text: str, limits: JsLimits) -> bytes:
    """A failure's reply: the limits QuickJS reports by message become ours."""
    if "InternalError: interrupted" in text:
        return LIMITED + limits.cpu_message().encode()
    if "out of memory" in text or "string too long" in text or "Invalid array length" in text:
        return LIMITED + limits.memory_message().encode()
    return FAILED + text.encode(errors="replace")
