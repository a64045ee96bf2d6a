"""The original's llm-analysis node against an OpenAI-compatible endpoint (respx)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from cascadian.workflow.original.nodes.llm_analysis import fill, parse_reply
from tests.workflow.original.helpers import NOW_MS, polymarket, run_saved, saved

LLM = "https://llm.test/v1"
KEY = "sk-test-not-a-real-key"
ENV: dict[str, Any] = {
    "CASCADIAN_LLM_BASE_URL": LLM,
    "CASCADIAN_LLM_API_KEY": KEY,
    "CASCADIAN_LLM_MODELS": {"gemini-1.5-flash": "gemini-2.0-flash"},
    "CASCADIAN_LLM_MAX_TOKENS": 40,
}


def reply(text: str) -> httpx.Response:
    return httpx.Response(
        200, json={"choices": [{"message": {"role": "assistant", "content": text}}]}
    )


@respx.mock
async def test_the_prompt_is_filled_from_the_input_and_the_reply_parsed_as_a_number() -> None:
    polymarket(respx.mock)
    chat = respx.post(f"{LLM}/chat/completions").mock(return_value=reply("I'd say 0.62 (62%)."))
    result, _ = await run_saved(saved("llm.json"), **ENV)
    assert result.success, result.errors
    assert result.outputs["ai"] == {
        "result": 0.62,
        "raw": "I'd say 0.62 (62%).",
        "model": "gemini-1.5-flash",
        "timestamp": NOW_MS,
    }
    sent = chat.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    body = json.loads(sent.content)
    assert body["model"] == "gemini-2.0-flash", "mapped by CASCADIAN_LLM_MODELS"
    assert body["max_tokens"] == 40, "the node asked 50; the cap is 40"
    assert body["temperature"] == 0.2
    assert body["messages"] == [
        {"role": "system", "content": "You are a forecaster."},
        {
            "role": "user",
            "content": "Market: Will the Fed cut interest rates at the December "
            "2025 meeting? at 0.355. Probability YES?",
        },
    ]


@respx.mock
async def test_429_and_5xx_are_retried() -> None:
    polymarket(respx.mock)
    chat = respx.post(f"{LLM}/chat/completions").mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "1"}),
            httpx.Response(502),
            reply("0.4"),
        ]
    )
    result, _ = await run_saved(saved("llm.json"), **ENV)
    assert result.success, result.errors
    assert chat.call_count == 3 and result.outputs["ai"]["result"] == 0.4


@respx.mock
async def test_a_provider_that_keeps_failing_fails_the_node_without_the_key() -> None:
    polymarket(respx.mock)
    respx.post(f"{LLM}/chat/completions").respond(503, text="overloaded")
    result, _ = await run_saved(saved("llm.json"), **ENV)
    error = result.errors[0]["error"]
    assert result.errors[0]["node_id"] == "ai" and "could not be reached" in error
    assert KEY not in error


@respx.mock
async def test_a_refused_model_says_which_model() -> None:
    polymarket(respx.mock)
    respx.post(f"{LLM}/chat/completions").respond(404, json={"error": "model not found"})
    result, _ = await run_saved(saved("llm.json"), **ENV)
    assert "model 'gemini-2.0-flash'" in result.errors[0]["error"]


@pytest.mark.parametrize(
    ("text", "kind", "parsed"),
    [
        ("Yes, likely.", "boolean", True),
        ("not true", "boolean", False),
        ("I think true", "boolean", True),
        ("eyes", "boolean", False),
        ("-5 points", "number", -5),
        ("about 1,250.5 dollars", "number", 1250.5),
        ('Sure: ```json\n{"p": 0.3}\n```', "json", {"p": 0.3}),
        ('The answer {"go": true} ok', "json", {"go": True}),
        ("no json here", "json", {"error": "Failed to parse JSON", "raw": "no json here"}),
        ("  *Markdown*  ", "markdown", "  *Markdown*  "),
    ],
)
def test_replies_are_read_by_output_format(text: str, kind: str, parsed: Any) -> None:
    assert parse_reply(text, kind) == parsed


def test_a_reply_without_a_number_fails_rather_than_reading_zero() -> None:
    with pytest.raises(Exception, match="has no number"):
        parse_reply("no idea", "number")


def test_placeholders_walk_the_input_and_keep_unknown_paths() -> None:
    scope = {"markets": [{"q": "Q?", "p": 5.0, "o": {"a": 1}}]}
    assert fill("{{markets.0.q}} {{ markets.0.p }} {{markets.0.o}} {{nope}}", scope) == (
        'Q? 5 {"a":1} {{nope}}'
    )
