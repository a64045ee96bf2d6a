"""Dry runs: a graph run now with every side effect switched to a no-write mode that
reports what it would have done. Nothing is recorded: no run row, no counters, no
lease, so a dry run never counts towards the auto-pause.

The nodes are the real ones; only the services they are given differ, and the
composition root (bootstrap.py) builds them once per process:
- DryRunStore is the node store: a watchlist entry, a notification or a paper order
  becomes an intent, answered as if it had been written;
- DryRunDecisions takes the orchestrator's pending decisions: each is noted, none
  is written;
- DryRunOrders is the order executor: an order is filled against the live book,
  recorded nowhere, and noted with its fill and fee;
- DryRunTransport is under the nodes' HTTP client: GET and HEAD go out (they read),
  any other method is answered here, unsent, with a 200 whose body says so, and
  becomes an intent. That includes everything under the LLM provider's base URL
  (its file uploads, say), and its chat-completions call unless the caller allowed
  LLM calls for this dry run (`allow_llm`): then exactly that call, `POST
  {base}/chat/completions`, goes out, and nothing else of the provider's. Not
  allowed, `llm-analysis` fails saying how to allow it (workflow/llm.py);
- the market data is the process's own (it only reads).
Each intent names the node it came from: `tagged` wraps every node type's run to
set the node's id in a context variable, which the tasks the node starts inherit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx

from cascadian.data import (
    Decision,
    DecisionDraft,
    DryRun,
    GraphProblem,
    Intent,
    MarketBook,
    NodeTypeInfo,
    Notification,
    OrderIntent,
    OrderOutcome,
    PaperFill,
    PaperOrder,
    Watched,
    WatchlistEntry,
    Workflow,
)
from cascadian.ports import OrderExecutor
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.llm import NOT_SENT_HEADER
from cascadian.workflow.node_api import NodeContext, NodeType
from cascadian.workflow.registry import NodeRegistry
from cascadian.workflow.validation import limit_problems, problems

SAFE_METHODS = frozenset({"GET", "HEAD"})
BODY_PREVIEW_CHARS = 2_000
NOT_SENT = "not sent: dry run"


_intents: ContextVar[list[Intent] | None] = ContextVar("cascadian_dry_run_intents", default=None)
_node: ContextVar[str | None] = ContextVar("cascadian_dry_run_node", default=None)
# Whether this dry run's caller allowed the LLM provider's chat-completions call.
_llm_allowed: ContextVar[bool] = ContextVar("cascadian_dry_run_llm_allowed", default=False)


def _note(action: str, detail: dict[str, Any]) -> None:
    intents = _intents.get()
    if intents is not None:
        intents.append(Intent(_node.get(), action, detail))


class DryRunStore:
    """The NodeStore of a dry run: writes nothing, notes each write it was asked for."""

    async def add_to_watchlist(
        self, workflow_id: UUID, execution_id: UUID | None, entries: Sequence[WatchlistEntry]
    ) -> tuple[int, int]:
        ids = list(dict.fromkeys(e.market_id for e in entries))
        _note("add-to-watchlist", {"market_ids": ids, "reasons": [e.reason for e in entries]})
        return len(ids), len(entries) - len(ids)

    async def watch_markets(
        self, workflow_id: UUID, execution_id: UUID | None, entries: Sequence[WatchlistEntry]
    ) -> Watched:
        ids = list(dict.fromkeys(e.market_id for e in entries))
        _note("add-to-watchlist", {"market_ids": ids, "reasons": [e.reason for e in entries]})
        return Watched(added=ids, duplicates=[])

    async def notify(self, notification: Notification, now: datetime) -> int | None:
        _note(
            "notify",
            {
                "user_id": str(notification.user_id),
                "type": notification.type,
                "priority": notification.priority,
                "title": notification.title,
                "message": notification.message,
                "link": notification.link,
            },
        )
        return 0  # "sent", with no row to point at; None would mean suppressed

    async def record_paper_order(self, order: PaperOrder, now: datetime) -> PaperFill:
        shares = order.amount_usd / order.price if order.price > 0 else 0.0
        _note(
            "paper-order",
            {
                "side": order.side,
                "market_id": order.market_id,
                "outcome": order.outcome,
                "order_type": order.order_type,
                "amount_usd": order.amount_usd,
                "price": order.price,
                "price_source": order.price_source,
                "shares": shares,
                "note": "the paper position is not checked in a dry run",
            },
        )
        held = shares if order.side == "buy" else 0.0
        return PaperFill("filled", shares=shares, held_shares=held, created_at=now)


class DryRunDecisions:
    """The orchestrator's decisions in a dry run: none is written, each is noted."""

    async def pending_decisions(self, workflow_id: UUID, now: datetime) -> list[Decision]:
        return []

    async def create_decisions(
        self,
        workflow_id: UUID,
        execution_id: UUID | None,
        node_id: str,
        slot: str | None,
        drafts: Sequence[DecisionDraft],
        now: datetime,
    ) -> list[Decision]:
        for d in drafts:
            _note(
                "orchestrator-decision",
                {
                    "market_id": d.market_id,
                    "outcome": d.outcome,
                    "recommended_size": str(d.recommended_size),
                    "expires_at": d.expires_at.isoformat(),
                    "note": "not written, and the owner not notified: a dry run",
                },
            )
        return []


class DryRunOrders:
    """The order executor of a dry run: the paper executor without a store fills
    against the live book and records nothing; the order is noted as an intent with
    what it would have filled and paid."""

    def __init__(self, inner: OrderExecutor) -> None:
        self.inner = inner

    async def place(self, order: OrderIntent, market: MarketBook, now: datetime) -> OrderOutcome:
        outcome = await self.inner.place(order, market, now)
        _note(
            "paper-order",
            {
                "side": order.side,
                "market_id": order.market_id,
                "outcome": order.outcome,
                "amount_usd": str(order.amount_usd),
                "time_in_force": order.time_in_force,
                "result": outcome.result,
                "refusal": outcome.refusal,
                "shares": str(outcome.shares),
                "average_price": None
                if outcome.average_price is None
                else str(outcome.average_price),
                "fee_usd": str(outcome.fee_usd),
                "fee_rate": str(market.fee_rate),
                "fee_rate_source": market.fee_rate_source,
                "note": "not recorded: the limits, cash and position are not checked in a dry run",
            },
        )
        return outcome


def _preview(request: httpx.Request) -> Any:
    text = request.content.decode("utf-8", errors="replace")
    if not text:
        return None
    try:
        return json.loads(text) if len(text) <= BODY_PREVIEW_CHARS else text[:BODY_PREVIEW_CHARS]
    except ValueError:
        return text[:BODY_PREVIEW_CHARS]


class DryRunTransport(httpx.AsyncBaseTransport):
    """Sends reads (GET, HEAD) through `inner`, and `POST llm_chat_url` when the dry
    run allows LLM calls; answers every other request itself, unsent."""

    def __init__(self, inner: httpx.AsyncBaseTransport, llm_chat_url: str | None = None) -> None:
        self.inner = inner
        self.llm_chat_url = httpx.URL(llm_chat_url) if llm_chat_url else None

    def _sends(self, request: httpx.Request) -> bool:
        if request.method in SAFE_METHODS:
            return True
        # Where the request really goes (not its Host header), exactly the provider's
        # chat URL: a pinned request to another address never matches.
        return (
            _llm_allowed.get()
            and request.method == "POST"
            and self.llm_chat_url is not None
            and request.url == self.llm_chat_url
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._sends(request):
            return await self.inner.handle_async_request(request)
        await request.aread()
        # The SSRF guard sends to the checked address with the name as Host.
        host = request.headers.get("host")
        shown = request.url
        if host:
            shown = httpx.URL(f"{request.url.scheme}://{host}{request.url.raw_path.decode()}")
        target = {"method": request.method, "url": str(shown), "body": _preview(request)}
        _note("http", target)
        return httpx.Response(
            200,
            json={"dry_run": True, "sent": False, **target},
            headers={NOT_SENT_HEADER: NOT_SENT},
            request=request,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def tagged(registry: NodeRegistry) -> NodeRegistry:
    """The same node types, each noting its node id for the intents it makes."""

    def wrap(node_type: NodeType) -> NodeType:
        run = node_type.run

        async def noted(config: Any, ctx: NodeContext) -> Any:
            _node.set(ctx.node_id)  # this node's task only: each node runs in its own
            return await run(config, ctx)

        return replace(node_type, run=noted)

    return NodeRegistry(wrap(t) for t in registry.values())


class DryRunner:
    """The GraphRunner port: checks graphs, and runs them on an executor whose
    services write nothing (see bootstrap.build_dry_runner)."""

    def __init__(self, executor: GraphExecutor, timeout_seconds: float) -> None:
        self.executor = executor
        self.timeout_seconds = timeout_seconds

    def problems(self, workflow: Workflow) -> list[GraphProblem]:
        return problems(workflow, self.executor.registry, self.executor.services)

    def over_limits(self, workflow: Workflow) -> list[GraphProblem]:
        return limit_problems(workflow, self.executor.services)

    def node_types(self) -> list[NodeTypeInfo]:
        registry = self.executor.registry
        return [
            NodeTypeInfo(t.name, t.description, t.config_model.model_json_schema())
            for t in (registry[name] for name in registry.names())
        ]

    async def dry_run(self, workflow: Workflow, allow_llm: bool = False) -> DryRun:
        intents: list[Intent] = []
        token = _intents.set(intents)
        allowed = _llm_allowed.set(allow_llm)
        try:
            deadline = asyncio.get_running_loop().time() + self.timeout_seconds
            result = await self.executor.execute(workflow, deadline)
        finally:
            _llm_allowed.reset(allowed)
            _intents.reset(token)
        return DryRun(result, intents)
