"""A WorkflowExecutor that runs workflows on a remote service over HTTP.

POSTs {"workflow": {...}} to the configured URL and maps the JSON reply onto a
RunResult. Every failure (timeout, transport error, non-2xx, bad reply) becomes a
failed RunResult; only cancellation propagates. The bearer token never appears in
messages or logs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from cascadian.data import NodeRun, NodeStatus, RunResult, Workflow

log = logging.getLogger(__name__)


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _ReplyError(_Reply):
    node_id: str | None = None
    node_type: str | None = None
    error: str


class _ReplyNodeRun(_Reply):
    node_id: str
    node_type: str
    status: NodeStatus
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: int = Field(default=0, ge=0)
    error: str | None = None
    output: Any = None


class _RunReply(_Reply):
    success: bool
    outputs: dict[str, Any] = Field(default_factory=dict)
    errors: list[_ReplyError] = Field(default_factory=list)
    nodes_executed: int | None = Field(default=None, ge=0)
    duration_ms: int | None = Field(default=None, ge=0)
    node_runs: list[_ReplyNodeRun] = Field(default_factory=list)


def workflow_payload(workflow: Workflow) -> dict[str, Any]:
    """The request body the remote executor receives."""
    return {
        "workflow": {
            "id": str(workflow.id),
            "name": workflow.name,
            "nodes": workflow.nodes,
            "edges": workflow.edges,
            "variables": workflow.variables,
            "trigger": workflow.trigger,
            "user_id": None if workflow.user_id is None else str(workflow.user_id),
            "execution_id": None if workflow.execution_id is None else str(workflow.execution_id),
        }
    }


def _summarise(exc: ValidationError) -> str:
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or 'reply'}: {err['msg']}"
        for err in exc.errors()[:3]
    ]
    return "; ".join(parts)


class HttpExecutor:
    """Runs workflows by POSTing them to `url`; implements the WorkflowExecutor port."""

    def __init__(
        self,
        url: str,
        token: str | SecretStr | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = url
        self._token = SecretStr(token) if isinstance(token, str) else token
        self._client = client
        self.timeout = timeout
        parsed = httpx.URL(url)
        # For messages: no credentials or query string.
        self._label = f"{parsed.scheme}://{parsed.netloc.decode('ascii')}{parsed.path}"

    def __repr__(self) -> str:
        return f"HttpExecutor(url={self._label!r})"

    def _scrub(self, text: str) -> str:
        secret = self._token.get_secret_value() if self._token else ""
        return text.replace(secret, "***") if secret else text

    def _failed(self, message: str, started: float) -> RunResult:
        message = self._scrub(message)
        log.warning("remote workflow run failed: %s", message)
        return RunResult(
            success=False,
            outputs={},
            errors=[{"node_id": None, "node_type": None, "error": message}],
            nodes_executed=0,
            duration_ms=_elapsed_ms(started),
        )

    async def execute(self, workflow: Workflow, deadline: float | None = None) -> RunResult:
        """Run `workflow` remotely; failures are returned as a failed RunResult."""
        started = time.monotonic()
        where = f"the workflow executor at {self._label}"
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        try:
            async with AsyncExitStack() as stack:
                client = self._client
                if client is None:
                    client = await stack.enter_async_context(httpx.AsyncClient())
                timeout = self.timeout
                if deadline is not None:  # never wait past the run's own deadline
                    timeout = max(0.001, min(timeout, deadline - asyncio.get_running_loop().time()))
                response = await client.post(
                    self.url, json=workflow_payload(workflow), headers=headers, timeout=timeout
                )
        except httpx.TimeoutException:
            return self._failed(f"{where} did not answer within {self.timeout:g}s", started)
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return self._failed(f"{where} could not be reached: {reason}", started)
        except (TypeError, ValueError) as exc:  # the workflow is not JSON-serialisable
            return self._failed(f"the workflow could not be sent as JSON: {exc}", started)
        except Exception as exc:  # the port promises a result, never an exception
            log.exception("unexpected error calling %s", self._label)
            return self._failed(f"calling {where} failed: {type(exc).__name__}", started)

        if not response.is_success:
            status = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
            snippet = response.text[:200].strip()
            return self._failed(
                f"{where} answered {status}" + (f": {snippet}" if snippet else ""), started
            )
        try:
            reply = _RunReply.model_validate_json(response.content)
        except ValidationError as exc:
            if any(err["type"] == "json_invalid" for err in exc.errors()):
                return self._failed(f"{where} sent a reply that is not JSON", started)
            return self._failed(f"{where} sent a malformed reply: {_summarise(exc)}", started)
        return self._to_result(reply, started)

    def _to_result(self, reply: _RunReply, started: float) -> RunResult:
        node_runs = [
            NodeRun(**{**run.model_dump(), "error": run.error and self._scrub(run.error)})
            for run in reply.node_runs
        ]
        errors = [{**err.model_dump(), "error": self._scrub(err.error)} for err in reply.errors]
        executed, duration = reply.nodes_executed, reply.duration_ms
        return RunResult(
            success=reply.success,
            outputs=reply.outputs,
            errors=errors,
            nodes_executed=executed if executed is not None else len(node_runs),
            duration_ms=duration if duration is not None else _elapsed_ms(started),
            node_runs=node_runs,
        )


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
