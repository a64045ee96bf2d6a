"""One chat completion from an OpenAI-compatible endpoint (`POST {base}/chat/completions`).

The original's llm-analysis node called Google's Gemini; Gemini, OpenAI, and most
hosted or local model servers answer this same API, so the provider is three
settings: the base URL, the key, and a map from the model names strategies saved
to the provider's. Each call has a timeout and a token cap, and is retried on 429
and 5xx (honouring Retry-After) within the run's deadline. The key is sent as a
bearer token and never appears in an error or an output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from cascadian.config import Settings
from cascadian.errors import NodeError
from cascadian.outbound.retry import DEADLINE_SLACK, RetryGaveUp, RetryPolicy, describe_status

# What a strategy with an llm-analysis node is told when no provider is configured.
NOT_CONFIGURED = (
    "needs an LLM provider: set CASCADIAN_LLM_BASE_URL to an OpenAI-compatible "
    "chat-completions endpoint (e.g. https://generativelanguage.googleapis.com/v1beta/openai "
    "for Gemini) and CASCADIAN_LLM_API_KEY"
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
        )

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
    url = f"{provider.base_url}/chat/completions"
    body: dict[str, Any] = {
        "model": provider.model_for(model),
        "messages": messages,
        "max_tokens": min(max_tokens or provider.max_tokens, provider.max_tokens),
    }
    if temperature is not None:
        body["temperature"] = temperature
    headers = {"Content-Type": "application/json"}
    if provider.api_key is not None:
        headers["Authorization"] = f"Bearer {provider.api_key.get_secret_value()}"
    timeout = provider.timeout
    if deadline is not None:
        left = deadline - retry.now()
        if left <= 0:
            raise LlmError("No time left before the run's deadline to ask the model.")
        timeout = min(timeout, left + DEADLINE_SLACK)
    where = f"The LLM provider at {provider.base_url}"
    try:
        response = await retry.send(
            lambda: client.post(url, json=body, headers=headers, timeout=timeout),
            deadline=deadline,
            what=f"POST {url}",
        )
    except RetryGaveUp as exc:
        raise LlmError(f"{where} could not be reached: {exc}") from exc
    if not response.is_success:
        raise LlmError(
            f"{where} refused the request for model {body['model']!r}: "
            f"{describe_status(response)}: {response.text[:300]}"
        )
    try:
        reply = response.json()
        text = reply["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise LlmError(f"{where} sent a reply without a message: {response.text[:300]}") from None
    if not isinstance(text, str):
        raise LlmError(f"{where} sent a reply whose message is not text")
    return text
