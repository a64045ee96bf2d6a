"""HttpExecutor: runs a workflow on a remote service; every failure is a failed RunResult."""

from __future__ import annotations

import asyncio
import json
import logging
from uuid import UUID

import httpx
import pytest
import respx

from cascadian.data import NodeRun, RunResult, Workflow
from cascadian.workflow.http_executor import HttpExecutor

URL = "https://runner.example/api/execute"
TOKEN = "tok_3f9a1c7e5b"
WORKFLOW = Workflow(
    id=UUID("00000000-0000-0000-0000-0000000000a1"),
    name="Buy the dip",
    nodes=[{"id": "start", "type": "start", "config": {}}],
    edges=[],
    variables={"threshold": 0.3},
    trigger={"type": "schedule"},
    user_id=UUID("00000000-0000-0000-0000-0000000000b2"),
    execution_id=UUID("00000000-0000-0000-0000-0000000000c3"),
)


async def execute(executor: HttpExecutor | None = None) -> RunResult:
    return await (executor or HttpExecutor(URL, TOKEN, timeout=5)).execute(WORKFLOW)


def only_error(result: RunResult) -> str:
    assert not result.success
    assert result.nodes_executed == 0
    assert len(result.errors) == 1
    return str(result.errors[0]["error"])


@respx.mock
async def test_posts_the_workflow_and_maps_the_reply() -> None:
    route = respx.post(URL).respond(
        200,
        json={
            "success": False,
            "outputs": {"start": {"ok": True}},
            "errors": [{"node_id": "buy", "node_type": "http-request", "error": "HTTP 500"}],
            "nodes_executed": 2,
            "duration_ms": 840,
            "node_runs": [
                {"node_id": "start", "node_type": "start", "status": "success", "duration_ms": 1},
                {
                    "node_id": "buy",
                    "node_type": "http-request",
                    "status": "error",
                    "duration_ms": 800,
                    "error": "HTTP 500",
                },
            ],
        },
    )
    result = await execute()

    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {
        "workflow": {
            "id": "00000000-0000-0000-0000-0000000000a1",
            "name": "Buy the dip",
            "nodes": [{"id": "start", "type": "start", "config": {}}],
            "edges": [],
            "variables": {"threshold": 0.3},
            "trigger": {"type": "schedule"},
            "user_id": "00000000-0000-0000-0000-0000000000b2",
            "execution_id": "00000000-0000-0000-0000-0000000000c3",
        }
    }
    assert result.success is False
    assert result.outputs == {"start": {"ok": True}}
    assert result.errors == [{"node_id": "buy", "node_type": "http-request", "error": "HTTP 500"}]
    assert (result.nodes_executed, result.duration_ms) == (2, 840)
    assert result.node_runs[1] == NodeRun(
        node_id="buy", node_type="http-request", status="error", duration_ms=800, error="HTTP 500"
    )
    assert result.error_message == "node 'buy': HTTP 500"


@respx.mock
async def test_a_minimal_success_reply_gets_defaults() -> None:
    route = respx.post(URL).respond(200, json={"success": True})
    result = await execute(HttpExecutor(URL))
    assert result.success and result.outputs == {} and result.errors == []
    assert result.nodes_executed == 0 and result.node_runs == []
    assert "authorization" not in route.calls.last.request.headers


@respx.mock
async def test_timeout_is_a_failed_result() -> None:
    respx.post(URL).mock(side_effect=httpx.ReadTimeout("timed out"))
    error = only_error(await execute())
    assert error == f"the workflow executor at {URL} did not answer within 5s"


@respx.mock
async def test_unreachable_executor_is_a_failed_result() -> None:
    respx.post(URL).mock(side_effect=httpx.ConnectError("Connection refused"))
    assert "could not be reached: ConnectError: Connection refused" in only_error(await execute())


@respx.mock
async def test_server_error_is_a_failed_result_naming_the_status() -> None:
    respx.post(URL).respond(500, text="worker crashed")
    error = only_error(await execute())
    assert (
        error
        == f"the workflow executor at {URL} answered HTTP 500 Internal Server Error: worker crashed"
    )


@respx.mock
async def test_non_json_reply_is_a_failed_result() -> None:
    respx.post(URL).respond(200, text="<html>Bad gateway</html>")
    assert only_error(await execute()).endswith("sent a reply that is not JSON")


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ({"outputs": {}}, "success: Field required"),
        ([1, 2], "reply: Input should be an object"),
        ({"success": True, "node_runs": [{"node_id": "a"}]}, "node_runs.0.node_type"),
        (
            {"success": True, "node_runs": [{"node_id": "a", "node_type": "t", "status": "meh"}]},
            "status",
        ),
        ({"success": "maybe"}, "success"),
    ],
)
@respx.mock
async def test_malformed_reply_is_a_failed_result(reply: object, problem: str) -> None:
    respx.post(URL).respond(200, json=reply)
    error = only_error(await execute())
    assert "sent a malformed reply" in error
    assert problem in error


@respx.mock
async def test_the_token_never_appears_in_errors_logs_or_repr(
    caplog: pytest.LogCaptureFixture,
) -> None:
    respx.post(URL).respond(401, text=f"bad credentials: Bearer {TOKEN}")
    caplog.set_level(logging.DEBUG)
    executor = HttpExecutor(URL, TOKEN)
    result = await execute(executor)
    assert "HTTP 401" in only_error(result)
    assert TOKEN not in repr(result)
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(executor)


@respx.mock
async def test_token_echoed_in_node_errors_is_scrubbed() -> None:
    respx.post(URL).respond(
        200,
        json={"success": False, "errors": [{"node_id": "n", "error": f"auth {TOKEN} rejected"}]},
    )
    result = await execute()
    assert result.errors[0]["error"] == "auth *** rejected"


@respx.mock
async def test_cancellation_propagates() -> None:
    def cancelled(request: httpx.Request) -> httpx.Response:
        raise asyncio.CancelledError

    respx.post(URL).mock(side_effect=cancelled)
    with pytest.raises(asyncio.CancelledError):
        await execute()


@respx.mock
async def test_uses_the_given_client() -> None:
    respx.post(URL).respond(200, json={"success": True})
    async with httpx.AsyncClient(headers={"X-Tenant": "t1"}) as client:
        result = await execute(HttpExecutor(URL, TOKEN, client=client))
        assert not client.is_closed
    assert result.success
    assert respx.calls.last.request.headers["x-tenant"] == "t1"
