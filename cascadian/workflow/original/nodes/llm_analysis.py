"""original-llm-analysis: the original's AI Analysis node, one chat completion.

Config as saved: `userPrompt` (required), `systemPrompt`, `model` (gemini-1.5-flash),
`temperature` (0.7), `maxTokens` (1000, capped by CASCADIAN_LLM_MAX_TOKENS; the
original accepted it and never sent it), `outputFormat` (text). `{{a.b.0}}` in the
prompts is the node's input at that path (text as it is, numbers as JavaScript
prints them, objects as JSON); a path that is not there stays as written.

outputFormat, on the reply:
- `text`, `markdown` or any other: the reply as it is;
- `boolean`: true when it starts with yes, true or y; false when it starts with no,
  not, false or n; otherwise whether it says yes or true anywhere;
- `number`: the first number in it, sign and decimals kept; none fails the node;
- `json`: the object in a ```json fence, else from its first { to its last }, else
  the whole reply; unreadable gives `{error: "Failed to parse JSON", raw}`.
Output: `{result, raw, model, timestamp}`. Without a provider (CASCADIAN_LLM_BASE_URL)
the strategy is refused before it runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from pydantic import Field

from cascadian.workflow.llm import NOT_CONFIGURED, complete
from cascadian.workflow.node_api import NodeContext, NodeError, NodeServices, NodeType
from cascadian.workflow.original.jsvalues import to_string
from cascadian.workflow.original.nodes.common import OriginalConfig, epoch_ms, one_input
from cascadian.workflow.templates import MISSING, get_path

_FENCE = re.compile(r"```json\s*([\s\S]*?)```")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


class LlmAnalysisConfig(OriginalConfig):
    userPrompt: str = Field(min_length=1, max_length=100_000)
    systemPrompt: str | None = Field(default=None, max_length=100_000)
    model: str = Field(default="gemini-1.5-flash", min_length=1, max_length=200)
    temperature: float | None = Field(default=0.7, ge=0, le=2)
    maxTokens: int | None = Field(default=1000, ge=1)
    outputFormat: str | None = "text"


def fill(template: str, scope: Any) -> str:
    """`{{path}}` placeholders filled from `scope`."""
    parts, done = [], 0
    for start, end in _placeholders(template):
        found = get_path(scope, template[start + 2 : end - 2].strip())
        if found is MISSING:
            text = template[start:end]
        else:
            text = found if isinstance(found, str) else to_string(found)
        parts += [template[done:start], text]
        done = end
    parts.append(template[done:])
    return "".join(parts)


def _placeholders(template: str) -> Iterator[tuple[int, int]]:
    """Where the original's `/\\{\\{([^}]+)\\}\\}/g` matched, found in linear time (that
    pattern backtracks quadratically over a run of `{`): from each `{{`, the first `}`
    after it must be followed by another, with something between."""
    close, start = -1, template.find("{{")
    while start != -1:
        if close < start + 2:
            close = template.find("}", start + 2)
            if close == -1:
                return
        if close > start + 2 and template.startswith("}", close + 1):
            yield start, close + 2
            start = template.find("{{", close + 2)
        else:
            start = template.find("{{", start + 1)


def parse_reply(text: str, output_format: str | None) -> Any:
    kind = (output_format or "text").strip().lower()
    if kind == "boolean":
        answer = text.strip().lower()
        if re.match(r"(yes|true|y)\b", answer):
            return True
        if re.match(r"(no|not|false|n)\b", answer):
            return False
        return bool(re.search(r"\b(yes|true)\b", answer))
    if kind == "number":
        found = _NUMBER.search(re.sub(r"(?<=\d),(?=\d{3})", "", text))
        if found is None:
            raise NodeError(f"LLM analysis failed: the reply has no number: {text[:200]!r}")
        number = float(found.group(0))
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "json":
        fenced = _FENCE.search(text)
        body = fenced.group(1) if fenced and fenced.group(1).strip() else text
        if not fenced and "{" in text and "}" in text:
            body = text[text.index("{") : text.rindex("}") + 1]
        try:
            return json.loads(body)
        except ValueError:
            return {"error": "Failed to parse JSON", "raw": text}
    return text


def _preflight(services: NodeServices) -> str | None:
    return NOT_CONFIGURED if services.llm is None else None


async def run(config: LlmAnalysisConfig, ctx: NodeContext) -> dict[str, Any]:
    provider = ctx.services.llm
    if provider is None:
        raise NodeError(NOT_CONFIGURED)
    scope = one_input(ctx)
    messages = []
    if config.systemPrompt:
        messages.append({"role": "system", "content": fill(config.systemPrompt, scope)})
    messages.append({"role": "user", "content": fill(config.userPrompt, scope)})
    async with ctx.services.http_client() as client:
        text = await complete(
            client,
            provider,
            model=config.model,
            messages=messages,
            temperature=config.temperature,
            max_tokens=config.maxTokens,
            retry=ctx.services.retry,
            deadline=ctx.deadline,
        )
    return {
        "result": parse_reply(text, config.outputFormat),
        "raw": text,
        "model": config.model,
        "timestamp": epoch_ms(ctx),
    }


LLM_ANALYSIS = NodeType(
    name="original-llm-analysis",
    config_model=LlmAnalysisConfig,
    run=run,
    preflight=_preflight,
    description="The original's AI Analysis: one chat completion, parsed by outputFormat.",
)
