"""The SSRF-guarded HTTP request that the http-request nodes (cascadian's and the
original builder's) send: its config, and `fetch`, which performs it.

Every hop (the URL and each redirect Location) passes `check_url` and is sent to
the checked address. The body is streamed, decoded in bounded steps and cut off at
the configured size and at the run's deadline (outbound/body.py). A failure is a
NodeError, which fails the node that sent it.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any, Literal

import httpx
from pydantic import ConfigDict, Field, field_validator

from cascadian.config import Settings
from cascadian.errors import OutboundError
from cascadian.outbound.body import ACCEPT_ENCODING, read_capped
from cascadian.outbound.retry import DEADLINE_SLACK, RetryPolicy, describe_status
from cascadian.outbound.ssrf import Resolver, SafeTarget, check_url, pinned_request
from cascadian.workflow.node_api import NodeConfig, NodeError

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Not forwarded when a redirect leaves the origin they were meant for.
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
# Sending these twice could succeed twice (an order placed twice); see RetryPolicy.send.
NON_IDEMPOTENT = frozenset({"POST", "PATCH"})


class HttpRequestConfig(NodeConfig):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: str = Field(min_length=1, max_length=8192)
    headers: dict[str, str] = Field(default_factory=dict)
    # The JSON request body; None sends no body. Aliased: `json` shadows a BaseModel method.
    json_body: Any = Field(default=None, alias="json")
    timeout: float = Field(default=10.0, gt=0, le=60, description="seconds per attempt")

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("headers")
    @classmethod
    def _no_host(cls, value: dict[str, str]) -> dict[str, str]:
        if any(name.lower() == "host" for name in value):
            raise ValueError("the Host header is taken from the url; remove it")
        return value


async def _send_once(client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    # auth=None: a shared client's credentials must never go to a user-chosen URL.
    return await client.send(request, stream=True, auth=None, follow_redirects=False)


def _is_json(response: httpx.Response) -> bool:
    mime: str = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return mime == "application/json" or mime.endswith("+json")


def _output(response: httpx.Response, content: bytes, label: str) -> dict[str, Any]:
    text = content.decode(response.encoding or "utf-8", errors="replace")
    if not response.is_success:
        detail = f": {text[:200]}" if text.strip() else ""
        raise NodeError(f"{label} answered {describe_status(response)}{detail}")
    body: Any = text
    if _is_json(response):
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError as exc:
            raise NodeError(f"{label} sent a JSON content-type but invalid JSON: {exc}") from None
    headers = {k: v for k, v in response.headers.items() if k.lower() not in _PRIVATE_HEADERS}
    return {"status": response.status_code, "headers": headers, "body": body}


# Kept out of outputs, which are stored in execution rows and node logs.
_PRIVATE_HEADERS = {"set-cookie", "authorization", "proxy-authenticate", "www-authenticate"}


def _follow(
    target: SafeTarget,
    response: httpx.Response,
    method: str,
    headers: dict[str, str],
    body: Any,
) -> tuple[httpx.URL, str, dict[str, str], Any]:
    """Where a redirect leads, and the method, headers and body to send there."""
    try:
        url = target.url.join(response.headers["location"])
    except httpx.InvalidURL as exc:
        raise NodeError(f"{target.label} redirected to an invalid URL: {exc}") from None
    status = response.status_code
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, body = "GET", None
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    if (url.scheme, url.host, url.port) != (target.url.scheme, target.url.host, target.url.port):
        headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}
    return url, method, headers, body


async def fetch(
    client: httpx.AsyncClient,
    config: HttpRequestConfig,
    settings: Settings,
    *,
    policy: RetryPolicy | None = None,
    resolver: Resolver | None = None,
    deadline: float | None = None,
    raw_body: bytes | None = None,
) -> dict[str, Any]:
    """Perform the request `config` describes (`raw_body`: sent instead of its
    JSON one); the node's output or a NodeError. A call the outbound guard refused
    or that failed (an OutboundError) becomes the NodeError, with its message."""
    try:
        return await _fetch(client, config, settings, policy, resolver, deadline, raw_body)
    except OutboundError as exc:
        raise NodeError(str(exc)) from exc


async def _fetch(
    client: httpx.AsyncClient,
    config: HttpRequestConfig,
    settings: Settings,
    policy: RetryPolicy | None,
    resolver: Resolver | None,
    deadline: float | None,
    raw_body: bytes | None,
) -> dict[str, Any]:
    policy = policy or RetryPolicy()
    url: str | httpx.URL = config.url
    method: str = config.method
    headers, body = dict(config.headers), config.json_body
    if not any(name.lower() == "accept-encoding" for name in headers):
        headers["Accept-Encoding"] = ACCEPT_ENCODING  # only what read_capped can decode
    first: str | None = None
    for _hop in range(MAX_REDIRECTS + 1):
        target = await check_url(url, settings.http_allowlist, resolver)
        first = first or target.label
        timeout = config.timeout
        if deadline is not None:
            left = deadline - policy.now()
            if left <= 0:
                raise NodeError(f"No time left before the run's deadline to call {target.label}.")
            timeout = min(timeout, left + DEADLINE_SLACK)
        request = pinned_request(
            target, method, headers=headers, json=body, content=raw_body, timeout=timeout
        )
        response = await policy.send(
            partial(_send_once, client, request),
            deadline=deadline,
            what=f"{method} {target.label}",
            idempotent=method not in NON_IDEMPOTENT,
        )
        try:
            if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
                url, method, headers, body = _follow(target, response, method, headers, body)
                raw_body = raw_body if method not in ("GET", "HEAD") else None
                continue
            content = await read_capped(
                response,
                settings.http_max_response_bytes,
                target.label,
                policy.on_loop_clock(deadline),
            )
        finally:
            await response.aclose()
        return _output(response, content, target.label)
    raise NodeError(f"{config.method} {first}: more than {MAX_REDIRECTS} redirects.")
