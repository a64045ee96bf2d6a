"""The original's javascript and conditional nodes in QuickJS, in sandbox processes:
what the code is given, that it can reach nothing, and that its limits fail it without
holding up anything. Hostile scripts and fan-out: tests/reliability/test_js_sandbox.py."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from cascadian.config import Settings
from cascadian.data import RunResult, Workflow
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeConfig, NodeContext, NodeServices, NodeType
from cascadian.workflow.registry import NodeRegistry, default_registry
from cascadian.workflow.sandbox.pool import JsSandbox


def js(node_id: str, code: str, x: float = 0) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "javascript",
        "position": {"x": x, "y": 0},
        "data": {"code": code},
    }


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    return {"id": f"{source}-{target}", "source": source, "target": target, "sourceHandle": handle}


async def run(
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]],
    registry: NodeRegistry | None = None,
    sandbox: JsSandbox | None = None,
    **env: Any,
) -> RunResult:
    """One run; JavaScript in `sandbox`, else in a sandbox of the run's own."""
    services = NodeServices(Settings(**env), javascript=sandbox)
    flow = Workflow(uuid.uuid4(), "w", nodes, edges)
    return await GraphExecutor(registry, services).execute(flow)


async def test_code_gets_each_upstream_output_as_input1_to_n_left_to_right() -> None:
    result = await run(
        [
            js("b", "return {n: 2}", x=300),
            js("a", "return 'one'", x=100),
            js("sum", "return [input1, input2.n, inputs.length]", x=600),
        ],
        [edge("b", "sum"), edge("a", "sum")],
    )
    assert result.success, result.errors
    assert result.outputs["sum"] == ["one", 2, 2]


async def test_a_body_without_return_outputs_null_and_a_throw_fails_the_node() -> None:
    result = await run([js("quiet", "const x = 1;")], [])
    assert result.success and result.outputs["quiet"] is None
    failed = await run([js("boom", "throw new Error('no markets')")], [])
    assert failed.errors[0]["error"] == "JavaScript execution error: Error: no markets"


@pytest.mark.parametrize(
    "code",
    [
        "return typeof fetch + typeof require + typeof process + typeof XMLHttpRequest",
        "return typeof std + typeof os + typeof setTimeout + typeof Deno + typeof Bun",
    ],
)
async def test_the_code_has_no_way_out(code: str) -> None:
    result = await run([js("probe", code)], [])
    assert set(result.outputs["probe"].split("undefined")) == {""}


async def test_modules_cannot_be_imported() -> None:
    static = await run([js("imp", "import * as std from 'std'; return 1")], [])
    assert "SyntaxError" in static.errors[0]["error"]
    dynamic = await run([js("imp", "return import('std').then(m => typeof m.open)")], [])
    assert "could not load module 'std'" in dynamic.errors[0]["error"]


async def test_an_infinite_loop_fails_its_node_at_the_cpu_limit() -> None:
    result = await run([js("spin", "while (true) {}")], [], CASCADIAN_JS_CPU_SECONDS=0.2)
    assert result.errors[0]["error"] == (
        "JavaScript execution error: the script used up its CPU time (limit 0.2s)"
    )


async def test_a_memory_bomb_fails_its_node_at_the_memory_limit() -> None:
    bomb = "const a = []; while (true) a.push('x'.repeat(1 << 20) + a.length);"
    result = await run([js("bomb", bomb)], [], CASCADIAN_JS_MEMORY_MB=8)
    assert result.errors[0]["error"] == (
        "JavaScript execution error: the script ran out of memory (limit 8 MiB)"
    )


async def test_a_return_value_json_cannot_hold_fails_the_node() -> None:
    result = await run([js("cyclic", "const o = {}; o.self = o; return o")], [])
    assert "circular" in result.errors[0]["error"]


async def test_a_conditional_routes_and_passes_on_the_data_it_tested() -> None:
    nodes = [
        js("data", "return {price: 0.7}"),
        {"id": "c", "type": "conditional", "data": {"condition": "input1.price > 0.5"}},
        js("yes", "return input1"),
        js("no", "return 'no'"),
        js("always", "return 'ran'"),
    ]
    edges = [
        edge("data", "c"),
        edge("c", "yes", "true"),
        edge("c", "no", "false"),
        edge("c", "always"),
    ]
    result = await run(nodes, edges)
    assert result.success, result.errors
    assert result.outputs["yes"] == {"price": 0.7}
    assert "no" not in result.outputs and result.outputs["always"] == "ran"


async def test_a_conditional_that_throws_names_itself() -> None:
    nodes = [{"id": "c", "type": "conditional", "data": {"condition": "input1.missing.deeper"}}]
    result = await run(nodes, [])
    assert result.errors[0]["error"] == (
        "Condition evaluation error: ReferenceError: input1 is not defined"
    )


@pytest.mark.slow
async def test_a_looping_script_does_not_hold_up_another_strategys_run() -> None:
    """Strategy A's script spins in one sandbox process until its CPU limit; strategy
    B's run, started once A's graph is under way, gets the other process and finishes
    while A is still running."""
    entered = asyncio.Event()

    async def mark(config: NodeConfig, ctx: NodeContext) -> dict[str, Any]:
        entered.set()
        return {}

    registry = default_registry().copy()
    registry.register(NodeType("test-mark", NodeConfig, mark))
    sandbox = JsSandbox.from_settings(
        Settings(CASCADIAN_JS_CPU_SECONDS=3.0, CASCADIAN_JS_WALL_SECONDS=60)
    )
    try:
        looping = run(
            [{"id": "mark", "type": "test-mark", "data": {}}, js("spin", "while (true) {}")],
            [edge("mark", "spin")],
            registry,
            sandbox=sandbox,
        )
        a = asyncio.create_task(looping)
        await entered.wait()
        light = await run(
            [
                {"id": "s", "type": "start", "data": {}},
                js("quick", "return 1 + 1"),
                {"id": "e", "type": "end", "data": {}},
            ],
            [edge("s", "quick"), edge("quick", "e")],
            sandbox=sandbox,
        )
        assert light.success and light.outputs["e"] == 2
        assert not a.done(), "B finished while A's script still ran"
        spun = await a
        assert "CPU time" in spun.errors[0]["error"]
    finally:
        await sandbox.close()
