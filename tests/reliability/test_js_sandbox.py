"""User JavaScript out of the scheduler's process (issue 27, items 1, 2, 4 and 5).

Each attack here held on the in-process QuickJS thread: a getter on the harness's
result froze the whole process for good, a loop of `await`s outlived its run with a
fresh CPU limit at every step, 300 parallel megabyte outputs took the server from 90
to 712 MB, and one tenant's endless loop spent another's CPU budget. Now each
evaluation runs in a sandbox process (cascadian/workflow/sandbox/); these tests show
the attack fails only its own node, within its limits, and leaves nothing running.

Deadlines are small and real (a killed process is the point), never used to wait.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cascadian.config import Settings
from cascadian.data import RunResult, Workflow
from cascadian.store.sql_store import SqlStore
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeServices
from cascadian.workflow.sandbox.pool import JsSandbox
from cascadian.workflow.sandbox.pool import _Process as pool_process
from cascadian.workflow.sandbox.pool import _stop as pool_stop
from cascadian.workflow.sandbox.quota import JavaScriptError
from tests.api_client import CRON, bearer, client
from tests.factories import add_strategy, rows

STOPPED = r"used up its CPU time|stopped after \d+(\.\d+)?s of wall-clock time"


def js(node_id: str, code: str) -> dict[str, Any]:
    return {"id": node_id, "type": "javascript", "data": {"code": code}}


def settings(**env: Any) -> Settings:
    return Settings(**({"CASCADIAN_JS_CPU_SECONDS": 0.5, "CASCADIAN_JS_WALL_SECONDS": 3} | env))


async def run(sandbox: JsSandbox, *nodes: dict[str, Any]) -> RunResult:
    """One run of `nodes` (no edges: all at once), its JavaScript in `sandbox`."""
    services = NodeServices(Settings(), javascript=sandbox)
    workflow = Workflow(uuid.uuid4(), "w", list(nodes), [])
    return await GraphExecutor(services=services).execute(workflow)


def proc(pid: int, name: str) -> bytes:
    return Path(f"/proc/{pid}/{name}").read_bytes()


def gone(pid: int) -> bool:
    """The process has exited and been reaped (no zombie left either)."""
    return not Path(f"/proc/{pid}").exists()


# Item 1, in the spellings that reached Python on the thread, and those that still
# reach QuickJS's own binding when it turns an uncatchable error into a message.
# Each ends with its own value or a clear error; none holds anything else up.
HOSTILE = [
    ("Object.defineProperty(globalThis, '__out', {get(){ while(true){} }}); return 1;", 1),
    ("Object.defineProperty(globalThis, '__settled', {get(){ while(true){} }}); return 1;", 1),
    ("Object.defineProperty(globalThis, '__error', {get(){ while(true){} }}); throw 1;", "1$"),
    ("return {toJSON(){ while(true){} }}", STOPPED),
    ("return new Proxy({}, {ownKeys(){ while(true){} }, get(){ while(true){} }})", STOPPED),
    ("return {[Symbol.toPrimitive](){ while(true){} }, get price(){ while(true){} }}", STOPPED),
    (
        "Object.defineProperty(Object.prototype, 'then', {get(){ while(true){} }}); return {}",
        STOPPED,
    ),
    ("throw {toString(){ while(true){} }}", STOPPED),
    ("Error.prototype.toString = function(){ while(true){} }; while(true){}", STOPPED),
    (
        "Object.defineProperty(Error.prototype, 'stack', {get(){ while(true){} }}); while(true){}",
        STOPPED,
    ),
    (
        "await null; Object.defineProperty(globalThis, '__out', {get(){ while(true){} }});"
        " return 2;",
        2,
    ),
]


@pytest.mark.parametrize(("code", "outcome"), HOSTILE, ids=range(len(HOSTILE)))
async def test_a_hostile_result_fails_only_its_own_node_within_its_deadline(
    code: str, outcome: Any
) -> None:
    if code.startswith("await"):
        code = f"return (async () => {{ {code} }})()"
    sandbox = JsSandbox.from_settings(settings(CASCADIAN_JS_PROCESSES=2))
    try:
        loop = asyncio.get_running_loop()
        began = loop.time()
        hostile = asyncio.create_task(run(sandbox, js("hostile", code)))
        # Another strategy's run, in the other sandbox process: the loop keeps turning.
        light = await run(sandbox, js("light", "return 1 + 1"))
        assert light.success and light.outputs["light"] == 2, light.errors
        result = await asyncio.wait_for(hostile, timeout=30)
        # Its wall-clock deadline (3 s) plus a start-up and a kill on a busy machine.
        assert loop.time() - began < 20
    finally:
        await sandbox.close()
    if isinstance(outcome, str):
        assert not result.success
        assert re.search(outcome, result.errors[0]["error"]), result.errors
        assert result.errors[0]["node_id"] == "hostile"
    else:
        assert result.success and result.outputs["hostile"] == outcome, result.errors


async def test_a_wedged_script_leaves_the_api_and_health_answering(
    store: SqlStore, db: Any
) -> None:
    """Through the app: while a tick's only strategy holds its sandbox process in
    QuickJS's own error handling, /api/health answers; the tick then records the run
    as failed, saying why, and nothing else in the process stopped."""
    wedge = "Error.prototype.toString = function(){ while(true){} }; while(true){}"
    sid = add_strategy(
        db,
        next_execution_at=datetime.now(UTC) - timedelta(minutes=1),
        name="hostile",
        graph=([js("wedge", wedge)], []),
    )
    env = {"CASCADIAN_JS_CPU_SECONDS": 0.5, "CASCADIAN_JS_WALL_SECONDS": 3}
    async with client(store, **env) as c:
        tick = asyncio.create_task(
            c.post("/api/cron/strategy-executor", headers=bearer(CRON), json={})
        )
        running: list[Any] = []
        for _ in range(5000):  # until the run has started (each turn is a real query)
            health = await c.get("/api/health")
            assert health.status_code in (200, 503)
            # A health answer from the cached snapshot never yields: let the tick run.
            await asyncio.sleep(0)
            running = rows(db, "select 1 from workflow_executions where status = 'running'")
            if running or tick.done():
                break
        health = await c.get("/api/health")
        assert health.status_code == 200 and health.json()["database"] == "ok"
        assert running and not tick.done(), "health answered while the script was wedged"
        reply = await asyncio.wait_for(tick, timeout=60)
    assert reply.status_code == 200
    [execution] = reply.json()["data"]["executions"]
    assert execution["status"] == "failed"
    assert re.search(STOPPED, execution["error"]), execution
    assert rows(db, "select error_count from workflow_sessions where id = %s", sid) == [
        {"error_count": 1}
    ]


async def test_an_await_loop_is_killed_at_the_wall_deadline_and_its_process_is_gone() -> None:
    """Item 2: 200 steps of 0.4 s each. Its CPU limit is set high here, so the
    wall-clock deadline stops it: its process is killed, reaped, and replaced."""
    sandbox = JsSandbox.from_settings(
        settings(CASCADIAN_JS_PROCESSES=1, CASCADIAN_JS_CPU_SECONDS=30, CASCADIAN_JS_WALL_SECONDS=1)
    )
    steps = (
        "return (async () => { for (let i = 0; i < 200; i++) {"
        " const t = Date.now(); while (Date.now() - t < 400) {} await null; } })()"
    )
    try:
        warm = await run(sandbox, js("warm", "return 0"))
        assert warm.success
        [pid] = sandbox.pids
        result = await asyncio.wait_for(run(sandbox, js("steps", steps)), timeout=30)
        assert result.errors[0]["error"] == (
            "JavaScript execution error: the script was stopped after 1s of wall-clock time"
        )
        assert gone(pid) and sandbox.pids == set(), "the killed process is left running"
        again = await run(sandbox, js("again", "return 3"))
        assert again.outputs["again"] == 3
        assert sandbox.pids and pid not in sandbox.pids
    finally:
        await sandbox.close()


async def test_a_run_stopped_at_its_deadline_kills_its_scripts_process() -> None:
    """The strategy's own timeout comes first here (1 s; the script's limits are far
    off): the run times out as any other, and its script does not run on."""
    sandbox = JsSandbox.from_settings(
        settings(
            CASCADIAN_JS_PROCESSES=1, CASCADIAN_JS_CPU_SECONDS=30, CASCADIAN_JS_WALL_SECONDS=60
        )
    )
    try:
        assert (await run(sandbox, js("warm", "return 0"))).success
        [pid] = sandbox.pids
        services = NodeServices(Settings(), javascript=sandbox)
        workflow = Workflow(uuid.uuid4(), "w", [js("spin", "while (true) {}")], [])
        deadline = asyncio.get_running_loop().time() + 1
        result = await GraphExecutor(services=services).execute(workflow, deadline)
        assert result.errors[0]["error"] == "timed out after 1s"
        assert gone(pid) and sandbox.pids == set()
    finally:
        await sandbox.close()


async def test_an_await_loop_is_stopped_at_its_cpu_budget_for_the_whole_evaluation() -> None:
    """Item 2: the CPU limit is the evaluation's, not each step's. 200 steps of 0.1 s
    took 20 s of CPU on the thread, the limit restarting at every `await`."""
    sandbox = JsSandbox.from_settings(settings(CASCADIAN_JS_WALL_SECONDS=60))
    steps = (
        "return (async () => { for (let i = 0; i < 200; i++) {"
        " const t = Date.now(); while (Date.now() - t < 100) {} await null; } })()"
    )
    try:
        result = await asyncio.wait_for(run(sandbox, js("steps", steps)), timeout=15)
    finally:
        await sandbox.close()
    assert result.errors[0]["error"] == (
        "JavaScript execution error: the script used up its CPU time (limit 0.5s)"
    )


# A fixed amount of CPU work: its CPU time does not stretch when the machine is busy.
WORK = "let x = 0; for (let i = 0; i < n; i++) { x = (x + i * 7) % 1000003; } return x"


def cpu_seconds(pid: int) -> float:
    """The process's user and system CPU time (/proc/<pid>/stat, in clock ticks)."""
    fields = proc(pid, "stat").rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def test_a_light_script_succeeds_beside_another_tenants_endless_loop() -> None:
    """Item 5: each sandbox process counts only its own CPU. The light script does
    work measured (alone, first) at about 0.6 of its 1 s CPU limit. On the thread the
    limit counted the whole process's CPU, so beside an endless loop, which got about
    as much CPU as it did, it failed "used up its CPU time" at about half its work."""
    sandbox = JsSandbox.from_settings(
        settings(
            CASCADIAN_JS_PROCESSES=2, CASCADIAN_JS_CPU_SECONDS=1.0, CASCADIAN_JS_WALL_SECONDS=60
        )
    )
    alone, endless_run, light_run = sandbox.run(), sandbox.run(), sandbox.run()
    try:
        await alone.run("return 0", {})
        [pid] = sandbox.pids
        probe = 2_000_000
        before = cpu_seconds(pid)
        await alone.run(WORK, {"n": probe})
        per_step = max(cpu_seconds(pid) - before, 0.01) / probe
        n = int(0.6 / per_step)
        endless, light = await asyncio.gather(
            endless_run.run("while (true) {}", {}, what="JavaScript execution"),
            light_run.run(WORK, {"n": n}, what="JavaScript execution"),
            return_exceptions=True,
        )
    finally:
        await sandbox.close()
    assert isinstance(light, int), light
    assert isinstance(endless, JavaScriptError)
    assert str(endless) == (
        "JavaScript execution error: the script used up its CPU time (limit 1s)"
    )


async def test_three_hundred_parallel_megabyte_outputs_fail_the_run_at_its_output_cap() -> None:
    """Item 4: a run's JavaScript returns at most CASCADIAN_JS_RUN_OUTPUT_BYTES in all
    (8 MB); past it its node fails and the run stops, instead of holding 300 MB."""
    sandbox = JsSandbox.from_settings(settings(CASCADIAN_JS_CPU_SECONDS=2))
    nodes = [js(f"n{i}", "return 'x'.repeat(999990)") for i in range(300)]
    try:
        result = await asyncio.wait_for(run(sandbox, *nodes), timeout=60)
        assert sandbox.returned == 0, "a finished run's bytes still count"
    finally:
        await sandbox.close()
    assert not result.success
    [error] = [e for e in result.errors if e["node_id"]]
    assert "more than CASCADIAN_JS_RUN_OUTPUT_BYTES (8000000)" in error["error"]
    assert len(result.outputs) <= 8


async def test_the_runs_in_flight_share_one_output_cap_per_process() -> None:
    """Two runs, each under its own cap (3 MB), together past the process's (3.5 MB):
    the one that would pass it fails, saying so, until the other run is over."""
    sandbox = JsSandbox.from_settings(
        settings(
            CASCADIAN_JS_RUN_OUTPUT_BYTES=3_000_000, CASCADIAN_JS_PROCESS_OUTPUT_BYTES=3_500_000
        )
    )
    megabyte = "return 'x'.repeat(999990)"
    first, second = sandbox.run(), sandbox.run()
    try:
        await first.run(megabyte, {})
        await first.run(megabyte, {})
        await second.run(megabyte, {})
        with pytest.raises(JavaScriptError, match=r"CASCADIAN_JS_PROCESS_OUTPUT_BYTES \(3500000\)"):
            await second.run(megabyte, {})
        first.close()  # the first run is over
        assert len(await second.run(megabyte, {})) == 999990
    finally:
        first.close()
        second.close()
        await sandbox.close()
    assert sandbox.returned == 0


async def test_waiting_past_the_cap_fails_as_busy_but_a_runs_own_turns_queue() -> None:
    """One process, none may wait for it: a second run's evaluation is refused at
    once, while the second evaluation of one run waits for that run's turn."""
    sandbox = JsSandbox.from_settings(
        settings(
            CASCADIAN_JS_PROCESSES=1,
            CASCADIAN_JS_MAX_WAITING=0,
            CASCADIAN_JS_RUN_CONCURRENCY=1,
        )
    )
    one, other = sandbox.run(), sandbox.run()
    try:
        both = await asyncio.gather(one.run("return 1", {}), one.run("return 2", {}))
        assert both == [1, 2]
        first, refused = await asyncio.gather(
            one.run("return 3", {}), other.run("return 4", {}), return_exceptions=True
        )
        assert first == 3
        assert isinstance(refused, JavaScriptError)
        assert "busy: 0 evaluations are already waiting" in str(refused)
        assert "CASCADIAN_JS_MAX_WAITING" in str(refused)
    finally:
        await sandbox.close()


async def test_a_sandbox_process_has_no_secrets_and_kernel_limits() -> None:
    sandbox = JsSandbox.from_settings(settings(CASCADIAN_JS_MEMORY_MB=16))
    os.environ["CASCADIAN_TEST_SECRET"] = "do-not-inherit"
    try:
        run_ = sandbox.run()
        assert await run_.run("return 1", {}) == 1
        [pid] = sandbox.pids
        environment = proc(pid, "environ").split(b"\0")
        assert [e.split(b"=")[0] for e in environment if e] == [b"PYTHONPATH"]
        limits = proc(pid, "limits").decode()
        cpu = re.search(r"Max cpu time\s+(\S+)", limits)
        memory = re.search(r"Max address space\s+(\S+)", limits)
        assert cpu and cpu.group(1) != "unlimited"
        assert memory and memory.group(1) != "unlimited"
    finally:
        del os.environ["CASCADIAN_TEST_SECRET"]
        await sandbox.close()
    assert gone(pid), "closing the sandbox leaves its process running"


async def test_closing_the_sandbox_fails_the_evaluations_waiting_for_it() -> None:
    sandbox = JsSandbox.from_settings(settings(CASCADIAN_JS_PROCESSES=1))
    first, second = sandbox.run(), sandbox.run()
    running = asyncio.create_task(first.run("while (true) {}", {}))
    waiting = asyncio.create_task(second.run("return 1", {}))
    await asyncio.sleep(0)  # one turn: both have asked for the one process
    await sandbox.close()
    outcomes = await asyncio.gather(running, waiting, return_exceptions=True)
    assert all(isinstance(o, JavaScriptError) and "closed" in str(o) for o in outcomes), outcomes
    assert sandbox.pids == set()


async def test_a_killed_process_whose_unread_reply_filled_the_pipe_is_still_reaped() -> None:
    """A reply past the size cap is refused after its 4-byte header: the process is
    killed with the rest of the reply unread. Once the parent has buffered more than
    its stream's limit, asyncio stops reading that pipe, never sees its end, and
    `Process.wait()` (which waits for the pipes too) never returned: the
    evaluation held its sandbox slot until the run's deadline, or for good where
    there is none (closing the pool at shutdown), and leaked the pipe. The child
    here writes such a reply (190 KB: more than the parent buffers before it stops
    reading, and less than that plus a pipe's worth, so the write completes) and says
    so on stderr."""
    writes_a_big_reply = (
        "import sys; sys.stdout.buffer.write(b'\\0\\x4c\\x4b\\x40' + b'x' * 190_000); "
        "sys.stdout.flush(); sys.stderr.write('written\\n'); sys.stderr.flush(); "
        "sys.stdin.read()"
    )
    created = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        writes_a_big_reply,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert created.stdout is not None and created.stderr is not None
    assert await created.stdout.readexactly(4) == b"\0\x4c\x4b\x40"  # 5 MB declared
    assert await created.stderr.readline() == b"written\n"
    await asyncio.wait_for(pool_stop(pool_process(created)), timeout=10)
    assert created.returncode is not None and gone(created.pid)


async def test_closing_the_sandbox_under_an_evaluation_reading_its_reply_stops_cleanly() -> None:
    """Closing stops a busy process while its evaluation still reads its stdout: the
    close drops nothing itself then (asyncio allows one reader), and neither raises."""
    sandbox = JsSandbox.from_settings(settings(CASCADIAN_JS_PROCESSES=1))
    js_run = sandbox.run()
    assert await js_run.run("return 1", {}) == 1  # warm: the next one goes straight to it
    running = asyncio.create_task(js_run.run("while (true) {}", {}))
    await asyncio.sleep(0)  # one turn: it has sent its request and waits for the reply
    assert sandbox.busy == 1
    await sandbox.close()
    with pytest.raises(JavaScriptError, match="closed"):
        await running
    assert sandbox.pids == set()


async def test_stopping_a_process_whose_unread_output_paused_its_pipe_returns() -> None:
    """A cancelled evaluation leaves its reply unread; once the reader's buffer is full
    the stdout pipe is paused, so it never reads the killed process's EOF, and wait()
    (which in Python 3.12 also waits for the pipes) waited forever: the run hung."""
    sandbox = JsSandbox.from_settings(settings(CASCADIAN_JS_PROCESSES=1))
    try:
        process = await sandbox._start()
        process.process._transport.get_pipe_transport(1).pause_reading()  # type: ignore[attr-defined]
        await asyncio.wait_for(pool_stop(process), timeout=10)  # a guard: it returns at once
        assert gone(process.pid), "the stopped process is left running"
    finally:
        await sandbox.close()
