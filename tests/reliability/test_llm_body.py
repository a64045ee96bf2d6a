"""The LLM provider's answer is read through the http nodes' streaming cap.

Before: the LLM client read whole bodies, so a provider (or anything answering at its
URL) that sent a gzip bomb took the server from 98 to 880 MB before any check.
"""

from __future__ import annotations

import gzip
import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from cascadian.config import Settings
from cascadian.errors import NodeError
from cascadian.outbound.retry import RetryPolicy
from cascadian.workflow.llm import LlmProvider, complete

LLM = "https://llm.test/v1"
CAP = 1_000_000


class Wire(httpx.AsyncByteStream):
    """The body as it arrives, in 16 KiB pieces, still encoded."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), 16_384):
            yield self.body[start : start + 16_384]


async def ask() -> str:
    settings = Settings(CASCADIAN_LLM_BASE_URL=LLM, CASCADIAN_HTTP_MAX_RESPONSE_BYTES=CAP)  # type: ignore[call-arg]
    provider = LlmProvider.from_settings(settings)
    assert provider is not None
    async with httpx.AsyncClient() as client:
        return await complete(
            client,
            provider,
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            temperature=None,
            max_tokens=None,
            retry=RetryPolicy(max_attempts=1),
        )


@respx.mock
async def test_an_llm_answer_that_inflates_past_the_cap_is_stopped_while_it_streams() -> None:
    bomb = gzip.compress(b'{"choices": [{"message": {"content": "' + b"a" * 50_000_000 + b'"}}]}')
    route = respx.post(f"{LLM}/chat/completions").mock(
        return_value=httpx.Response(200, stream=Wire(bomb), headers={"content-encoding": "gzip"})
    )
    tracemalloc.start()
    try:
        with pytest.raises(NodeError, match="larger than the 1000000-byte limit"):
            await ask()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(bomb) < 200_000
    assert peak < 4 * CAP, f"peak {peak:,} bytes reading an LLM answer capped at {CAP:,}"
    assert route.calls.last.request.headers["accept-encoding"] == "gzip, deflate"


@respx.mock
async def test_a_compressed_answer_under_the_cap_still_reads_exactly() -> None:
    body = b'{"choices": [{"message": {"content": "yes, 0.62"}}]}'
    respx.post(f"{LLM}/chat/completions").mock(
        return_value=httpx.Response(
            200, stream=Wire(gzip.compress(body)), headers={"content-encoding": "gzip"}
        )
    )
    assert await ask() == "yes, 0.62"
