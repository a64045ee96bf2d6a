"""The sandbox process: `python -m cascadian.workflow.sandbox.child '<config JSON>'`.

It sets its own limits, says READY, then answers one request at a time on stdin and
stdout (protocol.py) until its stdin closes. What it enforces besides QuickJS's own
limits (engine.py), so that a script which escapes those still ends:

- RLIMIT_CPU: before each evaluation the soft limit is set to the CPU time used so
  far plus the evaluation's budget plus a second; past it the kernel sends SIGXCPU,
  which ends the process (core dumps are off). The parent reads that as "used up its
  CPU time". This counts only this process, so one tenant's script cannot spend
  another's budget.
- RLIMIT_AS: the address space is capped at what start-up needed plus room for the
  engine, its input and its output; Python's MemoryError ends the evaluation with
  "ran out of memory" and the process exits, to be replaced.
- It dies with the parent (PR_SET_PDEATHSIG on Linux), and exits when its stdin
  closes, so a killed scheduler leaves no sandbox behind.

The protocol's stdout is a private copy of file descriptor 1; descriptor 1 itself
points at stderr, so nothing printed by accident can corrupt a reply.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import resource
import signal
import sys

from cascadian.workflow.sandbox.engine import evaluate
from cascadian.workflow.sandbox.limits import MIB, JsLimits
from cascadian.workflow.sandbox.protocol import (
    LIMITED,
    READY,
    read_frame,
    read_request,
    write_frame,
)

# Room above start-up for the engine (its own limit counts only its allocations),
# the arguments as bytes and text, and the reply as text and bytes.
_HEADROOM_ENGINES = 4
_HEADROOM_FIXED = 128 * MIB
_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    config = json.loads(argv[1])
    limits = JsLimits(**config["limits"])
    _die_with_parent(int(config["parent"]))
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _limit_memory(limits)
    write_frame(replies, READY)
    while True:
        try:
            header = read_frame(requests)
            arguments = read_frame(requests)
            if header is None or arguments is None:
                return 0
            body, names = read_request(header)
            _limit_cpu(limits)
            reply = evaluate(body, names, arguments.decode(), limits)
        except MemoryError:
            write_frame(replies, LIMITED + limits.memory_message().encode())
            return 0
        write_frame(replies, reply)
        if reply.startswith(LIMITED):
            return 0


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel kills this process when the parent dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # elsewhere: the closed stdin and RLIMIT_CPU end it
    if os.getppid() != parent:  # the parent died before the prctl
        os._exit(0)


def _limit_cpu(limits: JsLimits) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    soft = math.ceil(used + limits.cpu_seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _limit_memory(limits: JsLimits) -> None:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return  # not Linux: QuickJS's own limit still holds
    now = pages * os.sysconf("SC_PAGE_SIZE")
    room = _HEADROOM_ENGINES * (limits.memory_bytes + limits.output_bytes) + _HEADROOM_FIXED
    resource.setrlimit(resource.RLIMIT_AS, (now + room, now + room))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
