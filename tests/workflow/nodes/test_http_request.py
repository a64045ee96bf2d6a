"""The http-request node: SSRF-checked on every hop, pinned, size-capped and retried."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any
from uuid import uuid4

import httpx
import pytest
import respx
from pydantic import ValidationError

from cascadian.config import Settings
from cascadian.data import Workflow
from cascadian.outbound.retry import RetryPolicy
from cascadian.outbound.ssrf import UnsafeURL
from cascadian.workflow.node_api import NodeContext, NodeError, NodeServices
from cascadian.workflow.nodes.http_fetch import HttpRequestConfig
from cascadian.workflow.nodes.http_request import HTTP_REQUEST

API = "93.184.216.34"  # what api.example.com resolves to in these tests
OTHER = "93.184.216.35"  # other.example.com
DNS = {
    "api.example.com": [API],
    "other.example.com": [OTHER],
    "internal.example.com": ["10.0.0.7"],
}


async def fake_resolver(host: str, port: int) -> Sequence[str]:
    if host not in DNS:
        raise OSError(f"Name or service not known: {host}")
    return DNS[host]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def context(clock: FakeClock, deadline: float | None = None, **settings: Any) -> NodeContext:
    policy = RetryPolicy(sleep=clock.sleep, random=lambda: 1.0, clock=lambda: clock.now)
    return NodeContext(
        workflow=Workflow(id=uuid4(), name="strategy", nodes=[], edges=[]),
        node_id="fetch",
        inputs={},
        services=NodeServices(Settings(**settings), retry=policy, resolver=fake_resolver),
        deadline=deadline,
    )


async def run(ctx: NodeContext, **config: Any) -> Any:
    return await HTTP_REQUEST.run(HttpRequestConfig.model_validate(config), ctx)


@respx.mock
async def test_get_returns_status_headers_and_parsed_json(clock: FakeClock) -> None:
    route = respx.get(f"https://{API}/v1/prices").respond(200, json={"btc": 97000.5})
    out = await run(context(clock), url="https://api.example.com/v1/prices")
    assert out["status"] == 200
    assert out["body"] == {"btc": 97000.5}
    assert out["headers"]["content-type"] == "application/json"
    sent = route.calls.last.request
    assert sent.headers["host"] == "api.example.com", "connects to the checked IP, same Host"
    assert sent.extensions["sni_hostname"] == "api.example.com"


@respx.mock
async def test_non_json_body_is_returned_as_text(clock: FakeClock) -> None:
    respx.get(f"http://{API}/status").respond(200, text="all good", headers={"X-Id": "7"})
    out = await run(context(clock), url="http://api.example.com/status")
    assert out["body"] == "all good"
    assert out["headers"]["x-id"] == "7"


@respx.mock
async def test_post_sends_json_body_and_headers(clock: FakeClock) -> None:
    route = respx.post(f"https://{API}/hooks").respond(201, json={"ok": True})
    out = await run(
        context(clock),
        method="post",
        url="https://api.example.com/hooks",
        headers={"X-Token": "abc"},
        json={"signal": "buy", "size": 3},
    )
    assert out == {"status": 201, "headers": out["headers"], "body": {"ok": True}}
    sent = route.calls.last.request
    assert json.loads(sent.content) == {"signal": "buy", "size": 3}
    assert sent.headers["x-token"] == "abc"
    assert sent.headers["content-type"] == "application/json"


@respx.mock
async def test_a_shared_clients_credentials_never_reach_the_user_url(clock: FakeClock) -> None:
    route = respx.get(f"https://{API}/x").respond(200, text="ok")
    ctx = context(clock)
    async with httpx.AsyncClient(
        headers={"X-Internal": "1"}, auth=("svc", "pw"), follow_redirects=True
    ) as shared:
        ctx = replace(ctx, services=replace(ctx.services, http=shared))
        await run(ctx, url="https://api.example.com/x")
    sent = route.calls.last.request
    assert "authorization" not in sent.headers
    assert "x-internal" not in sent.headers


@respx.mock
@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/", "http://10.0.0.8/", "http://169.254.169.254/", "http://[::1]/"],
)
async def test_private_targets_are_refused_before_any_request(clock: FakeClock, url: str) -> None:
    with pytest.raises(NodeError, match="Refusing to connect") as info:
        await run(context(clock), url=url)
    assert isinstance(info.value.__cause__, UnsafeURL)
    assert respx.calls.call_count == 0


@respx.mock
async def test_name_resolving_to_private_address_is_refused(clock: FakeClock) -> None:
    with pytest.raises(NodeError, match=r"resolves to 10\.0\.0\.7") as info:
        await run(context(clock), url="http://internal.example.com/admin")
    assert isinstance(info.value.__cause__, UnsafeURL)
    assert respx.calls.call_count == 0


@respx.mock
async def test_allowlisted_internal_host_is_reachable(clock: FakeClock) -> None:
    respx.get("http://10.0.0.7/admin").respond(200, text="ok")
    ctx = context(clock, http_allowlist=["internal.example.com"])
    assert (await run(ctx, url="http://internal.example.com/admin"))["body"] == "ok"


@respx.mock
@pytest.mark.parametrize(
    "location", ["http://169.254.169.254/latest/meta-data/", "http://internal.example.com/x"]
)
async def test_redirect_to_a_private_address_is_refused(clock: FakeClock, location: str) -> None:
    respx.get(f"https://{API}/go").respond(302, headers={"Location": location})
    with pytest.raises(NodeError, match="Refusing to connect") as info:
        await run(context(clock), url="https://api.example.com/go")
    assert isinstance(info.value.__cause__, UnsafeURL)
    assert respx.calls.call_count == 1


@respx.mock
async def test_redirects_are_followed_with_relative_locations(clock: FakeClock) -> None:
    respx.get(f"https://{API}/old").respond(301, headers={"Location": "/new"})
    respx.get(f"https://{API}/new").respond(200, json=[1, 2])
    out = await run(context(clock), url="https://api.example.com/old")
    assert out["body"] == [1, 2]


@respx.mock
async def test_303_turns_post_into_get_and_drops_the_body(clock: FakeClock) -> None:
    respx.post(f"https://{API}/orders").respond(303, headers={"Location": "/orders/9"})
    final = respx.get(f"https://{API}/orders/9").respond(200, json={"id": 9})
    await run(context(clock), method="POST", url="https://api.example.com/orders", json={"q": 1})
    assert final.calls.last.request.content == b""


@respx.mock
async def test_credentials_are_not_forwarded_to_another_host(clock: FakeClock) -> None:
    respx.get(f"https://{API}/a").respond(302, headers={"Location": "https://other.example.com/b"})
    other = respx.get(f"https://{OTHER}/b").respond(200, text="b")
    headers = {"Authorization": "Bearer s3cret", "X-Trace": "1"}
    await run(context(clock), url="https://api.example.com/a", headers=headers)
    sent = other.calls.last.request
    assert "authorization" not in sent.headers
    assert sent.headers["x-trace"] == "1"
    assert sent.headers["host"] == "other.example.com"


@respx.mock
async def test_more_than_five_redirects_fail(clock: FakeClock) -> None:
    respx.get(f"https://{API}/loop").respond(302, headers={"Location": "/loop?token=t"})
    with pytest.raises(NodeError) as info:
        await run(context(clock), url="https://api.example.com/loop?token=t")
    assert str(info.value) == "GET https://api.example.com/loop: more than 5 redirects."
    assert respx.calls.call_count == 6


@respx.mock
async def test_declared_oversized_response_is_refused(clock: FakeClock) -> None:
    respx.get(f"https://{API}/big").respond(200, content=b"x" * 2000)
    with pytest.raises(NodeError, match="larger than the 1000-byte limit"):
        await run(context(clock, http_max_response_bytes=1000), url="https://api.example.com/big")


@respx.mock
async def test_streamed_response_is_cut_off_past_the_cap(clock: FakeClock) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"y" * 100

    route = respx.get(f"https://{API}/stream").respond(200, content=chunks())
    assert "content-length" not in route.return_value.headers  # type: ignore[union-attr]
    ctx = context(clock, http_max_response_bytes=1000)
    with pytest.raises(NodeError, match="larger than the 1000-byte limit"):
        await run(ctx, url="https://api.example.com/stream")


@respx.mock
async def test_4xx_fails_at_once_naming_the_status(clock: FakeClock) -> None:
    respx.get(f"https://{API}/missing").respond(404, text="no such thing")
    with pytest.raises(NodeError, match="answered HTTP 404 Not Found: no such thing"):
        await run(context(clock), url="https://api.example.com/missing")
    assert respx.calls.call_count == 1
    assert clock.waits == []


@respx.mock
async def test_5xx_is_retried_then_succeeds(clock: FakeClock) -> None:
    respx.get(f"https://{API}/flaky").mock(
        side_effect=[httpx.Response(503), httpx.ConnectError("reset"), httpx.Response(200)]
    )
    out = await run(context(clock), url="https://api.example.com/flaky")
    assert out["status"] == 200
    assert clock.waits == [0.5, 1.0]


@respx.mock
async def test_persistent_5xx_fails_after_retries(clock: FakeClock) -> None:
    respx.get(f"https://{API}/down").respond(500)
    with pytest.raises(NodeError, match=r"retried 3 times.*HTTP 500"):
        await run(context(clock), url="https://api.example.com/down")
    assert clock.waits == [0.5, 1.0, 2.0]


@respx.mock
async def test_post_is_not_resent_after_a_5xx(clock: FakeClock) -> None:
    respx.post(f"https://{API}/orders").respond(500)
    with pytest.raises(NodeError, match="HTTP 500"):
        await run(context(clock), method="POST", url="https://api.example.com/orders", json={})
    assert respx.calls.call_count == 1


@respx.mock
async def test_json_content_type_with_invalid_json_fails(clock: FakeClock) -> None:
    respx.get(f"https://{API}/j").respond(
        200, text="{oops", headers={"Content-Type": "application/json"}
    )
    with pytest.raises(NodeError, match="invalid JSON"):
        await run(context(clock), url="https://api.example.com/j")


async def test_no_request_when_the_deadline_has_passed(clock: FakeClock) -> None:
    clock.now = 50.0
    with pytest.raises(NodeError, match="No time left"):
        await run(context(clock, deadline=49.0), url="https://api.example.com/x")


@pytest.mark.parametrize(
    "config",
    [
        {"url": "https://a.example", "timeout": 61},
        {"url": "https://a.example", "method": "TRACE"},
        {"url": "https://a.example", "headers": {"Host": "b.example"}},
        {"url": "https://a.example", "surprise": 1},
        {"url": ""},
    ],
)
def test_invalid_configs_are_rejected(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        HttpRequestConfig.model_validate(config)


def test_config_defaults() -> None:
    config = HttpRequestConfig.model_validate({"url": "https://a.example"})
    assert (config.method, config.headers, config.json_body, config.timeout) == (
        "GET",
        {},
        None,
        10,
    )
    assert HTTP_REQUEST.name == "http-request"


@respx.mock
async def test_cookies_set_by_the_server_are_not_kept_in_the_output(clock: FakeClock) -> None:
    respx.get(f"https://{API}/s").respond(
        200, json={"ok": True}, headers={"Set-Cookie": "session=abc", "X-Rate": "5"}
    )
    out = await run(context(clock), url="https://api.example.com/s")
    assert out["headers"]["x-rate"] == "5"
    assert "set-cookie" not in {k.lower() for k in out["headers"]}
