"""One chat completion from an OpenAI-compatible endpoint (`POST {base}/chat/completions`).

The original's llm-analysis node called Google's Gemini; Gemini, OpenAI, and most
hosted or local model servers answer this same API, so the provider is three
settings: the base URL, the key, and a map from the model names strategies saved
to the provider's. Each call has a timeout and a token cap, and is retried on 429
and 5xx (honouring Retry-After) within the run's deadline. The key is sent as a
bearer token and never appears in an error or an output. The reply is read through
the http nodes' capped streaming reader (outbound/body.py), so a provider answering a
gzip bomb is stopped at CASCADIAN_HTTP_MAX_RESPONSE_BYTES, never inflated whole.

A dry run answers this call itself unless the caller allowed LLM calls
(workflow/dry_run.py); its answer carries NOT_SENT_HEADER, and the node then
fails saying how to allow it, rather than reading a made-up reply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from cascadian.config import Settings
from cascadian.errors import NodeError, OutboundError
from cascadian.outbound.body import ACCEPT_ENCODING, read_capped
from cascadian.outbound.retry import DEADLINE_SLACK, RetryGaveUp, RetryPolicy, describe_status

# What a strategy with an llm-analysis node is told when no provider is configured.
NOT_CONFIGURED = (
    "needs an LLM provider: set CASCADIAN_LLM_BASE_URL to an OpenAI-compatible "
    "chat-completions endpoint (e.g. https://generativelanguage.googleapis.com/v1beta/openai "
    "for Gemini) and CASCADIAN_LLM_API_KEY"
)

# On an answer a dry run's transport made up instead of sending the request.
NOT_SENT_HEADER = "x-cascadian-dry-run"
DRY_RUN_REFUSAL = (
    "The LLM provider was not called: a dry run calls it only when the caller allows "
    "LLM calls (allow_llm=true on the API, --allow-llm on the command line)."
)


class LlmError(NodeError):
    """The provider could not be reached or gave no usable answer."""


@dataclass(frozen=True)
class LlmProvider:
    base_url: str
    api_key: SecretStr | None = field(repr=False)
    models: dict[str, str] = field(default_factory=dict)
    timeout: float = 20.0
    max_tokens: int = 1000
    # The most of a reply that is read, decoded (CASCADIAN_HTTP_MAX_RESPONSE_BYTES).
    max_response_bytes: int = 1_000_000

    @classmethod
    def from_settings(cls, settings: Settings) -> LlmProvider | None:
        if not settings.llm_base_url:
            return None
        return cls(
            settings.llm_base_url.rstrip("/"),
            settings.llm_api_key,
            dict(settings.llm_models),
            settings.llm_timeout_seconds,
            settings.llm_max_tokens,
            settings.http_max_response_bytes,
        )

    @property
    def chat_url(self) -> str:
        """The one URL this client POSTs to."""
        return f"{self.base_url}/chat/completions"

    def model_for(self, saved: str) -> str:
        """The provider's model for the name a strategy saved."""
        return self.models.get(saved) or self.models.get("*") or saved


async def complete(
    client: httpx.AsyncClient,
    provider: LlmProvider,
    *,
    model: str,
    messages: list[dict[str, str]],
    temperature: float | None,
    max_tokens: int | None,
    retry: RetryPolicy,
    deadline: float | None = None,
) -> str:
    """The reply's text; LlmError with a plain message otherwise."""
    url = provider.chat_url
    body: dict[str, Any] = {
        "model": provider.model_for(model),
        "messages": messages,
        "max_tokens": min(max_tokens or provider.max_tokens, provider.max_tokens),
    }
    if temperature is not None:
        body["temperature"] = temperature
    headers = {"Content-Type": "application/json", "Accept-Encoding": ACCEPT_ENCODING}
    if provider.api_key is not None:
        headers["Authorization"] = f"Bearer {provider.api_key.get_secret_value()}"
    timeout = provider.timeout
    if deadline is not None:
        left = deadline - retry.now()
        if left <= 0:
            raise LlmError("No time left before the run's deadline to ask the model.")
        timeout = min(timeout, left + DEADLINE_SLACK)
    where = f"The LLM provider at {provider.base_url}"
    request = client.build_request("POST", url, json=body, headers=headers, timeout=timeout)
    try:
        response = await retry.send(
            lambda: client.send(request, stream=True), deadline=deadline, what=f"POST {url}"
        )
    except RetryGaveUp as exc:
        raise LlmError(f"{where} could not be reached: {exc}") from exc
    try:
        if response.headers.get(NOT_SENT_HEADER):
            raise LlmError(DRY_RUN_REFUSAL)
        content = await read_capped(
            response,
            provider.max_response_bytes,
            f"the LLM provider at {provider.base_url}",
            retry.on_loop_clock(deadline),
        )
    except OutboundError as exc:  # too large, undecodable, or past the deadline
        raise LlmError(str(exc)) from exc
    finally:
        await response.aclose()
    shown = content[:300].decode("utf-8", "replace")
    if not response.is_success:
        raise LlmError(
            f"{where} refused the request for model {body['model']!r}: "
            f"{describe_status(response)}: {shown}"
        )
    try:
        reply = json.loads(content)
        text = reply["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise LlmError(f"{where} sent a reply without a message: {shown}") from None
    if not isinstance(text, str):
        raise LlmError(f"{where} sent a reply whose message is not text")
    return text
