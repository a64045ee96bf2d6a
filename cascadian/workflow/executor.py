"""Runs a workflow graph (see graph.py for parsing and checks): run each node as soon as
all of its upstream nodes are done, so independent branches run concurrently.

Failures are reported in the RunResult, never raised; cancelling execute() (the
caller's timeout) cancels the running nodes and propagates.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from cascadian.config import Settings
from cascadian.data import NodeRun, NodeStatus, RunResult, Workflow
from cascadian.workflow.deadlines import Deadlines
from cascadian.workflow.graph import Edge, Error, Graph, error, validated_config
from cascadian.workflow.graph_cache import GraphCache, content_key
from cascadian.workflow.node_api import NodeContext, NodeError, NodeServices, Routed
from cascadian.workflow.plan import Plan, plan
from cascadian.workflow.registry import NodeRegistry, default_registry
from cascadian.workflow.sandbox.quota import JsRun
from cascadian.workflow.templates import resolve
from cascadian.workflow.validation import Validated, validate


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _ms_since(start: float) -> int:
    return int((time.perf_counter() - start) * 1000)


class _Run:
    """The state of one execution of a validated graph."""

    def __init__(
        self,
        graph: Graph,
        plan: Plan,
        workflow: Workflow,
        services: NodeServices,
        deadline: float | None,
        javascript: JsRun | None = None,
    ) -> None:
        self.graph, self.workflow, self.services = graph, workflow, services
        self.types, self.configs = plan.types, plan.configs
        self.deadline, self.javascript = deadline, javascript
        self.waiting = {node_id: len(preds) for node_id, preds in graph.predecessors.items()}
        self.outputs: dict[str, Any] = {}
        self.handles: dict[str, str | None] = {}
        self.records: dict[str, NodeRun] = {}
        self.started: dict[str, tuple[datetime, float]] = {}
        self.errors: list[Error] = []
        self.tasks: dict[asyncio.Task[None], str] = {}
        # Made by the first node that runs in a task of its own (a chain never does).
        self.finished: asyncio.Queue[asyncio.Task[None]] | None = None

    async def run(self) -> None:
        ready: list[tuple[str, dict[str, Any]]] = [
            (node_id, {}) for node_id in self.graph.order if self.waiting[node_id] == 0
        ]
        try:
            while ready or self.tasks:
                if len(ready) == 1 and not self.tasks:
                    # A lone node runs in this task: no task, no queue, for a chain.
                    node_id, inputs = ready.pop()
                    await self._run_inline(node_id, inputs)
                else:
                    for node_id, inputs in ready:
                        self._start(node_id, inputs)
                    assert self.finished is not None  # a node was started
                    task = await self.finished.get()
                    node_id = self.tasks.pop(task)
                    if task.cancelled() or task.exception() is not None:
                        # The node raised CancelledError itself, or the wrapper broke.
                        self._record_error(node_id, "the node was cancelled or crashed")
                if node_id not in self.outputs:
                    break
                ready = self._settle(node_id)
        finally:
            for task in self.tasks:
                task.cancel()
            if self.tasks:
                await asyncio.wait(self.tasks)

    async def _run_inline(self, node_id: str, inputs: dict[str, Any]) -> None:
        try:
            await self._run_node(node_id, inputs)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the run is being cancelled (its deadline, or the caller)
            self._record_error(node_id, "the node was cancelled or crashed")

    def _start(self, node_id: str, inputs: dict[str, Any]) -> None:
        if self.finished is None:
            self.finished = asyncio.Queue()
        task = asyncio.create_task(self._run_node(node_id, inputs), name=f"node {node_id}")
        self.tasks[task] = node_id
        task.add_done_callback(self.finished.put_nowait)

    def _settle(self, node_id: str) -> list[tuple[str, dict[str, Any]]]:
        """The nodes downstream of a finished node that are now ready, with their
        inputs; those left without an active incoming edge are skipped, and the nodes
        downstream of those (iteratively)."""
        ready: list[tuple[str, dict[str, Any]]] = []
        settled = [node_id]
        while settled:
            for target in self.graph.successors[settled.pop()]:
                self.waiting[target] -= 1
                if self.waiting[target]:
                    continue
                inputs = {
                    edge.source: self.outputs[edge.source]
                    for edge in self.graph.incoming[target]
                    if self._active(edge)
                }
                if inputs:
                    ready.append((target, inputs))
                else:
                    settled.append(target)
        return ready

    def _active(self, edge: Edge) -> bool:
        if edge.source not in self.outputs:
            return False
        handle = self.handles[edge.source]
        if handle is None or edge.handle == handle:
            return True
        return edge.handle is None and self.types[edge.source].handleless_edges_run

    async def _run_node(self, node_id: str, inputs: dict[str, Any]) -> None:
        node, node_type = self.graph.nodes[node_id], self.types[node_id]
        self.started[node_id] = (_utcnow(), time.perf_counter())
        try:
            if node_id in self.configs:  # no template: validated once, with the graph
                config = self.configs[node_id]
            else:
                raw = resolve(node.config, self.outputs, variables=self.workflow.variables)
                config = validated_config(node_type, node, raw)
            context = NodeContext(
                self.workflow,
                node_id,
                inputs,
                services=self.services,
                deadline=self.deadline,
                javascript=self.javascript,
            )
            output = await node_type.run(config, context)
            handle = node_type.branch(output) if node_type.branch else None
            if node_type.branch and not isinstance(handle, str):
                raise NodeError(f"branch chose {handle!r}, not a handle name")
            if isinstance(output, Routed):
                output = output.output
        except NodeError as exc:
            self._record_error(node_id, str(exc) or type(exc).__name__)
        except Exception as exc:
            self._record_error(node_id, f"{type(exc).__name__}: {exc}")
        else:
            self.outputs[node_id], self.handles[node_id] = output, handle
            self.records[node_id] = self._record(node_id, "success", None, output)

    def _record(
        self, node_id: str, status: NodeStatus, error: str | None = None, output: Any = None
    ) -> NodeRun:
        started_at, start = self.started[node_id]
        node_type = self.graph.nodes[node_id].type_name
        # Positional: a node's record is made at every node of every run.
        return NodeRun(
            node_id, node_type, status, started_at, _utcnow(), _ms_since(start), error, output
        )

    def _record_error(self, node_id: str, message: str) -> None:
        self.records[node_id] = self._record(node_id, "error", error=message)
        self.errors.append(error(node_id, self.graph.nodes[node_id].type_name, message))

    def timed_out(self, message: str) -> None:
        """The deadline passed: the nodes still running fail; the rest are skipped."""
        late = [n for n in self.started if n not in self.records]
        for node_id in late:
            self._record_error(node_id, message)
        if not late:
            self.errors.append(error(None, None, message))

    def node_runs(self) -> list[NodeRun]:
        failed = self.errors[0]["node_id"] if self.errors else None
        runs = []
        for node_id in self.graph.order:
            if node_id in self.records:
                runs.append(self.records[node_id])
            elif node_id in self.started:  # cancelled when another node failed
                message = f"cancelled: node {failed!r} failed"
                runs.append(self._record(node_id, "skipped", error=message))
            else:
                runs.append(NodeRun(node_id, self.graph.nodes[node_id].type_name, "skipped"))
        return runs


class GraphExecutor:
    """The WorkflowExecutor port, running ReactFlow-shaped workflow graphs."""

    def __init__(
        self, registry: NodeRegistry | None = None, services: NodeServices | None = None
    ) -> None:
        self.registry = registry if registry is not None else default_registry()
        # No services given (tests, tools): default settings, no store, no shared client.
        self.services = services if services is not None else NodeServices(Settings())
        self.graphs = GraphCache(self.services.settings.graph_cache_size)
        # One timer per deadline: a claim's runs share theirs.
        self.deadlines = Deadlines()

    def validated(self, workflow: Workflow) -> Validated:
        """validate(), through the cache of graphs this executor has seen."""
        return self.planned(workflow)[0]

    def planned(self, workflow: Workflow) -> tuple[Validated, Plan | None]:
        """The verdict and, for a runnable graph, its plan, through the cache."""
        key = content_key(workflow) if self.graphs.size else None
        found = self.graphs.get(key, workflow)
        if found is not None:
            return found
        return self._checked(key, workflow)

    def _checked(self, key: str | None, workflow: Workflow) -> tuple[Validated, Plan | None]:
        """Validated and planned, and kept under `key` when runnable."""
        checked = validate(workflow, self.registry, self.services)
        if not checked.ok or checked.graph is None:
            return checked, None
        planned = plan(checked.graph, self.registry)
        self.graphs.put(key, checked, planned)
        return checked, planned

    async def execute(self, workflow: Workflow, deadline: float | None = None) -> RunResult:
        start = time.perf_counter()
        key = content_key(workflow) if self.graphs.size else None
        hit = self.graphs.runnable(key, workflow)
        if hit is not None:
            workflow, graph, planned = hit
        else:
            checked, found = self._checked(key, workflow)
            if checked.graph is None or checked.problems or found is None:
                return RunResult(False, {}, checked.errors, 0, _ms_since(start), checked.node_runs)
            workflow, graph, planned = checked.workflow, checked.graph, found
        if planned.javascript:
            async with self.services.javascript_run() as javascript:
                run = _Run(graph, planned, workflow, self.services, deadline, javascript)
                await self._run(run, deadline)
        else:
            run = _Run(graph, planned, workflow, self.services, deadline)
            await self._run(run, deadline)
        outputs = {n: run.outputs[n] for n in graph.order if n in run.outputs}
        return RunResult(
            success=not run.errors,
            outputs=outputs,
            errors=run.errors,
            nodes_executed=len(run.records),
            duration_ms=_ms_since(start),
            node_runs=run.node_runs(),
            intermediate=frozenset(n for n in outputs if graph.successors[n]),
        )

    async def _run(self, run: _Run, deadline: float | None) -> None:
        if deadline is None:
            await run.run()
            return
        begun = asyncio.get_running_loop().time()
        try:
            # Enforced here too, not only by the caller's cancellation, so a run that
            # times out still reports which nodes finished and which did not.
            async with self.deadlines.at(deadline):
                await run.run()
        except TimeoutError:
            # Tenths: setting up the run takes a little of the budget it was given.
            run.timed_out(f"timed out after {round(deadline - begun, 1):g}s")
