"""What a node type is, and what it is given when it runs.

A node type is a name, a pydantic model for its config, and an async function.
The graph executor validates each config with its model: configs without
templates before anything runs, templated ones once their templates are
resolved, just before the node runs. Either way a bad config fails the run
with the node and the field named.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

from cascadian.clock import Clock, SystemClock
from cascadian.config import Settings
from cascadian.data import Workflow
from cascadian.errors import NodeError
from cascadian.outbound.retry import RetryPolicy
from cascadian.outbound.ssrf import Resolver
from cascadian.ports import CopyTradeStore, DecisionWriter, MarkStore, NodeStore, OrderExecutor
from cascadian.workflow.limits import GraphLimits
from cascadian.workflow.llm import LlmProvider
from cascadian.workflow.market import MarketData, MarketSource
from cascadian.workflow.offload import Checkpoint, offload
from cascadian.workflow.sandbox.pool import JsSandbox
from cascadian.workflow.sandbox.quota import JsRun
from cascadian.workflow.wallets import WalletData

T = TypeVar("T")

__all__ = [
    "Checkpoint",
    "NodeConfig",
    "NodeContext",
    "NodeError",
    "NodeServices",
    "NodeType",
    "Routed",
    "RunFn",
]


class NodeConfig(BaseModel):
    """Base for node configs: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class NodeServices:
    """What nodes may use while a strategy runs, built once by the composition root
    (bootstrap.build_executor): nothing is looked up, or read from the environment,
    during a run."""

    settings: Settings
    # The shared client for outgoing calls; None: each call opens a short-lived one.
    http: httpx.AsyncClient | None = None
    # Where nodes that write (watchlist, notify) write; None: they fail, saying so.
    store: NodeStore | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # DNS for the SSRF guard; None: the system resolver.
    resolver: Resolver | None = None
    clock: Clock = field(default_factory=SystemClock)
    # Polymarket data, one per process (its rate limits and shared requests);
    # None: each node call gets its own, sharing nothing with other runs.
    markets: MarketSource | None = None
    # The sandbox processes user JavaScript runs in, one pool per process; None:
    # each run that evaluates JavaScript starts a sandbox of its own.
    javascript: JsSandbox | None = None
    # Where order nodes' orders go (the paper executor, trading/); None: they fail,
    # saying so.
    orders: OrderExecutor | None = None
    # Polymarket's Data API, one per process (its rate limits, shared requests, and
    # the wallet metrics it keeps in the database); None: each node call gets its
    # own, which keeps nothing.
    wallets: WalletData | None = None
    # What copy-trading nodes keep (cursors, source trades, consensus); None: they
    # fail, saying so.
    copy_trades: CopyTradeStore | None = None
    # The trading book's positions and stored marks, which position nodes read;
    # None: they fail, saying so.
    marks: MarkStore | None = None
    # Where the orchestrator's approval mode writes its pending decisions; None: it
    # fails, saying so.
    decisions: DecisionWriter | None = None

    @asynccontextmanager
    async def javascript_run(self) -> AsyncIterator[JsRun]:
        """A run's share of the process's JavaScript sandbox, or of one of its own,
        closed with the run, when none is configured (tests, tools)."""
        if self.javascript is not None:
            shared = self.javascript.run()
            try:
                yield shared
            finally:
                shared.close()
            return
        sandbox = JsSandbox.from_settings(self.settings)
        own = sandbox.run()
        try:
            yield own
        finally:
            own.close()
            await sandbox.close()

    @property
    def graph_limits(self) -> GraphLimits:
        """How deep and big a graph may be, when saved and before each run."""
        return GraphLimits(
            max_depth=self.settings.graph_max_depth,
            variables_max_bytes=self.settings.variables_max_bytes,
            graph_max_bytes=self.settings.graph_max_bytes,
        )

    @property
    def llm(self) -> LlmProvider | None:
        """The configured chat-completions provider; None when there is none."""
        return LlmProvider.from_settings(self.settings)

    def order_executor(self) -> OrderExecutor:
        if self.orders is None:
            raise NodeError("no order executor is configured for order nodes")
        return self.orders

    def copy_trade_store(self) -> CopyTradeStore:
        if self.copy_trades is None:
            raise NodeError("copy trading needs the database (its cursors and consensus)")
        return self.copy_trades

    def mark_store(self) -> MarkStore:
        if self.marks is None:
            raise NodeError("position nodes need the database (the paper positions)")
        return self.marks

    def decision_store(self) -> DecisionWriter:
        if self.decisions is None:
            raise NodeError("approval mode needs the database (its pending decisions)")
        return self.decisions

    def node_store(self) -> NodeStore:
        if self.store is None:
            raise NodeError("no store is configured for nodes that write")
        return self.store

    @asynccontextmanager
    async def http_client(self) -> AsyncIterator[httpx.AsyncClient]:
        """The shared HTTP client, or a short-lived one when none is configured."""
        if self.http is not None:
            yield self.http
            return
        async with httpx.AsyncClient() as client:
            yield client

    @asynccontextmanager
    async def market_data(self) -> AsyncIterator[MarketSource]:
        """The process's market data, or one for this call when none is configured."""
        if self.markets is not None:
            yield self.markets
            return
        async with self.http_client() as client:
            yield MarketData.create(self.settings, client, retry=self.retry)

    @asynccontextmanager
    async def wallet_data(self) -> AsyncIterator[WalletData]:
        """The process's wallet data, or one for this call (keeping nothing)."""
        if self.wallets is not None:
            yield self.wallets
            return
        async with self.http_client() as client:
            yield WalletData.create(self.settings, client, retry=self.retry)


@dataclass(frozen=True, slots=True)
class NodeContext:
    workflow: Workflow
    node_id: str
    # Outputs of the upstream nodes that ran and whose edge is active, by node id.
    inputs: dict[str, Any]
    services: NodeServices
    # When the run must be over, on the event loop's clock (loop.time()); None: no
    # limit. Retrying nodes use it to give up rather than sleep past the deadline.
    deadline: float | None = None
    # This run's share of the JavaScript sandbox (the executor opens one per run).
    javascript: JsRun | None = None

    @property
    def input(self) -> Any:
        """The single upstream output, or a dict of them when there are several."""
        if len(self.inputs) == 1:
            return next(iter(self.inputs.values()))
        return self.inputs or None

    async def offload(self, work: Callable[[Checkpoint], T]) -> T:
        """Run CPU-heavy `work(checkpoint)` off the event loop, so other strategies
        keep running; `work` calls `checkpoint()` in its loops, which stops it once
        this run's deadline has passed (see offload.py)."""
        return await offload(work, self.deadline)

    async def run_javascript(self, body: str, bindings: dict[str, Any], *, what: str) -> Any:
        """Run a user's JavaScript `body` (a function body over `bindings`) in a sandbox
        process; its return value as JSON data. JavaScriptError("<what> error: ...")
        when it throws, hits a limit or a cap (workflow/sandbox/)."""
        if self.javascript is None:
            raise NodeError("JavaScript cannot run here: this node was given no sandbox")
        return await self.javascript.run(body, bindings, what=what)

    def check_size(self, items: list[Any]) -> list[Any]:
        """`items`, unless there are more than a node may handle (CASCADIAN_NODE_MAX_ITEMS)."""
        cap = self.services.settings.node_max_items
        if len(items) > cap:
            raise NodeError(
                f"{len(items)} items is more than a node handles ({cap}, "
                "CASCADIAN_NODE_MAX_ITEMS): narrow the data upstream, e.g. with a limit"
            )
        return items


RunFn = Callable[[Any, NodeContext], Awaitable[Any]]


@dataclass(frozen=True)
class Routed:
    """What a routing node may return when the handle it chose is not a function of
    what it passes on: `output` goes downstream (and into templates and logs),
    `handle` picks the edges that stay active. Its `branch` is then `routed_handle`."""

    output: Any
    handle: str


def routed_handle(result: Any) -> str:
    """The `branch` of a node type whose run returns Routed."""
    return str(result.handle) if isinstance(result, Routed) else ""


@dataclass(frozen=True)
class NodeType:
    name: str
    config_model: type[NodeConfig]
    run: RunFn
    # For routing nodes (condition): maps the node's output to the source handle
    # whose edges stay active. Edges from other handles are skipped.
    branch: Callable[[Any], str] | None = None
    # The handles a routing node's edges may name (e.g. "true", "false"); empty:
    # any name (the node's config says which).
    handles: tuple[str, ...] = ()
    # A routing node's edges without a sourceHandle run whichever handle it
    # chose; otherwise such an edge is refused before the run.
    handleless_edges_run: bool = False
    # What the node needs from the process before any node of the graph runs
    # (a provider configured, say): a message naming the setting, or None.
    preflight: Callable[[NodeServices], str | None] | None = None
    description: str = ""
    # Runs JavaScript (ctx.run_javascript): a run of a graph with such a node opens
    # its share of the sandbox; other runs are given none.
    javascript: bool = False
