"""Dry runs' services: the HTTP transport that sends only reads, the store that writes
nothing, and intents named by the node that made them."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import httpx

from cascadian.config import Settings
from cascadian.data import PaperOrder, Workflow
from cascadian.workflow.dry_run import DryRunner, DryRunStore, DryRunTransport, tagged
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeServices
from cascadian.workflow.registry import default_registry
from tests.factories import chain, node


def recording_transport(sent: list[httpx.Request]) -> DryRunTransport:
    def inner(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"real": True})

    return DryRunTransport(
        httpx.MockTransport(inner), llm_chat_url="https://llm.test/v1/chat/completions"
    )


async def test_only_reads_go_out_and_the_llm_provider_is_not_asked_by_default() -> None:
    sent: list[httpx.Request] = []
    async with httpx.AsyncClient(transport=recording_transport(sent)) as http:
        posted = await http.post("https://example.com/orders", json={"buy": 1})
        deleted = await http.delete("https://example.com/orders/1")
        got = await http.get("https://example.com/markets")
        llm = await http.post("https://llm.test/v1/chat/completions", json={})
        upload = await http.post("https://llm.test/v1/files", json={})
    assert [f"{r.method} {r.url}" for r in sent] == ["GET https://example.com/markets"]
    assert posted.json() == {
        "dry_run": True,
        "sent": False,
        "method": "POST",
        "url": "https://example.com/orders",
        "body": {"buy": 1},
    }
    assert posted.headers["x-cascadian-dry-run"] == "not sent: dry run"
    assert deleted.json()["sent"] is False
    assert got.json() == {"real": True}
    assert llm.json()["sent"] is False and upload.json()["sent"] is False


async def test_a_pinned_request_is_reported_by_its_host_name_not_its_address() -> None:
    sent: list[httpx.Request] = []
    async with httpx.AsyncClient(transport=recording_transport(sent)) as http:
        reply = await http.post(
            "https://93.184.216.34/hook?x=1", headers={"Host": "hooks.example.com"}
        )
    assert reply.json()["url"] == "https://hooks.example.com/hook?x=1"
    assert sent == []


async def test_a_paper_order_is_answered_filled_and_noted() -> None:
    store = DryRunStore()
    order = PaperOrder(
        workflow_id=uuid4(),
        execution_id=None,
        node_id="buy",
        market_id="m1",
        market_question=None,
        outcome="Yes",
        side="buy",
        order_type="market",
        amount_usd=10,
        price=0.25,
        price_source="clob",
    )
    fill = await store.record_paper_order(order, datetime.now(UTC))
    assert (fill.result, fill.shares, fill.held_shares, fill.order_id) == ("filled", 40, 40, None)


async def test_intents_name_the_node_that_made_them() -> None:
    nodes, edges = chain(
        node("start", "start"),
        node("a", "add-to-watchlist", items=[{"id": "m1"}, {"id": "m1"}]),
        node("b", "notify", title="t", message="m"),
    )
    services = NodeServices(Settings(), store=DryRunStore())
    runner = DryRunner(GraphExecutor(tagged(default_registry()), services), 5)
    workflow = Workflow(uuid4(), "s", nodes, edges, user_id=uuid4())
    run = await runner.dry_run(workflow)
    assert run.result.success, run.result.errors
    assert [(i.node_id, i.action) for i in run.intents] == [
        ("a", "add-to-watchlist"),
        ("b", "notify"),
    ]
    assert run.result.outputs["a"] == {"added": 1, "duplicates": 1, "count": 2}
    assert run.result.outputs["b"] == {"notification_id": 0, "suppressed": False}
    # Each dry run collects its own intents: none carry over to the next.
    assert (await runner.dry_run(workflow)).intents == run.intents


def test_validation_problems_come_one_per_field() -> None:
    nodes, edges = chain(
        node("start", "start"), node("f", "filter", conditions=3, logic="maybe", extra=1)
    )
    services = NodeServices(Settings(), store=DryRunStore())
    runner = DryRunner(GraphExecutor(tagged(default_registry()), services), 5)
    found = runner.problems(Workflow(uuid4(), "s", nodes, edges))
    assert sorted(p.field or "" for p in found) == [
        "data.config.conditions",
        "data.config.extra",
        "data.config.logic",
    ]
    assert all(p.node_id == "f" and p.node_type == "filter" for p in found)
