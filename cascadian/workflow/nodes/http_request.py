"""The http-request node: one HTTP call to a user-chosen URL, guarded against SSRF
(http_fetch.py: every hop checked, the body capped, retried within the deadline).
Services used: the HTTP client, settings, retry policy and resolver.
"""

from __future__ import annotations

from typing import Any

from cascadian.workflow.node_api import NodeContext, NodeType
from cascadian.workflow.nodes.http_fetch import HttpRequestConfig, fetch


async def run(config: HttpRequestConfig, ctx: NodeContext) -> dict[str, Any]:
    services = ctx.services
    async with services.http_client() as client:
        return await fetch(
            client,
            config,
            services.settings,
            policy=services.retry,
            resolver=services.resolver,
            deadline=ctx.deadline,
        )


HTTP_REQUEST = NodeType(
    name="http-request",
    config_model=HttpRequestConfig,
    run=run,
    description="Call an HTTP endpoint (SSRF-guarded, size-capped, retried) and output "
    "{status, headers, body}.",
)
