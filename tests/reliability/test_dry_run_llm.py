"""A dry run sends nothing but GET and HEAD, to the LLM provider neither, unless the
caller allows LLM calls; then exactly the provider's chat completion goes out.

Before: the dry run's transport let anything under the provider's base URL through,
so an `http-request` node's `POST <llm base>/v1/files` reached the provider during a
dry run, and `llm-analysis` always asked the model.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import respx

from cascadian.store.sql_store import SqlStore
from tests.api_client import client
from tests.factories import add_strategy, chain, node

LLM = "https://93.184.216.35/v1"  # an address: no resolver needed for the http node
CHAT = f"{LLM}/chat/completions"
FILES = f"{LLM}/files"
ENV = {"CASCADIAN_LLM_BASE_URL": LLM, "CASCADIAN_LLM_API_KEY": "sk-dry-run-test-key"}


def graph() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """In turn: an upload to the provider's files API, an http node posting to the
    chat-completions URL with a query (not the LLM client's call), a read of the
    provider's models, and an llm-analysis node."""
    return chain(
        node("start", "start"),
        node("upload", "http-request", url=FILES, method="POST", json={"purpose": "x"}),
        node("sneak", "http-request", url=f"{CHAT}?x=1", method="POST", json={}),
        node("read", "http-request", url=f"{LLM}/models"),
        node("ai", "original-llm-analysis", userPrompt="Yes or no?", outputFormat="boolean"),
    )


def provider() -> respx.MockRouter:
    router = respx.mock(assert_all_called=False)
    router.post(CHAT).respond(
        200, json={"choices": [{"message": {"role": "assistant", "content": "yes"}}]}
    )
    router.post(url__startswith=LLM).respond(200, json={"uploaded": True})
    router.get(f"{LLM}/models").respond(200, json={"data": []})
    return router


def sent(router: respx.MockRouter) -> list[str]:
    return sorted(f"{c.request.method} {c.request.url}" for c in router.calls)


@pytest.mark.parametrize("allow", [False, True])
async def test_a_dry_run_posts_nothing_to_the_llm_provider_but_an_allowed_chat_completion(
    store: SqlStore, db: Any, allow: bool
) -> None:
    sid = add_strategy(db, next_execution_at=datetime.now(UTC) + timedelta(hours=1), graph=graph())
    with provider() as router:
        async with client(store, **ENV) as c:
            query = {"allow_llm": "true"} if allow else {}
            reply = await c.post(f"/api/strategies/{sid}/dry-run", params=query)
        calls = sent(router)
        posted = [c.request for c in router.calls if c.request.method == "POST"]
    assert reply.status_code == 200, reply.text
    data = reply.json()["data"]
    by_node = {n["node_id"]: n for n in data["nodes"]}
    # The upload and the look-alike are never sent, allowed or not: they are intents.
    unsent = sorted(
        (i["node_id"], i["detail"]["url"]) for i in data["intents"] if i["action"] == "http"
    )
    expected_unsent = [("sneak", f"{CHAT}?x=1"), ("upload", FILES)]
    if allow:
        assert calls == [f"GET {LLM}/models", f"POST {CHAT}"]
        assert unsent == expected_unsent
        assert by_node["ai"]["status"] == "success"
        assert by_node["ai"]["output"]["result"] is True
        chat = json.loads(posted[0].content)
        assert chat["messages"][-1]["content"] == "Yes or no?"
    else:
        assert calls == [f"GET {LLM}/models"]
        assert unsent == sorted([*expected_unsent, ("ai", CHAT)])
        assert by_node["ai"]["status"] == "error"
        assert "allow_llm=true" in by_node["ai"]["error"]
        assert "--allow-llm" in by_node["ai"]["error"]
    assert by_node["upload"]["output"]["body"]["sent"] is False


async def test_the_posted_graph_dry_run_takes_the_same_switch(store: SqlStore, db: Any) -> None:
    nodes, _ = graph()
    body = {
        "nodes": [nodes[0], nodes[-1]],
        "edges": [{"id": "e", "source": "start", "target": "ai"}],
    }
    with provider() as router:
        async with client(store, **ENV) as c:
            off = (await c.post("/api/strategies/dry-run", json=body)).json()["data"]
            assert sent(router) == []
            on = (
                await c.post("/api/strategies/dry-run", json=body, params={"allow_llm": "true"})
            ).json()["data"]
        assert sent(router) == [f"POST {CHAT}"]
    assert (off["success"], on["success"]) == (False, True)
