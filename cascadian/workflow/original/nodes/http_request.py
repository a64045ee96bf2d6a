"""original-http-request: the original's API Request node, through cascadian's
SSRF-guarded client (workflow/nodes/http_fetch.py).

Config as the builder saved it: `url`, `method` (GET), `headers` (an object, or the
JSON text the builder's panel saved) and `body` (text, sent as it is, or an object,
sent as JSON; never with GET or HEAD). As in the original's Run button, `$input1`,
`$input2`, ... in the url and body are replaced by the node's inputs (text as it is,
anything else as JSON). As in its executor, a JSON body defaults to
`Content-Type: application/json`, a non-2xx answer fails the node, and the output is
the response body: parsed JSON when the response says JSON, else text.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from cascadian.workflow.node_api import NodeContext, NodeError, NodeType
from cascadian.workflow.nodes.http_fetch import HttpRequestConfig, fetch
from cascadian.workflow.original.nodes.common import OriginalConfig, upstream

_INPUT = re.compile(r"\$input(\d+)")


class OriginalHttpConfig(OriginalConfig):
    url: str = Field(min_length=1, max_length=8192)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) and value.strip() else "GET"

    @field_validator("headers", mode="before")
    @classmethod
    def _json_text(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"headers must be a JSON object: {exc}") from None
        if isinstance(value, dict):
            return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
        return value


def _interpolate(text: str, inputs: list[Any]) -> str:
    def value(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if not 1 <= index <= len(inputs):
            return match.group(0)
        found = inputs[index - 1]
        return found if isinstance(found, str) else json.dumps(found, default=str)

    return _INPUT.sub(value, text)


async def run(config: OriginalHttpConfig, ctx: NodeContext) -> Any:
    inputs = upstream(ctx)
    url = _interpolate(config.url, inputs)
    headers = dict(config.headers)
    raw: bytes | None = None
    if config.method not in ("GET", "HEAD") and config.body not in (None, "", {}, []):
        if isinstance(config.body, str):
            raw = _interpolate(config.body, inputs).encode()
        else:
            raw = json.dumps(config.body).encode()
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    try:
        request = HttpRequestConfig.model_validate(
            {"url": url, "method": config.method, "headers": headers}
        )
    except ValueError as exc:
        raise NodeError(f"HTTP request failed: {exc}") from None
    services = ctx.services
    async with services.http_client() as client:
        response = await fetch(
            client,
            request,
            services.settings,
            policy=services.retry,
            resolver=services.resolver,
            deadline=ctx.deadline,
            raw_body=raw,
        )
    return response["body"]


HTTP_REQUEST = NodeType(
    name="original-http-request",
    config_model=OriginalHttpConfig,
    run=run,
    description="The original's API Request: outputs the response body (JSON or text).",
)
